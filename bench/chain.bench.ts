// Block import against raw signature verification: how close does importing a block of signed
// transfers come to the speed of just checking their signatures?

import { verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTx, txSigningMessage } from '../src/core/codec/ids.ts';
import { type Block, type Tx, TxKind } from '../src/core/codec/types.ts';
import { keyPairFromSecret, publicKeyObject } from '../src/core/crypto/keys.ts';
import { encodeTransfer, minimumFee, signTx } from '../src/core/ledger/tx.ts';
import { type ChainParams, COIN, devnet } from '../src/core/params/index.ts';
import { openChain } from '../src/node/chain/chain.ts';
import { createSignaturePool } from '../src/node/chain/sigpool.ts';
import { buildBlock } from '../src/node/miner/miner.ts';
import { testKeys } from '../test/support/keys.ts';
import { testParams } from '../test/support/params.ts';
import { transferAtFee } from '../test/support/tx.ts';
import { type BenchRow, formatRate, median } from './table.ts';

const TXS = 10_000;
const SENDERS = 2_000;
const ROUNDS = 3;

export function workloadForProfile(): { params: ChainParams; txs: Tx[] } {
  return workload();
}

function workload(): { params: ChainParams; txs: Tx[] } {
  const keys = testKeys(SENDERS, 0);
  const now = Date.now();
  const params = testParams(keys, { genesisTime: now - devnet.blockTimeMs, pow: 'unpaced' });
  const txs: Tx[] = [];
  for (let i = 0; i < TXS; i++) {
    const to = new Uint8Array(20);
    new DataView(to.buffer).setUint32(0, 0x10000 + i);
    const nonce = Math.floor(i / SENDERS);
    txs.push(transferAtFee(params, keys[i % SENDERS], to, COIN, nonce, minimumFee(200, params)));
  }
  return { params, txs };
}

/** Raw node:crypto ed25519 verification on one core, keys already parsed: the baseline. */
function rawVerifyRate(txs: Tx[]): number {
  const items = txs.map((tx) => ({
    message: txSigningMessage(tx.body),
    key: publicKeyObject(tx.body.sender),
    signature: tx.signature,
  }));
  const start = performance.now();
  for (const it of items)
    if (!verify(null, it.message, it.key, it.signature)) throw new Error('bad signature');
  return items.length / ((performance.now() - start) / 1000);
}

/** Transfers from senders that are not in the measured block, to warm a worker pool up. */
const warmup: Tx[] = Array.from({ length: 1000 }, (_, i) => {
  const secret = new Uint8Array(32).fill(0xa5);
  new DataView(secret.buffer).setUint32(0, i);
  const key = keyPairFromSecret(secret);
  return signTx(
    { nonce: 0, fee: 10_000n, kind: TxKind.transfer, payload: encodeTransfer(new Uint8Array(20), 1n) },
    key,
    devnet,
  );
});

async function importRate(params: ChainParams, block: Block, threads: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-'));
  const pool = threads > 0 ? createSignaturePool({ threads }) : undefined;
  try {
    const chain = openChain({ params, dbPath: join(dir, 'chain.db'), signatureVerifier: pool?.verifyTxs });
    // Warm the workers up (thread start, JIT) as on a running node, with other senders' signatures
    // so the measured block's keys are still parsed inside the timed import.
    if (pool) for (let i = 0; i < 3; i++) await pool.verifyTxs(warmup, warmup.map(encodeTx));
    const start = performance.now();
    const r = await chain.importBlock(block, block.header.time);
    const seconds = (performance.now() - start) / 1000;
    if (!r.ok) throw new Error(`import failed: ${r.error.message}`);
    chain.close();
    return block.txs.length / seconds;
  } finally {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchRow[]> {
  const { params, txs } = workload();
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-'));
  let block: Block;
  try {
    const builder = openChain({ params, dbPath: join(dir, 'chain.db') });
    block = await buildBlock(
      builder,
      txs,
      new Uint8Array(20).fill(7),
      params.genesis.time + params.blockTimeMs,
    );
    builder.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // This machine's speed drifts between seconds: the three measurements alternate, ROUNDS times,
  // and each ratio is the median of the per-round ratios.
  const rounds: Array<{ raw: number; oneCore: number; twoCores: number }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    rounds.push({
      raw: rawVerifyRate(txs),
      oneCore: await importRate(params, block, 0),
      twoCores: await importRate(params, block, 2),
    });
  }
  const raw = median(rounds.map((r) => r.raw));
  const oneCore = median(rounds.map((r) => r.oneCore));
  const twoCores = median(rounds.map((r) => r.twoCores));
  const oneCoreRatio = median(rounds.map((r) => r.oneCore / r.raw));
  const twoCoreRatio = median(rounds.map((r) => r.twoCores / r.oneCore));
  return [
    { name: 'ed25519 verify, node:crypto, 1 core (baseline)', value: formatRate(raw) },
    {
      name: `import block of ${TXS} transfers (${SENDERS} senders), 1 core`,
      value: formatRate(oneCore, 'tx/s'),
      ratio: `${oneCoreRatio.toFixed(2)}x raw verify (median of ${ROUNDS} rounds)`,
      goal: '>= 0.8x',
    },
    {
      name: `import block of ${TXS} transfers, signatures on 2 worker threads`,
      value: formatRate(twoCores, 'tx/s'),
      ratio: `${twoCoreRatio.toFixed(2)}x 1-core import (median of ${ROUNDS} rounds)`,
      goal: '>= 1.7x',
    },
  ];
}
