// Peers that break the rules: bad blocks by gossip, garbage on the sync protocol, a peer that
// claims a heavier chain and then stalls. The honest nodes must ban or route around them.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { blockHash, encodeBlock } from '../../../src/core/codec/ids.ts';
import type { Block } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import type { LocalChain } from '../../../src/node/chain/chain.ts';
import { buildTemplate, sealHeader } from '../../../src/node/miner/miner.ts';
import { compressBlock } from '../../../src/node/p2p/compress.ts';
import { gossipTopics, SYNC_PROTOCOL } from '../../../src/node/p2p/index.ts';
import { encodeMessage, Status } from '../../../src/node/p2p/wire.ts';
import { addrOf, extendOnSchedule, MINER_ADDRESS, sameTip, testNet } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';
import { waitFor } from '../../support/wait.ts';

const net = testNet();
after(() => net.close());
const node = net.node;

const rogue = net.rawHost;

/** A block on the tip with valid work whose state root is a lie. */
function badBlock(chain: LocalChain, salt: number): Block {
  const template = buildTemplate(chain, [], MINER_ADDRESS, Date.now());
  const stateRoot = new Uint8Array(32).fill(salt);
  return { header: sealHeader({ ...template.prefix, stateRoot }), txs: [], proof: new Uint8Array() };
}

describe('p2p peer hygiene', () => {
  it('bans a peer that gossips bad blocks, relays none of them, and the honest nodes go on', async () => {
    const params = liveParams();
    const a = await node('a', params);
    const b = await node('b', params, { bootstrap: [addrOf(a)] });
    await waitFor('a and b connected', () => a.p2p.peers().length === 1);
    const evil = await rogue();
    const topic = gossipTopics(params).blocks;
    evil.services.pubsub.subscribe(topic);
    await evil.dial(multiaddr(addrOf(a)));
    await waitFor('a to subscribe for the rogue', () =>
      evil.services.pubsub.getSubscribers(topic).some((p) => p.toString() === a.p2p.peerId),
    );
    const bans: string[] = [];
    a.p2p.on('peer:ban', (peer) => bans.push(peer));

    const bad = [badBlock(a.chain, 1), badBlock(a.chain, 2)];
    for (const block of bad) await evil.services.pubsub.publish(topic, compressBlock(encodeBlock(block)));
    await waitFor('a to ban the rogue', () => bans.includes(evil.peerId.toString()));
    await waitFor('the rogue to be disconnected', () => evil.getConnections().length === 0);
    assert.ok(a.p2p.banned().some((x) => x.peer === evil.peerId.toString()));
    // The noise handshake completes on the dialler's side before `a` learns who it is; `a` then
    // refuses the connection, so none survives.
    await evil.dial(multiaddr(addrOf(a))).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(evil.getConnections().length, 0, 'a refuses the banned peer');
    assert.ok(!a.p2p.peers().some((p) => p.id === evil.peerId.toString()));
    for (const block of bad) {
      assert.equal(a.chain.blockByHash(blockHash(block.header)), undefined);
      assert.equal(b.chain.blockByHash(blockHash(block.header)), undefined, 'no bad block was relayed');
    }
    assert.equal(a.chain.tip().height, 0);
    assert.ok(
      b.p2p.peers().every((p) => p.score === 0 && p.gossipScore >= 0),
      'the honest relay was not blamed',
    );

    await b.miner.mineBlock();
    await waitFor('b’s block at a', () => sameTip([a, b]));
    await a.miner.mineBlock();
    await waitFor('the honest nodes to keep agreeing', () => sameTip([a, b]) && a.chain.tip().height === 2);
  });

  it('penalises malformed and oversized sync requests until it bans the sender', async () => {
    const params = liveParams();
    const a = await node('a', params);
    const evil = await rogue();
    await evil.dial(multiaddr(addrOf(a)));
    const send = async (frame: Uint8Array) => {
      const stream = await evil.dialProtocol(multiaddr(addrOf(a)), SYNC_PROTOCOL);
      await lpStream(stream).write(frame);
      await stream.close().catch(() => undefined);
    };
    await send(Uint8Array.of(42, 1, 2, 3)); // unknown type: malformed (-40)
    await send(encodeMessage({ type: 'headersRequest', value: { locator: [], max: 10 } }).subarray(0, 3)); // -40
    await waitFor(
      'a penalty',
      () => (a.p2p.peers().find((p) => p.id === evil.peerId.toString())?.score ?? 0) <= -80,
    );
    await send(new Uint8Array(1_000_000)); // oversized: -60, over the ban threshold
    await waitFor('a to ban the sender', () => a.p2p.banned().some((x) => x.peer === evil.peerId.toString()));
    await waitFor('the sender to be disconnected', () => evil.getConnections().length === 0);
  });

  it('syncs from an honest peer when a peer claims more work and then stalls', async () => {
    const params = liveParams();
    const a = await node('a', params, { prepare: (chain) => extendOnSchedule(chain, 20) });
    // The liar answers a status with enormous work and then never answers anything else.
    const liar = await rogue();
    await liar.handle(SYNC_PROTOCOL, async (stream) => {
      const lp = lpStream(stream);
      const request = (await lp.read()).subarray();
      if (request[0] !== 1) return; // hold every other request open until the asker gives up
      const status = Status.defaultValue();
      status.chainId = params.chainId;
      status.genesis = blockHash(a.chain.blockByHeight(0)?.header ?? a.chain.tip().header);
      status.height = 1_000_000;
      status.cumulativeWork = 1n << 200n;
      await lp.write(encodeMessage({ type: 'status', value: status }));
      await stream.close();
    });
    const c = await node('c', params, {
      bootstrap: [liar.getMultiaddrs()[0].toString()],
      limits: { requestTimeoutMs: 1_000 },
    });
    await waitFor('c to start syncing from the liar', () => c.p2p.syncing());
    const started = Date.now();
    await c.p2p.connect(addrOf(a));
    await waitFor('c to reach a’s tip despite the liar', () => sameTip([a, c]), 15_000);
    console.log(`synced past a stalling peer in ${Date.now() - started} ms`);
    assert.ok(
      (c.p2p.peers().find((p) => p.id === liar.peerId.toString())?.score ?? 0) < 0,
      'the stalling peer lost score',
    );
  });

  it('asks the sender of a block with an unknown parent where its chain is, and imports the block once its parent comes', async () => {
    const params = liveParams();
    const src = await node('src', params, { prepare: (chain) => extendOnSchedule(chain, 2) });
    const b = await node('b', params, { limits: { statusIntervalMs: 60_000 } });
    const peer = await rogue();
    let statusRequests = 0;
    await peer.handle(SYNC_PROTOCOL, async (stream) => {
      const lp = lpStream(stream);
      const request = (await lp.read()).subarray();
      if (request[0] !== 1) return;
      statusRequests++;
      const genesis = b.chain.blockByHeight(0);
      const tip = b.chain.tip();
      const status = {
        chainId: params.chainId,
        genesis: blockHash(genesis?.header ?? tip.header),
        height: 0,
        tip: tip.hash,
        cumulativeWork: tip.cumulativeWork,
      };
      await lp.write(encodeMessage({ type: 'status', value: status }));
      await stream.close();
    });
    const topic = gossipTopics(params).blocks;
    peer.services.pubsub.subscribe(topic);
    await peer.dial(multiaddr(addrOf(b)));
    await waitFor('the status exchange on connect', () => statusRequests === 1);
    await waitFor('b to subscribe for the peer', () =>
      peer.services.pubsub.getSubscribers(topic).some((p) => p.toString() === b.p2p.peerId),
    );
    const orphan = src.chain.blockByHeight(2);
    assert.ok(orphan);
    await peer.services.pubsub.publish(topic, compressBlock(encodeBlock(orphan)));
    await waitFor('b to ask the sender for its status', () => statusRequests === 2);
    assert.equal(b.chain.blockByHash(blockHash(orphan.header)), undefined);
    const seen = b.p2p.peers().find((p) => p.id === peer.peerId.toString());
    assert.equal(seen?.score, 0, 'an orphan is no offence');
    assert.ok((seen?.gossipScore ?? -1) >= 0, 'not in gossip either');
    // The parent comes by gossip (this peer serves no sync): the kept block follows it at once.
    const parent = src.chain.blockByHeight(1);
    assert.ok(parent);
    await peer.services.pubsub.publish(topic, compressBlock(encodeBlock(parent)));
    await waitFor('b to import the parent and then the kept block', () => b.chain.tip().height === 2);
    assert.equal(toHex(b.chain.tip().hash), toHex(blockHash(orphan.header)));
  });
});
