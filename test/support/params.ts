// Chain parameters for tests and benches: a devnet with chosen accounts funded at genesis.
import type { KeyPair } from '../../src/core/crypto/keys.ts';
import { type ChainParams, COIN, createParams, devnet } from '../../src/core/params/index.ts';
import { ALICE, BOB, idOf } from './keys.ts';

export interface TestParamsOptions {
  /** The preset (default devnet). */
  base?: ChainParams;
  /** Each key's genesis balance (default 1,000 FLUX). */
  amount?: bigint;
  /** Genesis time; default `blocksBack` block times before now, on a whole second. */
  genesisTime?: number;
  /** How far back genesis lies, in block times (default 200): blocks on schedule stay in the past. */
  blocksBack?: number;
  /**
   * PoW: 'easy' (default) unpaced with an initial target of powLimit / 16; 'unpaced' the base's
   * target, unpaced; 'preset' the base's PoW as it is.
   */
  pow?: 'easy' | 'unpaced' | 'preset';
}

/** `base` (devnet) with `keys` funded at genesis. */
export function testParams(keys: KeyPair[], opts: TestParamsOptions = {}): ChainParams {
  const base = opts.base ?? devnet;
  const blocksBack = opts.blocksBack ?? 200;
  const amount = opts.amount ?? 1_000n * COIN;
  const pow = opts.pow ?? 'easy';
  return createParams(base, {
    genesis: {
      time: opts.genesisTime ?? Math.floor(Date.now() / 1000) * 1000 - blocksBack * base.blockTimeMs,
      allocations: keys.map((k) => ({ address: idOf(k), amount })),
    },
    ...(pow === 'preset'
      ? {}
      : {
          pow: {
            ...base.pow,
            pacedMining: false,
            ...(pow === 'easy' ? { initialTarget: base.pow.powLimit >> 4n } : {}),
          },
        }),
  });
}

/**
 * Params for live nodes (the p2p, API and job tests): ALICE and BOB funded, genesis `backMs` in
 * the past, so blocks stamped on schedule from genesis keep the initial target and stay in the past.
 */
export const liveParams = (backMs = 20 * 60 * 1000): ChainParams =>
  testParams([ALICE, BOB], { genesisTime: Date.now() - backMs, pow: 'unpaced' });
