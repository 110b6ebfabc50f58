// Down reports: when this node's liveness view has a confirmed FluxNode down, its operator key
// reports it on chain (kind `nodeDown`). A quorum of such reports from different nodes marks the
// node down in consensus, so it is placed nowhere and paid nothing until it confirms again
// (core/nodes). A report is sent once per down spell, and again while the spell lasts if half the
// report window passed without the chain marking the node down (older reports stop counting).
// A node that looks cut off (isolation.ts) reports nobody: when everyone is silent, the likelier
// explanation is its own network, and a report it sends then would wrong an honest node.
import { TxKind } from '../../core/codec/types.ts';
import { toHex } from '../../core/crypto/hash.ts';
import type { KeyPair } from '../../core/crypto/keys.ts';
import { canReport, encodeNodeDown, isNodeDown } from '../../core/nodes/index.ts';
import { submitOwn } from '../chain/submit.ts';
import type { Chain } from '../chain/types.ts';
import type { IsolationMonitor } from './isolation.ts';
import type { Liveness } from './service.ts';

export interface DownReporterOptions {
  chain: Chain;
  liveness: Liveness;
  operator: KeyPair;
  /** This machine's confirmed FluxNode id, if any: only a confirmed node may report. */
  nodeId: () => string | undefined;
  log?: (line: string) => void;
  now?: () => number;
  /** This node's judgement of itself: while it looks isolated (or syncs) it reports nothing. */
  isolation?: Pick<IsolationMonitor, 'check'>;
}

export interface DownReporter {
  /** Reports what is due now (also runs on every block and liveness change). */
  check(): void;
  close(): void;
}

export function startDownReporter(o: DownReporterOptions): DownReporter {
  const { chain, liveness } = o;
  const log = o.log ?? (() => {});
  const window = chain.params.nodes.down.window;
  const timeoutMs = chain.params.nodes.liveness.timeoutMs;
  const reportAfterMs = chain.params.nodes.down.reportAfterMs;
  const now = o.now ?? Date.now;
  /** target -> height of our last report of it in this down spell. */
  const reported = new Map<string, number>();

  const check = (): void => {
    const me = o.nodeId();
    if (!me) return;
    const height = chain.tip().height;
    // The next block judges the report: reporter and target must both be up on chain then
    // (confirmed, not down, not expired), the rule `canReport` states.
    if (!canReport(chain.fluxNode(me), height + 1)) return;
    const self = o.isolation?.check();
    if (self && !self.mayReport) return;
    // A spell counts from when this node was last connected: silence it heard while cut off is no evidence.
    const connectedSince = self?.since ?? 0;
    for (const target of [...reported.keys()]) {
      const record = chain.fluxNode(target);
      if (liveness.isAlive(target) || !record || isNodeDown(record)) reported.delete(target);
    }
    for (const id of liveness.view.down()) {
      // Down for `reportAfterMs` before the chain hears of it: failover needs no report, a report
      // costs the target its payments, and a node restarting is back well within that time.
      if (id === me || now() - Math.max(liveness.get(id)?.since ?? now(), connectedSince) < reportAfterMs)
        continue;
      if (!canReport(chain.fluxNode(id), height + 1)) continue;
      const last = reported.get(id);
      if (last !== undefined && height - last < Math.max(1, Math.floor(window / 2))) continue;
      const { result } = submitOwn(chain, o.operator, TxKind.nodeDown, encodeNodeDown(id, me));
      reported.set(id, height);
      log(
        result.ok
          ? `liveness: reported node ${id.slice(0, 16)} down (tx ${toHex(result.id).slice(0, 16)})`
          : `liveness: down report of node ${id.slice(0, 16)} refused: ${result.error.code}: ${result.error.message}`,
      );
    }
  };

  const onChange = () => check();
  const onBlock = () => check();
  liveness.on('change', onChange);
  chain.on('block', onBlock);
  // Also on a clock: a node down for the extra timeout is reported then, not at the next block.
  const timer = setInterval(check, Math.max(50, Math.floor(timeoutMs / 4)));
  timer.unref();
  return {
    check,
    close() {
      clearInterval(timer);
      liveness.off('change', onChange);
      chain.off('block', onBlock);
    },
  };
}
