// Ordered prefix scans: SQLite's state table (with an open transaction's writes) and the
// overlay merging its pending writes and deletions over it give the same answer as a sorted map.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { StateOverlay, type Table } from '../../../src/core/ledger/state.ts';
import { ChainStore } from '../../../src/node/store/store.ts';

const raw: Table<Uint8Array> = { prefix: '', encode: (v) => v, decode: (b) => b };
const keyArb = fc
  .tuple(fc.constantFrom('payq/0/', 'payq/1/', 'due/', 'payq/'), fc.stringMatching(/^[0-9a-f]{1,4}$/))
  .map(([p, s]) => p + s);

describe('state scan', () => {
  it('SQLite and the overlay scan in key order, seeing pending writes and deletions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openflux-scan-'));
    const store = new ChainStore(join(dir, 'chain.db'));
    try {
      fc.assert(
        fc.property(
          fc.uniqueArray(keyArb, { maxLength: 30 }),
          fc.array(fc.tuple(keyArb, fc.boolean()), { maxLength: 20 }),
          fc.constantFrom('payq/0/', 'payq/', 'due/', 'payq/1/0'),
          fc.integer({ min: 1, max: 40 }),
          (committed, edits, prefix, limit) => {
            const model = new Map<string, Uint8Array>();
            store.transaction(() => {
              store.state.write(store.state.scan('', 1_000_000).map(([k]) => [k, undefined]));
              store.state.write(committed.map((k) => [k, new Uint8Array([1])]));
            });
            for (const k of committed) model.set(k, new Uint8Array([1]));
            const overlay = new StateOverlay(store.state);
            for (const [k, del] of edits) {
              overlay.write(raw, k, del ? undefined : new Uint8Array([2]));
              if (del) model.delete(k);
              else model.set(k, new Uint8Array([2]));
            }
            const expected = [...model.keys()]
              .filter((k) => k.startsWith(prefix))
              .sort()
              .slice(0, limit);
            assert.deepEqual(
              overlay.scan(prefix, limit).map(([k]) => k),
              expected,
            );
            // Inside a write transaction, the repository sees its own writes.
            store.transaction(() => {
              store.state.write(overlay.changes());
              assert.deepEqual(
                store.state.scan(prefix, limit).map(([k]) => k),
                expected,
              );
            });
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
