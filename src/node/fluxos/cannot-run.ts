// The apps this node cannot run now, with why: its engine does not answer, an image is not here
// and cannot be pulled, or a component failed to start (or crashed) too many times in a row.
// The node's heartbeats carry them and placement everywhere leaves the node out for those apps,
// so the next-ranked node starts them. A mark holds for `holdDownMs` after the last failure that
// set it (an engine still down sets it again on every pass), so a node that fails on and off
// does not pull the app back and forth; once it expires the node takes the app back under the
// usual make-before-break.

export interface CannotRunOptions {
  holdDownMs: number;
  now?: () => number;
}

export class CannotRun {
  private readonly marks = new Map<string, { reason: string; until: number }>();
  private readonly holdDownMs: number;
  private readonly now: () => number;

  constructor(o: CannotRunOptions) {
    this.holdDownMs = o.holdDownMs;
    this.now = o.now ?? Date.now;
  }

  /** `app` cannot run here, because of `reason`; held until `holdDownMs` from now. */
  mark(app: string, reason: string): void {
    this.marks.set(app, { reason, until: this.now() + this.holdDownMs });
  }

  /** Marked and not expired. */
  has(app: string): boolean {
    return this.current().has(app);
  }

  /** The apps marked now, with why (expired marks are dropped). */
  current(): Map<string, string> {
    const t = this.now();
    const out = new Map<string, string>();
    for (const [app, m] of this.marks) {
      if (t >= m.until) this.marks.delete(app);
      else out.set(app, m.reason);
    }
    return out;
  }
}

/** Same keys (reasons aside): what placement sees of a change. */
export function sameApps(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a.keys()].every((k) => b.has(k));
}

/** Rejects with `what … did not answer within ms` when `p` takes longer (it keeps running). */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
