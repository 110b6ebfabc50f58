// End-to-end: several real nodes in one process, over loopback TCP.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { txId } from '../../../src/core/codec/ids.ts';
import { TxKind } from '../../../src/core/codec/types.ts';
import { bytesEqual, toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { encodeTransfer, minimumFee, signTx } from '../../../src/core/ledger/tx.ts';
import { COIN } from '../../../src/core/params/index.ts';
import type { SyncProgress } from '../../../src/node/p2p/index.ts';
import { ALICE, BOB, testKey } from '../../support/keys.ts';
import { addrOf, extendOnSchedule, sameTip, testNet } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';
import { payment } from '../../support/tx.ts';
import { waitFor } from '../../support/wait.ts';

const net = testNet();
after(() => net.close());
const node = net.node;

describe('p2p network', () => {
  it('puts a transaction submitted at A and mined at C into the same block on every node', async () => {
    const params = liveParams();
    const a = await node('a', params);
    const b = await node('b', params, { bootstrap: [addrOf(a)] });
    const c = await node('c', params, { bootstrap: [addrOf(b)] });
    await waitFor(
      'a line of three connected nodes',
      () => b.p2p.peers().length === 2 && c.p2p.peers().length === 1,
    );

    const tx = payment(params, ALICE, 0);
    const id = txId(tx);
    const submitted = a.chain.submitTx(tx);
    assert.ok(submitted.ok, JSON.stringify(submitted));
    const txMs = await waitFor('the tx to reach C through B', () => c.chain.mempoolTx(id) !== undefined);

    const block = await c.miner.mineBlock();
    assert.ok(
      block.txs.some((t) => bytesEqual(txId(t), id)),
      'C mined the transaction',
    );
    const blockMs = await waitFor('the block to reach A through B', () => sameTip([a, b, c]));
    const where = [a, b, c].map((n) => n.chain.tx(id));
    for (const stored of where) {
      assert.ok(stored, 'every node has the transaction in a block');
      assert.equal(toHex(stored.blockHash), toHex(where[0]?.blockHash ?? new Uint8Array()));
    }
    assert.equal(a.chain.mempoolTx(id), undefined, 'the mined tx left A’s mempool');
    console.log(`tx A->C ${txMs} ms, block C->A ${blockMs} ms`);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('announces its own pending transaction again, so a peer that was behind when it first heard of it takes it', async () => {
    const params = liveParams();
    const carol = testKey(3);
    const fund = signTx(
      {
        nonce: 0,
        fee: minimumFee(300, params),
        kind: TxKind.transfer,
        payload: encodeTransfer(addressBytes(carol.publicKey), 10n * COIN),
      },
      ALICE,
      params,
    );
    // Carol is funded only in A's last block, which B reaches after a 200-block sync.
    const a = await node('a', params, {
      prepare: async (chain) => {
        await extendOnSchedule(chain, 199);
        await extendOnSchedule(chain, 1, [fund]);
      },
    });
    const spend = payment(params, carol, 0);
    const id = txId(spend);
    assert.ok(a.chain.submitTx(spend).ok);
    let rebroadcasts = 0;
    a.p2p.on('tx:rebroadcast', (n) => {
      rebroadcasts += n;
    });

    // A pushes its mempool to B as soon as B subscribes; B, still at genesis, cannot take it.
    const b = await node('b', params, { bootstrap: [addrOf(a)] });
    await waitFor('B to reach A’s tip', () => sameTip([a, b]), 15_000);
    assert.equal(b.chain.mempoolTx(id), undefined, 'B refused the spend while it was behind');

    // A block later A announces it again, and B, now caught up, takes it and can mine it.
    await extendOnSchedule(a.chain, 1);
    await waitFor('B to take the spend announced again', () => b.chain.mempoolTx(id) !== undefined);
    assert.equal(rebroadcasts, 1);
    const mined = await b.miner.mineBlock();
    assert.ok(mined.txs.some((t) => bytesEqual(txId(t), id)));
  });

  it('syncs a node started after 300 blocks to the tip', async () => {
    const params = liveParams();
    const a = await node('a', params, { prepare: (chain) => extendOnSchedule(chain, 300) });
    assert.equal(a.chain.tip().height, 300);
    const progress: SyncProgress[] = [];
    const started = Date.now();
    const b = await node('b', params, { bootstrap: [addrOf(a)] });
    b.p2p.on('sync:progress', (p) => progress.push(p));
    // What the mining gate relies on: when the round ends, syncing() already says false.
    const idle: boolean[] = [];
    b.p2p.on('sync:idle', () => idle.push(b.p2p.syncing()));
    await waitFor('B to reach A’s tip', () => sameTip([a, b]), 15_000);
    await waitFor('the sync round to end', () => idle.length > 0);
    assert.deepEqual([...new Set(idle)], [false]);
    const ms = Date.now() - started;
    assert.equal(b.chain.tip().height, 300);
    assert.equal(b.chain.tip().cumulativeWork, a.chain.tip().cumulativeWork);
    assert.ok(progress.length > 0, 'sync reported progress');
    assert.equal(progress.at(-1)?.targetHeight, 300);
    console.log(`synced 300 blocks in ${ms} ms (${Math.round(300_000 / ms)} blocks/s)`);

    // New blocks then arrive by gossip.
    await a.miner.mineBlock();
    await waitFor('the next block by gossip', () => sameTip([a, b]));
    await Promise.all([a.close(), b.close()]);
  });

  it('fetches the bodies of a sync from every peer on the same tip, and finishes when helpers leave', async () => {
    const params = liveParams();
    // Three peers holding the same 200 blocks (built on one schedule, so identical).
    const sources = await Promise.all(
      ['s1', 's2', 's3'].map((name) =>
        node(name, params, { prepare: (chain) => extendOnSchedule(chain, 200) }),
      ),
    );
    assert.equal(new Set(sources.map((s) => toHex(s.chain.tip().hash))).size, 1);
    const b = await node('b', params, { bootstrap: sources.map(addrOf), limits: { blocksPerRequest: 16 } });
    const served = new Map<string, number>();
    b.p2p.on('sync:batch', ({ peer, blocks }) => {
      served.set(peer, (served.get(peer) ?? 0) + blocks);
      // The helpers leave after the first batch: the sync peer takes over what they held.
      if ([...served.values()].reduce((x, y) => x + y, 0) === blocks)
        for (const s of sources.slice(1)) void s.close();
    });
    await waitFor('B to reach the tip', () => b.chain.tip().height === 200, 20_000);
    assert.equal(toHex(b.chain.tip().hash), toHex(sources[0].chain.tip().hash));
    assert.equal(
      [...served.values()].reduce((x, y) => x + y, 0),
      200,
      'every block fetched once',
    );

    // A second node syncs with all three still there: more than one of them serves bodies.
    const fresh = await Promise.all(
      ['t1', 't2', 't3'].map((name) =>
        node(name, params, { prepare: (chain) => extendOnSchedule(chain, 200) }),
      ),
    );
    const c = await node('c', params, { bootstrap: fresh.map(addrOf), limits: { blocksPerRequest: 16 } });
    const from = new Set<string>();
    c.p2p.on('sync:batch', ({ peer }) => from.add(peer));
    await waitFor('C to reach the tip', () => c.chain.tip().height === 200, 20_000);
    assert.ok(from.size >= 2, `bodies came from ${from.size} peer(s)`);
  });

  it('converges on the heaviest branch after a partition heals and re-mines the losing branch’s txs', async () => {
    const params = liveParams();
    const a = await node('a', params);
    const b = await node('b', params, { bootstrap: [addrOf(a)] });
    const c = await node('c', params, { bootstrap: [addrOf(b)] });
    const d = await node('d', params, { bootstrap: [addrOf(c)] });
    const all = [a, b, c, d];
    await waitFor('the line a-b-c-d', () => b.p2p.peers().length === 2 && c.p2p.peers().length === 2);
    await a.miner.mineBlock();
    await waitFor('a common first block', () => sameTip(all));

    // Partition: b and c refuse each other; group 1 = {a, b}, group 2 = {c, d}.
    await b.p2p.ban(c.p2p.peerId, 60_000, 'test partition');
    await c.p2p.ban(b.p2p.peerId, 60_000, 'test partition');
    await waitFor('the link b-c to drop', () => b.p2p.peers().length === 1 && c.p2p.peers().length === 1);

    const lost = payment(params, ALICE, 0);
    assert.ok(a.chain.submitTx(lost).ok);
    await waitFor('the tx within group 1', () => b.chain.mempoolTx(txId(lost)) !== undefined);
    const short = await a.miner.mineBlock();
    assert.equal(short.txs.length, 1);
    await waitFor('group 1 to agree', () => sameTip([a, b]));
    const kept = payment(params, BOB, 0);
    assert.ok(d.chain.submitTx(kept).ok);
    await waitFor('the tx within group 2', () => c.chain.mempoolTx(txId(kept)) !== undefined);
    for (let i = 0; i < 3; i++) await c.miner.mineBlock();
    await waitFor('group 2 to agree', () => sameTip([c, d]));
    assert.ok(c.chain.tip().cumulativeWork > a.chain.tip().cumulativeWork, 'group 2 is heavier');
    assert.equal(c.chain.mempoolTx(txId(lost)), undefined, 'group 2 never saw the lost tx');

    // Heal.
    const healed = Date.now();
    b.p2p.unban(c.p2p.peerId);
    c.p2p.unban(b.p2p.peerId);
    await c.p2p.connect(addrOf(b));
    await waitFor('all four to converge', () => sameTip(all), 10_000);
    const convergeMs = Date.now() - healed;
    assert.equal(a.chain.tip().height, 4);
    assert.ok(a.chain.tx(txId(kept)), 'group 2’s tx is on the winning chain');
    assert.equal(a.chain.tx(txId(lost)), undefined, 'the lost tx left the chain with its branch');
    // The lost tx went back to group 1's mempools and was announced again to group 2.
    await waitFor('the lost tx to reach a group 2 miner', () => d.chain.mempoolTx(txId(lost)) !== undefined);
    const remined = await d.miner.mineBlock();
    assert.ok(
      remined.txs.some((t) => bytesEqual(txId(t), txId(lost))),
      'the lost tx is mined again',
    );
    await waitFor(
      'all four to agree on the re-mined tx',
      () => sameTip(all) && a.chain.tx(txId(lost)) !== undefined,
    );
    console.log(`partition healed: converged in ${convergeMs} ms`);
    await Promise.all(all.map((n) => n.close()));
  });
});
