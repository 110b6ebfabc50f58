// Network figures: how close a fresh node syncing over loopback comes to importing the same
// blocks from disk, and how long a block takes to reach every node of a 5-node devnet.
// All nodes run in this one process (one thread), so latencies include the others' work.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockHash } from '../src/core/codec/ids.ts';
import { type Tx, TxKind } from '../src/core/codec/types.ts';
import { toHex } from '../src/core/crypto/hash.ts';
import { addressBytes, keyPairFromSecret } from '../src/core/crypto/keys.ts';
import { encodeTransfer, minimumFee, signTx } from '../src/core/ledger/tx.ts';
import { type ChainParams, COIN, createParams, devnet } from '../src/core/params/index.ts';
import { type LocalChain, openChain } from '../src/node/chain/chain.ts';
import { buildBlock, createMiner } from '../src/node/miner/miner.ts';
import { createP2P, type P2P } from '../src/node/p2p/index.ts';
import { type BenchRow, formatRate } from './table.ts';

const BLOCKS = 300;
const TXS_PER_BLOCK = 20;
const PROPAGATION_BLOCKS = 20;
const MINER = new Uint8Array(20).fill(7);

const sender = keyPairFromSecret(new Uint8Array(32).fill(3));

export function benchParams(genesisTime = Date.now() - (BLOCKS + 50) * devnet.blockTimeMs): ChainParams {
  return createParams(devnet, {
    genesis: {
      time: genesisTime,
      allocations: [{ address: toHex(addressBytes(sender.publicKey)), amount: 1_000_000n * COIN }],
    },
    pow: { ...devnet.pow, pacedMining: false },
  });
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

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('bench timed out');
    await new Promise((r) => setTimeout(r, 5));
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
  await until(() => fresh.chain.tip().height === BLOCKS, 60_000);
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
  await until(() => nodes.every((n) => n.p2p.peers().length >= 1), 10_000);
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
    await until(() => (arrivals.get(key)?.length ?? 0) >= nodes.length, 10_000);
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

export async function run(): Promise<BenchRow[]> {
  return [...(await syncVsImport()), ...(await propagation())];
}
