// A bounded queue that hands its items to a judge in batches: the first item waits at most
// `waitMs` for others, a full batch goes at once, and one batch runs per turn of the event loop
// so blocks, heartbeats and sync requests keep flowing during a burst. When `maxPending` items
// wait, more are refused at once (`overflow`): overload drops work instead of growing a backlog.

export interface BatchQueueOptions {
  maxPending: number;
  batchSize: number;
  waitMs: number;
}

interface Waiting<I, R> {
  item: I;
  resolve: (result: R) => void;
}

export class BatchQueue<I, R> {
  private readonly opts: BatchQueueOptions;
  private readonly judge: (items: I[]) => R[] | Promise<R[]>;
  private readonly overflow: R;
  private queue: Waiting<I, R>[] = [];
  /** Index of the first item not yet taken (the array is compacted per batch). */
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private running = false;
  private closed = false;
  /** Items refused because the queue was full. */
  dropped = 0;
  /** The most items that ever waited at once. */
  highWater = 0;

  constructor(opts: BatchQueueOptions, judge: (items: I[]) => R[] | Promise<R[]>, overflow: R) {
    this.opts = opts;
    this.judge = judge;
    this.overflow = overflow;
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Resolves with the judge's verdict on the item, or `overflow` when the queue is full or closed. */
  push(item: I): Promise<R> {
    if (this.closed || this.pending >= this.opts.maxPending) {
      this.dropped++;
      return Promise.resolve(this.overflow);
    }
    return new Promise<R>((resolve) => {
      this.queue.push({ item, resolve });
      this.highWater = Math.max(this.highWater, this.pending);
      this.schedule();
    });
  }

  /** Refuses everything waiting and anything pushed later. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    for (const w of this.queue.slice(this.head)) w.resolve(this.overflow);
    this.queue = [];
    this.head = 0;
  }

  /** `now`: items left over from a batch have waited already, so they go in the next turn. */
  private schedule(now = false): void {
    if (this.running || this.closed || this.immediate !== undefined || this.pending === 0) return;
    if (now || this.pending >= this.opts.batchSize || this.opts.waitMs <= 0) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        void this.flush();
      });
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.opts.waitMs);
  }

  private async flush(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    const batch = this.queue.slice(this.head, this.head + this.opts.batchSize);
    this.head += batch.length;
    if (this.head > 1_024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    let results: R[];
    try {
      results = await this.judge(batch.map((w) => w.item));
    } catch {
      results = [];
    }
    for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i] ?? this.overflow);
    this.running = false;
    this.schedule(true);
  }
}
