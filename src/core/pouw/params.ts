// PoUW constants. Consensus values; the lead moves POUW_PARAMS into core/params presets.
import type { PouwParams } from './types.ts';

/** Output tiles are TILE x TILE; a verifier opens one. */
export const TILE = 16;

/** Job entries are int7, so that adding noise of magnitude <= 64 stays within int8. */
export const ENTRY_MIN = -64;
export const ENTRY_MAX = 63;

/** Largest noise rank: |E| <= rank must keep A + E inside int8. */
export const MAX_RANK = 64;

export const POUW_PARAMS: PouwParams = {
  rank: 64,
  kMin: 1024,
  kMax: 16384,
  maxRows: 8192,
  maxCols: 8192,
};
