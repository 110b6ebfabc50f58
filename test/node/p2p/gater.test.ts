// Eclipse resistance: one host with many keys gets at most a few inbound connections, an inbound
// flood never takes the slots kept for the node's own outbound peers, and a ban holds for the
// address as well as the key.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Connection, Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { dialSource } from '../../../src/node/p2p/discovery.ts';
import { AddressBans, ConnectionGuard, netAddressOf } from '../../../src/node/p2p/gater.ts';
import { SYNC_PROTOCOL } from '../../../src/node/p2p/index.ts';
import { addrOf, canBindLoopback, sameTip, type TestNode, testNet } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';
import { waitFor } from '../../support/wait.ts';

const net = testNet();
after(() => net.close());
const node = net.node;

/** A bare libp2p host (a fresh key) that dials from `ip`. */
async function hostOn(ip: string): Promise<Libp2p> {
  const host = await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp({ dialOpts: dialSource([`/ip4/${ip}/tcp/0`]) })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  });
  return net.keep(host);
}

/** Dials `target` from `count` fresh keys on `ip`; resolves to the hosts that stayed connected. */
async function flood(ip: string, count: number, target: TestNode): Promise<Libp2p[]> {
  const hosts = await Promise.all(Array.from({ length: count }, () => hostOn(ip)));
  await Promise.all(hosts.map((h) => h.dial(multiaddr(addrOf(target))).catch(() => undefined)));
  await new Promise((r) => setTimeout(r, 300));
  return hosts.filter((h) => h.getConnections().length > 0);
}

const fromIp = (n: TestNode, ip: string) =>
  n.p2p.peers().filter((p) => p.direction === 'inbound' && p.addrs.some((a) => a.startsWith(`/ip4/${ip}/`)));

describe('connection gater', () => {
  it('groups addresses by host and network: IPv4 /24, IPv6 /64 and /48, loopback per address', () => {
    assert.deepEqual(netAddressOf('203.0.113.7'), {
      ip: '203.0.113.7',
      host: '203.0.113.7',
      group: '203.0.113',
      loopback: false,
    });
    assert.equal(netAddressOf('::ffff:203.0.113.7')?.group, '203.0.113');
    assert.equal(netAddressOf('127.0.0.66')?.group, '127.0.0.66');
    assert.equal(netAddressOf('::1')?.loopback, true);
    const v6 = netAddressOf('2001:db8:1:2:3::9');
    assert.equal(v6?.host, '2001:db8:1:2::/64');
    assert.equal(v6?.group, '2001:db8:1::/48');
    assert.equal(netAddressOf('2001:db8:1:2:ffff::1')?.host, v6?.host, 'one /64 is one host');
    assert.equal(netAddressOf('not an ip'), undefined);
  });

  it('counts inbound connections per host, per group and in all; this machine is exempt', () => {
    const conns: Connection[] = [];
    const inbound = (ip: string) =>
      ({
        id: String(conns.length),
        direction: 'inbound',
        status: 'open',
        remoteAddr: multiaddr(`/ip4/${ip}/tcp/4000`),
      }) as unknown as Connection;
    const guard = new ConnectionGuard({
      limits: { maxInbound: 6, maxInboundPerIp: 2, maxInboundPerSubnet: 3, unlimited: ['127.0.0.1'] },
      peerBanned: () => false,
      addressBans: new AddressBans(),
      connections: () => conns,
      now: () => 0,
    });
    const refuse = (ip: string) => guard.refuseInbound({ remoteAddr: multiaddr(`/ip4/${ip}/tcp/5000`) });
    conns.push(inbound('10.0.0.1'), inbound('10.0.0.1'));
    assert.match(refuse('10.0.0.1') ?? '', /2 inbound connections from 10.0.0.1/);
    assert.equal(refuse('10.0.0.2'), undefined);
    conns.push(inbound('10.0.0.2'));
    assert.match(refuse('10.0.0.3') ?? '', /3 inbound connections from 10.0.0$/);
    conns.push(inbound('127.0.0.1'), inbound('127.0.0.1'));
    assert.equal(refuse('127.0.0.1'), undefined, 'no per-address limit for this machine');
    conns.push(inbound('10.9.0.1'));
    assert.match(refuse('127.0.0.1') ?? '', /inbound slots full/);
    // A connection let in at the same moment as another is caught once both are counted.
    const late = inbound('10.0.0.1');
    conns.push(late);
    assert.ok(guard.excess(late));
  });

  it('keeps an address ban for its period, and lifts it with the ban of the peer that caused it', () => {
    const bans = new AddressBans();
    bans.ban('10.0.0.1', 1_000, 'bad blocks', 'peer-a', 0);
    bans.ban('10.0.0.2', 5_000, 'operator', 'peer-b', 0);
    assert.ok(bans.isBanned('10.0.0.1', 999));
    assert.ok(!bans.isBanned('10.0.0.1', 1_000));
    bans.unbanPeer('peer-b');
    assert.ok(!bans.isBanned('10.0.0.2', 10));
    assert.deepEqual(bans.banned(10), []);
  });

  it('lets at most 4 of 60 keys on one address in, and the node keeps its outbound peers and hears blocks', async (t) => {
    if (!(await canBindLoopback())) return t.skip('needs loopback addresses beyond 127.0.0.1');
    const params = liveParams();
    const a = await node('a', params);
    const b = await node('b', params, { bootstrap: [addrOf(a)] });
    const target = await node('target', params, { discovery: true, bootstrap: [addrOf(a), addrOf(b)] });
    await waitFor(
      'the target to have two outbound peers',
      () => target.p2p.peers().filter((p) => p.direction === 'outbound').length >= 2,
    );
    const outboundBefore = target.p2p
      .peers()
      .filter((p) => p.direction === 'outbound')
      .map((p) => p.id);

    // Waves a second apart, so libp2p's own limit on new connections per second is not what stops them.
    const inside = new Set<Libp2p>();
    for (let wave = 0; wave < 6; wave++) {
      for (const h of await flood('127.0.0.66', 10, target)) inside.add(h);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const connected = [...inside].filter((h) => h.getConnections().length > 0);
    console.log(`${connected.length} of 60 keys on 127.0.0.66 connected`);
    assert.ok(connected.length <= 4, `${connected.length} sybil connections`);
    assert.ok(fromIp(target, '127.0.0.66').length <= 4);
    assert.ok(connected.length >= 1, 'the address is limited, not refused');

    const outboundAfter = target.p2p
      .peers()
      .filter((p) => p.direction === 'outbound')
      .map((p) => p.id);
    for (const id of outboundBefore) assert.ok(outboundAfter.includes(id), 'outbound peers kept');
    await b.miner.mineBlock();
    await waitFor(
      'the target to hear a block',
      () => sameTip([a, b, target]) && target.chain.tip().height === 1,
    );
  });

  it('never gives the outbound slots to an inbound flood from many addresses', async (t) => {
    if (!(await canBindLoopback())) return t.skip('needs loopback addresses beyond 127.0.0.1');
    const params = liveParams();
    const honest = [await node('h0', params)];
    for (let i = 1; i < 3; i++) honest.push(await node(`h${i}`, params, { bootstrap: [addrOf(honest[0])] }));
    // 10 peers, 3 of them outbound: at most 7 inbound.
    const target = await node('target', params, {
      discovery: true,
      bootstrap: honest.map(addrOf),
      limits: { maxPeers: 10, outboundPeers: 3 },
    });
    await waitFor(
      'the target to fill its 3 outbound slots',
      () => target.p2p.peers().filter((p) => p.direction === 'outbound').length === 3,
    );
    const inside: Libp2p[] = [];
    for (let i = 0; i < 12; i++) inside.push(...(await flood(`127.0.3.${10 + i}`, 2, target)));
    const inbound = target.p2p.peers().filter((p) => p.direction === 'inbound');
    console.log(`flood: ${inside.length} of 24 connected, target has ${inbound.length} inbound`);
    assert.ok(inbound.length <= 7, `${inbound.length} inbound`);
    assert.ok(inside.length <= 7);
    const outbound = target.p2p.peers().filter((p) => p.direction === 'outbound');
    assert.equal(outbound.length, 3, 'the outbound peers are still there');
    assert.deepEqual(outbound.map((p) => p.id).sort(), honest.map((n) => n.p2p.peerId).sort());
  });

  it('refuses a banned peer that comes back with a fresh key from the same address', async (t) => {
    if (!(await canBindLoopback())) return t.skip('needs loopback addresses beyond 127.0.0.1');
    const params = liveParams();
    const a = await node('a', params);
    const evil = await hostOn('127.0.0.77');
    await evil.dial(multiaddr(addrOf(a)));
    const send = async (frame: Uint8Array) => {
      const stream = await evil.dialProtocol(multiaddr(addrOf(a)), SYNC_PROTOCOL);
      await lpStream(stream).write(frame);
      await stream.close().catch(() => undefined);
    };
    await send(new Uint8Array(1_000_000)); // oversized: -60
    await send(new Uint8Array(1_000_000)); // -120: banned
    await waitFor('a to ban the sender', () => a.p2p.banned().some((x) => x.peer === evil.peerId.toString()));
    await waitFor('the sender to be disconnected', () => evil.getConnections().length === 0);

    const fresh = await hostOn('127.0.0.77');
    await assert.rejects(fresh.dial(multiaddr(addrOf(a))), 'a fresh key on the banned address is refused');
    assert.equal(fresh.getConnections().length, 0);
    assert.equal(fromIp(a, '127.0.0.77').length, 0);

    const neighbour = await hostOn('127.0.0.78');
    await neighbour.dial(multiaddr(addrOf(a)));
    await waitFor('a key on another address to get in', () => fromIp(a, '127.0.0.78').length === 1);

    // Lifting the peer's ban lifts the address ban it caused.
    a.p2p.unban(evil.peerId.toString());
    await fresh.dial(multiaddr(addrOf(a)));
    await waitFor('the address to be let in again', () => fromIp(a, '127.0.0.77').length === 1);
  });
});
