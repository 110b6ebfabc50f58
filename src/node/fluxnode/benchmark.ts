// Measures this machine for a FluxNode benchmark report: cores, RAM, free disk (statfs), CPU
// work rate (sha256 of 4 KiB blocks per second on every core at once, in worker threads) and
// sequential disk write speed with fsync. Then says which tier the report qualifies for.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, statfs } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BenchReport } from '../../core/codec/types.ts';
import { TIERS, type Tier } from '../../core/ledger/emission.ts';
import { checkReportPlausible, missedMinimum } from '../../core/nodes/report.ts';
import type { ChainParams } from '../../core/params/index.ts';

export interface BenchmarkOptions {
  /** Where the node keeps its data: free disk and write speed are measured there. */
  dir: string;
  /** CPU measurement time; default 2,000 ms. */
  cpuMs?: number;
  /** Bytes written for the disk measurement; default 256 MiB. */
  diskBytes?: number;
  /** Called as each phase advances (fraction 0..1 of the whole run). */
  progress?: (phase: string, fraction: number) => void;
  now?: () => number;
}

// One event: sha256 of a 4 KiB block. The worker counts events until its deadline.
const CPU_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const block = Buffer.alloc(4096, 7);
const end = Date.now() + workerData.ms;
let events = 0;
while (Date.now() < end) {
  for (let i = 0; i < 64; i++) createHash('sha256').update(block).digest();
  events += 64;
}
parentPort.postMessage(events);
`;

function cpuEvents(threads: number, ms: number): Promise<number> {
  const runs = Array.from(
    { length: threads },
    () =>
      new Promise<number>((resolve, reject) => {
        const w = new Worker(CPU_WORKER, { eval: true, workerData: { ms } });
        w.once('message', (n: number) => {
          resolve(n);
          void w.terminate();
        });
        w.once('error', reject);
      }),
  );
  return Promise.all(runs).then((counts) => counts.reduce((a, b) => a + b, 0));
}

async function diskWrite(dir: string, bytes: number, onChunk: (fraction: number) => void): Promise<number> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `.benchmark-${process.pid}.tmp`);
  const chunk = randomBytes(1 << 20);
  const handle = await open(file, 'w');
  const start = performance.now();
  try {
    const chunks = Math.max(1, Math.ceil(bytes / chunk.length));
    for (let i = 0; i < chunks; i++) {
      await handle.write(chunk);
      // fsync every 16 MiB and at the end: the rate is what reaches the disk, not the page cache.
      if (i % 16 === 15 || i === chunks - 1) await handle.sync();
      onChunk((i + 1) / chunks);
    }
    const seconds = (performance.now() - start) / 1000;
    return (chunks * chunk.length) / 1e6 / seconds;
  } finally {
    await handle.close();
    await rm(file, { force: true });
  }
}

/** Measures this machine (takes about cpuMs plus the disk write). */
export async function runBenchmark(opts: BenchmarkOptions): Promise<BenchReport> {
  const progress = opts.progress ?? (() => {});
  const cpuMs = opts.cpuMs ?? 2_000;
  const cores = availableParallelism();
  progress('system', 0);
  const fs = await statfs(opts.dir).catch(async () => {
    await mkdir(opts.dir, { recursive: true });
    return statfs(opts.dir);
  });
  const ssdGb = Math.floor((fs.bavail * fs.bsize) / 1e9);
  const ramMb = Math.floor(totalmem() / 2 ** 20);
  progress('cpu', 0.05);
  const started = Date.now();
  const tick = setInterval(
    () => progress('cpu', 0.05 + 0.6 * Math.min(1, (Date.now() - started) / cpuMs)),
    100,
  );
  let events: number;
  try {
    events = await cpuEvents(cores, cpuMs);
  } finally {
    clearInterval(tick);
  }
  const eventsPerSec = Math.floor(events / (cpuMs / 1000));
  progress('disk', 0.65);
  const mbps = await diskWrite(opts.dir, opts.diskBytes ?? 256 * 2 ** 20, (f) =>
    progress('disk', 0.65 + 0.35 * f),
  );
  progress('done', 1);
  return {
    cores,
    ramMb,
    ssdGb,
    eventsPerSec,
    diskWriteMBps: Math.max(1, Math.floor(mbps)),
    measuredAt: (opts.now ?? Date.now)(),
  };
}

export interface Qualification {
  /** The highest tier whose minimums the report meets, if any. */
  tier?: Tier;
  /** Why each tier is or is not met: undefined means met. */
  missed: Record<Tier, string | undefined>;
  /** Set when the report itself would be refused as implausible. */
  implausible?: string;
}

export function qualify(report: BenchReport, params: ChainParams): Qualification {
  const plausible = checkReportPlausible(report, params);
  const missed = Object.fromEntries(
    TIERS.map((t) => [t, missedMinimum(report, params.nodes.tiers[t])]),
  ) as Record<Tier, string | undefined>;
  let tier: Tier | undefined;
  for (const t of TIERS) if (missed[t] === undefined) tier = t;
  return {
    ...(plausible.ok ? { tier } : { implausible: plausible.error.message }),
    missed,
  };
}

/** A text progress bar: `[#########...........]  45% cpu`. */
export function progressBar(phase: string, fraction: number, width = 30): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ${phase}`;
}
