// The node confirms itself: after each block it looks up the FluxNodes its operator key signs
// for, and submits a confirmation with its benchmark report when one is due (the first one
// right after the start, then once per period, inside the window before the node would expire;
// at once when other nodes' reports marked it down, which brings it back).
import { txId } from '../../core/codec/ids.ts';
import { type BenchReport, TxKind } from '../../core/codec/types.ts';
import { toHex } from '../../core/crypto/hash.ts';
import type { KeyPair } from '../../core/crypto/keys.ts';
import { confirmFrom } from '../../core/nodes/lifecycle.ts';
import { encodeNodeConfirm } from '../../core/nodes/payloads.ts';
import { checkReportForTier } from '../../core/nodes/report.ts';
import { isNodeDown, NodeStatus, tierOf } from '../../core/nodes/types.ts';
import { submitOwn } from '../chain/submit.ts';
import type { Chain } from '../chain/types.ts';
import { serialPasses } from '../passes.ts';

export interface ConfirmServiceOptions {
  chain: Chain;
  operator: KeyPair;
  /** The report to confirm with; measured lazily (and once) when first needed. */
  report: () => Promise<BenchReport>;
  log?: (line: string) => void;
}

export interface ConfirmService {
  /** Checks now whether a confirmation is due (also runs after every block). */
  check(): Promise<void>;
  close(): void;
}

export function startConfirmService(opts: ConfirmServiceOptions): ConfirmService {
  const { chain, operator } = opts;
  const log = opts.log ?? (() => {});
  /** node id -> id of the confirmation we submitted and the node's confirmation count then. */
  const submitted = new Map<string, { tx: Uint8Array; confirmations: number }>();
  const warned = new Set<string>();
  /** `id@downSince` of the down marks already announced in the log. */
  const downSeen = new Set<string>();
  let report: Promise<BenchReport> | undefined;

  async function checkOnce(): Promise<void> {
    const height = chain.tip().height + 1;
    for (const { id, node } of chain.fluxNodesOfOperator(operator.publicKey)) {
      if (node.status !== NodeStatus.started && node.status !== NodeStatus.confirmed) continue;
      const sent = submitted.get(id);
      if (sent) {
        if (node.confirmations > sent.confirmations) {
          log(`fluxnode ${id.slice(0, 16)}: confirmed at height ${node.lastConfirmHeight}`);
          submitted.delete(id);
        } else if (chain.mempoolTx(sent.tx)) continue;
        else submitted.delete(id); // dropped: try again
      }
      if (isNodeDown(node)) {
        // A down node's confirmation is accepted at any height: confirm again at once.
        if (height >= node.expiresAt) continue;
        const mark = `${id}@${node.downSince}`;
        if (!downSeen.has(mark))
          log(
            `fluxnode ${id.slice(0, 16)}: marked down at height ${node.downSince} by reports; confirming again`,
          );
        downSeen.add(mark);
      } else {
        // One block after the window opens (peers a block behind would refuse it and not offer
        // it again), unless that is the last block before the node expires.
        const from = Math.min(confirmFrom(node, chain.params) + 1, node.expiresAt - 1);
        if (height < from || height >= node.expiresAt) continue;
      }
      report ??= opts.report();
      const r = await report;
      if (passes.stopped) return;
      const tier = tierOf(node.tier)!;
      const meets = checkReportForTier(r, tier, chain.params);
      if (!meets.ok) {
        if (!warned.has(id)) log(`fluxnode ${id.slice(0, 16)}: cannot confirm: ${meets.error.message}`);
        warned.add(id);
        continue;
      }
      const { tx, result } = submitOwn(chain, operator, TxKind.nodeConfirm, encodeNodeConfirm(id, r));
      if (!result.ok) {
        log(
          `fluxnode ${id.slice(0, 16)}: confirmation refused: ${result.error.code}: ${result.error.message}`,
        );
        continue;
      }
      submitted.set(id, { tx: txId(tx), confirmations: node.confirmations });
      log(
        `fluxnode ${id.slice(0, 16)}: confirmation ${toHex(result.id).slice(0, 16)} submitted for height ${height}`,
      );
    }
  }

  const passes = serialPasses(checkOnce, (e) => log(`fluxnode: ${e.message}`));
  const check = passes.run;

  const onBlock = () => void check();
  chain.on('block', onBlock);
  void check();
  return {
    check,
    close() {
      void passes.stop();
      chain.off('block', onBlock);
    },
  };
}
