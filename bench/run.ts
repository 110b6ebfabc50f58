// Runs every benchmark suite (or those named on the command line) and prints one table.
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { type BenchRow, type BenchSuite, printTable } from './table.ts';

const dir = import.meta.dirname;
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.includes(basename(f, '.bench.ts')))
  .sort();
const rows: BenchRow[] = [];
for (const file of files) {
  const mod = (await import(`./${file}`)) as { run: BenchSuite };
  process.stderr.write(`running ${file}...\n`);
  rows.push(...(await mod.run()));
}
printTable(rows);
