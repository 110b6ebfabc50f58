// Every consensus constant lives here. Presets are plain values passed in by the caller;
// nothing reads a preset from the environment.
import type { Tier } from '../ledger/emission.ts';
import type { PouwParams } from '../pouw/types.ts';

export const COIN = 100_000_000n;

export type NetworkName = 'mainnet' | 'testnet' | 'devnet';

/** Network upgrades, activated at the heights named in `activations`. */
export type Feature = 'pouw';

export interface GenesisAllocation {
  /** 20-byte account id, hex. */
  address: string;
  amount: bigint;
}

/** What a FluxNode of one tier locks and must prove it has. */
export interface TierParams {
  /** Locked while the node runs, in base units. */
  collateral: bigint;
  /** Minimum hardware a confirmation's benchmark report must show. */
  minimums: {
    cores: number;
    /** RAM in GB; a report's MiB count as 1000 per GB (the kernel keeps some). */
    ramGb: number;
    /** Free disk in GB (10^9 bytes). */
    ssdGb: number;
    /** sha256 of 4 KiB blocks per second over all cores (see src/node/fluxnode/benchmark.ts). */
    eventsPerSec: number;
    /** Sequential write with fsync, MB/s. */
    diskWriteMBps: number;
  };
}

/** FluxNode lifecycle and benchmark plausibility rules; heights are counted in blocks. */
export interface NodeParams {
  tiers: Record<Tier, TierParams>;
  /** A started node must confirm within this many blocks (from its start block on), or it lapses. */
  confirmWindow: number;
  /** A confirmed node must confirm again within this many blocks of its last confirmation. */
  confirmPeriod: number;
  /** After a lapse, the owner's starts are refused for this many blocks. */
  cooldown: number;
  /** Blocks from a stop (or an expiry) until the collateral returns to the owner's balance. */
  unlockDelay: number;
  /**
   * Liveness (off chain): every running FluxNode gossips a heartbeat signed by its operator key
   * every `heartbeatMs`; a node not heard from for `timeoutMs` is down in a node's view, and one
   * heard again is taken back only after `holdDownMs` of heartbeats (no flapping). A heartbeat
   * stamped more than `maxSkewMs` away from the receiver's clock is refused.
   */
  liveness: { heartbeatMs: number; timeoutMs: number; holdDownMs: number; maxSkewMs: number };
  /**
   * Down reports (on chain): a confirmed node is marked down when `quorum` other confirmed nodes
   * reported it down within `window` blocks; a down node hosts and earns nothing until it
   * confirms again. A node reports another only once it has been down in its view for
   * `reportAfterMs` (off chain): failover needs no report and happens at the liveness timeout,
   * while a report costs the target its payments, so a node that restarts (a crash, an upgrade)
   * within that time is never reported.
   */
  down: { quorum: number; window: number; reportAfterMs: number };
  /**
   * Isolation (off chain: each node judges itself before it reports others down). A node looks
   * cut off while fewer than `minPeers` connected peers delivered a valid block, transaction or
   * heartbeat lately (within a liveness timeout or two block times, whichever is longer), or no
   * block came for `staleBlocks` block times, or more than `maxSilentBps` (basis points) of the
   * other confirmed nodes it tracks are silent at once; then it sends no down reports. It counts
   * as connected again after `recoverMs` without any of these and with no sync running.
   */
  isolation: { minPeers: number; staleBlocks: number; maxSilentBps: number; recoverMs: number };
  /** Bounds no honest report passes: per-core CPU rate, and absolute ranges. */
  report: {
    minEventsPerCore: number;
    maxEventsPerCore: number;
    maxCores: number;
    maxRamGb: number;
    maxSsdGb: number;
    maxDiskWriteMBps: number;
  };
}

/** Proof-of-Useful-Work after `activations.pouw`: job limits, difficulty and job deadlines. */
export interface PouwChainParams extends PouwParams {
  /** Per-MAC target of the first PoUW blocks on schedule (the ASERT anchor's target after the switch). */
  initialTargetPerMac: bigint;
  /** The easiest per-MAC target allowed. */
  targetPerMacLimit: bigint;
  /** The dimensions a zero job (no data, the fallback when the pool is empty) must have. */
  zeroJob: { m: number; n: number; k: number };
  /** Blocks from a job's claim until its product root must be on chain. */
  deliveryWindow: number;
  /** Blocks from the product root until the fee is paid, during which a fraud proof refunds the owner. */
  challengeWindow: number;
  /** The smallest fee a job may offer, in base units. */
  minJobFee: bigint;
}

/** FluxOS apps: what a spec may ask for and what it costs (base units per instance per block). */
export interface AppParams {
  price: {
    /** Per tenth of a CPU core. */
    cpuTenth: bigint;
    ramMb: bigint;
    hddGb: bigint;
    /** Per published port. */
    port: bigint;
    /** Base fee of each instance. */
    instance: bigint;
  };
  /** Bounds of a registration's or extension's duration, in blocks. */
  minBlocks: number;
  maxBlocks: number;
  maxInstances: number;
  maxComponents: number;
  /** Hosting nodes are paid what apps consumed every this many blocks (1: block by block). */
  payoutInterval: number;
  /** The port every node's ingress listens on by default. */
  ingressPort: number;
  /** Blocks a node keeps an app's volumes after the app is gone from the chain (cancelled or expired); then they are deleted. */
  volumeGraceBlocks: number;
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
    /** FluxNodes confirmed at genesis; each owner's allocation must cover its collateral. */
    nodes?: GenesisNode[];
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
  nodes: NodeParams;
  pouw: PouwChainParams;
  apps: AppParams;
}

export interface GenesisNode {
  /** 20-byte account id (hex) of the collateral owner. */
  owner: string;
  /** 32-byte ed25519 public key (hex) that signs the node's confirmations. */
  operator: string;
  tier: Tier;
  endpoint: string;
  /** `CONTINENT[-COUNTRY]` (see core/nodes/region.ts); left out, the node declares no region. */
  region?: string;
}

export function isActive(params: ChainParams, feature: Feature, height: number): boolean {
  return height >= params.activations[feature];
}

const MAX_TARGET = (1n << 256n) - 1n;
const NEVER = Number.MAX_SAFE_INTEGER;

const REPORT_BOUNDS: NodeParams['report'] = {
  minEventsPerCore: 5_000,
  maxEventsPerCore: 1_000_000,
  maxCores: 1024,
  maxRamGb: 16_384,
  maxSsdGb: 1_000_000,
  maxDiskWriteMBps: 50_000,
};

const mainnetNodes: NodeParams = {
  tiers: {
    cumulus: {
      collateral: 1_000n * COIN,
      minimums: { cores: 2, ramGb: 8, ssdGb: 220, eventsPerSec: 100_000, diskWriteMBps: 100 },
    },
    nimbus: {
      collateral: 12_500n * COIN,
      minimums: { cores: 4, ramGb: 32, ssdGb: 440, eventsPerSec: 200_000, diskWriteMBps: 180 },
    },
    stratus: {
      collateral: 40_000n * COIN,
      minimums: { cores: 8, ramGb: 64, ssdGb: 880, eventsPerSec: 400_000, diskWriteMBps: 400 },
    },
  },
  // 30 s blocks: 1 h to confirm a start, a confirmation every 8 h, 6 h cool-down, 1 day unlock.
  confirmWindow: 120,
  confirmPeriod: 960,
  cooldown: 720,
  unlockDelay: 2_880,
  // 10,000 nodes at one heartbeat per 10 s is 1,000 small gossip messages a second.
  liveness: { heartbeatMs: 10_000, timeoutMs: 35_000, holdDownMs: 120_000, maxSkewMs: 60_000 },
  down: { quorum: 5, window: 20, reportAfterMs: 120_000 },
  // A third of thousands of nodes silent at once is this node's network, not theirs.
  isolation: { minPeers: 3, staleBlocks: 20, maxSilentBps: 3_400, recoverMs: 70_000 },
  report: REPORT_BOUNDS,
};

const mainnetPouw: PouwChainParams = {
  rank: 64,
  kMin: 1024,
  kMax: 16384,
  maxRows: 8192,
  maxCols: 8192,
  // about 2^45 MACs (a few TMAC) per 30 s block to start with
  initialTargetPerMac: 1n << 211n,
  targetPerMacLimit: 1n << 236n,
  zeroJob: { m: 1024, n: 1024, k: 4096 },
  deliveryWindow: 40,
  challengeWindow: 240,
  minJobFee: COIN / 100n,
};

// About 0.2 FLUX a month for a tenth of a core, 1 GB of RAM and 10 GB of disk at 30 s blocks.
const mainnetApps: AppParams = {
  price: { cpuTenth: 20n, ramMb: 1n, hddGb: 10n, port: 50n, instance: 100n },
  minBlocks: 10,
  maxBlocks: 1_051_200,
  maxInstances: 100,
  maxComponents: 10,
  payoutInterval: 10,
  ingressPort: 16180,
  // A day at 30 s blocks: an owner who cancelled by mistake can still take a backup.
  volumeGraceBlocks: 2_880,
};

const common = {
  maxSupply: 440_000_000n * COIN,
  apps: mainnetApps,
  pouw: mainnetPouw,
  nodes: mainnetNodes,
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
  // PoUW from height 20, so a devnet (and its tests) sees both consensus rules.
  activations: { pouw: 20 },
  // Small enough for a laptop, short enough (2 s blocks) that tests see every transition.
  nodes: {
    tiers: {
      cumulus: {
        collateral: 1_000n * COIN,
        minimums: { cores: 1, ramGb: 1, ssdGb: 1, eventsPerSec: 10_000, diskWriteMBps: 5 },
      },
      nimbus: {
        collateral: 2_000n * COIN,
        minimums: { cores: 1, ramGb: 1, ssdGb: 1, eventsPerSec: 10_000, diskWriteMBps: 5 },
      },
      stratus: {
        collateral: 4_000n * COIN,
        minimums: { cores: 2, ramGb: 2, ssdGb: 2, eventsPerSec: 10_000, diskWriteMBps: 5 },
      },
    },
    confirmWindow: 4,
    confirmPeriod: 8,
    cooldown: 4,
    unlockDelay: 4,
    // Seconds, so a devnet fails over well within 10 s.
    liveness: { heartbeatMs: 1_000, timeoutMs: 3_500, holdDownMs: 10_000, maxSkewMs: 30_000 },
    // A devnet node killed and restarted comes back in a few seconds: never reported.
    down: { quorum: 2, window: 10, reportAfterMs: 15_000 },
    // More than half: on 3 nodes one dead of the 2 others is reported, both silent is isolation.
    isolation: { minPeers: 1, staleBlocks: 10, maxSilentBps: 5_000, recoverMs: 7_000 },
    report: REPORT_BOUNDS,
  },
  apps: { ...mainnetApps, payoutInterval: 1, volumeGraceBlocks: 30 },
  // Small jobs (k from 256; at most 2048 so a fraud proof fits one transaction) and a zero job of
  // 16 M MACs, about 3 ms here; a block needs about 2^26 MACs, so mining leaves the CPU free.
  pouw: {
    rank: 64,
    kMin: 256,
    kMax: 2048,
    maxRows: 1024,
    maxCols: 1024,
    initialTargetPerMac: 1n << 230n,
    targetPerMacLimit: 1n << 238n,
    zeroJob: { m: 128, n: 128, k: 1024 },
    deliveryWindow: 10,
    challengeWindow: 5,
    minJobFee: COIN / 100n,
  },
};

export const presets: Record<NetworkName, ChainParams> = { mainnet, testnet, devnet };

/** A copy of a preset with some fields replaced (tests, private networks). */
export function createParams(base: ChainParams, overrides: Partial<ChainParams>): ChainParams {
  return { ...base, ...overrides };
}
