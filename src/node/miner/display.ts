// The miner's live display: one line every few seconds with rates since the previous line.
import type { Miner, MinerStats } from './miner.ts';

function rate(value: number, unit: string): string {
  const steps: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, prefix] of steps)
    if (value >= scale) return `${(value / scale).toFixed(2)} ${prefix}${unit}`;
  return `${value.toFixed(0)} ${unit}`;
}

/** `pouw 6.12 GMAC/s, 1.20 k tickets/s, 3 blocks, jobs 1 claimed / 1 delivered, on zero job` */
export function minerLine(now: MinerStats, before: MinerStats, seconds: number): string {
  const s = Math.max(seconds, 1e-3);
  const work =
    now.consensus === 'pouw'
      ? `${rate((now.macs - before.macs) / s, 'MAC/s')}, ${rate((now.tickets - before.tickets) / s, 'tickets/s')} (${now.tickets} tried)`
      : `${rate((now.hashes - before.hashes) / s, 'H/s')}`;
  const job =
    now.consensus === 'pouw'
      ? `, jobs ${now.jobsClaimed} claimed / ${now.jobsDelivered} delivered, on ${now.currentJob === 'zero' || !now.currentJob ? 'zero job' : `job ${now.currentJob.slice(0, 12)}…`}`
      : '';
  return `mining ${now.consensus}: ${work}, ${now.blocks} blocks${job}`;
}

/** Writes a miner line every `everyMs` while the miner runs; returns a stop function. */
export function startMinerDisplay(
  miner: Miner,
  write: (line: string) => void,
  everyMs = 5_000,
  now: () => number = Date.now,
): () => void {
  let before = miner.stats();
  let at = now();
  const timer = setInterval(() => {
    const stats = miner.stats();
    const t = now();
    write(minerLine(stats, before, (t - at) / 1000));
    before = stats;
    at = t;
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
