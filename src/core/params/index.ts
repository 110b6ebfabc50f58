// Every consensus constant lives here. Presets are plain values passed in by the caller;
// nothing reads a preset from the environment.

export const COIN = 100_000_000n;

export type NetworkName = 'mainnet' | 'testnet' | 'devnet';

/** Network upgrades, activated at the heights named in `activations`. */
export type Feature = 'pouw';

export interface GenesisAllocation {
  /** 20-byte account id, hex. */
  address: string;
  amount: bigint;
}

export interface ChainParams {
  network: NetworkName;
  /** Signed into every transaction, so a transaction for one network is invalid on another. */
  chainId: number;
  addressPrefix: 'flux' | 'tflux';
  /** The hard cap on FLUX ever minted, in base units. */
  maxSupply: bigint;
  genesis: {
    /** Milliseconds since the Unix epoch. */
    time: number;
    allocations: GenesisAllocation[];
  };
  /** Target spacing between blocks, in milliseconds. */
  blockTimeMs: number;
  emission: {
    /** Subsidy of the blocks in the first era, in base units. */
    initialSubsidy: bigint;
    /** The subsidy halves every `halvingInterval` blocks... */
    halvingInterval: number;
    /** ...but never falls below this tail, so the cap is reached exactly and in finite time. */
    tailSubsidy: bigint;
  };
  /** Shares of each block subsidy, in basis points (sum 10,000). */
  rewardSplit: { miner: number; cumulus: number; nimbus: number; stratus: number };
  pow: {
    /** The easiest target allowed (256-bit). */
    powLimit: bigint;
    /** The target of block 1 and the ASERT anchor's target. */
    initialTarget: bigint;
    /** ASERT: the target doubles (or halves) per this many ms ahead (or behind) schedule. */
    asertHalfLifeMs: number;
    /** A block may claim a time at most this far ahead of the validating node's clock. */
    maxFutureMs: number;
    /** Devnet convenience: the miner waits until the block is due instead of racing ahead. */
    pacedMining: boolean;
  };
  limits: {
    maxBlockTxs: number;
    maxBlockBytes: number;
    maxTxBytes: number;
    /** Minimum fee per byte of the encoded transaction, in base units. */
    minFeePerByte: bigint;
  };
  activations: Record<Feature, number>;
}

export function isActive(params: ChainParams, feature: Feature, height: number): boolean {
  return height >= params.activations[feature];
}

const MAX_TARGET = (1n << 256n) - 1n;
const NEVER = Number.MAX_SAFE_INTEGER;

const common = {
  maxSupply: 440_000_000n * COIN,
  rewardSplit: { miner: 5000, cumulus: 750, nimbus: 1250, stratus: 3000 },
  limits: { maxBlockTxs: 20_000, maxBlockBytes: 4_000_000, maxTxBytes: 10_000, minFeePerByte: 10n },
};

export const mainnet: ChainParams = {
  ...common,
  network: 'mainnet',
  chainId: 1,
  addressPrefix: 'flux',
  genesis: { time: Date.UTC(2026, 11, 1), allocations: [] },
  blockTimeMs: 30_000,
  // 50 FLUX a block, halving every 4 years of 30 s blocks; the 1 FLUX tail then mints the rest.
  emission: { initialSubsidy: 50n * COIN, halvingInterval: 4_204_800, tailSubsidy: 1n * COIN },
  pow: {
    powLimit: MAX_TARGET >> 20n,
    initialTarget: MAX_TARGET >> 32n,
    asertHalfLifeMs: 2 * 24 * 3600 * 1000,
    maxFutureMs: 2 * 3600 * 1000,
    pacedMining: false,
  },
  activations: { pouw: NEVER },
};

export const testnet: ChainParams = {
  ...mainnet,
  network: 'testnet',
  chainId: 2,
  addressPrefix: 'tflux',
  pow: {
    ...mainnet.pow,
    powLimit: MAX_TARGET >> 8n,
    initialTarget: MAX_TARGET >> 24n,
    asertHalfLifeMs: 3600 * 1000,
  },
};

/**
 * The well-known devnet mnemonic: its first accounts are funded at genesis so a fresh devnet is
 * usable at once. Never hold real funds with it.
 */
export const DEVNET_MNEMONIC = 'test test test test test test test test test test test junk';

/** Accounts 0..3 (m/44'/19167'/0'/0'/i') of DEVNET_MNEMONIC, funded with 1,000,000 FLUX each on devnet. */
export const DEVNET_FUNDED_ADDRESSES = [
  '8ad26fe90b57f53d783c8655bb283be8d61f7f28',
  '91e1cb3349ae2f1e8bee9c2bd0c3e1667dcbe4e7',
  'b60ca2ff3848843b8e846b92745cd1079038320d',
  '88e1b4c014d375ab39d3857984e885963cb31956',
];

export const devnet: ChainParams = {
  ...mainnet,
  network: 'devnet',
  chainId: 3,
  addressPrefix: 'tflux',
  // A devnet's genesis time is normally set to its start (ASERT measures from it): see createParams.
  genesis: {
    time: Date.UTC(2026, 0, 1),
    allocations: DEVNET_FUNDED_ADDRESSES.map((address) => ({ address, amount: 1_000_000n * COIN })),
  },
  blockTimeMs: 2_000,
  emission: { initialSubsidy: 50n * COIN, halvingInterval: 100_000, tailSubsidy: 1n * COIN },
  pow: {
    powLimit: MAX_TARGET >> 4n,
    initialTarget: MAX_TARGET >> 12n,
    asertHalfLifeMs: 60_000,
    maxFutureMs: 15_000,
    pacedMining: true,
  },
  activations: { pouw: NEVER },
};

export const presets: Record<NetworkName, ChainParams> = { mainnet, testnet, devnet };

/** A copy of a preset with some fields replaced (tests, private networks). */
export function createParams(base: ChainParams, overrides: Partial<ChainParams>): ChainParams {
  return { ...base, ...overrides };
}
