// Peer hygiene on the stream protocols (sync, job data): a score per peer that misbehaviour
// lowers and time slowly restores, bans that the connection gater enforces, and token buckets
// that bound each peer's request rate. Gossip is scored by gossipsub itself (gossip-score.ts).

/** What a peer did wrong, and how much it costs. */
export const PENALTIES = {
  invalidBlock: 60,
  invalidTx: 25,
  malformed: 40,
  oversized: 60,
  rateLimited: 10,
  /** A response that breaks the protocol (unlinked headers, wrong block for a header...). */
  badResponse: 40,
  /** A request that timed out or a stream that failed: often innocent, so cheap. */
  timeout: 5,
  /** Sent job data whose Merkle roots are not the job's: never honest (its store checks them). */
  badJobData: 100,
  /** Sent a product whose root is not the one on chain: never honest (the miner committed it). */
  badProduct: 100,
  /** Claimed more work than it could deliver. */
  falseStatus: 30,
  /**
   * Gossipsub's score of the peer fell to DISCONNECT_SCORE (gossip-score.ts): gossip offences are
   * counted there, and this bans at once.
   */
  lowGossipScore: 1_000,
  wrongNetwork: 1_000,
} as const;
export type Offence = keyof typeof PENALTIES;

export interface PeerBookOptions {
  /** A peer whose score falls to this or below is disconnected and banned. */
  banThreshold: number;
  banMs: number;
  /** Points a second by which a negative score returns toward zero. */
  recoveryPerSecond: number;
  /** At most this many peers are remembered (scores of the least recently seen are dropped). */
  capacity: number;
}

interface Entry {
  score: number;
  at: number;
}

export class PeerBook {
  private readonly scores = new Map<string, Entry>();
  private readonly bans = new Map<string, { until: number; reason: string }>();
  private readonly opts: PeerBookOptions;

  constructor(opts: PeerBookOptions) {
    this.opts = opts;
  }

  score(peer: string, now: number): number {
    const e = this.scores.get(peer);
    if (e === undefined) return 0;
    return Math.min(0, e.score + ((now - e.at) / 1000) * this.opts.recoveryPerSecond);
  }

  /** Lowers the peer's score; returns true when the peer just crossed the ban threshold. */
  penalise(peer: string, offence: Offence, now: number): boolean {
    const score = this.score(peer, now) - PENALTIES[offence];
    this.scores.delete(peer);
    if (this.scores.size >= this.opts.capacity) this.scores.delete(this.scores.keys().next().value as string);
    this.scores.set(peer, { score, at: now });
    if (score <= this.opts.banThreshold && !this.isBanned(peer, now)) {
      this.ban(peer, this.opts.banMs, `score ${score} after ${offence}`, now);
      return true;
    }
    return false;
  }

  ban(peer: string, ms: number, reason: string, now: number): void {
    if (this.bans.size >= this.opts.capacity) this.prune(now);
    this.bans.set(peer, { until: now + ms, reason });
  }

  unban(peer: string): void {
    this.bans.delete(peer);
    this.scores.delete(peer);
  }

  isBanned(peer: string, now: number): boolean {
    const b = this.bans.get(peer);
    if (b === undefined) return false;
    if (b.until > now) return true;
    this.bans.delete(peer);
    this.scores.delete(peer);
    return false;
  }

  banned(now: number): Array<{ peer: string; until: number; reason: string }> {
    this.prune(now);
    return [...this.bans].map(([peer, b]) => ({ peer, ...b }));
  }

  private prune(now: number): void {
    for (const [peer, b] of this.bans) if (b.until <= now) this.bans.delete(peer);
  }
}

/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly capacity: number;

  constructor(perSecond: number, burst: number, capacity = 1_000) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.capacity = capacity;
  }

  /** Takes `cost` tokens if the peer has them. */
  take(peer: string, now: number, cost = 1): boolean {
    let b = this.buckets.get(peer);
    if (b === undefined) {
      if (this.buckets.size >= this.capacity) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: this.burst, at: now };
      this.buckets.set(peer, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  forget(peer: string): void {
    this.buckets.delete(peer);
  }
}

/** A set that remembers only its most recent `capacity` entries. */
export class RecentSet {
  private readonly items = new Set<string>();
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  add(key: string): void {
    this.items.delete(key);
    this.items.add(key);
    if (this.items.size > this.capacity) this.items.delete(this.items.values().next().value as string);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  delete(key: string): void {
    this.items.delete(key);
  }
}

/**
 * When to announce our own pending transactions again. A peer may have ignored one because its
 * state differed (it was behind, or on another branch) and gossip never offers it twice, so a
 * transaction submitted here that stays pending is announced again `firstAfter` blocks later,
 * then after twice as many blocks each time, up to `maxInterval`.
 */
export class RebroadcastSchedule {
  private readonly due = new Map<string, { at: number; interval: number }>();
  private readonly firstAfter: number;
  private readonly maxInterval: number;
  private readonly capacity: number;

  constructor(opts: { firstAfter: number; maxInterval: number; capacity: number }) {
    this.firstAfter = opts.firstAfter;
    this.maxInterval = opts.maxInterval;
    this.capacity = opts.capacity;
  }

  /** Starts watching a transaction first announced when the tip was at `height`. */
  track(id: string, height: number): void {
    this.due.delete(id);
    this.due.set(id, { at: height + this.firstAfter, interval: this.firstAfter });
    if (this.due.size > this.capacity) this.due.delete(this.due.keys().next().value as string);
  }

  /**
   * The watched transactions to announce again at tip `height`; those `pending` says are gone
   * (mined or dropped) are forgotten.
   */
  take(height: number, pending: (id: string) => boolean): string[] {
    const out: string[] = [];
    for (const [id, entry] of this.due) {
      if (!pending(id)) {
        this.due.delete(id);
        continue;
      }
      if (height < entry.at) continue;
      out.push(id);
      entry.interval = Math.min(entry.interval * 2, this.maxInterval);
      entry.at = height + entry.interval;
    }
    return out;
  }

  get size(): number {
    return this.due.size;
  }
}
