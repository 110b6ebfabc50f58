// Peer discovery: nodes that know only a bootstrap node find each other through the DHT and
// fill their outbound slots, so losing the bootstrap node does not split the network; a node
// restarted without a bootstrap list reconnects from its peer store on disk.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { Key } from 'interface-datastore';
import { txId } from '../../../src/core/codec/ids.ts';
import { bytesEqual } from '../../../src/core/crypto/hash.ts';
import { PeerDatastore } from '../../../src/node/p2p/datastore.ts';
import { type Candidate, dialSource, dialsPrivate, pickDiverse } from '../../../src/node/p2p/discovery.ts';
import { netAddressOf } from '../../../src/node/p2p/gater.ts';
import { generatePeerKey } from '../../../src/node/p2p/index.ts';
import { ALICE } from '../../support/keys.ts';
import { addrOf, canBindLoopback, sameTip, type TestNode, testNet } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';
import { payment } from '../../support/tx.ts';
import { waitFor } from '../../support/wait.ts';

const net = testNet();
const dirs: string[] = [];
after(async () => {
  await net.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const node = net.node;
const outboundOf = (n: TestNode) => n.p2p.peers().filter((p) => p.direction === 'outbound');

function candidate(id: string, ip: string, failures = 0): Candidate {
  const net = netAddressOf(ip);
  assert.ok(net);
  return { id, addr: multiaddr(`/ip4/${ip}/tcp/1`), net, failures };
}

describe('peer discovery', () => {
  it('picks outbound peers in new network groups first, then on new hosts, then any', () => {
    const used = [netAddressOf('10.0.0.5')].flatMap((a) => (a ? [a] : []));
    const candidates = [
      candidate('same-host', '10.0.0.5'),
      candidate('same-group', '10.0.0.9'),
      candidate('b1', '10.0.1.1'),
      candidate('b2', '10.0.1.2'),
      candidate('c', '10.0.2.1'),
    ];
    for (let run = 0; run < 20; run++) {
      const [first, second, third] = pickDiverse(candidates, used, 3).map((c) => c.id);
      assert.deepEqual([first[0], second[0]].sort(), ['b', 'c'], 'first one per untouched /24');
      assert.notEqual(third, 'same-host', 'then a new host');
    }
    assert.deepEqual(pickDiverse(candidates, used, 5).at(-1)?.id, 'same-host');
    // On loopback each address is its own group (a devnet's nodes are stand-ins for hosts).
    const loop = pickDiverse([candidate('x', '127.0.0.2'), candidate('y', '127.0.0.3')], [], 2);
    assert.equal(loop.length, 2);
    // Those that failed less go first.
    const tried = pickDiverse([candidate('flaky', '10.9.0.1', 3), candidate('fresh', '10.8.0.1')], [], 1);
    assert.equal(tried[0].id, 'fresh');
  });

  it('dials from its own loopback address, and only private addresses when it listens on one', () => {
    assert.deepEqual(dialSource(['/ip4/127.0.0.7/tcp/0']), { noDelay: true, localAddress: '127.0.0.7' });
    assert.equal(dialSource(['/ip4/0.0.0.0/tcp/16126']), undefined);
    assert.equal(dialSource(['/ip4/127.0.0.7/tcp/0', '/ip4/127.0.0.8/tcp/0']), undefined);
    assert.equal(dialsPrivate(['/ip4/127.0.0.7/tcp/0']), true);
    assert.equal(dialsPrivate(['/ip4/192.168.1.4/tcp/0']), true);
    assert.equal(dialsPrivate(['/ip4/0.0.0.0/tcp/16126']), false);
    assert.equal(dialsPrivate(['/ip4/203.0.114.9/tcp/16126']), false);
  });

  it('keeps the peer store on disk and DHT records in memory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openflux-datastore-'));
    dirs.push(dir);
    const file = join(dir, 'peers.db');
    const store = new PeerDatastore(file);
    const bytes = (n: number) => Uint8Array.of(n);
    store.put(new Key('/peers/b'), bytes(2));
    store.put(new Key('/peers/a'), bytes(1));
    store.put(new Key('/dht/record/x'), bytes(9));
    assert.deepEqual(store.get(new Key('/peers/a')), bytes(1));
    assert.throws(() => store.get(new Key('/peers/zz')), { name: 'NotFoundError' });
    assert.deepEqual(
      [...store.query({ prefix: '/peers/' })].map((p) => p.key.toString()),
      ['/peers/a', '/peers/b'],
    );
    assert.deepEqual([...store.queryKeys({ prefix: '/', limit: 2, offset: 1 })].map(String), [
      '/peers/b',
      '/dht/record/x',
    ]);
    const batch = store.batch();
    batch.delete(new Key('/peers/b'));
    batch.put(new Key('/peers/c'), bytes(3));
    batch.commit();
    store.close();
    const reopened = new PeerDatastore(file);
    assert.deepEqual([...reopened.queryKeys({})].map(String), ['/peers/a', '/peers/c']);
    assert.equal(reopened.has(new Key('/dht/record/x')), false, 'DHT records are not kept across runs');
    reopened.close();
  });

  it('lets six nodes that know only node 0 find each other, and the rest go on without node 0', async (t) => {
    if (!(await canBindLoopback())) return t.skip('needs loopback addresses beyond 127.0.0.1');
    const params = liveParams();
    const n0 = await node('n0', params, { discovery: true });
    const rest: TestNode[] = [];
    for (let i = 1; i < 6; i++)
      rest.push(await node(`n${i}`, params, { discovery: true, bootstrap: [addrOf(n0)] }));
    const meshMs = await waitFor(
      'every node to have at least 3 peers',
      () => rest.every((n) => n.p2p.peers().length >= 3),
      20_000,
    );
    console.log(`mesh in ${meshMs} ms: peers ${[n0, ...rest].map((n) => n.p2p.peers().length).join(' ')}`);

    await n0.close();
    await waitFor('node 0 to be gone from every peer list', () =>
      rest.every((n) => !n.p2p.peers().some((p) => p.id === n0.p2p.peerId)),
    );
    for (const n of rest) assert.ok(n.p2p.peers().length >= 2, `${n.name} keeps peers without node 0`);

    const tx = payment(params, ALICE, 0);
    assert.ok(rest[0].chain.submitTx(tx).ok);
    await waitFor('the tx to reach the last node', () => rest[4].chain.mempoolTx(txId(tx)) !== undefined);
    const block = await rest[4].miner.mineBlock();
    assert.ok(block.txs.some((x) => bytesEqual(txId(x), txId(tx))));
    await waitFor('the block to reach every node', () => sameTip(rest));
    await rest[2].miner.mineBlock();
    await waitFor(
      'a second block to reach every node',
      () => sameTip(rest) && rest[0].chain.tip().height === 2,
    );
  });

  it('reconnects after a restart from the peers it knew, without a bootstrap list', async (t) => {
    if (!(await canBindLoopback())) return t.skip('needs loopback addresses beyond 127.0.0.1');
    const params = liveParams();
    const a = await node('a', params, { discovery: true });
    const b = await node('b', params, { discovery: true, bootstrap: [addrOf(a)] });
    const c = await node('c', params, { discovery: true, bootstrap: [addrOf(a)] });
    const dir = mkdtempSync(join(tmpdir(), 'openflux-p2p-restart-'));
    dirs.push(dir);
    const peerKey = generatePeerKey();
    const first = await node('r', params, { discovery: true, bootstrap: [addrOf(a)], dir, peerKey });
    await waitFor('r to know all three', () => first.p2p.peers().length === 3, 20_000);
    const host = first.host;
    await first.close();
    const gone = (n: TestNode) => !n.p2p.peers().some((p) => p.id === first.p2p.peerId);
    await waitFor('the others to see r go', () => [a, b, c].every(gone));

    // Same identity, same peer store, a new port: only r's own dials can bring it back.
    const again = await node('r2', params, { discovery: true, dir, peerKey, host });
    assert.equal(again.p2p.peerId, first.p2p.peerId);
    const ms = await waitFor('r to reconnect to what it knew', () => outboundOf(again).length >= 2, 15_000);
    console.log(`reconnected to ${again.p2p.peers().length} peers ${ms} ms after the restart`);
    await a.miner.mineBlock();
    await waitFor('a block to reach the restarted node', () => sameTip([a, again]));
  });
});
