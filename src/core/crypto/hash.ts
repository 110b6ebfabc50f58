import { digest } from '@chainsafe/as-sha256';

/** sha256 of the bytes (wasm, fast on the short inputs consensus hashes). */
export function sha256(data: Uint8Array): Uint8Array {
  return digest(data);
}

/** sha256 over the concatenation of the parts, without the caller building the buffer. */
export function sha256Concat(...parts: Uint8Array[]): Uint8Array {
  return digest(concatBytes(...parts));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compare as big-endian unsigned numbers (for hashes and keys): -1, 0 or 1. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Parse lowercase or uppercase hex, optionally 0x-prefixed; throws on anything else. */
export function fromHex(hex: string): Uint8Array {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h))
    throw new Error(`not a hex string: ${hex.slice(0, 20)}`);
  return new Uint8Array(Buffer.from(h, 'hex'));
}

export function bytesToBigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${toHex(bytes)}`);
}

export function bigintToBytes32(value: bigint): Uint8Array {
  if (value < 0n || value >= 1n << 256n) throw new Error('value does not fit in 32 bytes');
  return fromHex(value.toString(16).padStart(64, '0'));
}
