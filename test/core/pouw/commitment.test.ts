import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { commitJob } from '../../../src/core/pouw/commitment.ts';
import { validateDims } from '../../../src/core/pouw/matrix.ts';
import {
  merklePath,
  merkleRoot,
  merkleTree,
  treeDepth,
  verifyMerklePath,
} from '../../../src/core/pouw/merkle.ts';
import { noiseFactors, noiseRow, noiseSeed, prgBytes } from '../../../src/core/pouw/noise.ts';
import { headerHash, randomInts, randomMatrix, TEST_PARAMS } from './helpers.ts';

describe('pouw matrices and commitments', () => {
  it('names what is wrong with a job', () => {
    const code = (
      a: ReturnType<typeof randomMatrix>,
      b: ReturnType<typeof randomMatrix>,
      params = TEST_PARAMS,
    ) => {
      const r = commitJob(a, b, params);
      return r.ok ? 'ok' : r.error.code;
    };
    assert.equal(code(randomMatrix(1, 4, 64), randomMatrix(2, 64, 4)), 'ok');
    assert.equal(code(randomMatrix(1, 4, 64), randomMatrix(2, 48, 4)), 'dims-invalid');
    assert.equal(code(randomMatrix(1, 4, 16), randomMatrix(2, 16, 4)), 'k-below-min');
    assert.equal(
      code(randomMatrix(1, 4, 48), randomMatrix(2, 48, 4), { ...TEST_PARAMS, rank: 32 }),
      'rank-not-dividing-k',
    );
    assert.equal(
      code(randomMatrix(1, 4, 64), randomMatrix(2, 64, 4), { ...TEST_PARAMS, kMax: 48 }),
      'k-above-max',
    );
    assert.equal(
      code(randomMatrix(1, 4, 64), randomMatrix(2, 64, 4), { ...TEST_PARAMS, rank: 24 }),
      'rank-invalid',
    );
    assert.equal(code(randomMatrix(1, 4, 64, -64, 64), randomMatrix(2, 64, 4)), 'entry-out-of-range');
    assert.equal(code(randomMatrix(1, 4, 64), randomMatrix(2, 64, 4, -65, 63)), 'entry-out-of-range');
    assert.equal(validateDims({ m: 0, n: 1, k: 64 }, TEST_PARAMS).ok, false);
  });

  it('opens every leaf of trees of any size and refuses a wrong index or a short path', () => {
    for (const count of [1, 2, 3, 5, 8, 13]) {
      const leaves = Array.from({ length: count }, (_, i) => randomInts(i + 1, 40, -64, 63));
      const tree = merkleTree(leaves);
      const root = merkleRoot(tree);
      for (let i = 0; i < count; i++) {
        const path = merklePath(tree, i);
        assert.equal(path.length, treeDepth(count));
        assert.ok(verifyMerklePath(root, leaves[i], i, count, path));
        if (count > 1) assert.ok(!verifyMerklePath(root, leaves[i], (i + 1) % count, count, path));
        if (path.length > 0) assert.ok(!verifyMerklePath(root, leaves[i], i, count, path.slice(1)));
      }
    }
  });

  it('binds the noise seed to every input', () => {
    const base = [headerHash(1), headerHash(2), headerHash(3), 40, 36, 64] as const;
    const seed = noiseSeed(...base);
    for (let p = 0; p < 6; p++) {
      const changed = [...base] as unknown as Parameters<typeof noiseSeed>;
      const v = changed[p];
      if (typeof v === 'number') (changed as unknown[])[p] = v + 1;
      else {
        const bytes = v.slice();
        bytes[0] ^= 1;
        (changed as unknown[])[p] = bytes;
      }
      assert.notDeepEqual(noiseSeed(...changed), seed);
    }
  });

  it('reads the same PRG bytes at any offset as in one pass', () => {
    const seed = headerHash(9);
    const all = prgBytes(seed, 1, 0, 1000);
    fc.assert(
      fc.property(fc.nat(999), fc.nat(200), (offset, length) => {
        const len = Math.min(length, 1000 - offset);
        assert.deepEqual(prgBytes(seed, 1, offset, len), all.subarray(offset, offset + len));
      }),
    );
    assert.notDeepEqual(prgBytes(seed, 2, 0, 64), all.subarray(0, 64));
  });

  it('derives the same noise for a row alone as for all rows, bounded by the rank', () => {
    const seed = headerHash(4);
    const all = noiseFactors(seed, 'A', 64, 128, 50);
    const one = noiseFactors(seed, 'A', 64, 128, [37]);
    assert.deepEqual(noiseRow(one, 0, 128), noiseRow(all, 37, 128));
    for (let i = 0; i < 50; i++) for (const e of noiseRow(all, i, 128)) assert.ok(Math.abs(e) <= 64);
  });
});
