// Real nodes for the p2p tests: each a chain in its own sqlite file under a temp dir, a miner,
// and a libp2p host on loopback TCP (port 0), each on its own loopback address where the system
// has them (Linux routes all of 127/8 to lo), so per-address limits and bans see separate hosts.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import type { Tx } from '../../src/core/codec/types.ts';
import { toHex } from '../../src/core/crypto/hash.ts';
import type { ChainParams } from '../../src/core/params/index.ts';
import { type LocalChain, openChain } from '../../src/node/chain/chain.ts';
import { buildBlock, createMiner, type Miner, type MinerOptions } from '../../src/node/miner/miner.ts';
import { createP2P, type JobDataSource, type P2P, type P2PLimits } from '../../src/node/p2p/index.ts';

export const MINER_ADDRESS = new Uint8Array(20).fill(7);

/** Fast limits for tests: short timeouts and status polls, a short ban. */
export const TEST_LIMITS: Partial<P2PLimits> = {
  requestTimeoutMs: 2_000,
  statusIntervalMs: 1_000,
  banMs: 60_000,
};

/** Whether this machine can listen on `host` (Linux answers on all of 127/8, others on 127.0.0.1). */
export function canBind(host: string): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen({ host, port: 0 }, () => server.close(() => done(true)));
  });
}

/** Whether this machine answers on loopback addresses other than 127.0.0.1. */
let manyLoopback: Promise<boolean> | undefined;
export function canBindLoopback(): Promise<boolean> {
  manyLoopback ??= canBind('127.0.0.2');
  return manyLoopback;
}

let nextHost = 0;
/** A loopback address no other node of this test process has had: 127.0.1.1, 127.0.1.2, ... */
export async function freshHost(): Promise<string> {
  if (!(await canBindLoopback())) return '127.0.0.1';
  const n = nextHost++;
  return `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;
}

export interface TestNode {
  name: string;
  /** The loopback address it listens and dials from. */
  host: string;
  chain: LocalChain;
  p2p: P2P;
  miner: Miner;
  dir: string;
  close(): Promise<void>;
}

export async function startNode(
  name: string,
  params: ChainParams,
  opts: {
    bootstrap?: string[];
    limits?: Partial<P2PLimits>;
    prepare?: (chain: LocalChain) => Promise<void>;
    /** Job matrices the node serves on the job-data protocol. */
    jobData?: JobDataSource;
    /** Overrides of the miner's options (its address, job store, result key). */
    miner?: Partial<MinerOptions>;
    /** Peer discovery (DHT, outbound slots); off by default: a test's topology is what it dials. */
    discovery?: boolean;
    /** Where the node keeps its chain and peer store; a dir given here outlives `close()`. */
    dir?: string;
    peerKey?: Uint8Array;
    /** Its loopback address (default: a fresh one) and port (default: any free one). */
    host?: string;
    port?: number;
  } = {},
): Promise<TestNode> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `openflux-p2p-${name}-`));
  const host = opts.host ?? (await freshHost());
  const chain = openChain({ params, dbPath: join(dir, 'chain.db') });
  await opts.prepare?.(chain);
  const p2p = await createP2P({
    chain,
    listen: [`/ip4/${host}/tcp/${opts.port ?? 0}`],
    bootstrap: opts.bootstrap,
    limits: { ...TEST_LIMITS, ...opts.limits },
    jobData: opts.jobData,
    discovery: opts.discovery ?? false,
    datastorePath: join(dir, 'peers.db'),
    peerKey: opts.peerKey,
  });
  await p2p.start();
  const miner = createMiner({ chain, minerAddress: MINER_ADDRESS, chunk: 5_000, ...opts.miner });
  let closed = false;
  return {
    name,
    host,
    chain,
    p2p,
    miner,
    dir,
    async close() {
      if (closed) return;
      closed = true;
      await miner.stop();
      await p2p.stop();
      chain.close();
      if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Extends the chain by `count` blocks stamped on schedule (no waiting, target stays easy). */
export async function extendOnSchedule(chain: LocalChain, count: number, txs: Tx[] = []): Promise<void> {
  for (let i = 0; i < count; i++) {
    const tip = chain.tip();
    const time = tip.header.time + chain.params.blockTimeMs;
    const block = buildBlock(chain, i === 0 ? txs : [], MINER_ADDRESS, time);
    const result = await chain.importBlock(block, Date.now());
    if (!result.ok) throw new Error(`test block refused: ${result.error.message}`);
  }
}

export function sameTip(nodes: TestNode[]): boolean {
  const hash = toHex(nodes[0].chain.tip().hash);
  return nodes.every((n) => toHex(n.chain.tip().hash) === hash);
}

export function addrOf(node: TestNode): string {
  return node.p2p.multiaddrs()[0];
}

/**
 * A bare libp2p host speaking our stack, driven by hand (a rogue peer): it listens on 127.0.0.1,
 * or on `from` and dials from there too; its gossipsub publishes with no peers on the topic
 * unless `publishToZeroPeers` is false.
 */
export function rawHost(o: { from?: string; publishToZeroPeers?: boolean } = {}) {
  const host = o.from ?? '127.0.0.1';
  const dialOpts = { noDelay: true, localAddress: o.from }; // dial from `from`, not 127.0.0.1
  return createLibp2p({
    addresses: { listen: [`/ip4/${host}/tcp/0`] },
    transports: [o.from === undefined ? tcp() : tcp({ dialOpts })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: o.publishToZeroPeers ?? true }),
    },
  });
}

/** Subscribes `host` to `topic` and collects what it hears there into `into` (returned). */
export function recordTopic(
  host: Awaited<ReturnType<typeof rawHost>>,
  topic: string,
  into: Uint8Array[] = [],
): Uint8Array[] {
  host.services.pubsub.addEventListener('message', (e) => {
    if (e.detail.topic === topic) into.push(e.detail.data);
  });
  host.services.pubsub.subscribe(topic);
  return into;
}

/** The nodes and bare hosts one test file starts; `close()` (in its `after`) stops them all. */
export function testNet() {
  const nodes: TestNode[] = [];
  const hosts: Libp2p[] = [];
  /** Stops `host` with the rest. */
  const keep = <H extends Libp2p>(host: H): H => {
    hosts.push(host);
    return host;
  };
  return {
    keep,
    async node(...args: Parameters<typeof startNode>): Promise<TestNode> {
      const n = await startNode(...args);
      nodes.push(n);
      return n;
    },
    rawHost: async (o?: Parameters<typeof rawHost>[0]) => keep(await rawHost(o)),
    async close(): Promise<void> {
      await Promise.all([...nodes.map((n) => n.close()), ...hosts.map((h) => h.stop())]);
    },
  };
}
