// Blocks travel compressed (raw DEFLATE at level 1), on gossip and in sync responses, as
// Ethereum's consensus layer sends SSZ with Snappy. A PoUW block opens 16 rows of A and 16
// columns of B (k bytes each): 40 KB for devnet's zero job, all zeros, about 1 KB compressed
// (0.07 ms); a paid job's int7 entries still lose their spare bit. On a long lossy link, where
// one TCP stream carries tens of KB/s, that is the difference between a block crossing in a
// round trip and in a second or more.
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export function compressBlock(ssz: Uint8Array): Uint8Array {
  return deflateRawSync(ssz, { level: 1 });
}

/** The SSZ bytes of a compressed block; throws on bad data or past `maxBytes` (no bombs). */
export function inflateBlock(data: Uint8Array, maxBytes: number): Uint8Array {
  return inflateRawSync(data, { maxOutputLength: maxBytes });
}
