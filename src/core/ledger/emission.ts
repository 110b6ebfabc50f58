import type { ChainParams } from '../params/index.ts';

/**
 * The scheduled subsidy of the block at `height` (block 0, genesis, mints only its allocations):
 * `initialSubsidy` halving every `halvingInterval` blocks, never below `tailSubsidy`.
 */
export function scheduledSubsidy(height: number, params: ChainParams): bigint {
  if (height <= 0) return 0n;
  const { initialSubsidy, halvingInterval, tailSubsidy } = params.emission;
  const era = Math.floor((height - 1) / halvingInterval);
  const halved = era >= 64 ? 0n : initialSubsidy >> BigInt(era);
  return halved > tailSubsidy ? halved : tailSubsidy;
}

/** The subsidy actually available at `height`: the schedule, clamped so minted never passes the cap. */
export function blockSubsidy(height: number, minted: bigint, params: ChainParams): bigint {
  const scheduled = scheduledSubsidy(height, params);
  const room = params.maxSupply - minted;
  if (room <= 0n) return 0n;
  return scheduled < room ? scheduled : room;
}

export type Tier = 'cumulus' | 'nimbus' | 'stratus';
export const TIERS: readonly Tier[] = ['cumulus', 'nimbus', 'stratus'];

export interface SubsidySplit {
  miner: bigint;
  tiers: Record<Tier, bigint>;
}

/**
 * Splits a subsidy by the basis points in params. Rounding dust goes to the miner. A tier share
 * with nobody to pay is not minted at all: it stays in the unminted remainder, which the tail
 * subsidy emits later, so the cap is still reached exactly.
 */
export function splitSubsidy(subsidy: bigint, params: ChainParams): SubsidySplit {
  const bps = params.rewardSplit;
  const tiers = {
    cumulus: (subsidy * BigInt(bps.cumulus)) / 10_000n,
    nimbus: (subsidy * BigInt(bps.nimbus)) / 10_000n,
    stratus: (subsidy * BigInt(bps.stratus)) / 10_000n,
  };
  return { miner: subsidy - tiers.cumulus - tiers.nimbus - tiers.stratus, tiers };
}
