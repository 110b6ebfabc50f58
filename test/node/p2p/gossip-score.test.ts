// Gossipsub's score as we configure it, computed by gossipsub's own PeerScore, and the bounded
// batch queue that gossiped transactions wait in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RPC } from '@libp2p/gossipsub/message';
import {
  PeerScore,
  type PeerScoreParams,
  validatePeerScoreParams,
  validatePeerScoreThresholds,
} from '@libp2p/gossipsub/score';
import { RejectReason } from '@libp2p/gossipsub/types';
import type { ComponentLogger } from '@libp2p/interface';
import { BatchQueue } from '../../../src/node/p2p/batch-queue.ts';
import {
  DISCONNECT_SCORE,
  fastMessageId,
  GOSSIP_THRESHOLDS,
  gossipScoreParams,
} from '../../../src/node/p2p/gossip-score.ts';

const topics = { blocks: '/t/blocks/1', txs: '/t/txs/1', heartbeats: '/t/heartbeats/1' };
const params = gossipScoreParams({
  topics,
  ipColocationThreshold: 2,
  ipColocationWhitelist: ['127.0.0.1'],
  retainScoreMs: 60_000,
});

const quiet = (): ComponentLogger =>
  ({
    forComponent: () => Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }),
  }) as unknown as ComponentLogger;

function scorer(p: PeerScoreParams = params): PeerScore {
  return new PeerScore(p, null, quiet(), { scoreCacheValidityMs: 0 });
}

/** The peer's score after `n` invalid messages on `topic`. */
function afterInvalid(topic: string, n: number): number {
  const s = scorer();
  s.addPeer('p');
  for (let i = 0; i < n; i++) s.rejectMessage('p', `m${i}`, topic, RejectReason.Error);
  return s.score('p');
}

describe('gossip score', () => {
  it('passes gossipsub’s own checks, with the mesh-delivery penalties (P3, P3b) off on every topic', () => {
    validatePeerScoreParams(params);
    validatePeerScoreThresholds(GOSSIP_THRESHOLDS);
    for (const t of Object.values(params.topics)) {
      assert.equal(t.meshMessageDeliveriesWeight, 0);
      assert.equal(t.meshFailurePenaltyWeight, 0);
    }
    assert.ok(DISCONNECT_SCORE < GOSSIP_THRESHOLDS.graylistThreshold, 'graylisted before banned');
  });

  it('bans after two invalid blocks, four invalid transactions, eight refused heartbeats, not one fewer', () => {
    for (const [topic, n] of [
      [topics.blocks, 2],
      [topics.txs, 4],
      [topics.heartbeats, 8],
    ] as const) {
      assert.ok(afterInvalid(topic, n) <= DISCONNECT_SCORE, `${topic} after ${n}: ${afterInvalid(topic, n)}`);
      assert.ok(afterInvalid(topic, n - 1) > DISCONNECT_SCORE, `${topic} after ${n - 1}`);
    }
    assert.ok(
      afterInvalid(topics.heartbeats, 1) > GOSSIP_THRESHOLDS.gossipThreshold,
      'one stray costs little',
    );
  });

  it('never lowers a peer for valid messages, however many', () => {
    const s = scorer();
    s.addPeer('p');
    s.graft('p', topics.txs);
    for (let i = 0; i < 10_000; i++) {
      s.validateMessage(`m${i}`);
      s.deliverMessage('p', `m${i}`, topics.txs);
    }
    s.refreshScores();
    assert.ok(s.score('p') > 0);
    assert.ok(s.score('p') <= 20, 'positive score is capped');
  });

  it('lowers peers crowded on one IP beyond the threshold, except whitelisted IPs', () => {
    const s = scorer();
    for (const id of ['a', 'b', 'c', 'd']) {
      s.addPeer(id);
      s.addIP(id, '203.0.113.7');
    }
    for (const id of ['e', 'f', 'g', 'h']) {
      s.addPeer(id);
      s.addIP(id, '127.0.0.1');
    }
    assert.equal(s.score('a'), -15 * 2 * 2, 'four on one IP, threshold two: 15 × 2²');
    assert.equal(s.score('e'), 0);
  });

  it('gives exact re-sends one fast id, and new envelopes of the same data new ones', () => {
    const msg = (seqno: number): RPC.Message => ({
      topic: topics.heartbeats,
      from: new Uint8Array([1, 2, 3]),
      seqno: new Uint8Array([0, 0, 0, seqno]),
      data: new Uint8Array([9]),
    });
    assert.equal(fastMessageId(msg(1)), fastMessageId(msg(1)));
    assert.notEqual(fastMessageId(msg(1)), fastMessageId(msg(2)));
  });
});

describe('batch queue', () => {
  it('judges items in batches, in order, a full batch at once and a partial one after the wait', async () => {
    const batches: number[][] = [];
    const q = new BatchQueue<number, string>(
      { maxPending: 100, batchSize: 4, waitMs: 20 },
      (items) => {
        batches.push(items);
        return items.map((i) => `ok ${i}`);
      },
      'dropped',
    );
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => q.push(i)));
    assert.deepEqual(results, ['ok 1', 'ok 2', 'ok 3', 'ok 4', 'ok 5', 'ok 6']);
    assert.deepEqual(batches, [
      [1, 2, 3, 4],
      [5, 6],
    ]);
  });

  it('refuses items beyond its bound at once, and everything after close', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const q = new BatchQueue<number, string>(
      { maxPending: 3, batchSize: 2, waitMs: 0 },
      async (items) => {
        await gate;
        return items.map(() => 'ok');
      },
      'dropped',
    );
    const first = [q.push(1), q.push(2)]; // taken into a batch that waits on the gate
    await new Promise((r) => setImmediate(r));
    const waiting = [q.push(3), q.push(4), q.push(5)];
    assert.equal(await q.push(6), 'dropped', 'the fourth waiting item is one too many');
    assert.equal(q.dropped, 1);
    release();
    assert.deepEqual(await Promise.all([...first, ...waiting]), ['ok', 'ok', 'ok', 'ok', 'ok']);
    q.close();
    assert.equal(await q.push(7), 'dropped');
  });
});
