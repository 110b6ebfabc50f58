import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { HealthCheckSpec } from '../../../src/core/apps/spec.ts';
import { probeHttp, probeTcp } from '../../../src/node/ingress/health.ts';
import { type Ingress, type Instance, type Lookup, startIngress } from '../../../src/node/ingress/proxy.ts';
import { until } from '../../support/wait.ts';

interface Backend {
  name: string;
  server: Server;
  port: number;
  /** What GET /health answers. */
  healthStatus: number;
  connections: number;
  /** Connections that carried a request other than a health check. */
  served: Set<unknown>;
}

async function backend(name: string, port = 0): Promise<Backend> {
  const b: Backend = {
    name,
    server: createServer(),
    port,
    healthStatus: 200,
    connections: 0,
    served: new Set(),
  };
  b.server.on('request', (req, res) => {
    req.resume();
    if (req.url === '/health') res.writeHead(b.healthStatus).end();
    else {
      b.served.add(req.socket);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    }
  });
  b.server.on('connection', () => b.connections++);
  await new Promise<void>((r) => b.server.listen(port, '127.0.0.1', r));
  const a = b.server.address();
  b.port = typeof a === 'object' && a ? a.port : 0;
  return b;
}

function stop(b: Backend): Promise<void> {
  b.server.closeAllConnections();
  return new Promise((r) => b.server.close(() => r()));
}

function get(ingress: Ingress, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${ingress.url}${path}`, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const httpCheck: HealthCheckSpec = { protocol: 'http', path: '/health', unhealthyAfter: 2 };

describe('ingress health checks', () => {
  let a: Backend;
  let b: Backend;
  let c: Backend;
  let ingress: Ingress;
  const lines: string[] = [];
  const apps = new Map<string, Instance[]>();
  const resolve = (name: string): Lookup => {
    const found = apps.get(name);
    return found ? { found: true, instances: found } : { found: false };
  };
  const stateOf = (app: string, b: Backend) =>
    ingress.health().find((h) => h.app === app && h.instance === `127.0.0.1:${b.port}`)?.state;

  before(async () => {
    [a, b, c] = await Promise.all([backend('a'), backend('b'), backend('c')]);
    const at = (x: Backend, check?: HealthCheckSpec): Instance => ({
      host: '127.0.0.1',
      port: x.port,
      ...(check ? { check } : {}),
    });
    apps.set('web', [at(a, httpCheck), at(b, httpCheck)]);
    apps.set('plain', [at(c), at(b)]);
    apps.set('sick', [at(a, httpCheck)]);
    ingress = await startIngress({
      resolve,
      host: '127.0.0.1',
      port: 0,
      health: { intervalMs: 40, timeoutMs: 500, forgetAfterMs: 30_000 },
      log: (line) => lines.push(line),
    });
  });
  after(async () => {
    await ingress.close();
    await Promise.all([a, b, c].map(stop));
  });

  it('takes an instance whose HTTP check fails out of rotation, and brings it back', async () => {
    const statuses: number[] = [];
    const names = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await get(ingress, '/apps/web/');
        statuses.push(r.status);
        seen.push(r.body);
      }
      return seen;
    };
    // Not probed yet: tried at once, not refused.
    assert.deepEqual((await names(2)).sort(), ['a', 'b']);
    await until(
      'both are healthy',
      () => stateOf('web', a) === 'healthy' && stateOf('web', b) === 'healthy',
      3_000,
      10,
    );
    a.healthStatus = 500;
    await until('a is unhealthy', () => stateOf('web', a) === 'unhealthy', 3_000, 10);
    assert.deepEqual(await names(6), ['b', 'b', 'b', 'b', 'b', 'b']);
    assert.ok(
      lines.includes(`ingress: web/127.0.0.1:${a.port} unhealthy: HTTP 500 from /health`),
      lines.join('\n'),
    );
    a.healthStatus = 204;
    await until('a is healthy again', () => stateOf('web', a) === 'healthy', 3_000, 10);
    assert.deepEqual((await names(4)).sort(), ['a', 'a', 'b', 'b']);
    assert.ok(lines.includes(`ingress: web/127.0.0.1:${a.port} healthy again`));
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
      'no client request failed',
    );
  });

  it('checks a TCP connection by default, so a dead instance is never tried', async () => {
    assert.equal((await get(ingress, '/apps/plain/')).status, 200);
    await until(
      'both are healthy',
      () => stateOf('plain', c) === 'healthy' && stateOf('plain', b) === 'healthy',
      3_000,
      10,
    );
    const port = c.port;
    await stop(c);
    await until('c is unhealthy', () => stateOf('plain', c) === 'unhealthy', 3_000, 10);
    for (let i = 0; i < 4; i++)
      assert.deepEqual(await get(ingress, '/apps/plain/'), { status: 200, body: 'b' });
    assert.equal(ingress.unhealthy().size, 0, 'no request even tried the dead instance');
    assert.match(
      ingress.health().find((h) => h.instance === `127.0.0.1:${port}`)?.reason ?? '',
      /TCP connection refused/,
    );
    c = await backend('c', port);
    await until('c is healthy again', () => stateOf('plain', c) === 'healthy', 3_000, 10);
    const seen = [(await get(ingress, '/apps/plain/')).body, (await get(ingress, '/apps/plain/')).body];
    assert.deepEqual(seen.sort(), ['b', 'c']);
  });

  it('still tries unhealthy instances when no other is left, and names the failing checks in a 502', async () => {
    a.healthStatus = 503;
    await get(ingress, '/apps/sick/');
    await until('sick is unhealthy', () => stateOf('sick', a) === 'unhealthy', 3_000, 10);
    assert.deepEqual(await get(ingress, '/apps/sick/'), { status: 200, body: 'a' });
    a.healthStatus = 200;

    const dead = await backend('dead');
    apps.set('dead', [{ host: '127.0.0.1', port: dead.port }]);
    await get(ingress, '/apps/dead/');
    await stop(dead);
    await until('dead is unhealthy', () => stateOf('dead', dead) === 'unhealthy', 3_000, 10);
    const r = await get(ingress, '/apps/dead/');
    assert.equal(r.status, 502);
    assert.match(r.body, new RegExp(`127\\.0\\.0\\.1:${dead.port} unhealthy: TCP connection refused`));
  });

  it('forgets instances that are not looked up any more', async () => {
    const forgetful = await startIngress({
      resolve,
      host: '127.0.0.1',
      port: 0,
      health: { intervalMs: 20, forgetAfterMs: 100 },
    });
    try {
      await get(forgetful, '/apps/web/');
      assert.equal(forgetful.health().length, 2);
      await until('both are forgotten', () => forgetful.health().length === 0, 3_000, 10);
    } finally {
      await forgetful.close();
    }
  });

  it('reuses connections to an instance', async () => {
    apps.set('keep', [{ host: '127.0.0.1', port: b.port }]);
    await get(ingress, '/apps/keep/');
    const before = new Set(b.served);
    for (let i = 0; i < 5; i++) assert.equal((await get(ingress, '/apps/keep/')).body, 'b');
    // Health checks (TCP connects) open connections of their own meanwhile: count only those that
    // carried a request.
    const fresh = [...b.served].filter((s) => !before.has(s));
    assert.equal(fresh.length, 0, `${fresh.length} new connections for 5 requests`);
  });
});

describe('ingress keep-alive', () => {
  it('sends a request again on a fresh connection when a reused one was closed under it', async () => {
    // Answers the first request of each connection, keeps it open, and drops it at the second.
    let connections = 0;
    const server = createTcpServer((s: Socket) => {
      connections++;
      let requests = 0;
      s.on('data', (d: Buffer) => {
        if (!d.toString().includes('\r\n\r\n')) return;
        if (++requests === 1)
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=60\r\n\r\nok');
        else s.destroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    const ingress = await startIngress({
      resolve: () => ({ found: true, instances: [{ host: '127.0.0.1', port }] }),
      host: '127.0.0.1',
      port: 0,
      health: false,
    });
    try {
      for (let i = 0; i < 3; i++)
        assert.deepEqual(await get(ingress, '/apps/x/'), { status: 200, body: 'ok' });
      assert.equal(connections, 3);
    } finally {
      await ingress.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('health probes', () => {
  it('says why a probe failed', async () => {
    const b = await backend('p');
    b.healthStatus = 302;
    try {
      assert.equal(await probeHttp('127.0.0.1', b.port, '/health', 500), undefined);
      b.healthStatus = 404;
      assert.equal(await probeHttp('127.0.0.1', b.port, '/health', 500), 'HTTP 404 from /health');
      assert.equal(await probeTcp('127.0.0.1', b.port, 500), undefined);
    } finally {
      await stop(b);
    }
    assert.match(
      (await probeHttp('127.0.0.1', b.port, '/health', 500)) ?? '',
      /connection refused \(GET \/health\)/,
    );
    assert.equal(await probeTcp('127.0.0.1', b.port, 500), 'TCP connection refused');
    // A server that accepts and never answers.
    const silent = createTcpServer((s) => s.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const sa = silent.address();
    const sp = typeof sa === 'object' && sa ? sa.port : 0;
    assert.equal(await probeHttp('127.0.0.1', sp, '/', 50), 'no answer from / within 50 ms');
    await new Promise<void>((r) => {
      silent.close(() => r());
    });
  });
});
