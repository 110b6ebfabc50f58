// What the polled routes answer from: values computed at most once per tip (state only changes
// when the tip does), and a version of the mempool that moves with every change to it.
import { bytesEqual } from '../../core/crypto/hash.ts';
import type { Chain, ChainTip } from '../chain/types.ts';

/** `compute` runs again only after the chain's tip hash changed (a new block or a reorg). */
export function perTip<T>(chain: Pick<Chain, 'tip'>, compute: (tip: ChainTip) => T): () => T {
  let at: Uint8Array | undefined;
  let value: T;
  return () => {
    const tip = chain.tip();
    if (at === undefined || !bytesEqual(at, tip.hash)) {
      value = compute(tip);
      at = tip.hash;
    }
    return value;
  };
}

/**
 * Like perTip, keyed also by a string (a query's parameters); the keys of one tip are kept
 * (at most `maxKeys`, the oldest dropped first) and all dropped when the tip moves.
 */
export function perTipBy<T>(
  chain: Pick<Chain, 'tip'>,
  compute: (key: string, tip: ChainTip) => T,
  maxKeys = 32,
): (key: string) => T {
  const values = perTip(chain, () => new Map<string, T>());
  return (key) => {
    const map = values();
    if (map.has(key)) return map.get(key) as T;
    const value = compute(key, chain.tip());
    if (map.size >= maxKeys) map.delete(map.keys().next().value as string);
    map.set(key, value);
    return value;
  };
}

export interface MempoolVersion {
  /** Moves whenever the mempool may have changed: a transaction added, a block, a reorg. */
  get(): number;
  close(): void;
}

/** A counter of mempool changes, fed by the chain's events (every change comes with one). */
export function mempoolVersion(chain: Pick<Chain, 'on' | 'off'>): MempoolVersion {
  let version = 0;
  const bump = () => {
    version++;
  };
  chain.on('tx', bump);
  chain.on('block', bump);
  chain.on('reorg', bump);
  return {
    get: () => version,
    close() {
      chain.off('tx', bump);
      chain.off('block', bump);
      chain.off('reorg', bump);
    },
  };
}
