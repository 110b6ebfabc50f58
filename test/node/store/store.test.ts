import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeBlock, encodeTx, blockTxSpans as txSpans } from '../../../src/core/codec/ids.ts';
import type { Block, Tx } from '../../../src/core/codec/types.ts';
import { decodeUndo, encodeUndo, type UndoEntries } from '../../../src/node/store/repositories.ts';
import { ChainStore } from '../../../src/node/store/store.ts';

describe('store', () => {
  let dir: string;
  let store: ChainStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'openflux-store-'));
    store = new ChainStore(join(dir, 'store.db'));
  });
  after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips undo data', () => {
    const entry = fc.tuple(
      fc.string({ maxLength: 60, unit: 'grapheme' }).map((s) => `acct/${s}`),
      fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), (entries: UndoEntries) => {
        assert.deepEqual(decodeUndo(encodeUndo(entries)), entries);
      }),
    );
  });

  it('finds each transaction inside an encoded block', () => {
    const tx = (n: number, payloadLength: number): Tx => ({
      body: {
        chainId: 3,
        nonce: n,
        fee: 100n,
        sender: new Uint8Array(32).fill(n),
        kind: 1,
        payload: new Uint8Array(payloadLength).fill(n),
      },
      signature: new Uint8Array(64).fill(n),
    });
    const txs = [tx(1, 40), tx(2, 0), tx(3, 300)];
    const block: Block = {
      header: {
        version: 1,
        height: 5,
        parent: new Uint8Array(32),
        time: 1,
        stateRoot: new Uint8Array(32),
        txRoot: new Uint8Array(32),
        target: new Uint8Array(32),
        miner: new Uint8Array(20),
        nonce: 7,
      },
      txs,
      proof: new Uint8Array([1, 2, 3]),
    };
    const encoded = encodeBlock(block);
    const spans = txSpans(encoded, txs.length);
    spans.forEach(([offset, length], i) => {
      assert.deepEqual(encoded.subarray(offset, offset + length), encodeTx(txs[i]));
    });
  });

  it('commits state writes, and a rolled-back transaction leaves state and cache as they were', () => {
    const v = (n: number) => new Uint8Array([n]);
    store.transaction(() =>
      store.state.write([
        ['k/a', v(1)],
        ['k/b', v(2)],
      ]),
    );
    assert.deepEqual(store.state.get('k/a'), v(1));
    assert.throws(() =>
      store.transaction(() => {
        store.state.write([
          ['k/a', v(9)],
          ['k/b', undefined],
          ['k/c', v(3)],
        ]);
        assert.deepEqual(store.state.get('k/a'), v(9));
        assert.equal(store.state.get('k/b'), undefined);
        throw new Error('crash in the middle');
      }),
    );
    assert.deepEqual(store.state.get('k/a'), v(1));
    assert.deepEqual(store.state.get('k/b'), v(2));
    assert.equal(store.state.get('k/c'), undefined);
    // What the table holds agrees with the cache (read through a second connection).
    const other = new ChainStore(join(dir, 'store.db'));
    try {
      assert.deepEqual(other.state.get('k/a'), v(1));
      assert.equal(other.state.get('k/c'), undefined);
    } finally {
      other.close();
    }
  });

  it('refuses state writes outside a transaction', () => {
    assert.throws(() => store.state.write([['k/x', new Uint8Array([1])]]), /open transaction/);
  });
});
