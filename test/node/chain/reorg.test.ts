import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { txId } from '../../../src/core/codec/ids.ts';
import type { Block, Tx } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { COIN } from '../../../src/core/params/index.ts';
import { extend, hashHex, snapshot, type TempChains, tempChains } from '../../support/chain.ts';
import { addressOf, testKeys } from '../../support/keys.ts';
import { testParams } from '../../support/params.ts';
import { transfer } from '../../support/tx.ts';

const keys = testKeys(4);
const params = testParams(keys);
const [alice, bob, carol, dave] = keys;

async function importAll(chain: ReturnType<TempChains['open']>, blocks: Block[]) {
  const statuses: string[] = [];
  for (const b of blocks) {
    const r = await chain.importBlock(b, Date.now());
    if (!r.ok) throw new Error(r.error.message);
    statuses.push(r.status);
  }
  return statuses;
}

describe('reorgs', () => {
  let t: TempChains;
  before(() => {
    t = tempChains(params);
  });
  after(() => t.cleanup());

  it('switches to a heavier branch: state rolled back and re-applied, losing txs back in the mempool', async () => {
    const node = t.open('node');
    const winner = t.open('winner');
    // Common prefix.
    const shared = await extend(winner, 1, () => [transfer(params, dave, addressOf(carol), COIN, 0)]);
    await importAll(node, shared);
    // The node's own branch: two blocks.
    const lost1 = transfer(params, alice, addressOf(bob), 7n * COIN, 0);
    const lost2 = transfer(params, alice, addressOf(carol), 3n * COIN, 1);
    const both = transfer(params, bob, addressOf(carol), 1n * COIN, 0); // also on the winning branch
    const ours = await extend(node, 2, (i) => [[lost1, both], [lost2]][i]);
    // The winning branch: three blocks, other transactions.
    const won = transfer(params, carol, addressOf(alice), 11n * COIN, 0);
    const theirs = await extend(winner, 3, (i) => [[both], [won], []][i]);
    let reorg: { detached: Block[]; attached: Block[] } | undefined;
    const connected: number[] = [];
    node.on('reorg', (detached, attached) => {
      reorg = { detached, attached };
    });
    node.on('block', (b) => connected.push(b.header.height));
    const statuses = await importAll(node, theirs);
    assert.deepEqual(statuses, ['side', 'side', 'reorged']);
    assert.equal(toHex(node.tip().hash), toHex(winner.tip().hash));
    assert.equal(node.tip().cumulativeWork, winner.tip().cumulativeWork);
    assert.deepEqual(snapshot(node, keys), snapshot(winner, keys));
    assert.deepEqual(reorg?.detached.map(hashHex), [ours[1], ours[0]].map(hashHex));
    assert.deepEqual(reorg?.attached.map(hashHex), theirs.map(hashHex));
    assert.deepEqual(connected, [2, 3, 4]);
    // Indexes follow the best chain.
    assert.equal(node.tx(txId(lost1)), undefined);
    assert.equal(node.tx(txId(won))?.height, 3);
    assert.equal(node.tx(txId(both))?.height, 2);
    assert.deepEqual(
      node.txsByAddress(addressOf(alice), 10).map((s) => toHex(s.id)),
      [toHex(txId(won))],
    );
    assert.equal(node.supply(4)?.minted, winner.supply(4)?.minted);
    assert.equal(node.blockByHeight(2) && hashHex(node.blockByHeight(2)!), hashHex(theirs[0]));
    // The losing branch's own txs are pending again; the one also mined on the winner is not.
    assert.ok(node.mempoolTx(txId(lost1)));
    assert.ok(node.mempoolTx(txId(lost2)));
    assert.equal(node.mempoolTx(txId(both)), undefined);
    // And the node keeps going on the new tip, mining the returned transactions.
    await extend(node, 1, () => node.selectTxs(100, 100_000));
    assert.equal(node.tx(txId(lost2))?.height, 5);
    assert.equal(node.mempool(10).length, 0);
  });

  it('keeps an equally heavy branch on the side', async () => {
    const node = t.open('tie');
    const other = t.open('tie-other');
    await extend(node, 2);
    const branch = await extend(other, 2, (i) =>
      i === 0 ? [transfer(params, bob, addressOf(alice), COIN, 0)] : [],
    );
    const tipBefore = toHex(node.tip().hash);
    assert.deepEqual(await importAll(node, branch), ['side', 'side']);
    assert.equal(toHex(node.tip().hash), tipBefore);
    assert.ok(node.blockByHash(node.tip().hash));
  });

  it('reorgs back and forth and ends where a fresh node would', async () => {
    const node = t.open('flip');
    const a = t.open('flip-a');
    const b = t.open('flip-b');
    const aBlocks = await extend(a, 2, (i) => [transfer(params, alice, addressOf(bob), COIN, i)]);
    const bBlocks = await extend(b, 3, (i) => [transfer(params, bob, addressOf(alice), 2n * COIN, i)]);
    await importAll(node, aBlocks);
    await importAll(node, bBlocks);
    assert.equal(toHex(node.tip().hash), toHex(b.tip().hash));
    // a grows past b: the node goes back to a's branch.
    const more = await extend(a, 2);
    await importAll(node, more);
    assert.equal(toHex(node.tip().hash), toHex(a.tip().hash));
    assert.deepEqual(snapshot(node, keys), snapshot(a, keys));
    const fresh = t.open('flip-fresh');
    await importAll(fresh, [...aBlocks, ...more]);
    assert.deepEqual(snapshot(fresh, keys), snapshot(node, keys));
  });

  for (const mode of ['applyBlock verifier', 'batch verifier'] as const) {
    it(`refuses a heavier branch holding an invalid block and keeps the old best chain (${mode})`, async () => {
      const batch = async (txs: Tx[]) => {
        const { checkTxSignature } = await import('../../../src/core/ledger/tx.ts');
        return txs.map((tx) => checkTxSignature(tx).ok);
      };
      const node = t.open(`invalid-${mode}`, mode === 'batch verifier' ? { signatureVerifier: batch } : {});
      // A builder that accepts any signature, so it can extend past a block with a forged one.
      const lax = t.open(`lax-${mode}`, { signatureVerifier: async (txs) => txs.map(() => true) });
      await extend(node, 2, (i) => (i === 0 ? [transfer(params, alice, addressOf(bob), COIN, 0)] : []));
      const forged: Tx = {
        ...transfer(params, carol, addressOf(dave), 500n * COIN, 0),
        signature: new Uint8Array(64),
      };
      const branch = await extend(lax, 3, (i) => (i === 1 ? [forged] : []));
      const before = snapshot(node, keys);
      const pendingBefore = node.mempool(10).length;
      assert.equal((await node.importBlock(branch[0], Date.now())).ok, true);
      assert.equal((await node.importBlock(branch[1], Date.now())).ok, true); // side: not yet checked
      const r = await node.importBlock(branch[2], Date.now());
      assert.ok(
        !r.ok && r.error.code === 'BAD_BLOCK' && /BAD_SIGNATURE/.test(r.error.message),
        JSON.stringify(r),
      );
      assert.deepEqual(snapshot(node, keys), before);
      assert.equal(node.mempool(10).length, pendingBefore);
      // The invalid block and what builds on it stay refused.
      assert.equal((await node.importBlock(branch[2], Date.now())).ok, false);
      assert.equal((await node.importBlock(branch[1], Date.now())).ok, false);
      // The node still extends its own chain.
      await extend(node, 1);
      assert.equal(node.tip().height, 3);
    });
  }
});
