// Devnets and daemons for the end-to-end tests and the benches: the real `flux` command, `flux
// devnet up` and its teardown, and one `flux node run` in its own process.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type Docker from 'dockerode';
import { nodeAlive } from '../../src/cli/devnet.ts';
import { LABELS } from '../../src/node/fluxos/options.ts';
import { mounts } from '../../src/node/fluxos/volumes.ts';
import type { CliRun } from './io.ts';

export const FLUX = join(import.meta.dirname, '../../src/cli/flux.ts');
/** The example app's spec (examples/hello-web). */
export const EXAMPLE = join(import.meta.dirname, '../../examples/hello-web/app.yaml');

/** Runs `flux ARGS` as a child process with extra environment and standard input. */
export function flux(
  args: string[],
  env: Record<string, string> = {},
  stdin = '',
  timeoutMs = 60_000,
): Promise<CliRun> {
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

/** The last `count` lines of each devnet node's log that match `pattern` (for failure messages). */
export function devnetLogLines(
  devnetDir: string,
  nodes: Array<{ index: number }>,
  pattern: RegExp,
  count = 20,
): string {
  return nodes
    .map((n) => {
      let text = '';
      try {
        text = readFileSync(join(devnetDir, `node-${n.index}`, 'node.log'), 'utf8');
      } catch {}
      const lines = text.split('\n').filter((l) => pattern.test(l));
      return `node ${n.index}:\n${lines.slice(-count).join('\n')}`;
    })
    .join('\n');
}

/**
 * Stops a devnet started by a test (`flux devnet down`, then SIGKILL for any node left), removes
 * the containers and networks of `app` when a Docker client is given, and deletes the test's
 * directory.
 */
export async function tearDownDevnet(o: {
  dir: string;
  devnetDir: string;
  env: Record<string, string>;
  nodes: Array<{ index: number; pid: number }>;
  docker?: Docker;
  app?: string;
}): Promise<void> {
  await flux(['devnet', 'down', '--dir', o.devnetDir, '--timeout', '5'], o.env);
  for (const n of o.nodes)
    if (nodeAlive(n.pid, join(o.devnetDir, `node-${n.index}`))) process.kill(n.pid, 'SIGKILL');
  if (o.docker && o.app) {
    const docker = o.docker;
    for (const c of await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.app}=${o.app}`] },
    }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {});
    // Its networks too: Docker has a few dozen address pools, and a detached devnet keeps them.
    for (const n of await docker.listNetworks({ filters: { label: [`${LABELS.app}=${o.app}`] } }))
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => {});
    const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABELS.app}=${o.app}`] } });
    for (const v of Volumes ?? [])
      await docker
        .getVolume(v.Name)
        .remove()
        .catch(() => {});
  }
  // App volumes a killed node left mounted (loop devices): unmounted before the files go.
  for (const mnt of mountsUnder(o.dir)) spawnSync('umount', ['-l', mnt]);
  rmSync(o.dir, { recursive: true, force: true });
}

export interface DevnetUp {
  nodes: Array<{ index: number; api: string; ingress: string; pid: number; peerId: string; p2p: string[] }>;
  app?: { file: string; running: boolean; error?: string };
  /** What `flux devnet up` said on stderr (progress of the app's deploy). */
  stderr: string;
}

/** `flux devnet up --detach --free-ports --json` with `nodes` nodes of which node 0 mines. */
export async function devnetUp(
  devnetDir: string,
  env: Record<string, string>,
  nodes: number,
  extra: string[] = [],
  timeoutMs = 120_000,
): Promise<DevnetUp> {
  const r = await flux(
    [
      'devnet',
      'up',
      '--nodes',
      String(nodes),
      '--miners',
      '1',
      ...extra,
      '--detach',
      '--free-ports',
      '--dir',
      devnetDir,
      '--json',
    ],
    env,
    '',
    timeoutMs,
  );
  assert.equal(r.code, 0, `flux devnet up:\n${r.stderr}`);
  return { ...JSON.parse(r.stdout), stderr: r.stderr };
}

export interface Fluxd {
  child: ChildProcess;
  /** Its first line on stdout (--json): `{event: 'ready', api, ...}`. */
  ready: Promise<{ event: string; api: string }>;
  stderr: string[];
  exited: Promise<number | null>;
}

/**
 * Starts `flux node run --network devnet ARGS --json`; `ready` resolves once it reports on stdout
 * and fails when it exits first or, with `readyTimeoutMs`, does not report in time.
 */
export function spawnFluxd(args: string[], name: string, readyTimeoutMs?: number): Fluxd {
  const child = spawn(process.execPath, [FLUX, 'node', 'run', '--network', 'devnet', ...args, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<{ event: string; api: string }>((resolve, reject) => {
    const timer =
      readyTimeoutMs === undefined
        ? undefined
        : setTimeout(() => reject(new Error(`${name} did not start:\n${stderr.join('\n')}`)), readyTimeoutMs);
    exited.then((code) => reject(new Error(`${name} exited with ${code}:\n${stderr.join('\n')}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
  });
  return { child, ready, stderr, exited };
}

/** Mount points under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return mounts()
    .map((m) => m.point)
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}
