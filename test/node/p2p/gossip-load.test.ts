// Gossip under load: a burst of valid transactions is relayed whole and costs no peer its
// standing, while invalid transactions still cost the peer that sends them.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { encodeTx, txId } from '../../../src/core/codec/ids.ts';
import type { Tx } from '../../../src/core/codec/types.ts';
import { COIN } from '../../../src/core/params/index.ts';
import { gossipTopics } from '../../../src/node/p2p/index.ts';
import { testKey } from '../../support/keys.ts';
import { addrOf, sameTip, type TestNode, testNet } from '../../support/p2p.ts';
import { testParams } from '../../support/params.ts';
import { payment } from '../../support/tx.ts';
import { waitFor } from '../../support/wait.ts';

const net = testNet();
after(() => net.close());
const node = net.node;

const rawHost = net.rawHost;

const SENDERS = Array.from({ length: 10 }, (_, i) => testKey(40 + i));
const PER_SENDER = 1_000;

const burstParams = () =>
  testParams(SENDERS, { genesisTime: Date.now() - 20 * 60 * 1000, pow: 'unpaced', amount: 100n * COIN });

describe('gossip under load', () => {
  it('relays a burst of 10,000 valid transfers to a peer whole, without penalty or disconnect', async () => {
    const params = burstParams();
    const a = await node('a', params);
    const b = await node('b', params, { bootstrap: [addrOf(a)] });
    await waitFor('a and b connected', () => a.p2p.peers().length === 1 && b.p2p.peers().length === 1);
    const topic = gossipTopics(params).txs;
    await waitFor('b in a’s transaction mesh', () =>
      a.p2p.peers().some((p) => p.id === b.p2p.peerId && p.gossipScore >= 0),
    );
    await new Promise((r) => setTimeout(r, 1_200)); // a gossipsub heartbeat: both in each other's mesh
    const trouble: string[] = [];
    for (const n of [a, b]) {
      n.p2p.on('peer:ban', (peer, why) => trouble.push(`${n.name} banned ${peer}: ${why}`));
      n.p2p.on('peer:disconnect', (peer) => trouble.push(`${n.name} lost ${peer}`));
    }
    let arrived = 0;
    b.p2p.on('gossip:tx', () => {
      arrived++;
    });

    const txs: Tx[] = [];
    for (let n = 0; n < PER_SENDER; n++) for (const k of SENDERS) txs.push(payment(params, k, n, 1n));
    const cpu = process.cpuUsage();
    const started = Date.now();
    // As fast as an API could take them: a batch per turn of the event loop.
    for (let i = 0; i < txs.length; i++) {
      assert.ok(a.chain.submitTx(txs[i]).ok);
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await waitFor(`all ${txs.length} transfers at b (topic ${topic})`, () => arrived === txs.length, 120_000);
    const ms = Date.now() - started;
    const used = process.cpuUsage(cpu);
    console.log(
      `${txs.length} transfers relayed a -> b in ${ms} ms (${Math.round((txs.length * 1000) / ms)}/s), ` +
        `${((used.user + used.system) / 1000).toFixed(0)} ms CPU for both nodes`,
    );
    for (const tx of txs) assert.ok(b.chain.mempoolTx(txId(tx)), 'every transfer is in b’s mempool');
    assert.deepEqual(trouble, [], 'nobody banned or disconnected');
    for (const [n, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const info = n.p2p.peers().find((p) => p.id === other.p2p.peerId);
      assert.ok(info, `${n.name} still connected to ${other.name}`);
      assert.equal(info.score, 0, 'no protocol offence');
      assert.ok(info.gossipScore >= 0, `${n.name} scores ${other.name} ${info.gossipScore}`);
    }

    // The chain goes on: b mines some of them, a follows.
    const block = await b.miner.mineBlock();
    assert.ok(block.txs.length > 0);
    await waitFor('a to take b’s block', () => sameTip([a, b]));
  });

  it('scores down peers crowded on one IP, unless the IP is whitelisted (loopback by default)', async () => {
    const params = burstParams();
    const strict = await node('strict', params, {
      limits: { ipColocationWhitelist: [], ipColocationThreshold: 1 },
    });
    const lenient = await node('lenient', params);
    const topic = gossipTopics(params).blocks;
    const crowd = await Promise.all([0, 1, 2].map(() => rawHost()));
    for (const host of crowd) {
      host.services.pubsub.subscribe(topic);
      await host.dial(multiaddr(addrOf(strict)));
      await host.dial(multiaddr(addrOf(lenient)));
    }
    const crowdIds = new Set(crowd.map((h) => h.peerId.toString()));
    const scores = (n: TestNode) =>
      n.p2p
        .peers()
        .filter((p) => crowdIds.has(p.id))
        .map((p) => p.gossipScore);
    // Three peers from 127.0.0.1 against a threshold of one: each loses 15 × 2² points.
    await waitFor('the strict node to score the crowd down', () => {
      const s = scores(strict);
      return s.length === 3 && s.every((x) => x <= -60);
    });
    assert.ok(
      scores(lenient).every((x) => x >= 0),
      `the default whitelist spares loopback: ${scores(lenient)}`,
    );
  });

  it('still bans a peer that gossips transactions no state could make valid', async () => {
    const params = burstParams();
    const a = await node('a', params);
    const evil = await rawHost();
    const topic = gossipTopics(params).txs;
    evil.services.pubsub.subscribe(topic);
    await evil.dial(multiaddr(addrOf(a)));
    await waitFor('a to subscribe for the rogue', () =>
      evil.services.pubsub.getSubscribers(topic).some((p) => p.toString() === a.p2p.peerId),
    );
    const bans: string[] = [];
    a.p2p.on('peer:ban', (peer, why) => bans.push(`${peer} ${why}`));
    // Each is a valid transfer with one bit of its signature flipped: BAD_SIGNATURE.
    for (let n = 0; n < 6; n++) {
      const tx = payment(params, SENDERS[n], 0, 1n);
      tx.signature[0] ^= 1;
      await evil.services.pubsub.publish(topic, encodeTx(tx));
    }
    await waitFor('a to ban the rogue', () => bans.some((b) => b.startsWith(evil.peerId.toString())));
    assert.match(bans[0], /gossip score/);
    await waitFor('the rogue to be disconnected', () => evil.getConnections().length === 0);
  });
});
