import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import wabtFactory from 'wabt';
import {
  addNoiseReference,
  createTypeScriptKernel,
  type SlicedProductInput,
} from '../../../src/core/pouw/kernel.ts';
import { KERNEL_WASM_BASE64 } from '../../../src/core/pouw/kernel-wasm.ts';
import { noiseFactors } from '../../../src/core/pouw/noise.ts';
import { createWasmKernel, wasmSimdSupported } from '../../../src/core/pouw/wasm-kernel.ts';
import { naiveProduct, randomInts, randomMatrix } from './helpers.ts';

const typescript = createTypeScriptKernel();
const wasm = createWasmKernel();

function input(
  seed: number,
  m: number,
  n: number,
  k: number,
  slice: number,
  rank: number | null,
): SlicedProductInput {
  const noiseSeed = new Uint8Array(randomInts(seed, 32, -128, 127).buffer);
  return {
    a: randomInts(seed + 1, m * k, -64, 63),
    bColumns: randomInts(seed + 2, n * k, -64, 63),
    m,
    n,
    k,
    slice,
    noiseA: rank ? noiseFactors(noiseSeed, 'A', rank, k, m) : undefined,
    noiseB: rank ? noiseFactors(noiseSeed, 'B', rank, k, n) : undefined,
  };
}

describe('pouw kernels', () => {
  it('compiles the WebAssembly SIMD kernel on this runtime', () => {
    assert.equal(wasmSimdSupported(), true);
    assert.equal(wasm.name, 'wasm-simd');
  });

  it('ships the bytes that kernel.wat builds to (run scripts/build-pouw-wasm.ts after editing it)', async () => {
    const wabt = await wabtFactory();
    const source = readFileSync(join(import.meta.dirname, '../../../src/core/pouw/kernel.wat'), 'utf8');
    const parsed = wabt.parseWat('kernel.wat', source, { simd: true, bulk_memory: true });
    const built = Buffer.from(parsed.toBinary({}).buffer).toString('base64');
    parsed.destroy();
    assert.equal(built, KERNEL_WASM_BASE64);
  });

  it('computes the plain product as the definition does', () => {
    const a = randomMatrix(1, 19, 48);
    const b = randomMatrix(2, 48, 23);
    const bColumns = new Int8Array(23 * 48);
    for (let t = 0; t < 48; t++) for (let j = 0; j < 23; j++) bColumns[j * 48 + t] = b.data[t * 23 + j];
    const expected = naiveProduct(a, b);
    for (const kernel of [typescript, wasm]) {
      const { product } = kernel.multiply({ a: a.data, bColumns, m: 19, n: 23, k: 48, slice: 48 });
      assert.deepEqual(product, expected, kernel.name);
    }
  });

  it('gives identical products and folds in TypeScript and WebAssembly', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(16, 32, 64),
        fc.constantFrom(1, 2, 4),
        fc.constantFrom(null, 16, 32, 64),
        (seed, m, n, slice, slices, rank) => {
          const k = slice * slices;
          const data = input(seed, m, n, k, slice, rank !== null && k % 16 === 0 ? rank : null);
          const x = typescript.multiply(data);
          const y = wasm.multiply(data);
          assert.deepEqual(y.product, x.product);
          assert.deepEqual(y.folds, x.folds);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('agrees on the fused table form of the noise used for 64 rows and more, for every rank', () => {
    for (const [rank, k] of [
      [16, 160],
      [32, 96],
      [48, 144],
      [64, 320],
    ]) {
      const data = input(rank, 80, 67, k, rank, rank);
      const x = typescript.multiply(data);
      const y = wasm.multiply(data);
      assert.deepEqual(y.product, x.product, `rank ${rank}`);
      assert.deepEqual(y.folds, x.folds, `rank ${rank}`);
    }
  });

  it('keeps noisy entries inside int8 at the extremes of int7 and rank 64', () => {
    const k = 64;
    const noise = { rank: 64, selectors: new Uint8Array(8).fill(0xff), signs: new Int8Array(64 * k).fill(1) };
    const top = addNoiseReference(new Int8Array(k).fill(63), 1, k, noise);
    assert.equal(top[0], 127);
    const bottom = addNoiseReference(new Int8Array(k).fill(-64), 1, k, {
      ...noise,
      signs: new Int8Array(64 * k).fill(-1),
    });
    assert.equal(bottom[0], -128);
  });

  it('refuses a slice that does not divide k', () => {
    assert.throws(() => wasm.multiply(input(1, 4, 4, 48, 32, null)), RangeError);
  });
});
