// The isolation judgement, pure: a node that hears nobody, whose peers relay nothing, whose chain
// stopped or that finds most nodes silent at once looks isolated; it counts as connected again
// only after a symptom-free while without a sync; peers that only hold a slot never count.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createParams, devnet, mainnet } from '../../../src/core/params/index.ts';
import {
  type Isolation,
  type IsolationSignals,
  isolationRules,
  isolationSymptoms,
  judgeIsolation,
  PeerDeliveries,
  startingIsolation,
} from '../../../src/node/liveness/isolation.ts';

const rules = isolationRules(devnet); // 1 peer, 20 s without a block, more than half silent, 7 s to recover

/** A well-connected devnet node at time `now`. */
function healthy(now: number, over: Partial<IsolationSignals> = {}): IsolationSignals {
  return {
    now,
    peers: 8,
    deliveringPeers: 5,
    lastBlockAt: now - 1_000,
    syncing: false,
    tracked: 10,
    silent: 1,
    ...over,
  };
}

/** Judges a sequence of signals from `from`. */
function run(from: Isolation, steps: IsolationSignals[]): Isolation {
  return steps.reduce((state, s) => judgeIsolation(state, s, rules), from);
}

const connected: Isolation = { isolated: false, since: 0, reasons: [] };

describe('isolation judgement', () => {
  it('takes its rules from the network params', () => {
    assert.deepEqual(isolationRules(devnet), {
      minPeers: 1,
      peerWindowMs: 4_000,
      staleMs: 20_000,
      blockTimeMs: 2_000,
      maxSilentBps: 5_000,
      recoverMs: 7_000,
    });
    assert.equal(isolationRules(mainnet).staleMs, 600_000);
    assert.equal(isolationRules(mainnet).minPeers, 3);
    assert.equal(
      isolationRules(mainnet).peerWindowMs,
      60_000,
      'two 30 s blocks: longer than the 35 s timeout',
    );
  });

  it('sees nothing wrong on a healthy node', () => {
    assert.deepEqual(isolationSymptoms(healthy(100_000), rules), []);
    assert.equal(judgeIsolation(connected, healthy(100_000), rules), connected);
  });

  it('is isolated at once when 50 connected peers deliver nothing (a sybil flood)', () => {
    const next = judgeIsolation(connected, healthy(100_000, { peers: 50, deliveringPeers: 0 }), rules);
    assert.equal(next.isolated, true);
    assert.equal(next.since, 100_000);
    assert.deepEqual(next.reasons, ['no peer delivered a block or heartbeat in 4.0 s (50 connected)']);
  });

  it('needs minPeers delivering peers (mainnet 3)', () => {
    const main = isolationRules(mainnet);
    const s = { ...healthy(1e6), deliveringPeers: 2, lastBlockAt: 1e6 };
    assert.deepEqual(isolationSymptoms(s, main), [
      '2 of 8 connected peers delivered a block or heartbeat in 60 s, fewer than 3',
    ]);
    assert.deepEqual(isolationSymptoms({ ...s, deliveringPeers: 3 }, main), []);
  });

  it('is isolated when no block came for staleBlocks block times', () => {
    assert.deepEqual(isolationSymptoms(healthy(100_000, { lastBlockAt: 80_000 }), rules), []);
    assert.deepEqual(isolationSymptoms(healthy(100_000, { lastBlockAt: 79_999 }), rules), [
      'no new block for 20 s (one expected every 2.0 s)',
    ]);
  });

  it('is isolated when more than the share of tracked nodes is silent at once, not when fewer are', () => {
    // devnet: more than half. On 3 nodes, one dead of the 2 others is reported; both silent is isolation.
    assert.deepEqual(isolationSymptoms(healthy(1e5, { tracked: 2, silent: 1 }), rules), []);
    assert.deepEqual(isolationSymptoms(healthy(1e5, { tracked: 2, silent: 2 }), rules), [
      '2 of 2 other FluxNodes silent (more than 50 %)',
    ]);
    assert.deepEqual(isolationSymptoms(healthy(1e5, { tracked: 3, silent: 1 }), rules), []);
    // mainnet: more than 34 %.
    const main = isolationRules(mainnet);
    const at = (silent: number) =>
      isolationSymptoms({ ...healthy(1e6), lastBlockAt: 1e6, tracked: 1000, silent }, main);
    assert.deepEqual(at(340), []);
    assert.deepEqual(at(341), ['341 of 1000 other FluxNodes silent (more than 34 %)']);
    assert.deepEqual(
      isolationSymptoms(healthy(1e5, { tracked: 0, silent: 0 }), rules),
      [],
      'no nodes, no share',
    );
  });

  it('names every symptom at once: a node whose cable was cut', () => {
    const cut = healthy(100_000, { peers: 0, deliveringPeers: 0, lastBlockAt: 60_000, silent: 10 });
    assert.deepEqual(judgeIsolation(connected, cut, rules).reasons, [
      'no peer delivered a block or heartbeat in 4.0 s (0 connected)',
      'no new block for 40 s (one expected every 2.0 s)',
      '10 of 10 other FluxNodes silent (more than 50 %)',
    ]);
  });

  it('counts as connected again only after recoverMs without symptoms, and does not flap', () => {
    const cut = judgeIsolation(connected, healthy(10_000, { deliveringPeers: 0 }), rules);
    assert.equal(cut.isolated, true);
    const back = judgeIsolation(cut, healthy(11_000), rules);
    assert.equal(back.isolated, true, 'a first good look is not enough');
    assert.equal(back.clearSince, 11_000);
    assert.deepEqual(back.reasons, ['connected again for 0.0 s of the 7.0 s it waits']);
    // A relapse restarts the wait.
    const relapse = run(back, [healthy(15_000), healthy(16_000, { silent: 6 }), healthy(17_000)]);
    assert.equal(relapse.isolated, true);
    assert.equal(relapse.clearSince, 17_000);
    assert.equal(relapse.since, 10_000, 'still the same isolated spell');
    assert.equal(judgeIsolation(relapse, healthy(23_999), rules).isolated, true);
    const ok = judgeIsolation(relapse, healthy(24_000), rules);
    assert.deepEqual(ok, { isolated: false, since: 24_000, reasons: [] });
  });

  it('a node catching up (sync running) stays isolated until the sync is done, and then waits', () => {
    const cut = judgeIsolation(connected, healthy(10_000, { deliveringPeers: 0 }), rules);
    const syncing = run(cut, [healthy(11_000, { syncing: true }), healthy(30_000, { syncing: true })]);
    assert.equal(syncing.isolated, true);
    assert.deepEqual(syncing.reasons, ['catching up with a peer (sync running)']);
    assert.equal(judgeIsolation(syncing, healthy(31_000), rules).isolated, true, 'waits after the sync');
    assert.equal(run(syncing, [healthy(31_000), healthy(38_000)]).isolated, false);
  });

  it('a connected node that syncs a block is not called isolated', () => {
    assert.equal(judgeIsolation(connected, healthy(10_000, { syncing: true }), rules), connected);
  });

  it('starts isolated and connects after recoverMs of hearing the network', () => {
    const start = startingIsolation(0);
    assert.deepEqual(start.reasons, ['just started']);
    const early = judgeIsolation(start, healthy(1_000, { deliveringPeers: 0 }), rules);
    assert.deepEqual(early.reasons, ['no peer delivered a block or heartbeat in 4.0 s (8 connected)']);
    assert.equal(early.since, 0);
    assert.equal(run(early, [healthy(2_000), healthy(9_000)]).isolated, false);
  });
});

describe('peer deliveries', () => {
  it('counts only connected peers that delivered within the window', () => {
    const d = new PeerDeliveries();
    d.record('a', 1_000);
    d.record('b', 5_000);
    d.record('gone', 5_000);
    assert.equal(d.count(['a', 'b', 'sybil1', 'sybil2'], 2_000), 1);
    assert.equal(d.count(['a', 'b'], 1_000), 2);
    d.forget('b');
    assert.equal(d.count(['a', 'b'], 0), 1);
  });

  it('forgets the least recently heard peer beyond its capacity', () => {
    const d = new PeerDeliveries(2);
    d.record('a', 1);
    d.record('b', 2);
    d.record('a', 3);
    d.record('c', 4);
    assert.equal(d.count(['a', 'b', 'c'], 0), 2);
    assert.equal(d.count(['b'], 0), 0);
  });

  it('counts an accepted heartbeat for the peer that relayed it, not an ignored or rejected one', () => {
    const d = new PeerDeliveries();
    const verdicts = ['accept', 'ignore', { reject: 'bad' }] as const;
    let i = 0;
    const judge = d.counting({ judge: () => verdicts[i++] }, () => 7);
    assert.equal(judge.judge(new Uint8Array(), 'honest'), 'accept');
    assert.equal(judge.judge(new Uint8Array(), 'repeat'), 'ignore');
    assert.deepEqual(judge.judge(new Uint8Array(), 'rogue'), { reject: 'bad' });
    assert.equal(d.count(['honest'], 7), 1);
    assert.equal(d.count(['repeat', 'rogue'], 0), 0);
  });
});

describe('isolation params', () => {
  it('every preset has them', () => {
    for (const p of [mainnet, devnet, createParams(devnet, {})]) {
      const { minPeers, staleBlocks, maxSilentBps, recoverMs } = p.nodes.isolation;
      assert.ok(minPeers >= 1 && staleBlocks >= 1 && recoverMs > 0);
      assert.ok(maxSilentBps > 0 && maxSilentBps < 10_000);
    }
  });
});
