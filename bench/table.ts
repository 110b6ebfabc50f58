/** One row of the benchmark table that `npm run bench` prints. */
export interface BenchRow {
  /** What was measured, e.g. "ed25519 verify (node:crypto, 1 core)". */
  name: string;
  /** The measured figure, already formatted with its unit, e.g. "5,210 /s". */
  value: string;
  /** Ratio against the baseline measured in the same run, e.g. "0.83x of raw verify". */
  ratio?: string;
  /** The goal from the issue, e.g. ">= 0.8x". */
  goal?: string;
}

/** A benchmark file exports `run`, which measures and returns its rows. */
export type BenchSuite = () => Promise<BenchRow[]>;

/** The middle value (the upper middle of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function formatRate(perSecond: number, unit = '/s'): string {
  return `${Math.round(perSecond).toLocaleString('en-US')} ${unit}`;
}

export function printTable(rows: BenchRow[]): void {
  const head = ['benchmark', 'value', 'ratio', 'goal'];
  const cells = rows.map((r) => [r.name, r.value, r.ratio ?? '', r.goal ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}
