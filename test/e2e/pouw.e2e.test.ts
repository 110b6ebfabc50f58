// End to end on an in-process devnet node that mines across the PoUW switch: a job owner submits
// A and B with the CLI, the node's miner claims the job with a winning tile, posts the product's
// root, is paid after the challenge window; the owner fetches C and verifies it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeMatrix, encodeNpy } from '../../src/api/matrix-file.ts';
import { DEVNET_MNEMONIC, devnet } from '../../src/core/params/index.ts';
import { dotProduct } from '../../src/core/pouw/index.ts';
import { createDevNode } from '../../src/node/dev-node.ts';
import type { FluxNode } from '../../src/node/node.ts';
import { fluxInProcess } from '../support/io.ts';

const ACTIVATION = 3;
const M = 32;
const N = 48;
const K = 256;

function matrix(rows: number, cols: number, seed: number): Int8Array {
  let x = seed;
  return Int8Array.from({ length: rows * cols }, () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return ((x >>> 16) % 128) - 64;
  });
}

describe('PoUW end to end: a job submitted, mined, delivered, paid and verified', () => {
  let node: FluxNode;
  let dir: string;
  let env: Record<string, string>;
  const a = matrix(M, K, 11);
  const b = matrix(K, N, 12);

  const flux = (args: string[], stdin?: string) => fluxInProcess(args, env, stdin);
  const json = async (args: string[], stdin?: string) => {
    const r = await flux([...args, '--json'], stdin);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    node = await createDevNode({
      mine: true,
      // fast paced blocks so the job's windows pass in seconds
      params: {
        activations: { pouw: ACTIVATION },
        blockTimeMs: 250,
        pow: { ...devnet.pow, asertHalfLifeMs: 10_000 },
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'openflux-pouw-'));
    env = { FLUX_API: node.url!, FLUX_WALLET_DIR: join(dir, 'wallet'), FLUX_PASSWORD: 'pw', HOME: dir };
    writeFileSync(join(dir, 'A.npy'), encodeNpy({ type: 'int8', rows: M, cols: K, data: a }));
    writeFileSync(join(dir, 'B.npy'), encodeNpy({ type: 'int8', rows: K, cols: N, data: b }));
    await json(['wallet', 'import', '--accounts', '2'], `${DEVNET_MNEMONIC}\n`);
  });
  after(async () => {
    await node?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('mines PoW blocks, then PoUW blocks on zero jobs', async () => {
    while (node.chain.tip().height < ACTIVATION + 1) await new Promise((r) => setTimeout(r, 100));
    const info = await json(['chain', 'info']);
    assert.equal(info.consensus, 'pouw');
    assert.equal(info.pouw.activationHeight, ACTIVATION);
    assert.ok(info.pouw.recentBlocks >= 1);
    assert.equal(node.chain.blockByHeight(ACTIVATION - 1)!.proof.length, 0);
    assert.ok(node.chain.blockByHeight(ACTIVATION)!.proof.length > 0);
  });

  it('takes a job from flux job submit to a paid, verified product', async () => {
    const submitted = await json([
      'job',
      'submit',
      join(dir, 'A.npy'),
      join(dir, 'B.npy'),
      '--fee',
      '2',
      '--from',
      '1',
    ]);
    assert.match(submitted.id, /^[0-9a-f]{64}$/);
    assert.deepEqual([submitted.m, submitted.n, submitted.k], [M, N, K]);
    const seen = new Set<string>();
    const deadline = Date.now() + 60_000;
    let status = '';
    while (status !== 'paid' && Date.now() < deadline) {
      const r = await flux(['job', 'status', submitted.id, '--json']);
      // not found until the submission is mined
      status = r.code === 0 ? JSON.parse(r.stdout).status : 'pending';
      seen.add(status);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 'paid', `job went through ${[...seen].join(', ')}`);
    assert.ok(seen.has('delivered'), [...seen].join(', '));
    const out = join(dir, 'C.npy');
    const result = await json(['job', 'result', submitted.id, '-o', out]);
    assert.equal(result.rootMatches, true);
    const c = decodeMatrix(new Uint8Array(readFileSync(out)));
    assert.equal(c.type, 'int32');
    assert.deepEqual([c.rows, c.cols], [M, N]);
    const bt = new Int8Array(N * K);
    for (let t = 0; t < K; t++) for (let j = 0; j < N; j++) bt[j * K + t] = b[t * N + j];
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        assert.equal(
          c.data[i * N + j],
          dotProduct(a.subarray(i * K, (i + 1) * K), bt.subarray(j * K, (j + 1) * K)),
        );
      }
    }
    const verified = await json(['job', 'verify', submitted.id]);
    assert.equal(verified.ok, true);
    assert.equal(verified.checked, M * N);
    const text = await flux(['chain', 'info']);
    assert.match(text.stdout, /consensus\s+proof of useful work/);
    assert.match(text.stdout, /paid jobs\s+[1-9]/);
    const stats = node.miner!.stats();
    assert.equal(stats.consensus, 'pouw');
    assert.ok(stats.jobsDelivered >= 1 && stats.macs > 0 && stats.tickets > 0);
  });
});
