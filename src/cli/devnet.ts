// `flux devnet up|status|down`: a local multi-node devnet. Each node is a separate `flux node run`
// process (own datadir, API and p2p address), all on one shared devnet genesis; node 0 is the
// bootstrap peer of the others and the first miners mine. The state (pids, URLs) lives in
// DIR/devnet.json so `status` and `down` work from any shell.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createClient } from '../api/client.ts';
import type { ChainInfoJson, NetworkJson } from '../api/routes.ts';
import { devnet } from '../core/params/index.ts';
import { DEFAULT_API_PORT } from '../node/api/server.ts';
import { readDevnetGenesis, writeDevnetGenesis } from '../node/genesis.ts';
import { DEFAULT_P2P_PORT, PEER_KEY_FILE } from '../node/node.ts';
import { loadOrCreatePeerKey, peerIdOf } from '../node/p2p/index.ts';
import type { CommandContext } from './context.ts';
import { checkAppFile, deployOnDevnet, removeDevnetApps } from './devnet-app.ts';
import { devnetGenesisWithNodes } from './devnet-nodes.ts';
import { CliError } from './io.ts';

export const DEVNET_STATE_FILE = 'devnet.json';
export const DEFAULT_DEVNET_DIR = join('.data', 'devnet');
const FLUX = join(import.meta.dirname, 'flux.ts');
/** Pipes to the nodes a foreground `up` started: held open until this process ends. */
const lifelines: unknown[] = [];
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export interface DevnetNodeState {
  index: number;
  pid: number;
  datadir: string;
  host: string;
  mine: boolean;
  /** API base URL and p2p addresses once the node reported them. */
  api?: string;
  /** Ingress base URL (apps at /apps/<app>/ or by Host <app>.flux.localhost). */
  ingress?: string;
  peerId: string;
  p2p: string[];
  log: string;
}

export interface DevnetState {
  dir: string;
  genesis: string;
  startedAt: number;
  nodes: DevnetNodeState[];
}

export interface DevnetNodeStatus {
  index: number;
  pid: number;
  alive: boolean;
  mine: boolean;
  api?: string;
  peerId: string;
  height?: number;
  tip?: string;
  peers?: number;
  /** The devnet nodes it is connected to (by index), and how many of its peers it dialled itself. */
  linked?: number[];
  outbound?: number;
  syncing?: boolean;
  mempool?: number;
  error?: string;
}

function devnetDir(ctx: CommandContext): string {
  return resolve((ctx.values.dir as string | undefined) ?? DEFAULT_DEVNET_DIR);
}

function intOption(ctx: CommandContext, name: string, fallback: number, min: number, max: number): number {
  const text = ctx.values[name] as string | undefined;
  if (text === undefined) return fallback;
  if (!/^[0-9]{1,4}$/.test(text) || Number(text) < min || Number(text) > max)
    throw new CliError(`--${name} must be an integer from ${min} to ${max}, not ${text}`, 2);
  return Number(text);
}

export async function readDevnetState(dir: string): Promise<DevnetState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, DEVNET_STATE_FILE), 'utf8')) as DevnetState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`${join(dir, DEVNET_STATE_FILE)} is unreadable: ${(e as Error).message}`);
  }
}

async function writeDevnetState(state: DevnetState): Promise<void> {
  const file = join(state.dir, DEVNET_STATE_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/**
 * Whether `pid` is still the node started for `datadir`: signal 0 reaches it, it is not a zombie
 * waiting to be reaped, and (where /proc exists) its command line names the datadir, so a reused
 * pid is not mistaken for the node.
 */
export function nodeAlive(pid: number, datadir: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!existsSync('/proc/self/stat')) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(datadir);
  } catch {
    return false;
  }
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => done(true)));
  });
}

/** A port free on `host` now (the kernel's pick). */
function freePort(host: string): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen({ host, port: 0 }, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Ready {
  api: string;
  ingress?: string;
  peerId: string;
  p2p: string[];
}

/** Waits for the node's `--json` ready line in its stdout file. */
async function waitReady(node: DevnetNodeState, outFile: string, deadline: number): Promise<Ready> {
  while (Date.now() < deadline) {
    let text = '';
    try {
      text = readFileSync(outFile, 'utf8');
    } catch {}
    const line = text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .find((l) => l.startsWith('{'));
    if (line !== undefined) {
      const ready = JSON.parse(line) as Ready & { event: string };
      if (ready.event === 'ready') return ready;
    }
    if (!nodeAlive(node.pid, node.datadir))
      throw new CliError(
        `node ${node.index} exited while starting; its log (${node.log}):\n${tail(node.log)}`,
      );
    await sleep(100);
  }
  throw new CliError(`node ${node.index} did not start in time; its log (${node.log}):\n${tail(node.log)}`);
}

async function queryNode(node: DevnetNodeState): Promise<{ info: ChainInfoJson; net: NetworkJson }> {
  const client = createClient({ baseUrl: node.api ?? '', timeoutMs: 2_000 });
  const [info, net] = await Promise.all([client.chainInfo(), client.network()]);
  return { info, net };
}

export async function devnetStatusOf(state: DevnetState): Promise<DevnetNodeStatus[]> {
  return Promise.all(
    state.nodes.map(async (n): Promise<DevnetNodeStatus> => {
      const base = {
        index: n.index,
        pid: n.pid,
        alive: nodeAlive(n.pid, n.datadir),
        mine: n.mine,
        api: n.api,
        peerId: n.peerId,
      };
      if (!base.alive || n.api === undefined) return base;
      try {
        const { info, net } = await queryNode(n);
        return {
          ...base,
          height: info.height,
          tip: info.tipHash,
          peers: net.peers.length,
          linked: state.nodes.filter((o) => net.peers.some((p) => p.id === o.peerId)).map((o) => o.index),
          outbound: net.peers.filter((p) => p.direction === 'outbound').length,
          syncing: net.syncing,
          mempool: info.mempoolSize,
        };
      } catch (e) {
        return { ...base, error: (e as Error).message };
      }
    }),
  );
}

function statusTable(rows: DevnetNodeStatus[]): string {
  const head = ['node', 'api', 'height', 'peers', 'out', 'linked to', 'tip', 'mempool', 'state'];
  const body = rows.map((r) => [
    String(r.index),
    r.api ?? '-',
    r.height === undefined ? '-' : String(r.height),
    r.peers === undefined ? '-' : String(r.peers),
    r.outbound === undefined ? '-' : String(r.outbound),
    r.linked === undefined ? '-' : r.linked.join(',') || 'none',
    r.tip === undefined ? '-' : r.tip.slice(0, 16),
    r.mempool === undefined ? '-' : String(r.mempool),
    !r.alive
      ? 'stopped'
      : r.error !== undefined
        ? 'not answering'
        : `${r.syncing ? 'syncing' : 'synced'}${r.mine ? ', mining' : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  return [head, ...body]
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function devnetUp(ctx: CommandContext): Promise<number> {
  const count = intOption(ctx, 'nodes', 3, 1, 250);
  // Two miners by default, so blocks really compete; the miner's jitter keeps them from
  // publishing at the same instant.
  const miners = intOption(ctx, 'miners', Math.min(2, count), 0, count);
  const foreground = ctx.values.detach !== true;
  const dockerSocket = ctx.values['docker-socket'] as string | undefined;
  const dir = devnetDir(ctx);

  // A bad spec is refused before any node starts.
  const appFile = ctx.values.app as string | undefined;
  if (appFile !== undefined) await checkAppFile(appFile);

  const previous = await readDevnetState(dir);
  if (previous?.nodes.some((n) => nodeAlive(n.pid, n.datadir))) {
    throw new CliError(
      `a devnet is already running in ${dir}; stop it first with: flux devnet down --dir ${dir}`,
    );
  }
  if (ctx.values.reset === true) await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });

  // One genesis for all nodes, written once; a later `up` on the same dir restarts that devnet.
  // Separate loopback addresses make the nodes look like separate machines (Linux routes all
  // of 127/8 to lo); elsewhere they share 127.0.0.1 on free ports. Node 0 is on 127.0.0.1, so
  // the CLI's default --api reaches it.
  const distinct = count > 1 && (await canBind('127.0.0.2', 0));
  const hostOf = (i: number) => (distinct ? `127.0.0.${i + 1}` : '127.0.0.1');

  // One genesis for all nodes (each registered as a FluxNode), written once; a later `up` on the
  // same dir restarts that devnet.
  const genesis = join(dir, 'genesis.json');
  // --free-ports: kernel-picked ports only, so devnets started side by side (tests) never race
  // for the default ones.
  const fixedPorts = ctx.values['free-ports'] !== true;
  const portOf = async (host: string, preferred: number) =>
    fixedPorts && distinct && (await canBind(host, preferred)) ? preferred : 0;
  // The API port goes into each node's FluxNode endpoint (other nodes ask it for app status), so
  // it is chosen before the genesis is written, and a restart reuses it.
  let apiPorts: number[] = [];
  if (existsSync(genesis)) {
    ctx.note(`reusing the devnet in ${dir} (--reset starts a new one)`);
    const saved = await readDevnetGenesis(genesis);
    apiPorts = (saved?.genesis.nodes ?? []).map((n) =>
      Number(n.endpoint.slice(n.endpoint.lastIndexOf(':') + 1)),
    );
  } else {
    for (let i = 0; i < count; i++)
      apiPorts.push((await portOf(hostOf(i), DEFAULT_API_PORT)) || (await freePort(hostOf(i))));
    await writeDevnetGenesis(
      genesis,
      await devnetGenesisWithNodes(ctx, dir, count, (i) => `${hostOf(i)}:${apiPorts[i]}`),
    );
  }

  const peerIds = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      peerIdOf(loadOrCreatePeerKey(join(dir, `node-${i}`, PEER_KEY_FILE))),
    ),
  );
  const state: DevnetState = { dir, genesis, startedAt: Date.now(), nodes: [] };
  const deadline = Date.now() + READY_TIMEOUT_MS;

  const startNode = async (
    i: number,
    bootstrap: string[],
  ): Promise<{ node: DevnetNodeState; out: string }> => {
    const datadir = join(dir, `node-${i}`);
    await mkdir(datadir, { recursive: true });
    const host = hostOf(i);
    const apiPort = apiPorts[i] ?? (await portOf(host, DEFAULT_API_PORT));
    const p2pPort = await portOf(host, DEFAULT_P2P_PORT);
    const ingressPort = (await portOf(host, devnet.apps.ingressPort)) || (await freePort(host));
    const log = join(datadir, 'node.log');
    const out = join(datadir, 'ready.json');
    const args = [
      FLUX,
      'node',
      'run',
      '--network',
      'devnet',
      '--datadir',
      datadir,
      '--genesis',
      genesis,
      '--host',
      host,
      '--api-port',
      String(apiPort),
      '--p2p-port',
      String(p2pPort),
      '--ingress-port',
      String(ingressPort),
      '--json',
      // Wall-clock times on every line: the nodes' logs read side by side.
      '--log-time',
      ...(dockerSocket ? ['--docker-socket', dockerSocket] : []),
      ...(i < miners ? ['--mine'] : []),
      ...bootstrap.flatMap((b) => ['--bootstrap', b]),
      // In the foreground the nodes hold a pipe from this command: if it dies (even by
      // SIGKILL) they stop and remove their app containers, leaving no orphans.
      ...(foreground ? ['--stop-on-stdin-close', '--remove-apps-on-stop'] : []),
    ];
    await rm(out, { force: true });
    const outFd = openSync(out, 'w');
    const errFd = openSync(log, 'a');
    try {
      // Detached: the nodes outlive this command (and a Ctrl-C in its terminal) until `down`.
      const child = spawn(process.execPath, args, {
        detached: true,
        stdio: [foreground ? 'pipe' : 'ignore', outFd, errFd],
      });
      child.unref();
      if (child.stdin !== null) {
        (child.stdin as unknown as { unref(): void }).unref();
        lifelines.push(child.stdin);
      }
      if (child.pid === undefined) throw new CliError(`could not start node ${i}: ${process.execPath}`);
      const node: DevnetNodeState = {
        index: i,
        pid: child.pid,
        datadir,
        host,
        mine: i < miners,
        peerId: peerIds[i],
        p2p: [],
        log,
      };
      state.nodes[i] = node;
      return { node, out };
    } finally {
      closeSync(outFd);
      closeSync(errFd);
    }
  };
  const becomeReady = async ({ node, out }: { node: DevnetNodeState; out: string }) => {
    const ready = await waitReady(node, out, deadline);
    node.api = ready.api;
    node.ingress = ready.ingress;
    node.p2p = ready.p2p;
    if (ready.peerId !== node.peerId)
      throw new CliError(`node ${node.index} runs as ${ready.peerId}, expected ${node.peerId}`);
  };

  try {
    const first = await startNode(0, []);
    await writeDevnetState(state);
    await becomeReady(first);
    const boot = first.node.p2p.find((a) => a.includes(`/ip4/${first.node.host}/`)) ?? first.node.p2p[0];
    const rest = [];
    for (let i = 1; i < count; i++) rest.push(await startNode(i, [boot]));
    await writeDevnetState(state);
    await Promise.all(rest.map(becomeReady));
    await writeDevnetState(state);

    // Every node answers its API and, in a network of several, has a peer.
    for (;;) {
      const status = await devnetStatusOf(state);
      const waiting = status.filter((s) => s.height === undefined || (count > 1 && (s.peers ?? 0) === 0));
      if (waiting.length === 0) break;
      const dead = status.find((s) => !s.alive);
      if (dead !== undefined) {
        const n = state.nodes[dead.index];
        throw new CliError(`node ${n.index} exited; its log (${n.log}):\n${tail(n.log)}`);
      }
      if (Date.now() > deadline) {
        throw new CliError(
          `timed out waiting for node(s) ${waiting.map((s) => s.index).join(', ')} to answer and find peers; logs in ${dir}/node-*/node.log`,
        );
      }
      await sleep(200);
    }
  } catch (e) {
    ctx.note(`flux devnet up: ${(e as Error).message}`);
    ctx.note('stopping the nodes that started');
    await stopNodes(state, ctx, STOP_TIMEOUT_MS);
    return 1;
  }

  let app: { file: string; running: boolean; error?: string } | undefined;
  if (appFile !== undefined) {
    const node0 = state.nodes[0];
    try {
      if (node0.api === undefined) throw new Error('node 0 serves no API');
      app = {
        file: appFile,
        running: await deployOnDevnet(ctx, appFile, { api: node0.api, ingress: node0.ingress }),
      };
    } catch (e) {
      app = { file: appFile, running: false, error: (e as Error).message };
      ctx.note(`flux devnet up: the app did not start: ${(e as Error).message}`);
    }
  }

  const summary = {
    dir,
    genesis,
    ...(app ? { app } : {}),
    nodes: state.nodes.map((n) => ({
      index: n.index,
      api: n.api,
      ingress: n.ingress,
      peerId: n.peerId,
      p2p: n.p2p,
      pid: n.pid,
      mine: n.mine,
    })),
  };
  ctx.emit(
    summary,
    [
      `devnet of ${count} node(s) in ${dir}, ${miners} mining`,
      ...state.nodes.map(
        (n) =>
          `node ${n.index}  ${n.api}  ingress ${n.ingress}  ${n.peerId}${n.mine ? '  mining' : ''}  (pid ${n.pid})`,
      ),
      '',
      `use it:  export FLUX_API=${state.nodes[0].api}   (or --api URL on any flux command)`,
      `         flux devnet status --dir ${dir}`,
      `         flux devnet down --dir ${dir}`,
    ].join('\n'),
  );
  if (ctx.values.detach === true) return 0;

  // Foreground: a status line now and then until Ctrl-C, then the nodes are stopped.
  ctx.note('Ctrl-C stops the devnet');
  const signal = new Promise<string>((done) => {
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });
  let stop: string | undefined;
  void signal.then((s) => {
    stop = s;
  });
  while (stop === undefined) {
    await Promise.race([signal, sleep(10_000)]);
    if (stop !== undefined) break;
    const rows = await devnetStatusOf(state);
    ctx.note(
      `heights ${rows.map((r) => r.height ?? '-').join(' ')}  peers ${rows.map((r) => r.peers ?? '-').join(' ')}  tips ${rows.map((r) => r.tip?.slice(0, 8) ?? '-').join(' ')}`,
    );
    if (rows.every((r) => !r.alive)) {
      ctx.note('every node has stopped');
      return 1;
    }
  }
  ctx.note(`${stop}: stopping the devnet`);
  await stopNodes(state, ctx, STOP_TIMEOUT_MS);
  const removed = await sweepApps(ctx, state);
  if (removed > 0) ctx.note(`removed ${removed} app container(s) of the devnet`);
  return 0;
}

/** Removes the devnet's app containers (those its nodes did not remove as they stopped). */
async function sweepApps(ctx: CommandContext, state: DevnetState): Promise<number> {
  const swept = await removeDevnetApps(state.genesis);
  if ('error' in swept) {
    ctx.note(`flux devnet: could not look for app containers to remove: ${swept.error}`);
    return 0;
  }
  return swept.removed;
}

export async function devnetStatus(ctx: CommandContext): Promise<number> {
  const dir = devnetDir(ctx);
  const state = await readDevnetState(dir);
  if (state === undefined)
    throw new CliError(`no devnet in ${dir} (start one with: flux devnet up --dir ${dir})`);
  const rows = await devnetStatusOf(state);
  ctx.emit({ dir, nodes: rows }, statusTable(rows));
  return 0;
}

/** SIGTERM to every live node, then SIGKILL to those still running after `timeoutMs`. */
async function stopNodes(state: DevnetState, ctx: CommandContext, timeoutMs: number) {
  const results = await Promise.all(
    state.nodes.map(async (n) => {
      if (!nodeAlive(n.pid, n.datadir))
        return { index: n.index, pid: n.pid, outcome: 'not running' as const };
      try {
        process.kill(n.pid, 'SIGTERM');
      } catch {}
      const end = Date.now() + timeoutMs;
      while (Date.now() < end && nodeAlive(n.pid, n.datadir)) await sleep(100);
      if (!nodeAlive(n.pid, n.datadir)) return { index: n.index, pid: n.pid, outcome: 'stopped' as const };
      try {
        process.kill(n.pid, 'SIGKILL');
      } catch {}
      while (nodeAlive(n.pid, n.datadir)) await sleep(50);
      return { index: n.index, pid: n.pid, outcome: 'killed' as const };
    }),
  );
  for (const r of results) {
    if (r.outcome === 'stopped') ctx.note(`node ${r.index} (pid ${r.pid}) stopped`);
    else if (r.outcome === 'killed')
      ctx.note(`node ${r.index} (pid ${r.pid}) did not stop in ${timeoutMs / 1000} s; killed`);
  }
  return results;
}

export async function devnetDown(ctx: CommandContext): Promise<number> {
  const dir = devnetDir(ctx);
  const state = await readDevnetState(dir);
  if (state === undefined) throw new CliError(`no devnet in ${dir}`);
  const timeoutMs = intOption(ctx, 'timeout', STOP_TIMEOUT_MS / 1000, 1, 3600) * 1000;
  const results = await stopNodes(state, ctx, timeoutMs);
  const stopped = results.filter((r) => r.outcome !== 'not running').length;
  const keep = ctx.values['keep-apps'] === true;
  const removed = keep ? 0 : await sweepApps(ctx, state);
  const apps = keep ? 'app containers kept (--keep-apps)' : `${removed} app container(s) removed`;
  ctx.emit(
    { dir, nodes: results, appContainersRemoved: removed },
    stopped === 0
      ? `no node of the devnet in ${dir} was running; ${apps}`
      : `devnet in ${dir} is down (${stopped} node(s) stopped); ${apps}`,
  );
  return 0;
}
