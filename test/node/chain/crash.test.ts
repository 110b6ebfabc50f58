import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { encodeBlock } from '../../../src/core/codec/ids.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { COIN } from '../../../src/core/params/index.ts';
import { openChain } from '../../../src/node/chain/chain.ts';
import { extend, MINER, type TempChains, tempChains } from '../../support/chain.ts';
import { addressOf, testKeys } from '../../support/keys.ts';
import { testParams } from '../../support/params.ts';
import { transfer } from '../../support/tx.ts';

const KEYS = 30;
const BLOCKS = 160;
const TXS_PER_BLOCK = 12;
const KILLS = 20;

const keys = testKeys(KEYS);
const params = testParams(keys, { blocksBack: 400 });
const importer = join(import.meta.dirname, 'fixtures', 'crash-importer.ts');

interface Reference {
  hash: string;
  stateRoot: string;
  balances: string;
}

function balances(chain: { account(a: Uint8Array): { balance: bigint; nonce: number } }): string {
  return [...keys.map(addressOf), MINER]
    .map((a) => `${chain.account(a).balance}/${chain.account(a).nonce}`)
    .join(',');
}

/** Runs the importer; kills it with SIGKILL `killAfterMs` after it is ready (or lets it finish). */
function runImporter(dbPath: string, blocksFile: string, killAfterMs?: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [importer, dbPath, blocksFile, String(params.genesis.time), String(KEYS)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('ready') && killAfterMs !== undefined) {
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.on('error', reject);
    child.on('close', () => resolve(lines));
  });
}

describe('crash safety', () => {
  let t: TempChains;
  const reference: Reference[] = [];
  let blocksFile: string;

  before(async () => {
    t = tempChains(params);
    // The reference node trusts the signatures of the transactions this test just signed.
    const ref = t.open('reference', { signatureVerifier: async (txs) => txs.map(() => true) });
    const record = () =>
      reference.push({
        hash: toHex(ref.tip().hash),
        stateRoot: toHex(ref.tip().header.stateRoot),
        balances: balances(ref),
      });
    record();
    const encoded: Uint8Array[] = [];
    for (let h = 1; h <= BLOCKS; h++) {
      const txs = Array.from({ length: TXS_PER_BLOCK }, (_, i) => {
        const from = keys[i % KEYS];
        const nonce = ref.account(addressOf(from)).nonce + Math.floor(i / KEYS);
        return transfer(params, from, addressOf(keys[(i + h) % KEYS]), COIN / 100n + BigInt(h), nonce);
      });
      const [block] = await extend(ref, 1, () => txs);
      assert.equal(block.txs.length, TXS_PER_BLOCK);
      encoded.push(encodeBlock(block));
      record();
    }
    blocksFile = join(t.dir, 'blocks.bin');
    const parts: Uint8Array[] = [];
    for (const e of encoded) {
      const size = Buffer.alloc(4);
      size.writeUInt32LE(e.length);
      parts.push(size, e);
    }
    writeFileSync(blocksFile, Buffer.concat(parts));
  });
  after(() => t.cleanup());

  it(`restarts at a fully imported block after ${KILLS} kill -9s during import`, async () => {
    const dbPath = join(t.dir, 'crashing.db');
    const heights: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await runImporter(dbPath, blocksFile, Math.floor(Math.random() * 150));
      const chain = openChain({ params, dbPath });
      try {
        const tip = chain.tip();
        const ref = reference[tip.height];
        assert.equal(
          toHex(tip.hash),
          ref.hash,
          `tip after kill ${k} is not the reference block at ${tip.height}`,
        );
        assert.equal(toHex(tip.header.stateRoot), ref.stateRoot);
        assert.equal(balances(chain), ref.balances, `state after kill ${k} differs at height ${tip.height}`);
        assert.equal(chain.supply()?.height, tip.height);
        heights.push(tip.height);
      } finally {
        chain.close();
      }
    }
    assert.ok(heights[heights.length - 1] > 0, `the importer never got going: ${heights}`);
    const lines = await runImporter(dbPath, blocksFile);
    assert.equal(lines[lines.length - 1], 'done', lines.join('\n'));
    const chain = openChain({ params, dbPath });
    try {
      assert.equal(chain.tip().height, BLOCKS);
      assert.equal(toHex(chain.tip().hash), reference[BLOCKS].hash);
      assert.equal(balances(chain), reference[BLOCKS].balances);
    } finally {
      chain.close();
    }
    console.log(`heights after each kill: ${heights.join(' ')}`);
  });
});
