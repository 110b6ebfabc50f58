// The mining gate: the miner runs only while the node has caught up with its peers.
import type { Chain } from '../chain/types.ts';
import type { P2P, SyncProgress } from '../p2p/index.ts';
import type { Miner } from './miner.ts';

export interface MiningGate {
  close(): Promise<void>;
}

/**
 * Runs the miner only while the node is caught up: with bootstrap peers it first waits until a
 * peer has told us its chain is not heavier than ours (or a sync finished, or `waitMs` passed),
 * and it pauses while a sync runs, so it never mines on a stale tip.
 */
export function createMiningGate(o: {
  miner: Miner;
  p2p?: P2P;
  chain: Chain;
  waitForPeers: boolean;
  waitMs: number;
  log: (line: string) => void;
}): MiningGate {
  const { miner, p2p, chain, log } = o;
  let ready = !o.waitForPeers || p2p === undefined;
  let closed = false;
  // Start and stop are serialised: a start during a pending stop must not leave two loops.
  let queue: Promise<void> = Promise.resolve();
  let running = false;
  const apply = (): void => {
    queue = queue.then(async () => {
      const want = !closed && ready && !(p2p?.syncing() ?? false);
      if (want && !running) {
        running = true;
        miner.start();
      } else if (!want && running) {
        running = false;
        await miner.stop();
      }
    });
  };
  const becomeReady = (why: string): void => {
    if (ready || closed) return;
    ready = true;
    clearInterval(poll);
    clearTimeout(timeout);
    log(`mining starts: ${why}`);
    apply();
  };
  const caughtUp = (): boolean => {
    if (p2p === undefined || p2p.syncing()) return false;
    const told = p2p.peers().filter((p) => p.cumulativeWork !== undefined);
    const ours = chain.tip().cumulativeWork;
    return told.length > 0 && told.every((p) => (p.cumulativeWork ?? 0n) <= ours);
  };
  const poll = setInterval(() => {
    if (caughtUp()) becomeReady(`caught up with ${p2p?.peers().length ?? 0} peer(s)`);
  }, 250);
  const timeout = setTimeout(
    () => becomeReady(`no peer answered in ${Math.round(o.waitMs / 1000)} s; mining on our own chain`),
    o.waitMs,
  );
  if (ready) {
    clearInterval(poll);
    clearTimeout(timeout);
  } else {
    log('miner waits until the node has caught up with its peers');
  }
  const recheck = (): void => apply();
  const onSyncDone = (s: SyncProgress & { ok: boolean }): void => {
    if (s.ok) becomeReady(`synced to height ${s.height}`);
    apply();
  };
  p2p?.on('sync:start', recheck);
  p2p?.on('sync:done', onSyncDone);
  // `sync:done` ends one peer's sync while the round still runs; only `sync:idle` says that
  // syncing() is false again. Without it a miner stopped for a sync could stay stopped.
  p2p?.on('sync:idle', recheck);
  apply();
  return {
    async close() {
      closed = true;
      clearInterval(poll);
      clearTimeout(timeout);
      p2p?.off('sync:start', recheck);
      p2p?.off('sync:done', onSyncDone);
      p2p?.off('sync:idle', recheck);
      apply();
      await queue;
    },
  };
}
