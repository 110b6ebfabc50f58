// Ingress throughput: requests/s through a node's ingress vs straight to the instance, and the p99
// latency it adds, against two upstreams: a bare node:http server in its own process (the
// cheapest upstream, so the proxy's own cost shows: the honest worst case) and the example app's
// container in the local Docker engine (what the issue asks for). The ingress runs in another
// process, and this one drives a fixed number of clients with a minimal raw HTTP/1.1 client (so
// the client's own cost does not hide the proxy's). Direct and proxied rounds alternate.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { buildExampleImage, EXAMPLE_IMAGE } from '../src/node/fluxos/example-image.ts';
import {
  type LoadRound,
  type LoadSummary,
  loadRound,
  type PeerProcess,
  startPeer,
  stopPeer,
  summarize,
} from '../test/support/http.ts';
import { type BenchRow, formatRate } from './table.ts';

const CONNECTIONS = 16;
const ROUND_MS = 2_000;
const ROUNDS = 3;
const PEER = join(import.meta.dirname, 'ingress-peer.ts');

/** CPU time (ms) a process has used, from /proc (Linux); undefined elsewhere. */
function cpuMs(pid: number | undefined): number | undefined {
  const file = `/proc/${pid}/stat`;
  if (pid === undefined || !existsSync(file)) return undefined;
  const fields = readFileSync(file, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in 1/100 s
}

const round = (port: number, host: string, ms: number) =>
  loadRound(port, { host, connections: CONNECTIONS, ms });

interface Comparison {
  direct: LoadSummary;
  proxied: LoadSummary;
  /** Ingress CPU per proxied request, µs (NaN where /proc is missing). */
  cpuPerRequest: number;
}

/** Direct and proxied rounds alternating, after a warm-up of both paths. */
async function compare(directPort: number, ingress: PeerProcess, host: string): Promise<Comparison> {
  await round(directPort, host, 300);
  await round(ingress.port, host, 300);
  const direct: LoadRound[] = [];
  const proxied: LoadRound[] = [];
  let ingressCpu = 0;
  for (let i = 0; i < ROUNDS; i++) {
    direct.push(await round(directPort, host, ROUND_MS));
    const before = cpuMs(ingress.child.pid) ?? Number.NaN;
    proxied.push(await round(ingress.port, host, ROUND_MS));
    ingressCpu += (cpuMs(ingress.child.pid) ?? Number.NaN) - before;
  }
  const proxiedRequests = proxied.reduce((n, r) => n + r.requests, 0);
  return {
    direct: summarize(direct),
    proxied: summarize(proxied),
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
  const upstream = await startPeer(PEER, ['upstream'], 'bench peer upstream');
  const ingress = await startPeer(PEER, ['ingress', String(upstream.port)], 'bench peer ingress');
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
  let ingress: PeerProcess | undefined;
  try {
    await container.start();
    const info = await container.inspect();
    const port = Number(info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort);
    if (!port || !(await answers(port, 10_000)))
      return [{ name, value: 'skipped: the container did not answer on its published port within 10 s' }];
    ingress = await startPeer(PEER, ['ingress', String(port)], 'bench peer ingress');
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
