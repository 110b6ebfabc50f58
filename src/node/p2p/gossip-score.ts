// Gossipsub's own peer scoring, configured for our three topics. It replaces a per-peer message
// rate limit, which banned honest relays during a burst of valid transactions: here a peer loses
// score only for what it did wrong (invalid messages, broken IHAVE promises, too many peers on one
// IP), never for how many valid messages it relays.
import type { RPC } from '@libp2p/gossipsub/message';
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score';
import type { PublishOpts } from '@libp2p/gossipsub/types';
import { toHex } from '../../core/crypto/hash.ts';

/**
 * Below `gossipThreshold` we exchange no IHAVE/IWANT with a peer, below `publishThreshold` we do
 * not flood our own messages to it, below `graylistThreshold` its RPCs are dropped before any
 * validation; at or below DISCONNECT_SCORE it is disconnected and banned (checked each gossipsub
 * heartbeat). The ban sits below the graylist so a peer that slipped there once can recover
 * while its penalties decay, and a flooder, whose penalty grows with the square of its count,
 * falls through both at once.
 */
export const GOSSIP_THRESHOLDS: PeerScoreThresholds = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  // Peer exchange is off (doPX false); opportunistic grafting replaces mesh peers scoring below this.
  acceptPXThreshold: 100,
  opportunisticGraftThreshold: 5,
};
export const DISCONNECT_SCORE = -100;

/**
 * P4 (invalid messages) per topic: the penalty is weight × count², the count decaying by `decay`
 * each second. An invalid block is never honest (we relay a block only after importing it, and
 * its work is checked first): two cost a ban, and the count halves in about 69 s. An invalid
 * transaction is one no state could make valid: four cost a ban. A heartbeat is refused for
 * reasons an honest relay can occasionally share (it forwarded an older heartbeat of a node that
 * reached us first by a faster path), so its count decays fast: a stray a second keeps a relay at
 * about -200 (banned), one every ten seconds at -2; a replay flood of hundreds a second is banned
 * within a heartbeat of gossipsub.
 */
export const INVALID_MESSAGES = {
  blocks: { weight: -40, decay: 0.99 },
  txs: { weight: -10, decay: 0.99 },
  heartbeats: { weight: -2, decay: 0.9 },
} as const;

/** Positive score (P1 time in mesh, P2 first deliveries) is capped: a buffer, not immunity. */
const TOPIC_SCORE_CAP = 20;

export interface GossipScoreOptions {
  topics: { blocks: string; txs: string; heartbeats: string };
  /** P6: peers from one IP beyond this many each lose (surplus² × 15) points. */
  ipColocationThreshold: number;
  /** IPs exempt from P6 (loopback by default: peers on this machine are not remote sybils). */
  ipColocationWhitelist: string[];
  /** How long a disconnected peer's non-positive score is remembered (the ban length). */
  retainScoreMs: number;
}

function topicParams(invalid: { weight: number; decay: number }): TopicScoreParams {
  return {
    topicWeight: 1,
    // P1: up to +3 for ten minutes in the mesh.
    timeInMeshWeight: 0.005,
    timeInMeshQuantum: 1_000,
    timeInMeshCap: 600,
    // P2: up to +10 for delivering messages first.
    firstMessageDeliveriesWeight: 0.5,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 20,
    // P3 and P3b off: they punish a mesh peer for delivering too few messages, and our topics are
    // quiet for long stretches (a block every 30 s, transactions when users send them).
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 1,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5_000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: invalid.weight,
    invalidMessageDeliveriesDecay: invalid.decay,
  };
}

export function gossipScoreParams(o: GossipScoreOptions): PeerScoreParams {
  return {
    topics: {
      [o.topics.blocks]: topicParams(INVALID_MESSAGES.blocks),
      [o.topics.txs]: topicParams(INVALID_MESSAGES.txs),
      [o.topics.heartbeats]: topicParams(INVALID_MESSAGES.heartbeats),
    },
    topicScoreCap: TOPIC_SCORE_CAP,
    // P5 unused: offences on the sync and job-data protocols have their own score (PeerBook).
    appSpecificScore: () => 0,
    appSpecificWeight: 0,
    IPColocationFactorWeight: -15,
    IPColocationFactorThreshold: o.ipColocationThreshold,
    IPColocationFactorWhitelist: new Set(o.ipColocationWhitelist),
    // P7: GRAFT during a backoff, IHAVE promises not kept within 3 s, (count - 20)² × 0.05 with the
    // count decaying 10 %/s. An overloaded honest peer on slow links breaks a few a second (5/s
    // costs 45: never graylisted); an IHAVE spammer breaks hundreds (100/s costs about 48,000).
    // At weight -1 and threshold 6 the chaos suite saw honest relays banned under a burst.
    behaviourPenaltyWeight: -0.05,
    behaviourPenaltyThreshold: 20,
    behaviourPenaltyDecay: 0.9,
    decayInterval: 1_000,
    decayToZero: 0.1,
    retainScore: o.retainScoreMs,
  };
}

/**
 * A fast message id for gossipsub's duplicate cache, read before the envelope signature is checked:
 * with the default id (also author + sequence number) a peer re-sending one signed envelope made us
 * verify its signature every time. A message lacking either field fails StrictSign validation and
 * never enters the cache, so the empty id cannot shadow a real message.
 */
export function fastMessageId(msg: RPC.Message): string {
  if (msg.from === undefined || msg.seqno === undefined) return '';
  return toHex(msg.from) + toHex(msg.seqno);
}

/** What the gossipsub service object offers beyond the interface its factory is typed with. */
export interface ScoredGossip {
  getScore(peerId: string): number;
  publish(topic: string, data: Uint8Array, opts?: PublishOpts): Promise<unknown>;
}

export function asScoredGossip(service: object): ScoredGossip {
  const s = service as Partial<ScoredGossip>;
  if (typeof s.getScore !== 'function' || typeof s.publish !== 'function')
    throw new Error(
      'the gossipsub service has no getScore: a @libp2p/gossipsub version this code does not know',
    );
  return s as ScoredGossip;
}
