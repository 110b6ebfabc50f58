// The gossip validators: blocks, transactions (through a bounded batch queue) and heartbeats, and
// the judgement of a transaction from a peer that gossip and the sync protocol's pushes share.
// They only say Accept, Ignore or Reject: a Reject counts against the peer in gossipsub's score
// (P4), which bans it at DISCONNECT_SCORE; valid messages never cost a peer.
import { type TopicValidatorFn, TopicValidatorResult } from '@libp2p/gossipsub';
import type { PeerId } from '@libp2p/interface';
import { blockHash, decodeBlock, decodeTx, txId } from '../../core/codec/ids.ts';
import type { Block, Tx } from '../../core/codec/types.ts';
import { checkBlockWork } from '../../core/consensus/pouw.ts';
import { toHex } from '../../core/crypto/hash.ts';
import type { LedgerErrorCode } from '../../core/ledger/errors.ts';
import type { Chain, ImportResult } from '../chain/types.ts';
import { BatchQueue } from './batch-queue.ts';
import type { Offence, RecentSet } from './peers.ts';
import type { HeartbeatJudge, P2PEvents, P2PLimits } from './types.ts';

/** Transaction errors that no state could make valid: the sender is at fault. */
const INVALID_TX_CODES = new Set<LedgerErrorCode>([
  'BAD_SIGNATURE',
  'BAD_AMOUNT',
  'TOO_LARGE',
  'UNKNOWN_KIND',
  'MALFORMED',
  'WRONG_CHAIN',
]);

export interface GossipValidatorDeps {
  chain: Pick<Chain, 'params' | 'blockByHash' | 'mempoolTx' | 'tx' | 'submitTx'>;
  limits: Pick<P2PLimits, 'maxPendingBlocks' | 'maxPendingTxs' | 'txBatchSize' | 'txBatchWaitMs'>;
  /** Blocks and txs that came from peers: the chain's events for them are not re-published. */
  fromNetwork: RecentSet;
  /** Blocks already accepted for relay, so repeats are ignored rather than relayed again. */
  relayed: RecentSet;
  /** Transactions that reached us from a peer in any way: not ours to announce again. */
  received: RecentSet;
  /** Imports a block from the network (one at a time, shared with sync). */
  importBlock: (block: Block) => Promise<ImportResult>;
  /** Blocks from the network waiting for import. */
  pendingImports: () => number;
  /** Asks a peer where its chain is (it sent a block whose parent we lack). */
  refreshPeer: (peer: PeerId) => void;
  /** Keeps a block whose parent we lack, to import when the parent arrives (OrphanBlocks). */
  keepOrphan: (block: Block, hash: Uint8Array, bytes: number, peer: PeerId) => void;
  /** Whether the peer told us of a chain with more work than ours (it may know nodes we do not). */
  peerAhead: (peer: PeerId) => boolean;
  /** The liveness service's judge; without one heartbeats are ignored, not relayed. */
  heartbeats?: HeartbeatJudge;
  /** Counts an offence on the sync protocol against the peer (PeerBook). */
  penalise: (peer: PeerId, offence: Offence, why: string) => void;
  emit: <E extends keyof P2PEvents>(event: E, ...args: Parameters<P2PEvents[E]>) => void;
}

export interface GossipValidators {
  blocks: TopicValidatorFn;
  txs: TopicValidatorFn;
  heartbeats: TopicValidatorFn;
  /** Transactions pushed on the sync protocol: judged at once, offences counted by the PeerBook. */
  pushedTx: (peer: PeerId, data: Uint8Array) => void;
  /** Stops the transaction queue (what waits in it is ignored). */
  close(): void;
}

export function createGossipValidators(deps: GossipValidatorDeps): GossipValidators {
  const { chain, limits, fromNetwork, relayed, received, emit } = deps;
  const params = chain.params;

  const validateBlock: TopicValidatorFn = async (peer, message) => {
    const data = message.data;
    if (data.length > params.limits.maxBlockBytes) return TopicValidatorResult.Reject;
    let block: Block;
    try {
      block = decodeBlock(data);
    } catch {
      return TopicValidatorResult.Reject;
    }
    const hash = blockHash(block.header);
    const key = toHex(hash);
    if (relayed.has(key)) return TopicValidatorResult.Ignore;
    if (chain.blockByHash(hash) !== undefined) {
      relayed.add(key);
      return TopicValidatorResult.Accept;
    }
    if (!checkBlockWork(block.header, block.proof, chain.params).ok) return TopicValidatorResult.Reject;
    if (chain.blockByHash(block.header.parent) === undefined) {
      deps.keepOrphan(block, hash, data.length, peer);
      deps.refreshPeer(peer);
      return TopicValidatorResult.Ignore;
    }
    if (deps.pendingImports() >= limits.maxPendingBlocks) return TopicValidatorResult.Ignore;
    let result: ImportResult;
    try {
      result = await deps.importBlock(block);
    } catch {
      return TopicValidatorResult.Ignore;
    }
    if (!result.ok) return TopicValidatorResult.Reject;
    relayed.add(key);
    emit('gossip:block', hash, peer.toString());
    return TopicValidatorResult.Accept;
  };

  /** A transaction's bytes from a peer, decoded, or the offence they are. */
  const decodeTxBytes = (
    data: Uint8Array,
  ): { tx: Tx; id: Uint8Array } | { offence: 'oversized' | 'malformed'; why: string } => {
    if (data.length > params.limits.maxTxBytes)
      return { offence: 'oversized', why: `transaction of ${data.length} bytes` };
    try {
      const tx = decodeTx(data);
      return { tx, id: txId(tx) };
    } catch (e) {
      return { offence: 'malformed', why: `transaction does not decode: ${(e as Error).message}` };
    }
  };
  const knownTx = (id: Uint8Array): boolean =>
    chain.mempoolTx(id) !== undefined || chain.tx(id) !== undefined;

  /**
   * Offers a transaction from a peer to the mempool. Gossiped ones are relayed by gossipsub on
   * Accept; pushed ones are not marked as from the network, so the chain's `tx` event announces
   * them. Only a transaction no state could make valid is the sender's fault (Reject).
   */
  const judgeTx = (
    peer: PeerId,
    tx: Tx,
    id: Uint8Array,
    gossiped: boolean,
  ): { verdict: TopicValidatorResult; why?: string } => {
    if (knownTx(id)) return { verdict: TopicValidatorResult.Ignore };
    if (gossiped) fromNetwork.add(toHex(id));
    received.add(toHex(id));
    const result = chain.submitTx(tx);
    if (result.ok) {
      emit('gossip:tx', id, peer.toString());
      return { verdict: TopicValidatorResult.Accept };
    }
    // Nonce, balance and fee depend on state the sender may see differently: not an offence.
    if (!INVALID_TX_CODES.has(result.error.code)) return { verdict: TopicValidatorResult.Ignore };
    return { verdict: TopicValidatorResult.Reject, why: `${result.error.code}: ${result.error.message}` };
  };

  const judgePushedTx = (peer: PeerId, data: Uint8Array): void => {
    const decoded = decodeTxBytes(data);
    if ('offence' in decoded) {
      deps.penalise(peer, decoded.offence, decoded.why);
      return;
    }
    const judged = judgeTx(peer, decoded.tx, decoded.id, false);
    if (judged.verdict === TopicValidatorResult.Reject)
      deps.penalise(peer, 'invalidTx', judged.why ?? 'invalid');
  };

  /**
   * Gossiped transactions wait in a bounded queue and are offered to the mempool in batches, one
   * batch per turn of the event loop; when the queue is full they are ignored (dropped without
   * penalty): a burst of valid transactions costs latency or drops, never an honest peer. The
   * chain checks each signature as it admits the transaction (it has no batch admission yet).
   */
  const txQueue = new BatchQueue<{ peer: PeerId; tx: Tx; id: Uint8Array }, TopicValidatorResult>(
    { maxPending: limits.maxPendingTxs, batchSize: limits.txBatchSize, waitMs: limits.txBatchWaitMs },
    (items) => items.map((item) => judgeTx(item.peer, item.tx, item.id, true).verdict),
    TopicValidatorResult.Ignore,
  );
  const validateTx: TopicValidatorFn = (peer, message) => {
    const decoded = decodeTxBytes(message.data);
    if ('offence' in decoded) return TopicValidatorResult.Reject;
    if (knownTx(decoded.id)) return TopicValidatorResult.Ignore;
    return txQueue.push({ peer, tx: decoded.tx, id: decoded.id });
  };

  /** Heartbeats are judged by the liveness service; without one they are ignored, not relayed. */
  const validateHeartbeat: TopicValidatorFn = (peer, message) => {
    const verdict = deps.heartbeats?.judge(message.data, peer.toString()) ?? 'ignore';
    if (verdict === 'accept') return TopicValidatorResult.Accept;
    if (verdict === 'ignore') return TopicValidatorResult.Ignore;
    // A node unknown here may be known at a peer whose chain is ahead (we are syncing): that is
    // no offence, or a node that syncs would ban every peer relaying the heartbeats it cannot place.
    if ('unknown' in verdict && deps.peerAhead(peer)) return TopicValidatorResult.Ignore;
    return TopicValidatorResult.Reject;
  };

  return {
    blocks: validateBlock,
    txs: validateTx,
    heartbeats: validateHeartbeat,
    pushedTx: judgePushedTx,
    close: () => txQueue.close(),
  };
}
