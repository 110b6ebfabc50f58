// The node's operator key: an ed25519 seed in `datadir/operator.key` that signs its FluxNode
// confirmations, so the collateral owner's key can stay offline.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BenchReport } from '../../core/codec/types.ts';
import { type KeyPair, keyPairFromSecret } from '../../core/crypto/keys.ts';

export const OPERATOR_KEY_FILE = 'operator.key';
export const BENCHMARK_FILE = 'benchmark.json';

/** Reads the hex seed at `file`, or creates one there (mode 0600) when it does not exist. */
export function loadOrCreateOperatorKey(file: string): KeyPair {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== undefined) {
    if (!/^[0-9a-f]{64}$/i.test(text))
      throw new Error(`operator key file ${file} does not hold 32 bytes of hex`);
    return keyPairFromSecret(new Uint8Array(Buffer.from(text, 'hex')));
  }
  const seed = new Uint8Array(randomBytes(32));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${Buffer.from(seed).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return keyPairFromSecret(seed);
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
