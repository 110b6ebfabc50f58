// What the benchmarks that drive a devnet share: the real `flux` command and an HTTP probe.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

const FLUX = join(import.meta.dirname, '../src/cli/flux.ts');
export const EXAMPLE = join(import.meta.dirname, '../examples/hello-web/app.yaml');

export function flux(
  args: string[],
  env: Record<string, string>,
  stdin = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [FLUX, ...args],
      { env: { ...process.env, ...env }, timeout: 180_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin);
  });
}

/** The body of a 2xx answer, or undefined (error, timeout, other status). */
export async function httpText(url: string, timeoutMs = 1_000): Promise<string | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export interface BenchDevnetNode {
  index: number;
  api: string;
  ingress: string;
  pid: number;
}

/** A detached devnet of `nodes` nodes (node 0 mines) on kernel-picked ports; throws when it fails. */
export async function devnetUp(
  dir: string,
  env: Record<string, string>,
  nodes: number,
): Promise<BenchDevnetNode[]> {
  const up = await flux(
    [
      'devnet',
      'up',
      '--nodes',
      String(nodes),
      '--miners',
      '1',
      '--detach',
      '--free-ports',
      '--dir',
      dir,
      '--json',
    ],
    env,
  );
  if (up.code !== 0) throw new Error(`devnet up: ${up.stderr}`);
  return JSON.parse(up.stdout).nodes;
}
