// The chaos suite's network: one Linux network namespace per node (and per attacker), joined by
// a userspace switch (wire.py) that owns a TUN device inside each namespace and forwards IPv4
// packets between them with a fixed per-pair delay and random loss (no `tc netem` on these
// kernels). Partitions are iptables DROP rules inside the nodes' namespaces. Nothing is created
// in, or changed about, the namespace the test runs in: the TUN devices are born inside the
// test's namespaces, and the test reaches the nodes' APIs through Unix sockets that wire.py
// forwards from inside each namespace.
//
// Everything carries the prefix `ofx-chaos-<pid>-`, is removed on exit, on SIGINT/SIGTERM/SIGHUP,
// and (for runs that died without cleaning up) at the next start.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export const WIRE = join(import.meta.dirname, 'wire.py');
export const NS_PREFIX = 'ofx-chaos-';
/** Node i has 10.77.0.(i+1); attacker j has 10.77.1.(j+1). */
export const nodeAddress = (i: number): string => `10.77.0.${i + 1}`;
export const attackerAddress = (j: number): string => `10.77.1.${j + 1}`;
const PARTITION_CHAIN = 'OFX-PART';

export interface Endpoint {
  /** Short name: n0.., a0.. */
  name: string;
  netns: string;
  addr: string;
  /** A Unix socket that reaches `addr:apiPort` inside the namespace. */
  apiSocket?: string;
  apiPort?: number;
}

export interface WireOptions {
  /** One-way delay of each pair, spread evenly over [min, max] ms (fixed per pair). */
  delayMs: [number, number];
  /** Fraction of packets dropped, each direction. */
  loss: number;
  seed: number;
  mtu: number;
}

export interface ProbeResult {
  sent: number;
  oneWayReceived: number;
  echoed: number;
  rttMs: { min: number; median: number; max: number } | null;
}

function run(cmd: string, args: string[], timeoutMs = 15_000): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** Why this machine cannot run the chaos suite, or undefined when it can. */
export function chaosUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (ip netns, TUN devices, iptables)';
  for (const [tool, args] of [
    ['ip', ['-V']],
    ['python3', ['--version']],
    ['iptables', ['--version']],
  ] as const) {
    if (!tryRun(tool, [...args])) return `needs \`${tool}\` on the PATH`;
  }
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return 'needs /dev/net/tun';
  }
  const probe = `${NS_PREFIX}probe-${process.pid}`;
  try {
    run('ip', ['netns', 'add', probe]);
  } catch (e) {
    return `\`ip netns add\` fails here: ${((e as { stderr?: string }).stderr ?? String(e)).trim()}`;
  }
  try {
    run('ip', ['netns', 'exec', probe, 'iptables', '-S']);
  } catch (e) {
    return `iptables does not work inside a network namespace: ${((e as { stderr?: string }).stderr ?? String(e)).trim()}`;
  } finally {
    tryRun('ip', ['netns', 'del', probe]);
  }
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function namespacePids(netns: string): number[] {
  try {
    return run('ip', ['netns', 'pids', netns])
      .split('\n')
      .filter((l) => /^[0-9]+$/.test(l.trim()))
      .map(Number);
  } catch {
    return [];
  }
}

/** Kills what still runs inside a namespace of ours, then deletes the namespace. */
function removeNamespace(netns: string): void {
  if (!netns.startsWith(NS_PREFIX)) throw new Error(`refusing to remove ${netns}: not a chaos namespace`);
  for (const pid of namespacePids(netns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  tryRun('ip', ['netns', 'del', netns]);
}

/**
 * Removes the namespaces of earlier runs whose test process is gone (a run killed with SIGKILL
 * cannot clean up after itself). Returns the names removed.
 */
export function removeStaleNamespaces(): string[] {
  let names: string[] = [];
  try {
    names = run('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((n) => n?.startsWith(NS_PREFIX));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(/^ofx-chaos-(?:probe-)?([0-9]+)/.exec(name)?.[1]);
    if (Number.isSafeInteger(pid) && pid !== process.pid && pidAlive(pid)) continue;
    if (pid === process.pid) continue;
    removeNamespace(name);
    removed.push(name);
  }
  return removed;
}

/**
 * The namespaces and the switch between them. `close()` (also run on exit and on signals)
 * kills the processes started in them and deletes them.
 */
export class ChaosNet {
  readonly dir: string;
  readonly endpoints: Endpoint[];
  readonly options: WireOptions;
  private wire?: ChildProcess;
  private readonly children = new Set<ChildProcess>();
  private closed = false;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`chaos: ${signal}: removing the chaos namespaces\n`);
    this.closeSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  private readonly onExit = () => this.closeSync();

  private constructor(dir: string, endpoints: Endpoint[], options: WireOptions) {
    this.dir = dir;
    this.endpoints = endpoints;
    this.options = options;
  }

  /** Creates `nodes` node namespaces and `attackers` attacker namespaces and starts the switch. */
  static async create(o: { dir: string; nodes: number; attackers: number; apiPort: number } & WireOptions) {
    mkdirSync(o.dir, { recursive: true });
    const base = `${NS_PREFIX}${process.pid}`;
    const endpoints: Endpoint[] = [
      ...Array.from({ length: o.nodes }, (_, i) => ({
        name: `n${i}`,
        netns: `${base}-n${i}`,
        addr: nodeAddress(i),
        apiSocket: join(o.dir, `api-n${i}.sock`),
        apiPort: o.apiPort,
      })),
      ...Array.from({ length: o.attackers }, (_, j) => ({
        name: `a${j}`,
        netns: `${base}-a${j}`,
        addr: attackerAddress(j),
      })),
    ];
    const net = new ChaosNet(o.dir, endpoints, {
      delayMs: o.delayMs,
      loss: o.loss,
      seed: o.seed,
      mtu: o.mtu,
    });
    process.on('exit', net.onExit);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, net.onSignal);
    try {
      for (const ep of endpoints) run('ip', ['netns', 'add', ep.netns]);
      await net.startWire();
    } catch (e) {
      net.closeSync();
      throw e;
    }
    return net;
  }

  private async startWire(): Promise<void> {
    const config = join(this.dir, 'wire.json');
    writeFileSync(
      config,
      JSON.stringify({
        endpoints: this.endpoints.map((ep) => ({
          name: ep.name,
          netns: ep.netns,
          addr: ep.addr,
          ...(ep.apiSocket ? { api: { socket: ep.apiSocket, port: ep.apiPort } } : {}),
        })),
        delay_ms: this.options.delayMs,
        loss: this.options.loss,
        seed: this.options.seed,
        mtu: this.options.mtu,
        control: join(this.dir, 'wire-control.sock'),
      }),
    );
    const wire = spawn('python3', [WIRE, config], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.wire = wire;
    let err = '';
    wire.stderr!.on('data', (d) => {
      err += d;
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`wire.py did not start in 15 s: ${err}`)), 15_000);
      wire.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('"ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      wire.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`wire.py exited (${code}) while starting: ${err.trim()}`));
      });
    });
    wire.on('exit', (code, signal) => {
      if (!this.closed) process.stderr.write(`chaos: wire.py exited (${code ?? signal}): ${err.trim()}\n`);
    });
  }

  /** Whether the switch still runs (without it every link is down). */
  wireAlive(): boolean {
    return this.wire !== undefined && this.wire.exitCode === null && this.wire.signalCode === null;
  }

  endpoint(name: string): Endpoint {
    const ep = this.endpoints.find((e) => e.name === name);
    if (!ep) throw new Error(`no endpoint ${name}`);
    return ep;
  }

  /** Starts `command` inside an endpoint's namespace; it is killed when the net closes. */
  spawnIn(
    name: string,
    command: string,
    args: string[],
    stdio: Array<'ignore' | 'pipe' | number>,
    env?: NodeJS.ProcessEnv,
  ): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.endpoint(name).netns, command, ...args], {
      stdio: stdio as never,
      env: env ?? process.env,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Asks the switch for its counters (packets forwarded, dropped by loss, ...). */
  control(command: 'stats' | 'delays'): Promise<Record<string, number>> {
    return new Promise((resolve, reject) => {
      const sock = connect(join(this.dir, 'wire-control.sock'));
      let text = '';
      sock.setTimeout(3_000, () => sock.destroy(new Error('wire control timed out')));
      sock.on('connect', () => sock.write(`${command}\n`));
      sock.on('data', (d) => {
        text += d;
      });
      sock.on('end', () => {
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(e);
        }
      });
      sock.on('error', reject);
    });
  }

  /** UDP datagrams from one endpoint to another and back: the latency and loss really applied. */
  probe(from: string, to: string, count = 200, intervalMs = 5): ProbeResult {
    const a = this.endpoint(from);
    const b = this.endpoint(to);
    const out = run(
      'python3',
      [WIRE, 'probe', a.netns, a.addr, b.netns, b.addr, String(count), String(intervalMs / 1000)],
      30_000,
    );
    return JSON.parse(out) as ProbeResult;
  }

  /**
   * Cuts the network into groups (node names): every node drops packets to and from the nodes of
   * other groups (iptables in its own namespace). Endpoints in no group keep every link.
   */
  partition(groups: string[][]): void {
    for (const group of groups) {
      const others = groups.filter((g) => g !== group).flat();
      for (const name of group) {
        const ns = this.endpoint(name).netns;
        const ipt = (...args: string[]) => run('ip', ['netns', 'exec', ns, 'iptables', ...args]);
        if (!tryRun('ip', ['netns', 'exec', ns, 'iptables', '-S', PARTITION_CHAIN])) {
          ipt('-N', PARTITION_CHAIN);
          ipt('-I', 'INPUT', '-j', PARTITION_CHAIN);
          ipt('-I', 'OUTPUT', '-j', PARTITION_CHAIN);
        }
        ipt('-F', PARTITION_CHAIN);
        for (const other of others) {
          const addr = this.endpoint(other).addr;
          ipt('-A', PARTITION_CHAIN, '-s', addr, '-j', 'DROP');
          ipt('-A', PARTITION_CHAIN, '-d', addr, '-j', 'DROP');
        }
      }
    }
  }

  /** Removes every partition rule. */
  heal(): void {
    for (const ep of this.endpoints) {
      tryRun('ip', ['netns', 'exec', ep.netns, 'iptables', '-F', PARTITION_CHAIN]);
    }
  }

  /** Kills what runs in the namespaces and the switch, and deletes the namespaces. */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const child of this.children) {
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {}
      }
    }
    if (this.wire?.pid !== undefined) {
      try {
        process.kill(this.wire.pid, 'SIGKILL');
      } catch {}
    }
    for (const ep of this.endpoints) removeNamespace(ep.netns);
    process.off('exit', this.onExit);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, this.onSignal);
  }

  /** The namespaces of this net that still exist (for the cleanup test). */
  remainingNamespaces(): string[] {
    return this.endpoints.map((e) => e.netns).filter((n) => existsSync(`/var/run/netns/${n}`));
  }
}

/** The last `count` lines of a file that match `pattern`, from byte `from` on. */
export function logExcerpt(file: string, from: number, pattern: RegExp, count: number): string[] {
  let text = '';
  try {
    text = readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return ['(no log)'];
  }
  return text
    .split('\n')
    .filter((l) => pattern.test(l))
    .slice(-count);
}
