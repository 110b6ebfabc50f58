// Kinds whose validity depends on more than nonce and balance (here FluxNode transactions) are
// tried against the tip state on entry, and dropped once a later block makes them inapplicable,
// so they never block their sender's later transactions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { txId } from '../../../src/core/codec/ids.ts';
import { type Tx, TxKind } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import type { KeyPair } from '../../../src/core/crypto/keys.ts';
import { minimumFee, signTx, txSize } from '../../../src/core/ledger/tx.ts';
import { nodeIdOf } from '../../../src/core/nodes/lifecycle.ts';
import { encodeNodeConfirm, encodeNodeStart, encodeNodeStop } from '../../../src/core/nodes/payloads.ts';
import { COIN, createParams } from '../../../src/core/params/index.ts';
import { GOOD_REPORT } from '../../core/nodes/helpers.ts';
import { extend, tempChains } from '../../support/chain.ts';
import { addressOf, testKeys } from '../../support/keys.ts';
import { testParams } from '../../support/params.ts';
import { transfer } from '../../support/tx.ts';

const [owner, stranger, operator] = testKeys(3);
const funded = testParams([owner, stranger, operator]);
// Enough for a Cumulus collateral, the operator's deposit and fees.
const params = createParams(funded, {
  genesis: {
    ...funded.genesis,
    allocations: funded.genesis.allocations.map((a) => ({ ...a, amount: 10_000n * COIN })),
  },
});

function signed(key: KeyPair, nonce: number, kind: number, payload: Uint8Array): Tx {
  const unsigned = { nonce, fee: 0n, kind, payload };
  return signTx(
    { ...unsigned, fee: minimumFee(txSize(signTx(unsigned, key, params)) + 8, params) },
    key,
    params,
  );
}

const start = (nonce: number) =>
  signed(
    owner,
    nonce,
    TxKind.nodeStart,
    encodeNodeStart({
      tier: 'cumulus',
      operator: operator.publicKey,
      endpoint: '127.0.0.1:1',
      deposit: COIN,
    }),
  );

describe('mempool and stateful transaction kinds', () => {
  it('refuses at entry a node stop by someone other than the owner, and a second stop after the first', async () => {
    const t = tempChains(params);
    try {
      const chain = t.open('a');
      const started = chain.submitTx(start(0));
      assert.ok(started.ok, JSON.stringify(started));
      await extend(chain, 1, () => chain.mempool(10).map((e) => e.tx));
      const id = nodeIdOf(addressOf(owner), 0);
      const byStranger = chain.submitTx(signed(stranger, 0, TxKind.nodeStop, encodeNodeStop(id)));
      assert.equal(byStranger.ok, false);
      assert.ok(!byStranger.ok && /owner/i.test(byStranger.error.message), JSON.stringify(byStranger));
      assert.ok(chain.submitTx(signed(owner, 1, TxKind.nodeStop, encodeNodeStop(id))).ok);
      assert.equal(chain.submitTx(signed(owner, 2, TxKind.nodeStop, encodeNodeStop(id))).ok, false);
    } finally {
      t.cleanup();
    }
  });

  it("lists a node start in the operator's history too (the kind's parties)", async () => {
    const t = tempChains(params);
    try {
      const chain = t.open('c');
      const tx = start(0);
      assert.ok(chain.submitTx(tx).ok);
      await extend(chain, 1, () => chain.mempool(10).map((e) => e.tx));
      const ids = (a: Uint8Array) => chain.txsByAddress(a, 10).map((s) => toHex(s.id));
      assert.deepEqual(ids(addressOf(operator)), [toHex(txId(tx))]);
      assert.deepEqual(ids(addressOf(owner)), [toHex(txId(tx))]);
    } finally {
      t.cleanup();
    }
  });

  it('drops a confirmation whose window passed, so the operator can send again', async () => {
    const t = tempChains(params);
    try {
      const chain = t.open('b');
      const started = chain.submitTx(start(0));
      assert.ok(started.ok, JSON.stringify(started));
      await extend(chain, 1, () => chain.mempool(10).map((e) => e.tx));
      const id = nodeIdOf(addressOf(owner), 0);
      const confirm = signed(operator, 0, TxKind.nodeConfirm, encodeNodeConfirm(id, GOOD_REPORT));
      const added = chain.submitTx(confirm);
      assert.ok(added.ok, JSON.stringify(added));
      // Blocks that leave it out until the start lapses: the confirmation can no longer apply.
      await extend(chain, params.nodes.confirmWindow + 2);
      assert.equal(chain.mempool(10).length, 0, 'the stale confirmation left the mempool');
      const again = chain.submitTx(transfer(params, operator, addressOf(owner), COIN, 0));
      assert.ok(again.ok, `nonce 0 is free again: ${JSON.stringify(again)}`);
    } finally {
      t.cleanup();
    }
  });
});
