// Polling until a condition holds, for tests and benches that wait on nodes, processes or timers.

/** What a check answers while the condition does not hold yet. */
type NotYet = undefined | false;

/**
 * Polls `check` every `intervalMs` until it answers something other than undefined or false and
 * resolves to that answer; fails after `timeoutMs`, naming what it waited for (`what` may be a
 * function, so the message can show the last state seen).
 */
export async function until<T>(
  what: string | (() => string),
  check: () => T | NotYet | Promise<T | NotYet>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - start > timeoutMs)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    await sleep(intervalMs);
  }
}

/** As `until`, resolving to how many milliseconds the wait took. */
export async function waitFor(
  what: string | (() => string),
  check: () => unknown,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<number> {
  const start = Date.now();
  await until(what, check, timeoutMs, intervalMs);
  return Date.now() - start;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
