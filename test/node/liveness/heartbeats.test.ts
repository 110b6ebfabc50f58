// Real nodes (SQLite, libp2p on loopback) that are FluxNodes at genesis gossip heartbeats: each
// sees the others alive, a node that stops is down within the timeout, one that comes back is
// taken back after the hold-down, heartbeats nobody should send cost the relaying peer, and a
// peer that floods replayed heartbeats is cut off at little cost.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { nodeIdOf } from '../../../src/core/nodes/lifecycle.ts';
import { type ChainParams, createParams } from '../../../src/core/params/index.ts';
import { openChain } from '../../../src/node/chain/chain.ts';
import { loadOrCreateOperatorKey, operatorKeyFile } from '../../../src/node/fluxnode/operator.ts';
import { encodeHeartbeat } from '../../../src/node/liveness/heartbeat.ts';
import type { FluxNode } from '../../../src/node/node.ts';
import { createP2P, gossipTopics, type P2P } from '../../../src/node/p2p/index.ts';
import { devnetFluxNodes, startFluxNode } from '../../support/fluxnodes.ts';
import { filledKey } from '../../support/keys.ts';
import { canBind, rawHost, recordTopic } from '../../support/p2p.ts';
import { waitFor } from '../../support/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'openflux-liveness-'));
const open: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const n of open) await n.close().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

const LIVENESS = { heartbeatMs: 200, timeoutMs: 800, holdDownMs: 1_500, maxSkewMs: 30_000 };

function networkOf(count: number): { params: ChainParams; dirs: string[]; ids: string[] } {
  const dirs = Array.from({ length: count }, (_, i) => join(root, `n${i}-${Date.now()}`));
  const { params: base } = devnetFluxNodes(dirs);
  const params = createParams(base, { nodes: { ...base.nodes, liveness: LIVENESS } });
  const probe = openChain({ params, dbPath: join(root, `probe-${Date.now()}.db`) });
  const ids = probe.fluxNodes().map((n) => n.id);
  probe.close();
  return { params, dirs, ids };
}

async function start(params: ChainParams, dir: string, bootstrap: string[] = []): Promise<FluxNode> {
  const node = await startFluxNode(params, dir, bootstrap);
  open.push(node);
  return node;
}

describe('heartbeats between real nodes', () => {
  it('sees every node alive, a stopped one down within the timeout, and takes it back after the hold-down', async () => {
    const { params, dirs } = networkOf(3);
    const a = await start(params, dirs[0]);
    const b = await start(params, dirs[1], [a.p2p!.multiaddrs()[0]]);
    let c = await start(params, dirs[2], [a.p2p!.multiaddrs()[0]]);
    const idOf = (n: FluxNode) => n.chain.fluxNodesOfOperator(n.operatorKey!)[0].id;
    const [ia, ib, ic] = [idOf(a), idOf(b), idOf(c)];
    await waitFor('A to hear B and C', () =>
      a.liveness.get(ib)?.lastHeard && a.liveness.get(ic)?.lastHeard ? true : undefined,
    );
    assert.equal(a.liveness.isAlive(ib), true);
    assert.equal(a.liveness.isAlive(ia), true, 'a node is always alive in its own view');
    await waitFor('B to hear C through A', () => (b.liveness.get(ic)?.lastHeard ? true : undefined));

    await c.close();
    const stoppedAt = Date.now();
    await waitFor('A and B to see C down', () =>
      !a.liveness.isAlive(ic) && !b.liveness.isAlive(ic) ? true : undefined,
    );
    const detectMs = Date.now() - stoppedAt;
    assert.equal(a.liveness.get(ic)?.state, 'down');
    assert.equal(a.liveness.isAlive(ib), true, 'B stays alive');
    console.log(
      `a stopped node was down in both views after ${detectMs} ms (timeout ${LIVENESS.timeoutMs} ms)`,
    );

    c = await start(params, dirs[2], [a.p2p!.multiaddrs()[0]]);
    await waitFor('A to hear C again', () => (a.liveness.get(ic)?.state === 'returning' ? true : undefined));
    assert.equal(a.liveness.isAlive(ic), false, 'not taken back before the hold-down');
    const backMs = await waitFor('A to take C back', () => (a.liveness.isAlive(ic) ? true : undefined));
    assert.ok(backMs >= LIVENESS.holdDownMs - 2 * LIVENESS.heartbeatMs, `taken back after ${backMs} ms`);
  });

  it('refuses heartbeats of unknown nodes, of other keys, far off the clock and replayed, and penalises the peer', async () => {
    const { params, dirs } = networkOf(2);
    const a = await start(params, dirs[0]); // B's node is confirmed at genesis, but B never runs
    const stranger = filledKey(9);
    const operatorB = loadOrCreateOperatorKey(operatorKeyFile(dirs[1]));
    const nodeB = a.chain.fluxNodesOfOperator(operatorB.publicKey)[0].id;
    const judge = (bytes: Uint8Array) => JSON.stringify(a.liveness.judge.judge(bytes, 'test'));
    const hb = (node: string, time = Date.now()) => ({
      chainId: params.chainId,
      node,
      time,
      height: 0,
      running: [],
    });
    const unknown = nodeIdOf(new Uint8Array(20).fill(1), 0);
    assert.match(judge(encodeHeartbeat(hb(unknown), stranger)), /unknown node/);
    assert.match(judge(encodeHeartbeat(hb(nodeB), stranger)), /not signed by its operator/);
    assert.match(judge(new Uint8Array([1, 2, 3])), /malformed/);
    assert.match(judge(encodeHeartbeat(hb(nodeB, Date.now() - 60_000), operatorB)), /ms off our clock/);

    const stamp = Date.now();
    const genuine = encodeHeartbeat(hb(nodeB, stamp), operatorB);
    assert.equal(judge(genuine), '"accept"');
    assert.match(judge(genuine), /replayed/, 'the same heartbeat again is a replay');
    assert.match(
      judge(encodeHeartbeat(hb(nodeB, stamp), stranger)),
      /replayed/,
      'a replayed stamp is refused before its signature is checked',
    );
    assert.equal(
      judge(encodeHeartbeat(hb(nodeB, stamp + 1), operatorB)),
      '"ignore"',
      'a second beat within half an interval is dropped, no offence',
    );
    assert.equal(
      judge(encodeHeartbeat(hb(nodeB, stamp + LIVENESS.heartbeatMs), operatorB)),
      '"accept"',
      'the next beat is news',
    );
    assert.equal(
      judge(encodeHeartbeat(hb(nodeB, stamp + LIVENESS.heartbeatMs / 2), operatorB)),
      '"ignore"',
      'an older stamp never accepted came by a slower path: stale, no offence',
    );
    assert.match(judge(genuine), /replayed/, 'a stamp accepted before stays a replay');

    // A peer that gossips such heartbeats loses gossip score at A.
    const chain = openChain({ params, dbPath: join(root, `rogue-${Date.now()}.db`) });
    const rogue: P2P = await createP2P({
      chain,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [a.p2p!.multiaddrs()[0]],
    });
    await rogue.start();
    open.push({
      async close() {
        await rogue.stop();
        chain.close();
      },
    });
    await waitFor('the rogue to connect', () => (a.p2p!.peers().length > 0 ? true : undefined));
    await waitFor('A to penalise the rogue', () => {
      rogue.publishHeartbeat(encodeHeartbeat(hb(unknown), stranger));
      const penalised = (a.p2p!.peers().find((p) => p.id === rogue.peerId)?.gossipScore ?? 0) < 0;
      return penalised || a.p2p!.banned().some((b) => b.peer === rogue.peerId) ? true : undefined;
    });
  });

  it('cuts off a peer that floods replayed heartbeats, cheaply, while honest heartbeats flow', async () => {
    const { params, dirs } = networkOf(2);
    const a = await start(params, dirs[0]);
    const b = await start(params, dirs[1], [a.p2p!.multiaddrs()[0]]);
    const nodeB = b.chain.fluxNodesOfOperator(b.operatorKey!)[0].id;
    await waitFor('A to hear B', () => (a.liveness.get(nodeB)?.lastHeard ? true : undefined));

    // The rogue speaks plain gossipsub: it records the heartbeats it hears, then sends them again,
    // each in a new envelope of its own (so gossipsub's duplicate cache does not stop them).
    // From a loopback address of its own where there are several (Linux): A bans the address it
    // floods from, which must not be the honest nodes' 127.0.0.1.
    const host = (await canBind('127.0.9.1')) ? '127.0.9.1' : '127.0.0.1';
    const rogue = await rawHost({ from: host, publishToZeroPeers: false });
    open.push({
      async close() {
        await rogue.stop();
      },
    });
    const topic = gossipTopics(params).heartbeats;
    const recorded = recordTopic(rogue, topic);
    await rogue.dial(multiaddr(a.p2p!.multiaddrs()[0]));
    await waitFor('the rogue to record heartbeats', () => (recorded.length >= 6 ? true : undefined));

    const verdicts = new Map<string, number>();
    const inner = a.liveness.judge.judge.bind(a.liveness.judge);
    a.liveness.judge.judge = (data, from) => {
      const verdict = inner(data, from);
      if (from === rogue.peerId.toString()) {
        const kind = typeof verdict === 'string' ? verdict : Object.values(verdict)[0].split(' ')[0];
        verdicts.set(kind, (verdicts.get(kind) ?? 0) + 1);
      }
      return verdict;
    };
    const bans: string[] = [];
    a.p2p!.on('peer:ban', (peer, why) => {
      if (peer === rogue.peerId.toString()) bans.push(why);
    });

    const cpu = process.cpuUsage();
    let sent = 0;
    const flood = recorded.slice();
    // Flood until A hangs up (publishing then fails: no peer left) or 20,000 are sent.
    while (sent < 20_000) {
      try {
        await rogue.services.pubsub.publish(topic, flood[sent % flood.length]);
      } catch {
        break; // no one left to send to
      }
      sent++;
      if (sent % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor('A to ban the rogue', () => (bans.length > 0 ? true : undefined));
    await waitFor('the rogue to be cut off', () => (rogue.getConnections().length === 0 ? true : undefined));
    const used = process.cpuUsage(cpu);
    const judged = [...verdicts.values()].reduce((x, y) => x + y, 0);
    console.log(
      `heartbeat replay flood: ${sent} sent, ${judged} judged (${JSON.stringify(Object.fromEntries(verdicts))}), ` +
        `then banned (${bans[0]}); ${(((used.user + used.system) / 1000) * (1000 / Math.max(1, sent))).toFixed(0)} ms ` +
        'CPU per 1,000 sent, rogue and target together',
    );
    assert.match(bans[0], /gossip score -\d+/);
    assert.ok((verdicts.get('replayed') ?? 0) > 0, 'replays reached the judge and were refused');
    assert.deepEqual(
      [...verdicts.keys()].filter((k) => k !== 'replayed'),
      [],
      'every flood message was refused as a replay, before any signature check',
    );
    assert.ok(judged < sent, 'once graylisted, the rogue’s messages were dropped before validation');

    // B's heartbeats still reach A, and B is alive there.
    const heardAt = a.liveness.get(nodeB)?.lastHeard ?? 0;
    await waitFor('A to hear B again', () =>
      (a.liveness.get(nodeB)?.lastHeard ?? 0) > heardAt ? true : undefined,
    );
    // (rogue and target share this process's one thread, so B may have looked silent meanwhile)
    await waitFor('B alive at A', () => (a.liveness.isAlive(nodeB) ? true : undefined));
    assert.ok(a.p2p!.peers().some((p) => p.id === b.p2p!.peerId && p.gossipScore >= 0));
  });
});
