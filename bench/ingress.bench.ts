// Ingress throughput: requests/s through a node's ingress vs straight to the instance, and the p99
// latency it adds, against two upstreams: a bare node:http server in its own process (the
// cheapest upstream, so the proxy's own cost shows: the honest worst case) and the example app's
// container in the local Docker engine (what the issue asks for). The ingress runs in another
// process, and this one drives a fixed number of clients with a minimal raw HTTP/1.1 client (so
// the client's own cost does not hide the proxy's). Direct and proxied rounds alternate.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { buildExampleImage, EXAMPLE_IMAGE } from '../src/node/fluxos/example-image.ts';
import { type BenchRow, formatRate } from './table.ts';

const CONNECTIONS = 16;
const ROUND_MS = 2_000;
const ROUNDS = 3;
const PEER = join(import.meta.dirname, 'ingress-peer.ts');

interface Peer {
  child: ChildProcess;
  port: number;
}

function startPeer(args: string[]): Promise<Peer> {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`bench peer ${args[0]} exited with code ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n');
      if (line.length > 1) resolve({ child, port: Number(line[0]) });
    });
  });
}

function stopPeer(p: Peer): Promise<void> {
  return new Promise((resolve) => {
    p.child.removeAllListeners('exit');
    p.child.once('exit', () => resolve());
    p.child.kill('SIGTERM');
  });
}

/** CPU time (ms) a process has used, from /proc (Linux); undefined elsewhere. */
function cpuMs(pid: number | undefined): number | undefined {
  const file = `/proc/${pid}/stat`;
  if (pid === undefined || !existsSync(file)) return undefined;
  const fields = readFileSync(file, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in 1/100 s
}

interface Round {
  requests: number;
  errors: number;
  ms: number;
  latencies: number[];
}

/**
 * One client sending GETs back to back until `until` over a keep-alive connection, opening a new
 * one whenever the server closes it (busybox httpd answers `connection: close`: then each
 * request's latency includes its connect). Latencies in ms.
 */
function connection(port: number, host: string, until: number, into: Round): Promise<void> {
  const ask = Buffer.from(`GET / HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
  return new Promise((resolve) => {
    let sent = 0;
    const open = () => {
      if (performance.now() >= until) {
        resolve();
        return;
      }
      sent = performance.now();
      const s = connect({ host: '127.0.0.1', port });
      s.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      let done = false;
      let waiting = true;
      const next = () => {
        if (done) return;
        done = true;
        if (waiting) into.errors++; // closed or failed before its answer
        s.destroy();
        open();
      };
      s.on('connect', () => s.write(ask));
      s.on('error', next);
      s.on('end', next);
      s.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.subarray(0, end).toString('latin1');
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + length) return;
          buf = buf.subarray(end + 4 + length);
          waiting = false;
          into.latencies.push(performance.now() - sent);
          if (head.startsWith('HTTP/1.1 200')) into.requests++;
          else into.errors++;
          if (/\r\nconnection: *close/i.test(head) || performance.now() >= until) {
            next();
            return;
          }
          waiting = true;
          sent = performance.now();
          s.write(ask);
        }
      });
    };
    open();
  });
}

async function round(port: number, host: string, ms: number): Promise<Round> {
  const r: Round = { requests: 0, errors: 0, ms, latencies: [] };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, () => connection(port, host, t0 + ms, r)));
  r.ms = performance.now() - t0;
  return r;
}

function merge(rounds: Round[]): { perSecond: number; errors: number; p50: number; p99: number } {
  const lat = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const requests = rounds.reduce((n, r) => n + r.requests, 0);
  const ms = rounds.reduce((n, r) => n + r.ms, 0);
  return {
    perSecond: (requests / ms) * 1000,
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    p50: lat[Math.floor(lat.length * 0.5)] ?? 0,
    p99: lat[Math.floor(lat.length * 0.99)] ?? 0,
  };
}

interface Comparison {
  direct: ReturnType<typeof merge>;
  proxied: ReturnType<typeof merge>;
  /** Ingress CPU per proxied request, µs (NaN where /proc is missing). */
  cpuPerRequest: number;
}

/** Direct and proxied rounds alternating, after a warm-up of both paths. */
async function compare(directPort: number, ingress: Peer, host: string): Promise<Comparison> {
  await round(directPort, host, 300);
  await round(ingress.port, host, 300);
  const direct: Round[] = [];
  const proxied: Round[] = [];
  let ingressCpu = 0;
  for (let i = 0; i < ROUNDS; i++) {
    direct.push(await round(directPort, host, ROUND_MS));
    const before = cpuMs(ingress.child.pid) ?? Number.NaN;
    proxied.push(await round(ingress.port, host, ROUND_MS));
    ingressCpu += (cpuMs(ingress.child.pid) ?? Number.NaN) - before;
  }
  const proxiedRequests = proxied.reduce((n, r) => n + r.requests, 0);
  return {
    direct: merge(direct),
    proxied: merge(proxied),
    cpuPerRequest: (ingressCpu / proxiedRequests) * 1000,
  };
}

const ms = (x: number) => `${x.toFixed(2)} ms`;
const cpu = (c: Comparison) => (Number.isNaN(c.cpuPerRequest) ? 'n/a' : `${c.cpuPerRequest.toFixed(0)} µs`);
const errorsOf = (c: Comparison) =>
  c.proxied.errors + c.direct.errors
    ? `, errors ${c.proxied.errors} proxied / ${c.direct.errors} direct`
    : '';

/** The bare baseline: a node:http server on loopback, the cheapest upstream there is. */
async function bareRows(): Promise<BenchRow[]> {
  const upstream = await startPeer(['upstream']);
  const ingress = await startPeer(['ingress', String(upstream.port)]);
  try {
    const c = await compare(upstream.port, ingress, 'bench.flux.localhost');
    const { direct: d, proxied: p } = c;
    return [
      {
        name: `ingress: requests through the ingress (${CONNECTIONS} keep-alive clients)`,
        value: formatRate(p.perSecond, 'req/s'),
        ratio: `${(p.perSecond / d.perSecond).toFixed(2)}x of straight to the instance (${formatRate(d.perSecond, 'req/s')})${errorsOf(c)}`,
        goal: '>= 0.5x',
      },
      {
        name: 'ingress: CPU per proxied request (ingress process)',
        value: cpu(c),
        ratio: `upstream: node:http on loopback; ${CONNECTIONS} clients, ${ROUNDS} x ${ROUND_MS} ms per side`,
      },
      {
        name: 'ingress: added p99 latency',
        value: ms(p.p99 - d.p99),
        ratio: `p99 ${ms(p.p99)} vs ${ms(d.p99)} direct; p50 ${ms(p.p50)} vs ${ms(d.p50)}`,
      },
    ];
  } finally {
    await stopPeer(ingress);
    await stopPeer(upstream);
  }
}

/** Until a GET / on `port` answers 200, at most `ms`. */
async function answers(port: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
      await r.arrayBuffer();
      if (r.ok) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * What the issue asks for: the example app's container (busybox httpd, which closes each
 * connection after one answer) on a port Docker publishes on 127.0.0.1, straight vs through the
 * ingress. Skipped, with the reason, without a Docker engine or the image.
 */
async function containerRows(): Promise<BenchRow[]> {
  const name = 'ingress: requests through the ingress vs straight to the container';
  const docker = new Docker();
  try {
    await docker.ping();
    await buildExampleImage(docker);
  } catch (e) {
    const why = `skipped: ${(e as Error).message.includes('busybox') ? (e as Error).message : `no Docker engine answers (${(e as Error).message})`}`;
    process.stderr.write(`ingress bench: container rows ${why}\n`);
    return [{ name, value: why }];
  }
  const container = await docker.createContainer({
    Image: EXAMPLE_IMAGE,
    name: `openflux-bench-ingress-${process.pid}`,
    Env: ['FLUX_APP=bench'],
    ExposedPorts: { '8080/tcp': {} },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  let ingress: Peer | undefined;
  try {
    await container.start();
    const info = await container.inspect();
    const port = Number(info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort);
    if (!port || !(await answers(port, 10_000)))
      return [{ name, value: 'skipped: the container did not answer on its published port within 10 s' }];
    ingress = await startPeer(['ingress', String(port)]);
    const c = await compare(port, ingress, 'bench.flux.localhost');
    const { direct: d, proxied: p } = c;
    return [
      {
        name: `${name} (busybox httpd, Docker-published port)`,
        value: formatRate(p.perSecond, 'req/s'),
        ratio: `${(p.perSecond / d.perSecond).toFixed(2)}x of straight to the container (${formatRate(d.perSecond, 'req/s')})${errorsOf(c)}; ingress CPU ${cpu(c)}/request`,
        goal: '>= 0.5x',
      },
      {
        name: 'ingress: added p99 latency (container)',
        value: ms(p.p99 - d.p99),
        ratio: `p99 ${ms(p.p99)} vs ${ms(d.p99)} direct; p50 ${ms(p.p50)} vs ${ms(d.p50)}`,
      },
    ];
  } finally {
    if (ingress) await stopPeer(ingress);
    await container.remove({ force: true }).catch(() => {});
  }
}

export async function run(): Promise<BenchRow[]> {
  return [...(await bareRows()), ...(await containerRows())];
}
