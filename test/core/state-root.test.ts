import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { concatBytes, sha256 } from '../../src/core/crypto/hash.ts';
import { nextStateRoot } from '../../src/core/ledger/state.ts';

/** The layout of ARCHITECTURE.md, built the plain way, to check the fast one against. */
function referenceRoot(previous: Uint8Array, changes: Array<[string, Uint8Array | undefined]>): Uint8Array {
  const parts: Uint8Array[] = [previous];
  for (const [key, value] of changes) {
    const k = new TextEncoder().encode(key);
    const len = new Uint8Array(8);
    new DataView(len.buffer).setUint32(0, k.length);
    new DataView(len.buffer).setUint32(4, value ? value.length : 0);
    parts.push(len, k, new Uint8Array([value ? 1 : 0]), value ?? new Uint8Array());
  }
  return sha256(concatBytes(...parts));
}

describe('state root', () => {
  it('hashes the previous root and the sorted writes in the documented layout', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(
          fc.tuple(
            fc.string({ maxLength: 40 }),
            fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
          ),
          {
            maxLength: 30,
          },
        ),
        (previous, changes) => {
          assert.deepEqual(nextStateRoot(previous, changes), referenceRoot(previous, changes));
        },
      ),
    );
  });

  it('changes when any write, deletion or the previous root changes', () => {
    const prev = new Uint8Array(32);
    const base = nextStateRoot(prev, [['acct/aa', new Uint8Array([1])]]);
    assert.notDeepEqual(nextStateRoot(prev, [['acct/aa', new Uint8Array([2])]]), base);
    assert.notDeepEqual(nextStateRoot(prev, [['acct/aa', undefined]]), base);
    assert.notDeepEqual(nextStateRoot(new Uint8Array(32).fill(1), [['acct/aa', new Uint8Array([1])]]), base);
  });
});
