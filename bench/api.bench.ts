// The API under load: GET /chain/info (what the CLI polls) against GET /supply (one index read)
// on the same node, 32 keep-alive connections over loopback, on a devnet chain of 60 blocks of
// which every 5th carries 2,000 transfers (PoUW from height 20, as on devnet). The node runs in its
// own process (bench/api-peer.ts); this one drives the connections with a minimal raw HTTP/1.1
// client, rounds of the two routes alternating.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tx } from '../src/core/codec/types.ts';
import { type KeyPair, keyPairFromSecret } from '../src/core/crypto/keys.ts';
import { minimumFee } from '../src/core/ledger/tx.ts';
import { type ChainParams, devnet } from '../src/core/params/index.ts';
import { openChain } from '../src/node/chain/chain.ts';
import { buildBlock } from '../src/node/miner/miner.ts';
import { type LoadRound, loadRound, startPeer, stopPeer, summarize } from '../test/support/http.ts';
import { testParams } from '../test/support/params.ts';
import { transferAtFee } from '../test/support/tx.ts';
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
  return testParams(senders(), { genesisTime, pow: 'unpaced' });
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
          batch.push(transferAtFee(params, key, to, 1n, round, minimumFee(200, params)));
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

const round = (port: number, path: string, ms: number) =>
  loadRound(port, { path, connections: CONNECTIONS, ms });

const ms = (x: number) => `${x.toFixed(1)} ms`;

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-api-'));
  const genesisTime = Date.now() - (BLOCKS + 1) * devnet.blockTimeMs;
  try {
    const built = await buildChain(dir, genesisTime);
    const peer = await startPeer(PEER, [dir, String(genesisTime)], 'bench API node');
    try {
      await round(peer.port, '/supply', 300);
      await round(peer.port, '/chain/info', 300);
      const supply: LoadRound[] = [];
      const info: LoadRound[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        supply.push(await round(peer.port, '/supply', ROUND_MS));
        info.push(await round(peer.port, '/chain/info', ROUND_MS));
      }
      const s = summarize(supply);
      const c = summarize(info);
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
