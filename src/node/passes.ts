// One pass at a time, for the node's background loops (FluxNode confirmations, the app agent):
// a request during a pass asks for exactly one more pass after it, however many requests came.

export interface Passes {
  /** Runs a pass now, or one more after the running one; settles when the passes end. */
  run(): Promise<void>;
  /** No pass starts after this; resolves when the running one ends. */
  stop(): Promise<void>;
  readonly stopped: boolean;
}

/** Errors of a pass go to `onError` when given; otherwise the promise of `run` rejects. */
export function serialPasses(pass: () => Promise<void>, onError?: (e: Error) => void): Passes {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const run = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await pass();
        } while (again && !stopped);
      } catch (e) {
        if (!onError) throw e;
        onError(e as Error);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  return {
    run,
    async stop() {
      stopped = true;
      await running;
    },
    get stopped() {
      return stopped;
    },
  };
}
