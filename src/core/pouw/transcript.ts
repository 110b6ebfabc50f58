// Tile transcripts, tickets and targets.
import { sha256Blocks64 } from './hash.ts';
import { TILE } from './params.ts';
import type { JobDims, TileIndex } from './types.ts';

export const TRANSCRIPT_BYTES = 64;
export const TICKET_BYTES = 32;
const WORDS = TRANSCRIPT_BYTES / 4;
const TWO_256 = 1n << 256n;

/** Rows h and columns w of a tile (edge tiles are smaller than 16x16), or null outside the job. */
export function tileShape(dims: JobDims, tile: TileIndex): { h: number; w: number } | null {
  const { row, col } = tile;
  if (!Number.isSafeInteger(row) || !Number.isSafeInteger(col) || row < 0 || col < 0) return null;
  const h = Math.min(TILE, dims.m - row * TILE);
  const w = Math.min(TILE, dims.n - col * TILE);
  return h > 0 && w > 0 ? { h, w } : null;
}

/** The work a tile stands for: h * w * k multiply-accumulates. */
export function tileWork(h: number, w: number, k: number): bigint {
  return BigInt(h) * BigInt(w) * BigInt(k);
}

/** The transcript's starting value: seed || u32le row || u32le col || 0^24, so tickets differ per tile and per seed. */
export function tileKey(seed: Uint8Array, tile: TileIndex): Uint8Array {
  const key = new Uint8Array(TRANSCRIPT_BYTES);
  key.set(seed, 0);
  const view = new DataView(key.buffer);
  view.setUint32(32, tile.row, true);
  view.setUint32(36, tile.col, true);
  return key;
}

/** Transcript = tile key XOR fold, where fold word j is the XOR of every partial sum of column j. */
export function transcriptFromFold(seed: Uint8Array, tile: TileIndex, fold: Uint32Array): Uint8Array {
  const out = tileKey(seed, tile);
  const view = new DataView(out.buffer);
  for (let j = 0; j < WORDS; j++) view.setUint32(j * 4, (view.getUint32(j * 4, true) ^ fold[j]) >>> 0, true);
  return out;
}

/** Transcripts of all tiles (row-major tile order) from a kernel's folds, in one pass over words. */
export function transcriptsFromFolds(seed: Uint8Array, tileCols: number, folds: Uint32Array): Uint8Array {
  const tiles = folds.length / WORDS;
  const out = new Uint8Array(tiles * TRANSCRIPT_BYTES);
  const words = new Uint32Array(out.buffer);
  const key = new Uint32Array(tileKey(seed, { row: 0, col: 0 }).buffer); // little-endian hosts only, as the kernel
  for (let t = 0; t < tiles; t++) {
    const at = t * WORDS;
    for (let j = 0; j < WORDS; j++) words[at + j] = key[j] ^ folds[at + j];
    words[at + 8] ^= Math.floor(t / tileCols);
    words[at + 9] ^= t % tileCols;
  }
  return out;
}

/** Tickets sha256(transcript) for concatenated 64-byte transcripts, batched four per wasm call. */
export function ticketsOf(transcripts: Uint8Array): Uint8Array {
  const out = new Uint8Array((transcripts.length / TRANSCRIPT_BYTES) * TICKET_BYTES);
  sha256Blocks64(transcripts, out);
  return out;
}

export function ticketOf(transcript: Uint8Array): Uint8Array {
  return ticketsOf(transcript);
}

/** The ticket read as a 256-bit big-endian integer. */
export function ticketValue(ticket: Uint8Array): bigint {
  let v = 0n;
  for (const byte of ticket) v = (v << 8n) | BigInt(byte);
  return v;
}

/** A ticket wins when it is below targetPerMac * work: each MAC of work buys the same chance. */
export function ticketMeetsTarget(ticket: Uint8Array, targetPerMac: bigint, work: bigint): boolean {
  if (ticket.length !== TICKET_BYTES || targetPerMac <= 0n || work <= 0n) return false;
  const target = targetPerMac * work;
  return target >= TWO_256 || ticketValue(ticket) < target;
}

/** Expected MACs to find one winning ticket: the weight a block adds, whatever its job's data. */
export function expectedMacs(targetPerMac: bigint): bigint {
  return TWO_256 / targetPerMac;
}
