// One node's view of which FluxNodes are alive, from the heartbeats it hears. Pure bookkeeping
// over an injected clock: the liveness service feeds it heartbeats and the confirmed node set,
// and reads the transitions.
//
// A node is `alive` while heard from within `timeoutMs`. Silent longer, it is `down`. Heard
// again, it is `returning` and only becomes `alive` after `holdDownMs` of heartbeats without a
// gap, so a node that flaps does not pull instances back and forth. A node this view has never
// heard of is given `graceMs` from when the view first saw it (its own start, or the node's
// confirmation), so a fresh node does not take every app for itself while its peers start and
// heartbeats arrive.

export type LivenessState = 'alive' | 'returning' | 'down';

export interface NodeLiveness {
  state: LivenessState;
  /** Local ms time of the last transition (or of when the view started tracking the node). */
  since: number;
  /** Local ms time of the last heartbeat heard, if any. */
  lastHeard?: number;
  /** The node's chain height and running apps as of its last heartbeat. */
  height?: number;
  running: ReadonlySet<string>;
  /** Apps placed on the node that its last heartbeat says it cannot run, with why. */
  unable: ReadonlyMap<string, string>;
}

export interface Transition {
  node: string;
  from: LivenessState;
  to: LivenessState;
  /** ms since the node was last heard from (or tracked), for the log. */
  silentMs: number;
}

interface Entry {
  state: LivenessState;
  since: number;
  /** Last heartbeat, or when tracking began: what the timeout counts from. */
  lastSeen: number;
  lastHeard?: number;
  /** The sender's own time stamp of its last heartbeat: later ones must be newer. */
  lastStamp: number;
  /** When the current run of heartbeats without a gap began (for the hold-down). */
  runStart: number;
  height?: number;
  running: Set<string>;
  unable: Map<string, string>;
}

const NONE: ReadonlySet<string> = new Set();
const NO_REASONS: ReadonlyMap<string, string> = new Map();

export class LivenessView {
  private readonly nodes = new Map<string, Entry>();
  private readonly timeoutMs: number;
  private readonly holdDownMs: number;
  private readonly now: () => number;
  /** Bumped on every transition and change of running or unable apps, so callers can cache on it. */
  version = 0;

  private readonly graceMs: number;

  /** `graceMs` (default `timeoutMs`): how long a node never heard from counts as alive. */
  constructor(opts: { timeoutMs: number; holdDownMs: number; graceMs?: number; now?: () => number }) {
    this.timeoutMs = opts.timeoutMs;
    this.holdDownMs = opts.holdDownMs;
    this.graceMs = Math.max(opts.graceMs ?? opts.timeoutMs, opts.timeoutMs);
    this.now = opts.now ?? Date.now;
  }

  /** Makes the tracked set equal to `ids` (the confirmed nodes): new ones get a grace period. */
  track(ids: Iterable<string>): void {
    const t = this.now();
    const keep = new Set(ids);
    for (const id of keep) {
      if (this.nodes.has(id)) continue;
      // Counted as last seen in the future, so the timeout runs out `graceMs` from now.
      const seen = t + this.graceMs - this.timeoutMs;
      this.nodes.set(id, {
        state: 'alive',
        since: t,
        lastSeen: seen,
        lastStamp: 0,
        runStart: t,
        running: new Set(),
        unable: new Map(),
      });
    }
    for (const id of this.nodes.keys()) if (!keep.has(id)) this.nodes.delete(id);
  }

  /**
   * Records a heartbeat of a tracked node stamped `stamp` by its sender. Returns false (and
   * records nothing) for an untracked node or a stamp not newer than the last one (a replay).
   */
  heard(
    id: string,
    stamp: number,
    height: number,
    running: Iterable<string>,
    unable: Iterable<{ app: string; reason: string }> = [],
  ): boolean {
    const e = this.nodes.get(id);
    if (!e || stamp <= e.lastStamp) return false;
    const t = this.now();
    if (t - e.lastSeen > this.timeoutMs) e.runStart = t;
    e.lastSeen = t;
    e.lastHeard = t;
    e.lastStamp = stamp;
    e.height = height;
    const next = new Set(running);
    if (next.size !== e.running.size || [...next].some((a) => !e.running.has(a))) this.version++;
    e.running = next;
    const cannot = new Map([...unable].map((u) => [u.app, u.reason]));
    // Only the set counts for placement; a new reason alone is no reason to recompute it.
    if (cannot.size !== e.unable.size || [...cannot.keys()].some((a) => !e.unable.has(a))) this.version++;
    e.unable = cannot;
    return true;
  }

  /** The sender's stamp of the node's last heartbeat (0 when none). */
  lastStamp(id: string): number {
    return this.nodes.get(id)?.lastStamp ?? 0;
  }

  /** Moves nodes between states as time passes; returns what changed. */
  refresh(): Transition[] {
    const t = this.now();
    const out: Transition[] = [];
    for (const [node, e] of this.nodes) {
      const silentMs = t - e.lastSeen;
      const silent = silentMs > this.timeoutMs;
      let to = e.state;
      if (silent) to = 'down';
      else if (e.state === 'down') to = t - e.runStart >= this.holdDownMs ? 'alive' : 'returning';
      else if (e.state === 'returning' && t - e.runStart >= this.holdDownMs) to = 'alive';
      if (to !== e.state) {
        out.push({ node, from: e.state, to, silentMs });
        e.state = to;
        e.since = t;
        if (to === 'down') {
          e.running = new Set();
          e.unable = new Map();
        }
        this.version++;
      }
    }
    return out;
  }

  isAlive(id: string): boolean {
    return this.nodes.get(id)?.state === 'alive';
  }

  get(id: string): NodeLiveness | undefined {
    const e = this.nodes.get(id);
    if (!e) return undefined;
    return {
      state: e.state,
      since: e.since,
      running: e.state === 'down' ? NONE : e.running,
      unable: e.state === 'down' ? NO_REASONS : e.unable,
      ...(e.lastHeard !== undefined ? { lastHeard: e.lastHeard } : {}),
      ...(e.height !== undefined ? { height: e.height } : {}),
    };
  }

  /** The nodes down in this view. */
  down(): string[] {
    const out: string[] = [];
    for (const [id, e] of this.nodes) if (e.state === 'down') out.push(id);
    return out;
  }

  /** Nodes not down whose last heartbeat says they run `app`. */
  runningApp(app: string): string[] {
    const out: string[] = [];
    for (const [id, e] of this.nodes) if (e.state !== 'down' && e.running.has(app)) out.push(id);
    return out;
  }

  /** Says something the view does not hold changed (this node's own unable apps), for caches. */
  touch(): void {
    this.version++;
  }

  get size(): number {
    return this.nodes.size;
  }
}
