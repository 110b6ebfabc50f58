import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TX_KIND_NAMES, TxKind } from '../../../src/core/codec/types.ts';
import { knownTxKinds, TX_KINDS, txKindHandler } from '../../../src/core/transition/kinds.ts';

describe('the table of transaction kinds', () => {
  it('has one handler for every kind the codec names, under that name', () => {
    assert.equal(TX_KINDS.length, Object.keys(TxKind).length);
    for (const [name, kind] of Object.entries(TxKind)) {
      const handler = txKindHandler(kind);
      assert.ok(handler, `no handler for kind ${kind} (${name})`);
      assert.equal(handler.kind, kind);
      assert.equal(handler.name, TX_KIND_NAMES[kind]);
    }
  });

  it('knows no other kind, and lists the known ones in kind order', () => {
    for (const kind of [0, 6, 7, 12, 19, 255, 256, -1, 1.5]) assert.equal(txKindHandler(kind), undefined);
    const listed = knownTxKinds().map((s) => Number(s.split(' ')[0]));
    assert.deepEqual(
      listed,
      [...listed].sort((a, b) => a - b),
    );
  });
});
