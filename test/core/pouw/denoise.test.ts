import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { commitJob } from '../../../src/core/pouw/commitment.ts';
import { denoise } from '../../../src/core/pouw/denoise.ts';
import { createTypeScriptKernel } from '../../../src/core/pouw/kernel.ts';
import { mineJob } from '../../../src/core/pouw/mine.ts';
import { createWasmKernel } from '../../../src/core/pouw/wasm-kernel.ts';
import { headerHash, naiveProduct, randomMatrix, TEST_PARAMS } from './helpers.ts';

const kernels = [createWasmKernel(), createTypeScriptKernel()];

describe('pouw denoising', () => {
  it('recovers exactly A*B from the noisy product, for random matrices and ranks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(16, 32, 48, 64),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(0, 1),
        (seed, m, n, rank, slices, which) => {
          const params = { ...TEST_PARAMS, rank, kMin: 16 };
          const k = rank * slices;
          const a = randomMatrix(seed, m, k);
          const b = randomMatrix(seed + 1, k, n);
          const job = commitJob(a, b, params);
          assert.ok(job.ok);
          const kernel = kernels[which];
          const mined = mineJob(job.value, headerHash(seed), params, kernel);
          assert.notDeepEqual(mined.noisyProduct, naiveProduct(a, b));
          assert.deepEqual(
            denoise(job.value, mined.seed, mined.noisyProduct, params, kernel),
            naiveProduct(a, b),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('recovers exactly A*B at the int7 extremes with the largest rank', () => {
    const params = { ...TEST_PARAMS, rank: 64 };
    for (const fill of [-64, 63]) {
      const a = { rows: 20, cols: 128, data: new Int8Array(20 * 128).fill(fill) };
      const b = { rows: 128, cols: 18, data: new Int8Array(128 * 18).fill(fill) };
      const job = commitJob(a, b, params);
      assert.ok(job.ok);
      const mined = mineJob(job.value, headerHash(fill), params);
      assert.deepEqual(denoise(job.value, mined.seed, mined.noisyProduct, params), naiveProduct(a, b));
    }
  });
});
