import type { JobHeader } from '../../core/pouw/index.ts';
import type { Chain } from '../chain/types.ts';
import type { JobDataFetch, JobDataSource, ProductFetch, ProductWanted } from './jobdata.ts';

export interface P2PLimits {
  /** Most simultaneous connections (inbound and outbound). */
  maxPeers: number;
  /**
   * Outbound slots: peers the node dials itself (diverse addresses, see discovery.ts), never
   * taken by inbound connections, which get at most `maxPeers - outboundPeers`.
   */
  outboundPeers: number;
  /** Inbound connections from one IP address (IPv6: one /64). */
  maxInboundPerIp: number;
  /** Inbound connections from one /24 (IPv6: one /48); on loopback each address is its own. */
  maxInboundPerSubnet: number;
  /**
   * Addresses exempt from the two limits above: by default this machine's own (several local
   * nodes on 127.0.0.1); devnets and tests give their nodes other loopback addresses.
   */
  inboundUnlimited: string[];
  /** With its outbound slots full, the node still looks up random peers in the DHT this often. */
  lookupIntervalMs: number;
  /** Every request to a peer is abandoned after this long. */
  requestTimeoutMs: number;
  /** Sync requests a peer may make per second (sustained) and at once (burst). */
  requestsPerSecond: number;
  requestBurst: number;
  /**
   * Gossiped transactions waiting for validation; beyond this they are dropped (ignored, no
   * penalty) rather than queued. Gossip itself is policed by gossipsub's peer score (gossip-score.ts).
   */
  maxPendingTxs: number;
  /** Gossiped transactions are judged in batches of at most this many, the first waiting at most `txBatchWaitMs`. */
  txBatchSize: number;
  txBatchWaitMs: number;
  /** Gossipsub IP colocation (P6): peers beyond this many from one IP lose score. */
  ipColocationThreshold: number;
  /** IPs exempt from P6; loopback by default (peers on this machine are not remote sybils). */
  ipColocationWhitelist: string[];
  /** Blocks asked for per sync request (at most MAX_BLOCKS_PER_REQUEST). */
  blocksPerRequest: number;
  /** Headers asked for per sync request (at most MAX_HEADERS_PER_REQUEST). */
  headersPerRequest: number;
  /** A blocks response stops adding blocks past this many bytes (one block always fits). */
  maxResponseBytes: number;
  /** Gossiped blocks waiting to be imported; beyond this, new ones are ignored, not queued. */
  maxPendingBlocks: number;
  /** Gossiped blocks kept while their parent is missing (see orphans.ts): count and bytes. */
  maxOrphanBlocks: number;
  maxOrphanBytes: number;
  /** Score at or under which a peer is disconnected and banned. */
  banThreshold: number;
  banMs: number;
  /** How often connected peers are asked for their status and the outbound slots refilled. */
  statusIntervalMs: number;
  /** Job-data requests a peer may make per second (sustained) and at once (burst). */
  jobDataPerSecond: number;
  jobDataBurst: number;
  /** Job-data responses this node sends at once (to all peers). */
  jobDataServing: number;
  /** Jobs with more bytes of A and B than this, and products of more bytes (4·m·n), are not fetched. */
  maxJobDataBytes: number;
}

export const DEFAULT_LIMITS: P2PLimits = {
  maxPeers: 50,
  outboundPeers: 8,
  maxInboundPerIp: 4,
  maxInboundPerSubnet: 16,
  inboundUnlimited: ['127.0.0.1', '::1'],
  lookupIntervalMs: 60_000,
  requestTimeoutMs: 5_000,
  requestsPerSecond: 50,
  requestBurst: 100,
  maxPendingTxs: 10_000,
  txBatchSize: 256,
  txBatchWaitMs: 5,
  ipColocationThreshold: 5,
  ipColocationWhitelist: ['127.0.0.1', '::1'],
  blocksPerRequest: 128,
  headersPerRequest: 1_000,
  maxResponseBytes: 8 * 1024 * 1024,
  maxPendingBlocks: 64,
  maxOrphanBlocks: 64,
  maxOrphanBytes: 32 * 1024 * 1024,
  banThreshold: -100,
  banMs: 10 * 60 * 1000,
  statusIntervalMs: 5_000,
  jobDataPerSecond: 1,
  jobDataBurst: 8,
  jobDataServing: 2,
  maxJobDataBytes: 64 * 2 ** 20,
};

export interface P2POptions {
  chain: Chain;
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`. */
  listen?: string[];
  /** Multiaddrs (with `/p2p/<peer id>`) dialled at start and redialled while disconnected. */
  bootstrap?: string[];
  /** 32-byte ed25519 seed of the node's identity, so its peer id stays the same across runs. */
  peerKey?: Uint8Array;
  /**
   * SQLite file for libp2p's peer store (peers met, their addresses), so a restarted node
   * reconnects without its bootstrap list; without it the peer store lives in memory.
   */
  datastorePath?: string;
  /**
   * Find peers beyond the bootstrap list (a DHT private to the network) and keep the outbound
   * slots filled from them. Default off: the host connects only where it is told (tests of fixed
   * topologies); the daemon (`createNode`) turns it on.
   */
  discovery?: boolean;
  limits?: Partial<P2PLimits>;
  /** Clock in ms (tests may shift it); defaults to Date.now. */
  now?: () => number;
  /** Job matrices and products this node serves to peers on the job-data protocol (the node's jobs store). */
  jobData?: JobDataSource;
  /** Judges gossiped heartbeats (the liveness service); without it they are ignored. */
  heartbeats?: HeartbeatJudge;
}

/**
 * Decides what to do with a gossiped heartbeat: relay it (`accept`), drop it quietly
 * (`ignore`: a node just started at our tip, our own node), drop it and have gossipsub penalise
 * the peer that sent it (`{ reject: why }`: malformed, a replay, badly signed...), or, for a node
 * our chain does not know (`{ unknown: why }`), drop it and penalise the peer only when its chain
 * is not ahead of ours (a peer ahead may know nodes we do not yet).
 */
export interface HeartbeatJudge {
  judge(data: Uint8Array, from: string): HeartbeatVerdict;
}
export type HeartbeatVerdict = 'accept' | 'ignore' | { reject: string } | { unknown: string };

export interface PeerInfo {
  id: string;
  addrs: string[];
  direction: 'inbound' | 'outbound';
  /** Score on the sync and job-data protocols (0 neutral, negative after offences). */
  score: number;
  /** Gossipsub's score of the peer (see gossip-score.ts): positive for a useful relay. */
  gossipScore: number;
  /** The peer's chain as it last told us. */
  height?: number;
  cumulativeWork?: bigint;
}

export interface SyncProgress {
  peer: string;
  /** Our height when this sync started, our height now, and the peer's claimed height. */
  startHeight: number;
  height: number;
  targetHeight: number;
  blocks: number;
  blocksPerSecond: number;
}

export interface P2PEvents {
  'peer:connect': (peer: string) => void;
  'peer:disconnect': (peer: string) => void;
  'peer:ban': (peer: string, reason: string) => void;
  'sync:start': (progress: SyncProgress) => void;
  'sync:progress': (progress: SyncProgress) => void;
  'sync:done': (progress: SyncProgress & { ok: boolean; error?: string }) => void;
  /** A batch of bodies arrived from one source (the sync peer or a helper on the same tip). */
  'sync:batch': (batch: { peer: string; startHeight: number; blocks: number }) => void;
  /** Every sync round has ended: `syncing()` is false now (it is not yet at `sync:done`). */
  'sync:idle': () => void;
  /** A block or transaction arrived by gossip and the chain took it. */
  'gossip:block': (hash: Uint8Array, from: string) => void;
  'gossip:tx': (id: Uint8Array, from: string) => void;
  /** Our own transactions, still pending some blocks after submission, were announced again. */
  'tx:rebroadcast': (count: number) => void;
}

export interface P2P {
  /** The node's peer id (base58, `12D3Koo...`). */
  readonly peerId: string;
  /** Where others can dial this node, each ending in `/p2p/<peer id>` (after start). */
  multiaddrs(): string[];
  /** Gossips a heartbeat (encoded and signed by the liveness service). */
  publishHeartbeat(data: Uint8Array): void;
  peers(): PeerInfo[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Dials a peer by multiaddr; resolves when connected. */
  connect(addr: string): Promise<void>;
  /** Closes every connection to the peer (it may reconnect unless banned). */
  disconnect(peerId: string): Promise<void>;
  /** Refuses the peer for `ms` and drops its connections. */
  ban(peerId: string, ms: number, reason: string): Promise<void>;
  unban(peerId: string): void;
  banned(): Array<{ peer: string; until: number; reason: string }>;
  /** Whether a sync is running now. */
  syncing(): boolean;
  /** Asks connected peers for their status and syncs from the best one if it is ahead. */
  syncNow(): void;
  /**
   * Asks one connected peer for a job's A and B by its roots and dimensions; the data returned
   * has its roots checked (a peer sending other data is penalised, and the data dropped).
   */
  fetchJobData(peerId: string, header: JobHeader): Promise<JobDataFetch>;
  /**
   * Asks one connected peer for a delivered job's product by the job's id; the product returned
   * matches `want.productRoot` (a peer sending another is penalised, and the product dropped).
   */
  fetchProduct(peerId: string, want: ProductWanted): Promise<ProductFetch>;
  on<E extends keyof P2PEvents>(event: E, listener: P2PEvents[E]): void;
  off<E extends keyof P2PEvents>(event: E, listener: P2PEvents[E]): void;
}
