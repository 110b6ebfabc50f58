// PoUW benchmarks: mining overhead over a plain product, kernel vs native C, verification time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitJob, type JobData } from '../src/core/pouw/commitment.ts';
import { denoise } from '../src/core/pouw/denoise.ts';
import { createTypeScriptKernel, type PouwKernel } from '../src/core/pouw/kernel.ts';
import { mineJob, openTile } from '../src/core/pouw/mine.ts';
import { POUW_PARAMS } from '../src/core/pouw/params.ts';
import { verifyTile } from '../src/core/pouw/verify.ts';
import { createWasmKernel } from '../src/core/pouw/wasm-kernel.ts';
import { type BenchRow, formatRate } from './table.ts';

const params = POUW_PARAMS;

/** Deterministic int7 data (the bench compares speeds, the values do not matter). */
function int7(count: number, seed: number): Int8Array {
  const out = new Int8Array(count);
  let x = seed;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    out[i] = (x >>> 25) - 64;
  }
  return out;
}

function job(m: number, n: number, k: number): JobData {
  const committed = commitJob(
    { rows: m, cols: k, data: int7(m * k, 1) },
    { rows: k, cols: n, data: int7(k * n, 2) },
    params,
  );
  if (!committed.ok) throw new Error(committed.error.message);
  return committed.value;
}

/** CPU seconds of this process: the machine is shared, and CPU time is what a miner pays for. */
function seconds(f: () => void): number {
  const t0 = process.cpuUsage();
  f();
  const used = process.cpuUsage(t0);
  return (used.user + used.system) / 1e6;
}

/** Best of `rounds` for each task, interleaved so that machine noise hits both alike. */
function bestOf(rounds: number, tasks: (() => void)[]): number[] {
  const best = tasks.map(() => Number.POSITIVE_INFINITY);
  for (let r = 0; r < rounds; r++) {
    tasks.forEach((task, i) => {
      best[i] = Math.min(best[i], seconds(task));
    });
  }
  return best;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const gmacs = (macs: number, s: number) => `${(macs / s / 1e9).toFixed(2)} GMAC/s`; // per CPU-second

/** Plain and PoUW passes run back to back, in alternating order: the ratio is the median of the pairs. */
function miningRows(kernel: PouwKernel, m: number, n: number, k: number, rounds: number): BenchRow[] {
  const data = job(m, n, k);
  const header = new Uint8Array(32).fill(7);
  let pass = 0;
  const plain = () => kernel.multiply({ a: data.a, bColumns: data.bColumns, m, n, k, slice: k });
  const mine = () => {
    header[0] = pass++; // a new header prefix each pass, as a miner would use
    mineJob(data, header, params, kernel);
  };
  plain();
  mine(); // warm-up: lets the wasm tier up before timing
  const ratios: number[] = [];
  let plainBest = Number.POSITIVE_INFINITY;
  let mineBest = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    let p: number;
    let q: number;
    if (r % 2) {
      p = seconds(plain);
      q = seconds(mine);
    } else {
      q = seconds(mine);
      p = seconds(plain);
    }
    plainBest = Math.min(plainBest, p);
    mineBest = Math.min(mineBest, q);
    ratios.push(p / q);
  }
  const ratio = median(ratios);
  const macs = m * n * k;
  return [
    {
      name: `PoUW mining ${m}x${k}x${n}, r=${params.rank} (noise+transcript+tickets)`,
      value: gmacs(macs, mineBest),
      ratio: `${ratio.toFixed(3)}x of plain ${gmacs(macs, plainBest)} (overhead ${(1 / ratio).toFixed(3)}, median of ${rounds} pairs)`,
      goal: '>= 0.95x (overhead <= 1.05)',
    },
  ];
}

function nativeMacsPerSecond(m: number, n: number, k: number): number | string {
  const dir = mkdtempSync(join(tmpdir(), 'pouw-bench-'));
  try {
    const exe = join(dir, 'matmul');
    execFileSync('gcc', ['-O3', '-march=native', '-o', exe, join(import.meta.dirname, 'native', 'matmul.c')]);
    const out = execFileSync(exe, [String(m), String(n), String(k), '5'], { encoding: 'utf8' });
    return Number(out.trim().split(' ')[0]);
  } catch (error) {
    return `native reference unavailable: ${(error as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function kernelRow(kernel: PouwKernel): BenchRow {
  const size = 1024;
  const data = job(size, size, size);
  const plain = () =>
    kernel.multiply({ a: data.a, bColumns: data.bColumns, m: size, n: size, k: size, slice: size });
  plain();
  const [s] = bestOf(5, [plain]);
  const macs = size ** 3;
  const native = nativeMacsPerSecond(size, size, size);
  const name = `kernel int8 matmul ${size}^3 (${kernel.name}) vs C gcc -O3 -march=native`;
  if (typeof native === 'string') return { name, value: gmacs(macs, s), ratio: native, goal: '>= 0.5x' };
  return {
    name,
    value: gmacs(macs, s),
    ratio: `${(macs / s / native).toFixed(2)}x of native ${gmacs(native, 1)}`,
    goal: '>= 0.5x',
  };
}

function verificationRows(): BenchRow[] {
  const k = 4096;
  const data = job(256, 256, k);
  const header = new Uint8Array(32).fill(9);
  const mined = mineJob(data, header, params);
  const proof = openTile(data, mined, { row: 3, col: 5 });
  const target = 1n << 256n;
  const rows: BenchRow[] = [];
  for (const kernel of [createWasmKernel(), createTypeScriptKernel()]) {
    const times: number[] = [];
    for (let i = 0; i < (kernel.name === 'wasm-simd' ? 30 : 8); i++) {
      times.push(
        seconds(() => {
          const result = verifyTile(data.header, header, proof, target, params, kernel);
          if (!result.ok) throw new Error(result.error.message);
        }),
      );
    }
    rows.push({
      name: `verify one tile (one block) at k=${k}, r=${params.rank} (${kernel.name})`,
      value: `${(median(times) * 1000).toFixed(2)} ms`,
      ratio: `median of ${times.length}`,
      goal: kernel.name === 'wasm-simd' ? '<= 10 ms' : undefined,
    });
  }
  return rows;
}

function denoiseRow(kernel: PouwKernel): BenchRow {
  const m = 1024;
  const k = 4096;
  const data = job(m, m, k);
  const mined = mineJob(data, new Uint8Array(32), params, kernel);
  const s = median(
    [1, 2, 3].map(() => seconds(() => denoise(data, mined.seed, mined.noisyProduct, params, kernel))),
  );
  return {
    name: `denoise ${m}x${k}x${m} once per job (${kernel.name})`,
    value: `${(s * 1000).toFixed(1)} ms`,
    ratio: formatRate(1 / s, 'jobs/s'),
  };
}

export async function run(): Promise<BenchRow[]> {
  const kernel = createWasmKernel();
  return [
    // the overhead (noise, PRG, tickets) is O((m + n) k + m n) against m n k MACs: it shrinks with size
    ...miningRows(kernel, 1024, 1024, 1024, 9),
    ...miningRows(kernel, 1024, 1024, 4096, 7),
    ...miningRows(kernel, 2048, 2048, 4096, 5),
    kernelRow(kernel),
    ...verificationRows(),
    denoiseRow(kernel),
  ];
}
