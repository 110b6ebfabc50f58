// Liveness on a node: it gossips its own heartbeat (when it is a confirmed FluxNode), judges the
// heartbeats peers relay (known confirmed node, its operator's signature, a fresh time stamp),
// keeps the LivenessView, and says when a node goes down or comes back. Placement on this node
// (the app agent and the ingress) skips nodes its view has down; the chain hears about a dead
// node through down reports (see reporter.ts), so payments follow consensus, not gossip.
import { EventEmitter } from 'node:events';
import { type KeyPair, SignatureVerifier } from '../../core/crypto/keys.ts';
import { NodeStatus } from '../../core/nodes/types.ts';
import type { Chain } from '../chain/types.ts';
import type { HeartbeatJudge } from '../p2p/index.ts';
import { decodeHeartbeat, encodeHeartbeat, heartbeatSignedBy } from './heartbeat.ts';
import { LivenessView, type NodeLiveness, type Transition } from './view.ts';

/** Heartbeat stamps remembered per node to tell a replay from a stale heartbeat. */
const RECENT_STAMPS = 32;

export interface LivenessOptions {
  chain: Chain;
  /** This machine's operator key; without it the node only listens. */
  operator?: KeyPair;
  /** This machine's confirmed FluxNode id, if any (it is always alive in its own view). */
  nodeId: () => string | undefined;
  now?: () => number;
  log?: (line: string) => void;
}

export interface LivenessEvents {
  /** A node changed state in this view. */
  change: (t: Transition) => void;
}

export interface Liveness {
  /** Give this to createP2P as `heartbeats`. */
  readonly judge: HeartbeatJudge;
  readonly view: LivenessView;
  /** Starts heartbeats and the clock; `publish` gossips one (p2p.publishHeartbeat). */
  start(publish: (data: Uint8Array) => void): void;
  /** Alive in this view (this machine's own node always is). */
  isAlive(id: string): boolean;
  /** What this view knows of a node (this machine's own node: alive since start). */
  get(id: string): NodeLiveness | undefined;
  /** Sends a heartbeat now (also runs on the interval). */
  beat(): void;
  /** The apps whose every component runs here now, as the app agent tells it (heartbeats carry them). */
  setRunning(apps: string[]): void;
  /**
   * The apps placed here that this node cannot run now, with why (the app agent says; heartbeats
   * carry them, and placement, here and on every node that hears them, leaves this node out).
   */
  setUnable(apps: ReadonlyMap<string, string>): void;
  on<E extends keyof LivenessEvents>(event: E, listener: LivenessEvents[E]): void;
  off<E extends keyof LivenessEvents>(event: E, listener: LivenessEvents[E]): void;
  close(): void;
}

export function createLiveness(o: LivenessOptions): Liveness {
  const { chain } = o;
  const params = chain.params.nodes.liveness;
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => {});
  // Three timeouts of grace for nodes never heard: peers started together come up one by one.
  const view = new LivenessView({
    timeoutMs: params.timeoutMs,
    holdDownMs: params.holdDownMs,
    graceMs: 3 * params.timeoutMs,
    now,
  });
  const emitter = new EventEmitter();
  const startedAt = now();
  let publish: ((data: Uint8Array) => void) | undefined;
  let timers: NodeJS.Timeout[] = [];
  let lastStamp = 0;
  let running: string[] = [];
  let unable: ReadonlyMap<string, string> = new Map();
  /** Operators' parsed public keys, one per confirmed node at most. */
  const verifier = new SignatureVerifier(20_000);

  const trackConfirmed = (): void => {
    view.track(chain.fluxNodes((n) => n.status === NodeStatus.confirmed).map((n) => n.id));
  };
  trackConfirmed();

  // Heartbeats cost one signature check at most, and only when they could be news: every check
  // that needs no signature runs first. Gossipsub has already dropped any message it saw before
  // (its id is the envelope's author and sequence number, and honest relays forward the original
  // envelope), so a heartbeat that reaches this judge with a stamp we already accepted from its
  // node was wrapped in a new envelope by the peer that sent it: a replay, which no honest relay
  // sends. It is rejected, and gossipsub's score makes the sender pay (P4) until it is graylisted
  // and banned. An older stamp we never accepted is what an honest relay forwards when a newer
  // heartbeat of the same node reached us first by a faster path (common with 50-200 ms links
  // under load): it is dropped without an offence, for the price of a decode. So is a heartbeat
  // of a node our tip does not show as confirmed: the relay's tip may (a partition, a reorg).
  /** Per node, the stamps of the last RECENT_STAMPS heartbeats accepted: what a replay repeats. */
  const recent = new Map<string, number[]>();
  const remember = (node: string, stamp: number): void => {
    const stamps = recent.get(node) ?? [];
    stamps.push(stamp);
    if (stamps.length > RECENT_STAMPS) stamps.shift();
    recent.set(node, stamps);
  };
  const judge: HeartbeatJudge = {
    judge(data, _from) {
      let hb: ReturnType<typeof decodeHeartbeat>;
      try {
        hb = decodeHeartbeat(data);
      } catch (e) {
        return { reject: `malformed heartbeat: ${(e as Error).message}` };
      }
      const { info } = hb;
      const short = info.node.slice(0, 16);
      if (info.chainId !== chain.params.chainId)
        return { reject: `heartbeat for chain ${info.chainId}, not ${chain.params.chainId}` };
      const record = chain.fluxNode(info.node);
      if (!record) return { unknown: `heartbeat from unknown node ${short}` };
      // A node our tip does not show as confirmed may be confirmed at the sender's tip (it just
      // started, or the sender is on the other side of a partition or a reorg): not an offence.
      if (record.status !== NodeStatus.confirmed) return 'ignore';
      const own = info.node === o.nodeId();
      const last = own ? Math.max(lastStamp, view.lastStamp(info.node)) : view.lastStamp(info.node);
      if (info.time <= last) {
        // A stamp we accepted already, in a new envelope: a replay, which no honest relay sends.
        // An older stamp we never accepted came by a slower path: stale, dropped, no offence.
        if (own || recent.get(info.node)?.includes(info.time))
          return { reject: `replayed heartbeat of node ${short} (stamp ${info.time} accepted before)` };
        return 'ignore';
      }
      // A node beats once per interval: a closer stamp is dropped (a restart can cause one).
      if (info.time < last + params.heartbeatMs / 2) return 'ignore';
      const skew = Math.abs(info.time - now());
      if (skew > params.maxSkewMs)
        return { reject: `heartbeat of node ${short} stamped ${skew} ms off our clock` };
      if (!heartbeatSignedBy(hb.body, hb.signature, record.operator, verifier))
        return { reject: `heartbeat for node ${short} not signed by its operator key` };
      // Our own heartbeat, newer than the last we sent: another machine holds our operator key.
      if (own) return 'ignore';
      if (!view.heard(info.node, info.time, info.height, info.running, info.unable)) {
        trackConfirmed(); // confirmed since our last block: track it, then take the heartbeat
        if (!view.heard(info.node, info.time, info.height, info.running, info.unable)) return 'ignore';
      }
      remember(info.node, info.time);
      return 'accept';
    },
  };

  const beat = (): void => {
    const me = o.nodeId();
    if (!me || !o.operator || !publish) return;
    // Strictly increasing even if the clock steps back.
    lastStamp = Math.max(now(), lastStamp + 1);
    publish(
      encodeHeartbeat(
        {
          chainId: chain.params.chainId,
          node: me,
          time: lastStamp,
          height: chain.tip().height,
          running,
          unable: [...unable].map(([app, reason]) => ({ app, reason })),
        },
        o.operator,
      ),
    );
  };

  const tick = (): void => {
    for (const t of view.refresh()) {
      if (t.node === o.nodeId()) continue;
      log(
        t.to === 'down'
          ? `liveness: node ${t.node.slice(0, 16)} is down (silent ${(t.silentMs / 1000).toFixed(1)} s)`
          : t.to === 'returning'
            ? `liveness: node ${t.node.slice(0, 16)} is heard again; taken back after ${params.holdDownMs / 1000} s`
            : `liveness: node ${t.node.slice(0, 16)} is alive again`,
      );
      emitter.emit('change', t);
    }
  };

  const onBlock = (): void => trackConfirmed();

  return {
    judge,
    view,
    start(p) {
      publish = p;
      chain.on('block', onBlock);
      beat();
      timers = [
        setInterval(beat, params.heartbeatMs),
        // The view is refreshed 8 times per timeout, so a silent node is down within 1/8 of it.
        setInterval(tick, Math.max(50, Math.floor(params.timeoutMs / 8))),
      ];
      for (const t of timers) t.unref();
    },
    isAlive: (id) => id === o.nodeId() || view.isAlive(id),
    get(id) {
      if (id === o.nodeId())
        return {
          state: 'alive',
          since: startedAt,
          lastHeard: now(),
          running: new Set(running),
          unable: new Map(unable),
        };
      return view.get(id);
    },
    beat,
    setRunning(apps) {
      const changed = apps.length !== running.length || apps.some((a) => !running.includes(a));
      running = [...apps];
      // This node's own placement keeps an app with replicated volumes where it runs (placement.ts).
      if (changed) view.touch();
    },
    setUnable(apps) {
      const changed = apps.size !== unable.size || [...apps.keys()].some((a) => !unable.has(a));
      unable = new Map(apps);
      if (changed) view.touch(); // this node's own placement leaves it out (or takes it back) too
    },
    on: (event, listener) => void emitter.on(event, listener),
    off: (event, listener) => void emitter.off(event, listener),
    close() {
      for (const t of timers) clearInterval(t);
      timers = [];
      chain.off('block', onBlock);
    },
  };
}
