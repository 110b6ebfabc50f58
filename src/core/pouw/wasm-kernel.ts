// Runs kernel.wat (WebAssembly SIMD, i32x4.dot_i16x8_s) behind the PouwKernel interface.
import {
  checkSlicedInput,
  createTypeScriptKernel,
  type PouwKernel,
  type SlicedProduct,
  type SlicedProductInput,
  tileCounts,
} from './kernel.ts';
import { KERNEL_WASM_BASE64 } from './kernel-wasm.ts';
import { TILE } from './params.ts';
import type { NoiseFactors } from './types.ts';

/** The slice of the WebAssembly API used here (the project's lib settings do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmModule {
  readonly kind?: 'module';
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface KernelExports {
  memory: WasmMemory;
  add_noise(x: number, rows: number, k: number, sel: number, r: number, v: number): void;
  build_subset_table(v: number, r: number, k: number, table: number, k0: number, len: number): void;
  pack_pairs_noisy(
    src: number,
    rows: number,
    k: number,
    group: number,
    dst: number,
    sel: number,
    r: number,
    table: number,
    k0: number,
    len: number,
  ): void;
  pack_pairs(src: number, rows: number, k: number, group: number, dst: number): void;
  multiply_sliced(
    pa: number,
    pb: number,
    pc: number,
    pt: number,
    mp: number,
    np: number,
    k: number,
    slice: number,
  ): void;
  sha256_blocks64(input: number, output: number, count: number): void;
}

/** Below this many rows, adding V rows directly is cheaper than building the subset tables. */
const TABLE_MIN_ROWS = 64;
/** Columns per subset-table block: 8 groups x 256 x 128 bytes = 256 KB stays in L2. */
const TABLE_COLUMNS = 128;
const PAGE = 65536;
/** Bytes below this hold the sha256 constants and schedule (see kernel.wat). */
const HEAP_START = 2048;

let compiled: WasmModule | undefined;

function kernelModule(): WasmModule {
  if (!compiled) {
    const text = atob(KERNEL_WASM_BASE64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    compiled = new wasm.Module(bytes); // ~2 KB: synchronous compile is fine
  }
  return compiled;
}

/** Whether this runtime compiles the SIMD kernel (Node >= 16, current browsers). */
export function wasmSimdSupported(): boolean {
  try {
    kernelModule();
    return true;
  } catch {
    return false;
  }
}

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

/** A kernel instance owns its wasm memory; use one per thread. */
export function createWasmKernel(): PouwKernel {
  const exports = new wasm.Instance(kernelModule(), {}).exports as unknown as KernelExports;
  const memory = exports.memory;

  function reserve(bytes: number): void {
    const missing = bytes - memory.buffer.byteLength;
    if (missing > 0) memory.grow(Math.ceil(missing / PAGE));
  }

  /** Copies rows (zero-padded to `paddedRows`), adds their noise and packs them into int16 pair panels. */
  function packNoisyRows(
    at: number,
    rows: Int8Array,
    count: number,
    paddedRows: number,
    k: number,
    group: number,
    packAt: number,
    noise: NoiseFactors | undefined,
    scratch: { sel: number; signs: number; table: number },
  ): void {
    const heap = new Int8Array(memory.buffer);
    heap.set(rows, at);
    heap.fill(0, at + count * k, at + paddedRows * k);
    if (!noise) {
      exports.pack_pairs(at, paddedRows, k, group, packAt);
      return;
    }
    const r = noise.rank;
    heap.set(noise.selectors, scratch.sel);
    heap.fill(0, scratch.sel + noise.selectors.length, scratch.sel + paddedRows * (r / 8)); // pad rows get no noise
    heap.set(noise.signs, scratch.signs);
    if (paddedRows < TABLE_MIN_ROWS) {
      exports.add_noise(at, paddedRows, k, scratch.sel, r, scratch.signs);
      exports.pack_pairs(at, paddedRows, k, group, packAt);
      return;
    }
    for (let k0 = 0; k0 < k; k0 += TABLE_COLUMNS) {
      const len = Math.min(TABLE_COLUMNS, k - k0);
      exports.build_subset_table(scratch.signs, r, k, scratch.table, k0, len);
      exports.pack_pairs_noisy(at, paddedRows, k, group, packAt, scratch.sel, r, scratch.table, k0, len);
    }
  }

  return {
    name: 'wasm-simd',
    multiply(input: SlicedProductInput): SlicedProduct {
      checkSlicedInput(input);
      const { m, n, k, slice, noiseA, noiseB } = input;
      const mp = roundUp(m, TILE);
      const np = roundUp(n, TILE);
      const rank = Math.max(noiseA?.rank ?? 0, noiseB?.rank ?? 0);
      const tiles = tileCounts(m, n);
      let top = HEAP_START;
      const take = (bytes: number) => {
        const at = top;
        top = roundUp(top + bytes, 64);
        return at;
      };
      const aRows = take(mp * k);
      const bRows = take(np * k);
      const scratch = {
        sel: take(Math.max(mp, np) * (rank / 8)),
        signs: take(rank * k),
        table: take(Math.max(mp, np) >= TABLE_MIN_ROWS ? (rank / 8) * 256 * TABLE_COLUMNS : 0),
      };
      const packA = take(2 * mp * k);
      const packB = take(2 * np * k);
      const productAt = take(4 * mp * np);
      const foldsAt = take(64 * tiles.rows * tiles.cols);
      reserve(top);

      packNoisyRows(aRows, input.a, m, mp, k, 4, packA, noiseA, scratch);
      packNoisyRows(bRows, input.bColumns, n, np, k, 8, packB, noiseB, scratch);
      exports.multiply_sliced(packA, packB, productAt, foldsAt, mp, np, k, slice);

      const heap32 = new Int32Array(memory.buffer);
      let product: Int32Array;
      if (np === n) {
        product = heap32.slice(productAt / 4, productAt / 4 + m * n);
      } else {
        product = new Int32Array(m * n);
        for (let i = 0; i < m; i++)
          product.set(heap32.subarray(productAt / 4 + i * np, productAt / 4 + i * np + n), i * n);
      }
      const folds = new Uint32Array(memory.buffer, foldsAt, tiles.rows * tiles.cols * TILE).slice();
      return { product, folds };
    },
  };
}

let shared: PouwKernel | undefined;

/** The fastest kernel this runtime supports, created once. */
export function defaultKernel(): PouwKernel {
  if (!shared) {
    shared = wasmSimdSupported() ? createWasmKernel() : createTypeScriptKernel();
  }
  return shared;
}

/** sha256 of each 64-byte block with the kernel's four-lane SIMD code, or null without wasm SIMD. */
export function createWasmBlockHasher(): ((input: Uint8Array, output: Uint8Array) => void) | null {
  if (!wasmSimdSupported()) return null;
  const exports = new wasm.Instance(kernelModule(), {}).exports as unknown as KernelExports;
  const memory = exports.memory;
  return (input: Uint8Array, output: Uint8Array) => {
    const count = input.length / 64;
    const batches = Math.ceil(count / 4) * 4; // pad to whole batches of four
    const need = HEAP_START + batches * 96;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    const heap = new Uint8Array(memory.buffer);
    heap.set(input, HEAP_START);
    heap.fill(0, HEAP_START + input.length, HEAP_START + batches * 64);
    const out = HEAP_START + batches * 64;
    exports.sha256_blocks64(HEAP_START, out, batches);
    output.set(heap.subarray(out, out + count * 32));
  };
}
