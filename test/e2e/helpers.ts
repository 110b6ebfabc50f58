// What the end-to-end tests share: running the real `flux` command, and waiting for a condition.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const FLUX = join(import.meta.dirname, '../../src/cli/flux.ts');

export interface FluxRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `flux ARGS` as a child process with extra environment and standard input. */
export function flux(
  args: string[],
  env: Record<string, string> = {},
  stdin = '',
  timeoutMs = 60_000,
): Promise<FluxRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [FLUX, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin);
  });
}

/** Polls `fn` until it returns a value; fails after `timeoutMs` naming what it waited for. */
export async function until<T>(
  what: string | (() => string),
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
}
