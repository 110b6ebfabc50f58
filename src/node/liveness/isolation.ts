// A node that is cut off knows it. Before this node reports anyone down on chain it judges
// itself: do connected peers still deliver blocks and heartbeats, is its chain current, and does
// it still hear most of the FluxNodes it tracks? A sybil flood that fills its connection slots
// leaves it with peers that relay nothing; a cut cable makes every node silent at once. Either
// way the likelier explanation is that this node is cut off, not that the others died, so it
// reports nothing and says so in its log and status (down reports: reporter.ts).
//
// `judgeIsolation` is the judgement, pure over the signals and the previous judgement (for the
// hysteresis); `createIsolationMonitor` gathers the signals from p2p, the chain and the liveness
// view, judges on a timer and logs each change.
import { toHex } from '../../core/crypto/hash.ts';
import { isNodeDown, NodeStatus } from '../../core/nodes/types.ts';
import type { ChainParams } from '../../core/params/index.ts';
import type { Chain } from '../chain/types.ts';
import type { HeartbeatJudge, P2P, SyncProgress } from '../p2p/index.ts';
import type { Liveness } from './service.ts';

/** What the judgement looks at, as of `now` (local ms). */
export interface IsolationSignals {
  now: number;
  /** Connected peers. */
  peers: number;
  /** Connected peers that delivered a valid block, transaction or heartbeat within the window. */
  deliveringPeers: number;
  /** Local time of the freshest sign of a new block: the tip's time stamp or when it arrived. */
  lastBlockAt: number;
  /** A sync is running (the chain is behind a peer's). */
  syncing: boolean;
  /** Other confirmed FluxNodes this node tracks (not marked down on chain), and how many of them are down in its view. */
  tracked: number;
  silent: number;
}

export interface IsolationRules {
  minPeers: number;
  /** How recent a peer's delivery must be to count. */
  peerWindowMs: number;
  /** No block for this long: the chain is stale. */
  staleMs: number;
  blockTimeMs: number;
  maxSilentBps: number;
  /** Symptom-free time before an isolated node counts as connected again. */
  recoverMs: number;
}

export interface Isolation {
  isolated: boolean;
  /** Local ms time of the last change of `isolated`. */
  since: number;
  /** Why it is isolated (empty when connected). */
  reasons: string[];
  /** Isolated, symptom-free (and not syncing) since this time: it reconnects at `clearSince + recoverMs`. */
  clearSince?: number;
}

/**
 * The rules of a network (params `nodes.isolation`). A delivery counts for a liveness timeout or
 * two block times, whichever is longer: heartbeats flow all the time, blocks only every block time.
 */
export function isolationRules(params: ChainParams): IsolationRules {
  const { minPeers, staleBlocks, maxSilentBps, recoverMs } = params.nodes.isolation;
  return {
    minPeers,
    peerWindowMs: Math.max(params.nodes.liveness.timeoutMs, 2 * params.blockTimeMs),
    staleMs: staleBlocks * params.blockTimeMs,
    blockTimeMs: params.blockTimeMs,
    maxSilentBps,
    recoverMs,
  };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** What looks wrong now, each as a short phrase for people; empty when nothing does. */
export function isolationSymptoms(s: IsolationSignals, r: IsolationRules): string[] {
  const out: string[] = [];
  if (s.deliveringPeers < r.minPeers)
    out.push(
      s.deliveringPeers === 0
        ? `no peer delivered a block or heartbeat in ${seconds(r.peerWindowMs)} (${s.peers} connected)`
        : `${s.deliveringPeers} of ${s.peers} connected peers delivered a block or heartbeat in ${seconds(r.peerWindowMs)}, fewer than ${r.minPeers}`,
    );
  const quiet = s.now - s.lastBlockAt;
  if (quiet > r.staleMs)
    out.push(`no new block for ${seconds(quiet)} (one expected every ${seconds(r.blockTimeMs)})`);
  // Integers only: silent / tracked > bps / 10,000.
  if (s.tracked > 0 && s.silent * 10_000 > r.maxSilentBps * s.tracked)
    out.push(`${s.silent} of ${s.tracked} other FluxNodes silent (more than ${r.maxSilentBps / 100} %)`);
  return out;
}

/** A node starts isolated: it has heard nobody yet. */
export function startingIsolation(now: number): Isolation {
  return { isolated: true, since: now, reasons: ['just started'] };
}

/**
 * The next judgement. Any symptom makes the node isolated at once (reporting nothing is the safe
 * side); it is connected again only after `recoverMs` without symptoms and without a sync running,
 * so the state does not flap and a node catching up on what it missed stays quiet until it has.
 */
export function judgeIsolation(prev: Isolation, s: IsolationSignals, r: IsolationRules): Isolation {
  const symptoms = isolationSymptoms(s, r);
  if (symptoms.length > 0)
    return { isolated: true, since: prev.isolated ? prev.since : s.now, reasons: symptoms };
  if (!prev.isolated) return prev.reasons.length === 0 ? prev : { ...prev, reasons: [] };
  if (s.syncing)
    return { isolated: true, since: prev.since, reasons: ['catching up with a peer (sync running)'] };
  const clearSince = prev.clearSince ?? s.now;
  if (s.now - clearSince >= r.recoverMs) return { isolated: false, since: s.now, reasons: [] };
  return {
    isolated: true,
    since: prev.since,
    clearSince,
    reasons: [`connected again for ${seconds(s.now - clearSince)} of the ${seconds(r.recoverMs)} it waits`],
  };
}

/**
 * When each connected peer last delivered something valid (a block or transaction the chain
 * took, a heartbeat the liveness service accepted). Peers that only occupy a connection slot
 * never appear here.
 */
export class PeerDeliveries {
  private readonly last = new Map<string, number>();
  private readonly capacity: number;

  constructor(capacity = 10_000) {
    this.capacity = capacity;
  }

  record(peer: string, at: number): void {
    this.last.delete(peer);
    if (this.last.size >= this.capacity) this.last.delete(this.last.keys().next().value as string);
    this.last.set(peer, at);
  }

  forget(peer: string): void {
    this.last.delete(peer);
  }

  /** How many of `peers` delivered something at or after `since`. */
  count(peers: Iterable<string>, since: number): number {
    let n = 0;
    for (const p of peers) if ((this.last.get(p) ?? -Infinity) >= since) n++;
    return n;
  }

  /** `judge`, with each accepted heartbeat counted as a delivery of the peer that relayed it. */
  counting(judge: HeartbeatJudge, now: () => number): HeartbeatJudge {
    return {
      judge: (data, from) => {
        const verdict = judge.judge(data, from);
        if (verdict === 'accept') this.record(from, now());
        return verdict;
      },
    };
  }
}

export interface IsolationMonitorOptions {
  chain: Chain;
  liveness: Pick<Liveness, 'get'>;
  /** The p2p host; without one the node has no peers, and stays isolated. */
  p2p?: Pick<P2P, 'peers' | 'syncing' | 'on' | 'off'>;
  /** Deliveries counted elsewhere too (heartbeats, through `PeerDeliveries.counting`). */
  deliveries?: PeerDeliveries;
  /** This machine's confirmed FluxNode id, if any (not counted among the others). */
  nodeId: () => string | undefined;
  now?: () => number;
  log?: (line: string) => void;
}

export interface IsolationStatus extends Isolation {
  /** Not isolated and not syncing: down reports may go out. */
  mayReport: boolean;
}

export interface IsolationMonitor {
  /** Judges now (also runs on a timer) and returns the judgement. */
  check(): IsolationStatus;
  /** The last judgement. */
  status(): IsolationStatus;
  close(): void;
}

export function createIsolationMonitor(o: IsolationMonitorOptions): IsolationMonitor {
  const { chain, p2p } = o;
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => {});
  const rules = isolationRules(chain.params);
  const deliveries = o.deliveries ?? new PeerDeliveries();
  const startedAt = now();
  // Three timeouts, as the liveness view's grace for nodes never heard: a node that is still
  // isolated then says so even though it never was connected.
  const startupMs = 3 * chain.params.nodes.liveness.timeoutMs;
  let state = startingIsolation(startedAt);
  let syncing = false;
  let announced = false;
  let blockArrived = 0;
  let others: { tip: string; ids: string[] } | undefined;

  /** Confirmed nodes not marked down on chain, cached per tip. */
  const confirmedUp = (): string[] => {
    const tip = toHex(chain.tip().hash);
    if (others?.tip !== tip)
      others = {
        tip,
        ids: chain.fluxNodes((n) => n.status === NodeStatus.confirmed && !isNodeDown(n)).map((n) => n.id),
      };
    return others.ids;
  };

  const signals = (): IsolationSignals => {
    const t = now();
    const peers = p2p?.peers().map((p) => p.id) ?? [];
    const me = o.nodeId();
    let tracked = 0;
    let silent = 0;
    for (const id of confirmedUp()) {
      if (id === me) continue;
      tracked++;
      if (o.liveness.get(id)?.state === 'down') silent++;
    }
    syncing = p2p?.syncing() ?? false;
    return {
      now: t,
      peers: peers.length,
      deliveringPeers: deliveries.count(peers, t - rules.peerWindowMs),
      lastBlockAt: Math.max(chain.tip().header.time, blockArrived),
      syncing,
      tracked,
      silent,
    };
  };

  const withReport = (): IsolationStatus => ({ ...state, mayReport: !state.isolated && !syncing });

  const check = (): IsolationStatus => {
    const prev = state;
    const s = signals();
    state = judgeIsolation(prev, s, rules);
    const isolatedLine = () =>
      `liveness: this node looks isolated (${state.reasons.join('; ')}): no down reports`;
    if (state.isolated !== prev.isolated) {
      log(
        state.isolated
          ? isolatedLine()
          : `liveness: this node is connected (${s.deliveringPeers} of ${s.peers} peers delivering, ${s.tracked - s.silent} of ${s.tracked} other FluxNodes heard): down reports on`,
      );
      announced = state.isolated;
    } else if (
      state.isolated &&
      !announced &&
      state.clearSince === undefined &&
      now() - startedAt >= startupMs
    ) {
      log(isolatedLine());
      announced = true;
    }
    return withReport();
  };

  const record = (peer: string) => deliveries.record(peer, now());
  const onGossip = (_: Uint8Array, from: string) => record(from);
  const onSynced = (s: SyncProgress & { ok: boolean }) => {
    if (s.ok && s.blocks > 0) record(s.peer);
  };
  const onDisconnect = (peer: string) => deliveries.forget(peer);
  const onBlock = () => {
    blockArrived = now();
  };
  p2p?.on('gossip:block', onGossip);
  p2p?.on('gossip:tx', onGossip);
  p2p?.on('sync:done', onSynced);
  p2p?.on('peer:disconnect', onDisconnect);
  chain.on('block', onBlock);
  const timer = setInterval(check, Math.max(50, Math.floor(chain.params.nodes.liveness.timeoutMs / 4)));
  timer.unref();

  return {
    check,
    status: withReport,
    close() {
      clearInterval(timer);
      p2p?.off('gossip:block', onGossip);
      p2p?.off('gossip:tx', onGossip);
      p2p?.off('sync:done', onSynced);
      p2p?.off('peer:disconnect', onDisconnect);
      chain.off('block', onBlock);
    },
  };
}
