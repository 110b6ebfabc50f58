import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { asSha256Blocks64, sha256Blocks64 } from '../../../src/core/pouw/hash.ts';
import { createWasmBlockHasher } from '../../../src/core/pouw/wasm-kernel.ts';

function reference(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length / 2);
  for (let i = 0; i < input.length / 64; i++) {
    out.set(
      createHash('sha256')
        .update(input.subarray(i * 64, i * 64 + 64))
        .digest(),
      i * 32,
    );
  }
  return out;
}

describe('pouw sha256 of 64-byte blocks', () => {
  const wasm = createWasmBlockHasher();

  it('matches the known digest of 64 zero bytes', () => {
    const out = new Uint8Array(32 * 9);
    sha256Blocks64(new Uint8Array(64 * 9), out);
    assert.equal(
      Buffer.from(out.subarray(256)).toString('hex'),
      'f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b',
    );
  });

  it('agrees with node:crypto and as-sha256 for any blocks and any count', () => {
    assert.ok(wasm);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 * 23 }), (bytes) => {
        const input = bytes.slice(0, bytes.length - (bytes.length % 64));
        const expected = reference(input);
        for (const hasher of [wasm, asSha256Blocks64, sha256Blocks64]) {
          const out = new Uint8Array(input.length / 2);
          hasher(input, out);
          assert.deepEqual(out, expected);
        }
      }),
      { numRuns: 200 },
    );
  });
});
