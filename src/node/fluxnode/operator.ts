// The node's operator key: an ed25519 seed in `datadir/operator.key` that signs its FluxNode
// confirmations, so the collateral owner's key can stay offline.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BenchReport } from '../../core/codec/types.ts';
import { type KeyPair, keyPairFromSecret } from '../../core/crypto/keys.ts';
import { loadOrCreateSeed } from '../seed-file.ts';

export const OPERATOR_KEY_FILE = 'operator.key';
export const BENCHMARK_FILE = 'benchmark.json';

/** Reads the hex seed at `file`, or creates one there (mode 0600) when it does not exist. */
export function loadOrCreateOperatorKey(file: string): KeyPair {
  return keyPairFromSecret(loadOrCreateSeed(file, 'operator key'));
}

export function operatorKeyFile(datadir: string): string {
  return join(datadir, OPERATOR_KEY_FILE);
}

/** The last benchmark report saved in the datadir, if any. */
export async function readSavedReport(datadir: string): Promise<BenchReport | undefined> {
  let text: string;
  try {
    text = await readFile(join(datadir, BENCHMARK_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return BenchReport.fromJson(JSON.parse(text)) as BenchReport;
  } catch {
    return undefined;
  }
}

export async function saveReport(datadir: string, report: BenchReport): Promise<void> {
  await writeFile(join(datadir, BENCHMARK_FILE), `${JSON.stringify(BenchReport.toJson(report), null, 2)}\n`);
}
