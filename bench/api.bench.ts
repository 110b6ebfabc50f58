// The API under load: GET /chain/info (what the CLI polls) against GET /supply (one index read)
// on the same node, 32 keep-alive connections over loopback, on a devnet chain of 60 blocks of
// which every 5th carries 2,000 transfers (PoUW from height 20, as on devnet). The node runs in its
// own process (bench/api-peer.ts); this one drives the connections with a minimal raw HTTP/1.1
// client, rounds of the two routes alternating.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tx, TxKind } from '../src/core/codec/types.ts';
import { toHex } from '../src/core/crypto/hash.ts';
import { addressBytes, type KeyPair, keyPairFromSecret } from '../src/core/crypto/keys.ts';
import { encodeTransfer, minimumFee, signTx } from '../src/core/ledger/tx.ts';
import { type ChainParams, COIN, createParams, devnet } from '../src/core/params/index.ts';
import { openChain } from '../src/node/chain/chain.ts';
import { buildBlock } from '../src/node/miner/miner.ts';
import { type BenchRow, formatRate } from './table.ts';

const BLOCKS = 60;
const BIG_EVERY = 5;
const BIG_TXS = 2_000;
const CONNECTIONS = 32;
const ROUND_MS = 2_000;
const ROUNDS = 3;
const PEER = join(import.meta.dirname, 'api-peer.ts');

function senders(): KeyPair[] {
  return Array.from({ length: BIG_TXS }, (_, i) => {
    const secret = new Uint8Array(32);
    new DataView(secret.buffer).setUint32(0, 0xa0000 + i);
    return keyPairFromSecret(secret);
  });
}

/** Devnet with BIG_TXS funded senders, unpaced (the blocks are built here, not mined on time). */
export function benchParams(genesisTime: number): ChainParams {
  return createParams(devnet, {
    genesis: {
      time: genesisTime,
      allocations: senders().map((k) => ({
        address: toHex(addressBytes(k.publicKey)),
        amount: 1_000n * COIN,
      })),
    },
    pow: { ...devnet.pow, pacedMining: false },
  });
}

/** Writes the chain into `dir`: BLOCKS blocks, every BIG_EVERY-th with BIG_TXS transfers. */
async function buildChain(dir: string, genesisTime: number): Promise<{ txs: number }> {
  const params = benchParams(genesisTime);
  const keys = senders();
  const chain = openChain({ params, dbPath: join(dir, 'chain.db') });
  let txs = 0;
  let round = 0;
  const miner = new Uint8Array(20).fill(7);
  try {
    for (let h = 1; h <= BLOCKS; h++) {
      const batch: Tx[] = [];
      if (h % BIG_EVERY === 0) {
        for (const [i, key] of keys.entries()) {
          const to = new Uint8Array(20);
          new DataView(to.buffer).setUint32(0, 0x10000 + i);
          batch.push(
            signTx(
              {
                nonce: round,
                fee: minimumFee(200, params),
                kind: TxKind.transfer,
                payload: encodeTransfer(to, 1n),
              },
              key,
              params,
            ),
          );
        }
        round++;
      }
      const block = buildBlock(chain, batch, miner, genesisTime + h * params.blockTimeMs);
      const r = await chain.importBlock(block, Date.now());
      if (!r.ok) throw new Error(`bench chain, block ${h}: ${r.error.message}`);
      txs += batch.length;
    }
    return { txs };
  } finally {
    chain.close();
  }
}

interface Peer {
  child: ChildProcess;
  port: number;
}

function startPeer(dir: string, genesisTime: number): Promise<Peer> {
  const child = spawn(process.execPath, [PEER, dir, String(genesisTime)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`bench API node exited with code ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      if (lines.length > 1) resolve({ child, port: Number(lines[0]) });
    });
  });
}

function stopPeer(p: Peer): Promise<void> {
  return new Promise((resolve) => {
    p.child.removeAllListeners('exit');
    p.child.once('exit', () => resolve());
    p.child.kill('SIGTERM');
  });
}

interface Round {
  requests: number;
  errors: number;
  ms: number;
  latencies: number[];
}

/** One keep-alive connection sending GET `path` back to back until `until`; latencies in ms. */
function connection(port: number, path: string, until: number, into: Round): Promise<void> {
  const ask = Buffer.from(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let sent = 0;
    const finish = () => {
      s.destroy();
      resolve();
    };
    s.on('connect', () => {
      sent = performance.now();
      s.write(ask);
    });
    s.on('error', () => {
      into.errors++;
      finish();
    });
    s.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.subarray(end + 4 + length);
        const now = performance.now();
        into.latencies.push(now - sent);
        if (head.startsWith('HTTP/1.1 200')) into.requests++;
        else into.errors++;
        if (now >= until) {
          finish();
          return;
        }
        sent = now;
        s.write(ask);
      }
    });
  });
}

async function round(port: number, path: string, ms: number): Promise<Round> {
  const r: Round = { requests: 0, errors: 0, ms, latencies: [] };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, () => connection(port, path, t0 + ms, r)));
  r.ms = performance.now() - t0;
  return r;
}

function merge(rounds: Round[]) {
  const lat = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const requests = rounds.reduce((n, r) => n + r.requests, 0);
  const ms = rounds.reduce((n, r) => n + r.ms, 0);
  return {
    perSecond: (requests / ms) * 1000,
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    p50: lat[Math.floor(lat.length * 0.5)] ?? 0,
    p99: lat[Math.floor(lat.length * 0.99)] ?? 0,
  };
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-api-'));
  const genesisTime = Date.now() - (BLOCKS + 1) * devnet.blockTimeMs;
  try {
    const built = await buildChain(dir, genesisTime);
    const peer = await startPeer(dir, genesisTime);
    try {
      await round(peer.port, '/supply', 300);
      await round(peer.port, '/chain/info', 300);
      const supply: Round[] = [];
      const info: Round[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        supply.push(await round(peer.port, '/supply', ROUND_MS));
        info.push(await round(peer.port, '/chain/info', ROUND_MS));
      }
      const s = merge(supply);
      const c = merge(info);
      const errors = s.errors + c.errors ? `, errors ${c.errors} chain info / ${s.errors} supply` : '';
      return [
        {
          name: `api: GET /supply (${CONNECTIONS} keep-alive connections, baseline)`,
          value: formatRate(s.perSecond, 'req/s'),
          ratio: `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`,
        },
        {
          name: `api: GET /chain/info, ${BLOCKS} blocks (${built.txs.toLocaleString('en-US')} txs, PoUW from 20)`,
          value: formatRate(c.perSecond, 'req/s'),
          ratio: `${(c.perSecond / s.perSecond).toFixed(2)}x of /supply; p50 ${ms(c.p50)}, p99 ${ms(c.p99)}${errors}`,
          goal: '>= 0.5x',
        },
      ];
    } finally {
      await stopPeer(peer);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
