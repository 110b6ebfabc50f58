// A 32-byte secret seed kept as hex in a file of the datadir (the peer key, the operator key):
// read when it exists, created (mode 0600, never overwritten) when it does not.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Reads the hex seed at `file`, or creates one there; `what` names it in errors. */
export function loadOrCreateSeed(file: string, what: string): Uint8Array {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== undefined) {
    if (!/^[0-9a-f]{64}$/i.test(text)) throw new Error(`${what} file ${file} does not hold 32 bytes of hex`);
    return new Uint8Array(Buffer.from(text, 'hex'));
  }
  const seed = new Uint8Array(randomBytes(32));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${Buffer.from(seed).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return seed;
}
