// Network figures: how close a fresh node syncing over loopback comes to importing the same
// blocks from disk, how long a block takes to reach every node of a 5-node devnet, and what a
// flood of replayed heartbeats costs its target before the flooder is cut off.
// All nodes run in this one process (one thread), so latencies include the others' work.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockHash } from '../src/core/codec/ids.ts';
import { type Tx, TxKind } from '../src/core/codec/types.ts';
import { toHex } from '../src/core/crypto/hash.ts';
import { signMessage, verifySignature } from '../src/core/crypto/keys.ts';
import { encodeTransfer, minimumFee, signTx } from '../src/core/ledger/tx.ts';
import { type ChainParams, COIN, createParams, devnet } from '../src/core/params/index.ts';
import { type LocalChain, openChain } from '../src/node/chain/chain.ts';
import { buildBlock, createMiner } from '../src/node/miner/miner.ts';
import { createP2P, gossipTopics, type P2P } from '../src/node/p2p/index.ts';
import { devnetFluxNodes, startFluxNode } from '../test/support/fluxnodes.ts';
import { filledKey } from '../test/support/keys.ts';
import { testParams } from '../test/support/params.ts';
import { until } from '../test/support/wait.ts';
import { type BenchRow, formatRate } from './table.ts';

const BLOCKS = 300;
const TXS_PER_BLOCK = 20;
const PROPAGATION_BLOCKS = 20;
/** Heartbeats the flood benchmark's rogue sends in all (over as many identities as it takes). */
const FLOOD = 20_000;
const MINER = new Uint8Array(20).fill(7);

const sender = filledKey(3);

export function benchParams(genesisTime = Date.now() - (BLOCKS + 50) * devnet.blockTimeMs): ChainParams {
  return testParams([sender], { genesisTime, pow: 'unpaced', amount: 1_000_000n * COIN });
}

interface Opened {
  chain: LocalChain;
  dir: string;
  close(): void;
}

function open(params: ChainParams): Opened {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-p2p-'));
  const chain = openChain({ params, dbPath: join(dir, 'chain.db') });
  return {
    chain,
    dir,
    close() {
      chain.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function fillChain(chain: LocalChain): Promise<void> {
  const to = new Uint8Array(20).fill(9);
  let nonce = 0;
  for (let h = 0; h < BLOCKS; h++) {
    const txs: Tx[] = [];
    for (let i = 0; i < TXS_PER_BLOCK; i++) {
      const payload = encodeTransfer(to, 1_000n);
      txs.push(
        signTx(
          { nonce: nonce++, fee: minimumFee(300, chain.params), kind: TxKind.transfer, payload },
          sender,
          chain.params,
        ),
      );
    }
    const block = buildBlock(chain, txs, MINER, chain.tip().header.time + chain.params.blockTimeMs);
    const result = await chain.importBlock(block, Date.now());
    if (!result.ok) throw new Error(`bench block refused: ${result.error.message}`);
  }
}

async function syncVsImport(): Promise<BenchRow[]> {
  const params = benchParams();
  const source = open(params);
  await fillChain(source.chain);

  const fromDisk = open(params);
  let start = performance.now();
  for (let h = 1; h <= BLOCKS; h++) {
    const block = source.chain.blockByHeight(h);
    if (block === undefined) throw new Error(`source has no block ${h}`);
    const result = await fromDisk.chain.importBlock(block, Date.now());
    if (!result.ok) throw new Error(result.error.message);
  }
  const importRate = BLOCKS / ((performance.now() - start) / 1000);
  fromDisk.close();

  // The serving peer runs in its own process, as it would on another machine.
  source.chain.close();
  const script = join(import.meta.dirname, 'p2p-peer.ts');
  const server = spawn(
    process.execPath,
    [script, join(source.dir, 'chain.db'), String(params.genesis.time)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const serverAddr = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('/ip4/'));
      if (line) resolve(line.trim());
    });
    server.on('exit', (code) => reject(new Error(`bench peer exited with ${code}`)));
  });
  const fresh = open(params);
  start = performance.now();
  const client = await createP2P({ chain: fresh.chain, bootstrap: [serverAddr] });
  let syncStart: number | undefined;
  client.on('sync:start', () => {
    syncStart ??= performance.now();
  });
  await client.start();
  await until('the fresh node to sync', () => fresh.chain.tip().height === BLOCKS, 60_000, 5);
  const end = performance.now();
  const connectMs = (syncStart ?? start) - start;
  const syncRate = BLOCKS / ((end - (syncStart ?? start)) / 1000);
  await client.stop();
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  fresh.close();
  rmSync(source.dir, { recursive: true, force: true });
  return [
    {
      name: `import from disk (${BLOCKS} blocks of ${TXS_PER_BLOCK} txs)`,
      value: formatRate(importRate, 'blocks/s'),
    },
    {
      name: `sync of a fresh node from one peer (loopback, after ${Math.round(connectMs)} ms to connect)`,
      value: formatRate(syncRate, 'blocks/s'),
      ratio: `${(syncRate / importRate).toFixed(2)}x of import from disk`,
      goal: '>= 0.8x',
    },
  ];
}

async function propagation(): Promise<BenchRow[]> {
  const params = createParams(benchParams(), {});
  const nodes: Array<{ opened: Opened; p2p: P2P }> = [];
  for (let i = 0; i < 5; i++) {
    const opened = open(params);
    const bootstrap = i === 0 ? [] : [nodes[0].p2p.multiaddrs()[0], nodes[i - 1].p2p.multiaddrs()[0]];
    const p2p = await createP2P({ chain: opened.chain, bootstrap: [...new Set(bootstrap)] });
    await p2p.start();
    nodes.push({ opened, p2p });
  }
  await until('every node to have a peer', () => nodes.every((n) => n.p2p.peers().length >= 1), 10_000, 5);
  await new Promise((r) => setTimeout(r, 1_500)); // let gossipsub form its mesh
  const arrivals = new Map<string, number[]>();
  for (const n of nodes) {
    n.opened.chain.on('block', (_block, hash) => {
      const key = toHex(hash);
      const list = arrivals.get(key) ?? [];
      list.push(performance.now());
      arrivals.set(key, list);
    });
  }
  const times: number[] = [];
  for (let i = 0; i < PROPAGATION_BLOCKS; i++) {
    const miner = createMiner({ chain: nodes[i % nodes.length].opened.chain, minerAddress: MINER });
    const block = await miner.mineBlock();
    const key = toHex(blockHash(block.header));
    await until(
      'the block to reach every node',
      () => (arrivals.get(key)?.length ?? 0) >= nodes.length,
      10_000,
      5,
    );
    const list = arrivals.get(key) ?? [];
    times.push(Math.max(...list) - Math.min(...list));
  }
  for (const n of nodes) await n.p2p.stop();
  for (const n of nodes) n.opened.close();
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const p95 = times[Math.min(times.length - 1, Math.ceil(times.length * 0.95) - 1)];
  return [
    {
      name: `block propagation to all of 5 nodes (${PROPAGATION_BLOCKS} blocks, one process)`,
      value: `median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`,
    },
  ];
}

/** CPU time (ms) of this process while `work` runs. */
async function cpuMs(work: () => Promise<void> | void): Promise<number> {
  const start = process.cpuUsage();
  await work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/**
 * Two devnet FluxNodes, A and B, in this process; a rogue in its own process joins A, records
 * real heartbeats and sends them to A again in new envelopes as fast as it can, until A hangs up,
 * then comes back with a new peer id from a new loopback address, until it has sent FLOOD.
 * The figure is this process's CPU time during the flood, less what A and B use idle over as
 * long, per 1,000 messages the rogue sent, against 1,000 raw ed25519 verifications measured here.
 */
async function heartbeatFlood(): Promise<BenchRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'openflux-bench-flood-'));
  const dirs = [join(root, 'a'), join(root, 'b')];
  const { params, operators } = devnetFluxNodes(dirs);
  const start = (dir: string, bootstrap: string[]) => startFluxNode(params, dir, bootstrap);
  const a = await start(dirs[0], []);
  const b = await start(dirs[1], [a.p2p?.multiaddrs()[0] ?? '']);
  const nodeB = b.chain.fluxNodesOfOperator(operators[1].publicKey)[0].id;
  await until('A to hear B', () => a.liveness.get(nodeB)?.lastHeard !== undefined, 20_000, 5);

  let replays = 0;
  const inner = a.liveness.judge.judge.bind(a.liveness.judge);
  a.liveness.judge.judge = (data, from) => {
    const verdict = inner(data, from);
    if (typeof verdict === 'object' && 'reject' in verdict && verdict.reject.startsWith('replayed'))
      replays++;
    return verdict;
  };
  let bans = 0;
  a.p2p?.on('peer:ban', () => {
    bans++;
  });

  const message = new Uint8Array(32).fill(5);
  const signature = signMessage(message, operators[0].secretKey);
  const verifyMs = await cpuMs(() => {
    for (let i = 0; i < 1_000; i++) verifySignature(message, operators[0].publicKey, signature);
  });

  // What the two nodes use when nothing floods them (heartbeats, gossipsub's own heartbeat).
  const idleStart = performance.now();
  const idleMs = await cpuMs(() => new Promise((r) => setTimeout(r, 2_000)));
  const idlePerMs = idleMs / (performance.now() - idleStart);

  const rogue = spawn(
    process.execPath,
    [
      join(import.meta.dirname, 'heartbeat-flood-peer.ts'),
      a.p2p?.multiaddrs()[0] ?? '',
      gossipTopics(params).heartbeats,
      String(FLOOD),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let floodStart = 0;
  let cpuAtStart = process.cpuUsage();
  let out = '';
  const { sent, identities } = await new Promise<{ sent: number; identities: number }>((resolve, reject) => {
    rogue.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (floodStart === 0 && out.includes('flooding')) {
        floodStart = performance.now();
        cpuAtStart = process.cpuUsage();
      }
    });
    rogue.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) reject(new Error(`flood peer said: ${out}`));
      else resolve(JSON.parse(line) as { sent: number; identities: number });
    });
  });
  const used = process.cpuUsage(cpuAtStart);
  const floodSeconds = (performance.now() - floodStart) / 1000;
  const floodCpu = (used.user + used.system) / 1000 - idlePerMs * floodSeconds * 1000;
  const floodMs = Math.max(0, floodCpu) * (1_000 / Math.max(1, sent));
  await b.close();
  await a.close();
  rmSync(root, { recursive: true, force: true });
  return [
    {
      name: 'raw ed25519 verify (node:crypto, baseline)',
      value: `${verifyMs.toFixed(1)} ms CPU per 1,000`,
    },
    {
      name: 'heartbeat flood: CPU per 1,000 messages (replays in new envelopes, rogue in its own process)',
      value:
        `${floodMs.toFixed(1)} ms (${sent} sent in ${floodSeconds.toFixed(1)} s by ${identities} ` +
        `identities, ${replays} judged, ${bans} banned)`,
      ratio: `${(floodMs / verifyMs).toFixed(2)}x of 1,000 raw verifies`,
    },
  ];
}

export async function run(): Promise<BenchRow[]> {
  return [...(await syncVsImport()), ...(await propagation()), ...(await heartbeatFlood())];
}
