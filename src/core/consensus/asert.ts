import type { ChainParams } from '../params/index.ts';

export interface AsertAnchor {
  height: number;
  /** Milliseconds. */
  time: number;
  target: bigint;
}

/**
 * ASERT difficulty (absolutely scheduled exponentially rising targets): the target of the block
 * after `parent` is the anchor's target scaled by 2^((ahead of schedule) / half-life), computed
 * in 16-bit fixed point with a cubic approximation of 2^x, all in integers.
 */
export function nextTarget(
  anchor: AsertAnchor,
  parent: { height: number; time: number },
  params: ChainParams,
): bigint {
  const timeDelta = BigInt(parent.time - anchor.time);
  const heightDelta = BigInt(parent.height - anchor.height);
  const ideal = BigInt(params.blockTimeMs);
  const halfLife = BigInt(params.pow.asertHalfLifeMs);
  // Positive when blocks came slower than scheduled: the target grows (easier).
  const exponent = ((timeDelta - ideal * heightDelta) * 65536n) / halfLife;
  const shifts = exponent >> 16n; // floor, also for negatives
  const frac = exponent - (shifts << 16n); // in [0, 65536)
  const factor =
    65536n +
    ((195766423245049n * frac + 971821376n * frac * frac + 5127n * frac * frac * frac + (1n << 47n)) >> 48n);
  let target = anchor.target * factor;
  target = shifts < 0n ? target >> -shifts : target << shifts;
  target >>= 16n;
  if (target < 1n) return 1n;
  return target > params.pow.powLimit ? params.pow.powLimit : target;
}
