import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { compressBlock, inflateBlock } from '../../../src/node/p2p/compress.ts';
import { decodeMessage, MAX_INFLATED_BLOCK_BYTES, MessageType } from '../../../src/node/p2p/wire.ts';

describe('compressed blocks on the wire', () => {
  it('round-trips, and a run of zeros (a zero-job tile opening) shrinks to a few hundred bytes', () => {
    const ssz = new Uint8Array(40_000);
    ssz.set([1, 2, 3], 100);
    const packed = compressBlock(ssz);
    assert.ok(packed.length < 500, `${packed.length} bytes`);
    assert.deepEqual(new Uint8Array(inflateBlock(packed, 40_000)), ssz);
  });

  it('refuses data that inflates past the limit, and data that is not DEFLATE', () => {
    const bomb = deflateRawSync(new Uint8Array(1_000_001));
    assert.throws(() => inflateBlock(bomb, 1_000_000));
    assert.throws(() => inflateBlock(Uint8Array.of(0xff, 0xff, 0xff), 1_000));
  });

  it('a sync block frame past the inflated limit is a malformed message, not a crash', () => {
    const bomb = deflateRawSync(new Uint8Array(MAX_INFLATED_BLOCK_BYTES + 1));
    const frame = new Uint8Array(bomb.length + 1);
    frame[0] = MessageType.block;
    frame.set(bomb, 1);
    const decoded = decodeMessage(frame);
    assert.equal(decoded.ok, false);
  });
});
