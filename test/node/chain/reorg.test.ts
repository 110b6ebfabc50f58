import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { blockHash, txId } from '../../../src/core/codec/ids.ts';
import type { Block, Tx } from '../../../src/core/codec/types.ts';
import { tieWinner } from '../../../src/core/consensus/validate.ts';
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
    // Their second block ties with our tip (equal work): if it wins the tie the switch comes one
    // block early, and their third block extends.
    const early =
      hashHex(theirs[1]) === toHex(tieWinner([ours[1], theirs[1]].map((b) => blockHash(b.header))));
    assert.deepEqual(statuses, early ? ['side', 'reorged', 'extended'] : ['side', 'side', 'reorged']);
    assert.equal(toHex(node.tip().hash), toHex(winner.tip().hash));
    assert.equal(node.tip().cumulativeWork, winner.tip().cumulativeWork);
    assert.deepEqual(snapshot(node, keys), snapshot(winner, keys));
    assert.deepEqual(reorg?.detached.map(hashHex), [ours[1], ours[0]].map(hashHex));
    assert.deepEqual(reorg?.attached.map(hashHex), (early ? theirs.slice(0, 2) : theirs).map(hashHex));
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

  it('keeps a lighter branch on the side', async () => {
    const node = t.open('lighter');
    const other = t.open('lighter-other');
    await extend(node, 3);
    const branch = await extend(other, 2, (i) =>
      i === 0 ? [transfer(params, bob, addressOf(alice), COIN, 0)] : [],
    );
    const tipBefore = toHex(node.tip().hash);
    assert.deepEqual(await importAll(node, branch), ['side', 'side']);
    assert.equal(toHex(node.tip().hash), tipBefore);
  });

  it('settles a race of equally heavy tips on the same block whatever order they arrive in', async () => {
    // Three miners' blocks on one parent (equal work), each with its own transaction.
    const base = t.open('race-base');
    const shared = await extend(base, 1);
    const rivals: Array<{ block: Block; state: ReturnType<typeof snapshot> }> = [];
    for (const [i, sender] of [alice, bob, carol].entries()) {
      const miner = t.open(`race-miner-${i}`);
      await importAll(miner, shared);
      const [block] = await extend(miner, 1, () => [transfer(params, sender, addressOf(dave), COIN, 0)]);
      rivals.push({ block, state: snapshot(miner, keys) });
    }
    const hashes = rivals.map((r) => blockHash(r.block.header));
    assert.equal(new Set(rivals.map((r) => r.state.work)).size, 1, 'the rivals are of equal work');
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const order of orders) {
      const node = t.open(`race-${order.join('')}`);
      await importAll(node, shared);
      await importAll(node, [rivals[order[0]].block]);
      // After two: the winner of those two, on every node that saw the same two.
      await importAll(node, [rivals[order[1]].block]);
      const two = tieWinner([hashes[order[0]], hashes[order[1]]]);
      assert.equal(toHex(node.tip().hash), toHex(two), `order ${order}: after two`);
      await importAll(node, [rivals[order[2]].block]);
      const all = tieWinner(hashes);
      const won = hashes.findIndex((h) => toHex(h) === toHex(all));
      // The state is the winner's own: its transaction on chain, the rivals' not.
      assert.deepEqual(snapshot(node, keys), rivals[won].state, `order ${order}: after three`);
      for (const [k, r] of rivals.entries())
        assert.equal(
          node.tx(txId(r.block.txs[0]))?.height,
          k === won ? 2 : undefined,
          `order ${order}: rival ${k}`,
        );
    }
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
      assert.equal((await node.importBlock(branch[0], Date.now())).ok, true); // side: not yet checked
      // The forged block is checked when its branch would become best: at once if it wins the
      // tie with our tip (equal work), else when the block above it makes the branch heavier.
      const early = await node.importBlock(branch[1], Date.now());
      const r = early.ok ? await node.importBlock(branch[2], Date.now()) : early;
      assert.ok(
        !r.ok && r.error.code === 'BAD_BLOCK' && /BAD_SIGNATURE/.test(r.error.message),
        JSON.stringify(r),
      );
      if (!early.ok) assert.equal((await node.importBlock(branch[2], Date.now())).ok, false);
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
