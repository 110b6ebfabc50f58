// The libp2p host: tcp + noise + yamux + identify + gossipsub, the sync protocol, peer scoring
// and bans, wired to the chain. Gossip is validated by the chain before it is relayed
// (validators.ts), and policed by gossipsub's peer score (gossip-score.ts); the stream protocols
// by the PeerBook.
import { EventEmitter } from 'node:events';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { bootstrap as bootstrapDiscovery } from '@libp2p/bootstrap';
import { gossipsub, StrictSign } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { ConnectionGater, PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { blockHash, encodeBlock, encodeTx, txId } from '../../core/codec/ids.ts';
import type { Block } from '../../core/codec/types.ts';
import { fromHex, toHex } from '../../core/crypto/hash.ts';
import type { ChainParams } from '../../core/params/index.ts';
import type { ChainEvents, ImportResult } from '../chain/types.ts';
import { compressBlock, inflateBlock } from './compress.ts';
import { PeerDatastore } from './datastore.ts';
import { dhtService, dialSource, dialsPrivate, OutboundSlots, PEER_STORE_MAX_AGE_MS } from './discovery.ts';
import { AddressBans, ConnectionGuard } from './gater.ts';
import {
  asScoredGossip,
  DISCONNECT_SCORE,
  fastMessageId,
  GOSSIP_THRESHOLDS,
  gossipScoreParams,
} from './gossip-score.ts';
import {
  fetchJobData,
  fetchProduct,
  JOBDATA_PROTOCOL,
  JOBDATA_PROTOCOL_V2,
  serveJobDataStream,
} from './jobdata.ts';
import { OrphanBlocks } from './orphans.ts';
import { generatePeerKey, privateKeyOf } from './peer-key.ts';
import { type Offence, PeerBook, RateLimiter, RebroadcastSchedule, RecentSet } from './peers.ts';
import { pushTxs, serveSyncStream } from './protocol.ts';
import { Syncer } from './sync.ts';
import { DEFAULT_LIMITS, type P2P, type P2PEvents, type P2POptions, type PeerInfo } from './types.ts';
import { createGossipValidators } from './validators.ts';
import {
  MAX_BLOCKS_PER_REQUEST,
  MAX_HEADERS_PER_REQUEST,
  MAX_PUSHED_TXS,
  type Status,
  SYNC_PROTOCOL,
} from './wire.ts';

/** Gossip topic names carry the network and chain id, so networks never mix. */
export function gossipTopics(params: Pick<ChainParams, 'network' | 'chainId'>): {
  blocks: string;
  txs: string;
  heartbeats: string;
} {
  const base = `/openflux/${params.network}/${params.chainId}`;
  return { blocks: `${base}/blocks/2`, txs: `${base}/txs/1`, heartbeats: `${base}/heartbeats/2` };
}

/** How many block hashes / tx ids we remember having seen from peers or relayed. */
const RECENT_CAPACITY = 16_384;
/** Our own pending transactions are announced again after 1 block, then after doubling gaps up to the maximum. */
const REBROADCAST_AFTER_BLOCKS = 1;
const REBROADCAST_MAX_INTERVAL = 64;
/** Gossip framing and signature overhead above the message's own bytes. */
const GOSSIP_OVERHEAD = 64 * 1024;

export async function createP2P(opts: P2POptions): Promise<P2P> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  limits.blocksPerRequest = Math.min(limits.blocksPerRequest, MAX_BLOCKS_PER_REQUEST);
  limits.headersPerRequest = Math.min(limits.headersPerRequest, MAX_HEADERS_PER_REQUEST);
  const now = opts.now ?? Date.now;
  const { chain } = opts;
  const params = chain.params;
  const topics = gossipTopics(params);
  const genesis = chain.blockByHeight(0);
  if (genesis === undefined) throw new Error('the chain has no genesis block');
  const genesisHash = blockHash(genesis.header);

  const book = new PeerBook({
    banThreshold: limits.banThreshold,
    banMs: limits.banMs,
    recoveryPerSecond: 1,
    capacity: 10_000,
  });
  const requestLimiter = new RateLimiter(limits.requestsPerSecond, limits.requestBurst);
  const jobDataLimiter = new RateLimiter(limits.jobDataPerSecond, limits.jobDataBurst);
  let jobDataServing = 0;
  const jobDataClient = {
    params: params.pouw,
    requestTimeoutMs: limits.requestTimeoutMs,
    maxJobBytes: limits.maxJobDataBytes,
  };
  /** Blocks and txs that came from peers: the chain's events for them are not re-published. */
  const fromNetwork = new RecentSet(RECENT_CAPACITY);
  /** Blocks already accepted for relay, so repeats are ignored rather than relayed again. */
  const relayed = new RecentSet(RECENT_CAPACITY);
  /** Transactions that reached us from a peer in any way: not ours to announce again. */
  const received = new RecentSet(RECENT_CAPACITY);
  const rebroadcasts = new RebroadcastSchedule({
    firstAfter: REBROADCAST_AFTER_BLOCKS,
    maxInterval: REBROADCAST_MAX_INTERVAL,
    capacity: RECENT_CAPACITY,
  });
  const emitter = new EventEmitter();
  const emit = <E extends keyof P2PEvents>(event: E, ...args: Parameters<P2PEvents[E]>): void => {
    emitter.emit(event, ...args);
  };

  const banned = (peer: PeerId): boolean => book.isBanned(peer.toString(), now());
  const addressBans = new AddressBans();
  const guard = new ConnectionGuard({
    limits: {
      maxInbound: Math.max(0, limits.maxPeers - limits.outboundPeers),
      maxInboundPerIp: limits.maxInboundPerIp,
      maxInboundPerSubnet: limits.maxInboundPerSubnet,
      unlimited: limits.inboundUnlimited,
    },
    peerBanned: banned,
    addressBans,
    connections: () => node.getConnections(),
    now,
  });
  const gater: ConnectionGater = guard.gater;
  const listen = opts.listen ?? ['/ip4/127.0.0.1/tcp/0'];
  const discovery = opts.discovery ?? false;
  const dialPrivate = dialsPrivate(listen);
  const bootstrapList = opts.bootstrap ?? [];
  const datastore = opts.datastorePath === undefined ? undefined : new PeerDatastore(opts.datastorePath);

  const node = await createLibp2p({
    start: false,
    privateKey: await privateKeyOf(opts.peerKey ?? generatePeerKey()),
    addresses: { listen },
    transports: [tcp({ dialOpts: dialSource(listen) })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gater,
    connectionManager: { maxConnections: limits.maxPeers },
    ...(datastore === undefined ? {} : { datastore }),
    peerStore: { maxAddressAge: PEER_STORE_MAX_AGE_MS, maxPeerAge: PEER_STORE_MAX_AGE_MS },
    // Bootstrap peers go into the peer store (kept with the others, dialled again after a restart).
    peerDiscovery:
      discovery && bootstrapList.length > 0 ? [bootstrapDiscovery({ list: bootstrapList, timeout: 0 })] : [],
    services: {
      identify: identify(),
      ping: ping(),
      ...(discovery ? { dht: dhtService(params, { dialPrivate }) } : {}),
      pubsub: gossipsub({
        // Signed messages carry a sequence number, so a transaction can be re-announced later
        // (after a reorg) without being dropped as a duplicate of its first announcement.
        globalSignaturePolicy: StrictSign,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        allowedTopics: [topics.blocks, topics.txs, topics.heartbeats],
        maxInboundDataLength: params.limits.maxBlockBytes + GOSSIP_OVERHEAD,
        // Peers are judged by gossipsub's score, not by how much they relay (gossip-score.ts).
        scoreParams: gossipScoreParams({
          topics,
          ipColocationThreshold: limits.ipColocationThreshold,
          ipColocationWhitelist: limits.ipColocationWhitelist,
          retainScoreMs: limits.banMs,
        }),
        scoreThresholds: GOSSIP_THRESHOLDS,
        fastMsgIdFn: fastMessageId,
        // Blocks travel compressed (compress.ts): the signature covers the compressed bytes, a
        // message that does not inflate within the block limit is invalid (P4) like a bad block.
        dataTransform: {
          inboundTransform: (topic, data) =>
            topic === topics.blocks ? inflateBlock(data, params.limits.maxBlockBytes) : data,
          outboundTransform: (topic, data) => (topic === topics.blocks ? compressBlock(data) : data),
        },
        // Our own messages go to mesh peers only; blocks are flooded to every peer (see publish).
        floodPublish: false,
        // gossipsub 17 validates every message of every RPC at once (its messageProcessingConcurrency
        // option is declared but unused); the bounded transaction queue below is the backpressure.
      }),
    },
  });
  const pubsub = node.services.pubsub;
  const scored = asScoredGossip(pubsub);

  const penalise = (peer: PeerId, offence: Offence, why: string): void => {
    const id = peer.toString();
    if (book.penalise(id, offence, now())) {
      guard.banAddressesOf(peer, now() + limits.banMs, `${offence}: ${why}`);
      emit('peer:ban', id, `${offence}: ${why}`);
      void node.hangUp(peer).catch(() => undefined);
    }
  };
  /**
   * Gossip offences lower gossipsub's score (invalid messages, broken promises, IP colocation);
   * each gossipsub heartbeat, a peer at or below DISCONNECT_SCORE is banned like any other.
   */
  const banLowScorers = (): void => {
    for (const peer of pubsub.getPeers()) {
      const score = scored.getScore(peer.toString());
      if (score <= DISCONNECT_SCORE) penalise(peer, 'lowGossipScore', `gossip score ${Math.round(score)}`);
    }
  };

  // One import at a time from the network (gossip and sync share the queue, which is bounded
  // for gossip by maxPendingBlocks and for sync by its own batch size).
  let importTail: Promise<unknown> = Promise.resolve();
  let pendingImports = 0;
  const orphans = new OrphanBlocks({ maxBlocks: limits.maxOrphanBlocks, maxBytes: limits.maxOrphanBytes });
  const importFromNetwork = (block: Block): Promise<ImportResult> => {
    const hash = blockHash(block.header);
    fromNetwork.add(toHex(hash));
    pendingImports++;
    const result = importTail.then(() => chain.importBlock(block, now()));
    importTail = result.catch(() => undefined);
    return result
      .finally(() => {
        pendingImports--;
      })
      .then((r) => {
        if (r.ok) adoptOrphans(hash);
        return r;
      });
  };
  /** Imports the kept blocks whose parent just arrived (and, through this, their children). */
  const adoptOrphans = (parent: Uint8Array): void => {
    for (const { block, from } of orphans.take(toHex(parent))) {
      void importFromNetwork(block)
        .then((r) => {
          if (!r.ok && r.error.code === 'BAD_BLOCK') penalise(from, 'invalidBlock', r.error.message);
        })
        .catch(() => undefined);
    }
  };

  const ourStatus = (): Status => {
    const tip = chain.tip();
    return {
      chainId: params.chainId,
      genesis: genesisHash,
      height: tip.height,
      tip: tip.hash,
      cumulativeWork: tip.cumulativeWork,
    };
  };
  const client = { timeoutMs: limits.requestTimeoutMs, maxFrameBytes: params.limits.maxBlockBytes + 1024 };
  const syncer = new Syncer({
    chain,
    node,
    client,
    limits,
    genesisHash,
    ourStatus,
    importBlock: importFromNetwork,
    penalise,
    emit,
    now,
  });

  // An orphan from gossip means the sender has blocks we lack: ask it where it is, once at a time.
  const refreshing = new Set<string>();
  const refreshPeer = (peer: PeerId): void => {
    const id = peer.toString();
    if (refreshing.has(id)) return;
    refreshing.add(id);
    void syncer.refresh(peer).finally(() => refreshing.delete(id));
  };

  /** Whether the peer told us of a chain with more work than ours (it may know nodes we do not). */
  const peerAhead = (peer: PeerId): boolean =>
    (syncer.statusOf(peer.toString())?.cumulativeWork ?? 0n) > chain.tip().cumulativeWork;

  const validators = createGossipValidators({
    chain,
    limits,
    fromNetwork,
    relayed,
    received,
    importBlock: importFromNetwork,
    pendingImports: () => pendingImports,
    refreshPeer,
    keepOrphan: (block, hash, bytes, peer) =>
      orphans.add(toHex(hash), toHex(block.header.parent), block, bytes, peer),
    peerAhead,
    heartbeats: opts.heartbeats,
    penalise,
    emit,
  });

  // A transaction announced before a peer's subscription reached us never got to that peer, so
  // each peer that subscribes to transactions is sent our mempool once.
  const pushing = new Set<string>();
  const pushMempool = (peer: PeerId): void => {
    const id = peer.toString();
    if (pushing.has(id)) return;
    const txs = chain.mempool(MAX_PUSHED_TXS).map((e) => encodeTx(e.tx));
    if (txs.length === 0) return;
    pushing.add(id);
    pushTxs(node, peer, txs, client)
      .catch(() => undefined)
      .finally(() => pushing.delete(id));
  };

  /** Blocks are flooded to every peer above the publish threshold, the rest go to mesh peers. */
  const publish = (topic: string, data: Uint8Array): void => {
    if (node.status !== 'started') return;
    scored.publish(topic, data, { floodPublish: topic === topics.blocks }).catch(() => undefined);
  };
  const onBlock: ChainEvents['block'] = (block, hash) => {
    announceAgain();
    const key = toHex(hash);
    if (fromNetwork.has(key) || relayed.has(key)) return;
    relayed.add(key);
    publish(topics.blocks, encodeBlock(block));
  };
  const onTx: ChainEvents['tx'] = (tx, id) => {
    const key = toHex(id);
    if (fromNetwork.has(key)) return;
    if (!received.has(key)) rebroadcasts.track(key, chain.tip().height);
    publish(topics.txs, encodeTx(tx));
  };
  /** Announces again our own transactions that are still pending (see RebroadcastSchedule). */
  const announceAgain = (): void => {
    if (rebroadcasts.size === 0) return;
    const due = rebroadcasts.take(chain.tip().height, (key) => chain.mempoolTx(fromHex(key)) !== undefined);
    for (const key of due) {
      const tx = chain.mempoolTx(fromHex(key));
      if (tx !== undefined) publish(topics.txs, encodeTx(tx));
    }
    if (due.length > 0) emit('tx:rebroadcast', due.length);
  };
  // Transactions of a losing branch that went back to the mempool are announced again, so that
  // miners on the winning side (which may never have seen them) include them.
  const onReorg: ChainEvents['reorg'] = (detached) => {
    for (const block of detached) {
      for (const tx of block.txs)
        if (chain.mempoolTx(txId(tx)) !== undefined) publish(topics.txs, encodeTx(tx));
    }
  };

  pubsub.addEventListener('gossipsub:heartbeat', banLowScorers);
  pubsub.addEventListener('subscription-change', (event) => {
    const { peerId, subscriptions } = event.detail;
    if (subscriptions.some((sub) => sub.subscribe && sub.topic === topics.txs)) pushMempool(peerId);
  });
  node.addEventListener('peer:connect', (event) => {
    const peer = event.detail;
    emit('peer:connect', peer.toString());
    refreshPeer(peer);
  });
  // Connections let in at the same moment are counted once libp2p holds them: the excess goes.
  node.addEventListener('connection:open', (event) => {
    const why = guard.excess(event.detail);
    if (why !== undefined) event.detail.abort(new Error(`inbound connection refused: ${why}`));
  });
  node.addEventListener('peer:disconnect', (event) => {
    const id = event.detail.toString();
    outbound?.forget(id);
    syncer.forget(id);
    requestLimiter.forget(id);
    jobDataLimiter.forget(id);
    emit('peer:disconnect', id);
  });

  const bootstrap = bootstrapList.map((addr) => multiaddr(addr));
  const outbound = discovery
    ? new OutboundSlots({
        node,
        dht: node.services.dht,
        slots: limits.outboundPeers,
        bootstrap: bootstrap.flatMap(
          (addr) => addr.getComponents().find((c) => c.name === 'p2p')?.value ?? [],
        ),
        protocol: SYNC_PROTOCOL,
        dialPrivate,
        dialTimeoutMs: limits.requestTimeoutMs,
        lookupIntervalMs: limits.lookupIntervalMs,
        peerBanned: (id) => book.isBanned(id, now()),
        addressBanned: (addr) => guard.addressBanned(addr),
        now,
      })
    : undefined;
  const dialBootstrap = (): void => {
    const connected = new Set(node.getPeers().map(String));
    for (const addr of bootstrap) {
      const id = addr.getComponents().find((c) => c.name === 'p2p')?.value;
      if (
        id !== undefined &&
        (connected.has(id) || book.isBanned(id, now()) || id === node.peerId.toString())
      ) {
        continue;
      }
      node.dial(addr, { signal: AbortSignal.timeout(limits.requestTimeoutMs) }).catch(() => undefined);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const maintain = (): void => {
    // With discovery the outbound slots keep the node connected; the bootstrap list is the fallback.
    if (outbound === undefined || node.getPeers().length === 0) dialBootstrap();
    outbound?.tick();
    for (const peer of node.getPeers()) refreshPeer(peer);
  };

  return {
    peerId: node.peerId.toString(),
    multiaddrs: () => node.getMultiaddrs().map(String),
    publishHeartbeat: (data) => publish(topics.heartbeats, data),
    peers(): PeerInfo[] {
      const out = new Map<string, PeerInfo>();
      for (const conn of node.getConnections()) {
        const id = conn.remotePeer.toString();
        const existing = out.get(id);
        if (existing !== undefined) {
          existing.addrs.push(conn.remoteAddr.toString());
          continue;
        }
        const status = syncer.statusOf(id);
        out.set(id, {
          id,
          addrs: [conn.remoteAddr.toString()],
          direction: conn.direction,
          score: book.score(id, now()),
          gossipScore: scored.getScore(id),
          height: status?.height,
          cumulativeWork: status?.cumulativeWork,
        });
      }
      return [...out.values()];
    },
    async start() {
      await node.start();
      pubsub.topicValidators.set(topics.blocks, validators.blocks);
      pubsub.topicValidators.set(topics.txs, validators.txs);
      pubsub.topicValidators.set(topics.heartbeats, validators.heartbeats);
      pubsub.subscribe(topics.blocks);
      pubsub.subscribe(topics.txs);
      pubsub.subscribe(topics.heartbeats);
      await node.handle(
        SYNC_PROTOCOL,
        (stream, connection) =>
          serveSyncStream(
            {
              chain,
              status: ourStatus,
              onPeerStatus: (peer, status) => syncer.noteStatus(peer, status),
              allow: (peer) => {
                if (requestLimiter.take(peer.toString(), now())) return true;
                penalise(peer, 'rateLimited', 'too many sync requests');
                return false;
              },
              penalise,
              onPushedTx: validators.pushedTx,
              timeoutMs: limits.requestTimeoutMs,
              headersPerRequest: limits.headersPerRequest,
              maxResponseBytes: limits.maxResponseBytes,
            },
            stream,
            connection.remotePeer,
          ),
        { maxInboundStreams: 8, maxOutboundStreams: 8 },
      );
      // One handler, one limiter and one set of serving slots for both versions (/2 adds products).
      await node.handle(
        [JOBDATA_PROTOCOL, JOBDATA_PROTOCOL_V2],
        (stream, connection) =>
          serveJobDataStream(
            {
              params: params.pouw,
              source: opts.jobData,
              allow: (peer) => {
                if (jobDataLimiter.take(peer.toString(), now())) return true;
                penalise(peer, 'rateLimited', 'too many job-data requests');
                return false;
              },
              acquire: () => {
                if (jobDataServing >= limits.jobDataServing) return false;
                jobDataServing++;
                return true;
              },
              release: () => {
                jobDataServing--;
              },
              penalise,
              requestTimeoutMs: limits.requestTimeoutMs,
            },
            stream,
            connection.remotePeer,
          ),
        { maxInboundStreams: 4, maxOutboundStreams: 4 },
      );
      chain.on('block', onBlock);
      chain.on('tx', onTx);
      chain.on('reorg', onReorg);
      dialBootstrap();
      await outbound?.start();
      timer = setInterval(maintain, limits.statusIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      outbound?.stop();
      syncer.stop();
      validators.close();
      chain.off('block', onBlock);
      chain.off('tx', onTx);
      chain.off('reorg', onReorg);
      await node.stop();
      datastore?.close();
      // Let an import already handed to the chain finish before the caller closes the chain.
      await importTail;
    },
    async connect(addr) {
      const conn = await node.dial(multiaddr(addr), { signal: AbortSignal.timeout(limits.requestTimeoutMs) });
      outbound?.adopt(conn.remotePeer.toString());
    },
    async disconnect(peerId) {
      await node.hangUp(peerIdFromString(peerId));
    },
    async ban(peerId, ms, reason) {
      book.ban(peerId, ms, reason, now());
      guard.banAddressesOf(peerIdFromString(peerId), now() + ms, reason);
      emit('peer:ban', peerId, reason);
      await node.hangUp(peerIdFromString(peerId)).catch(() => undefined);
    },
    unban: (peerId) => {
      book.unban(peerId);
      addressBans.unbanPeer(peerId);
    },
    banned: () => book.banned(now()),
    syncing: () => syncer.isRunning(),
    syncNow: maintain,
    fetchJobData: (peerId, header) =>
      fetchJobData(node, peerIdFromString(peerId), header, jobDataClient, penalise),
    fetchProduct: (peerId, want) =>
      fetchProduct(node, peerIdFromString(peerId), want, jobDataClient, penalise),
    on(event, listener) {
      emitter.on(event, listener);
    },
    off(event, listener) {
      emitter.off(event, listener);
    },
  };
}
