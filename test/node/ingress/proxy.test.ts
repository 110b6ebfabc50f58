import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  type Ingress,
  type Instance,
  type Lookup,
  routeOf,
  startIngress,
} from '../../../src/node/ingress/proxy.ts';

interface Backend {
  server: Server;
  instance: Instance;
}

/** A plain HTTP server that answers with its name, the path and the headers it got. */
async function backend(name: string): Promise<Backend> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          name,
          method: req.method,
          path: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const key = req.headers['sec-websocket-key'];
    if (key) {
      // A real websocket handshake, then one text frame "hello from NAME".
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`,
      );
      const text = Buffer.from(`hello from ${name}`);
      socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
      socket.on('data', () => socket.end());
      return;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: Upgrade\r\nx-backend: ${name}\r\nx-path: ${req.url}\r\n\r\n`,
    );
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { server, instance: { host: '127.0.0.1', port: typeof a === 'object' && a ? a.port : 0 } };
}

/** A port nothing listens on. */
async function deadPort(): Promise<Instance> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  await new Promise<void>((r) => s.close(() => r()));
  return { host: '127.0.0.1', port };
}

function call(
  ingress: Ingress,
  opts: { path: string; host?: string; method?: string; body?: string; headers?: Record<string, string> },
): Promise<{ status: number; body: string; json: () => Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${ingress.url}${opts.path}`,
      {
        method: opts.method ?? 'GET',
        headers: { ...(opts.host ? { host: opts.host } : {}), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('ingress', () => {
  const backends: Backend[] = [];
  let dead: Instance;
  let ingress: Ingress;
  const apps = new Map<string, Instance[]>();
  const resolve = (name: string): Lookup => {
    const found = apps.get(name);
    return found ? { found: true, instances: found } : { found: false };
  };

  before(async () => {
    backends.push(await backend('a'), await backend('b'));
    dead = await deadPort();
    apps.set('web', [backends[0].instance, backends[1].instance]);
    apps.set('solo', [backends[0].instance]);
    apps.set('flaky', [dead, backends[1].instance]);
    apps.set('gone', [dead]);
    apps.set('empty', []);
    ingress = await startIngress({ resolve, host: '127.0.0.1', port: 0, holdDownMs: 60_000 });
  });
  after(async () => {
    await ingress.close();
    for (const b of backends) await new Promise<void>((r) => b.server.close(() => r()));
  });

  it('names the app by Host or by path prefix', () => {
    assert.deepEqual(routeOf('web.flux.localhost:8080', '/x?y=1', 'flux.localhost'), {
      app: 'web',
      path: '/x?y=1',
    });
    assert.deepEqual(routeOf('10.0.0.1', '/apps/web/x?y=1', 'flux.localhost'), {
      app: 'web',
      path: '/x?y=1',
    });
    assert.deepEqual(routeOf('10.0.0.1', '/apps/web', 'flux.localhost'), { app: 'web', path: '/' });
    assert.deepEqual(routeOf('10.0.0.1', '/apps/web?q', 'flux.localhost'), { app: 'web', path: '/?q' });
    assert.equal(routeOf('10.0.0.1', '/other', 'flux.localhost'), undefined);
    assert.equal(routeOf('a.b.flux.localhost', '/', 'flux.localhost'), undefined);
  });

  it('routes by Host and by path, stripping the prefix, with X-Forwarded-* set', async () => {
    const byHost = (await call(ingress, { path: '/hello?x=1', host: 'solo.flux.localhost' })).json();
    assert.equal(byHost.name, 'a');
    assert.equal(byHost.path, '/hello?x=1');
    const h = byHost.headers as Record<string, string>;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-host'], 'solo.flux.localhost');
    assert.equal(h['x-forwarded-proto'], 'http');
    const byPath = (
      await call(ingress, { path: '/apps/solo/deep/path', method: 'POST', body: 'payload' })
    ).json();
    assert.equal(byPath.name, 'a');
    assert.equal(byPath.path, '/deep/path');
    assert.equal(byPath.method, 'POST');
    assert.equal(byPath.body, 'payload');
  });

  it('balances across instances round robin', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++)
      seen.push((await call(ingress, { path: '/apps/web/' })).json().name as string);
    assert.equal(seen.filter((n) => n === 'a').length, 3);
    assert.equal(seen.filter((n) => n === 'b').length, 3);
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1]);
  });

  it('retries another instance when one refuses, then skips the dead one', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await call(ingress, { path: '/apps/flaky/' });
      assert.equal(r.status, 200);
      assert.equal(r.json().name, 'b');
    }
    assert.ok(ingress.unhealthy().has(`${dead.host}:${dead.port}`));
  });

  it('sends a streamed body to the next instance when the first refuses, losing none of it', async () => {
    const refusing = await deadPort();
    apps.set('upload', [refusing, backends[0].instance]);
    const r = await call(ingress, {
      path: '/apps/upload/in',
      method: 'PUT',
      body: 'x'.repeat(100_000),
      headers: { 'transfer-encoding': 'chunked' },
    });
    assert.equal(r.status, 200);
    assert.equal(r.json().name, 'a');
    assert.equal(r.json().method, 'PUT');
    assert.equal((r.json().body as string).length, 100_000);
  });

  it('answers 404, 503 and 502 with a message', async () => {
    const unknown = await call(ingress, { path: '/apps/nope/' });
    assert.equal(unknown.status, 404);
    assert.match((unknown.json().error as { message: string }).message, /no app named nope/);
    const none = await call(ingress, { path: '/nothing' });
    assert.equal(none.status, 404);
    assert.match(none.body, /<app>\.flux\.localhost/);
    const empty = await call(ingress, { path: '/apps/empty/' });
    assert.equal(empty.status, 503);
    assert.match(empty.body, /no running instance/);
    const gone = await call(ingress, { path: '/apps/gone/', method: 'POST', body: 'x' });
    assert.equal(gone.status, 502);
    assert.match(gone.body, /no instance of gone answered/);
  });

  it('pipes HTTP upgrades (websockets) both ways', async () => {
    const { port } = ingress;
    const socket = connect({ host: '127.0.0.1', port });
    socket.write('GET /apps/solo/ws HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: echo\r\n\r\n');
    let got = '';
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.includes('\r\n\r\n') && !got.includes('ping')) socket.write('ping');
        if (got.includes('ping')) resolve();
      });
    });
    socket.destroy();
    assert.match(got, /^HTTP\/1\.1 101/);
    assert.match(got, /x-backend: a/);
    assert.match(got, /x-path: \/ws/);
    assert.ok(got.endsWith('ping'));
  });

  it('lets a websocket client through', async () => {
    const ws = new WebSocket(`${ingress.url.replace('http', 'ws')}/apps/solo/`);
    const got = await new Promise<string>((resolve, reject) => {
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error('websocket failed'));
    });
    ws.close();
    assert.equal(got, 'hello from a');
  });
});

describe('ingress retries on an instance that dies mid-request', () => {
  /** Accepts connections and, once a request arrives, resets them (or closes them) unanswered. */
  async function dying(
    how: 'reset' | 'close',
  ): Promise<{ instance: Instance; requests: () => number; close: () => Promise<void> }> {
    let requests = 0;
    const server = createTcpServer((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        requests++;
        if (how === 'reset') s.resetAndDestroy();
        else s.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    return {
      instance: { host: '127.0.0.1', port: typeof a === 'object' && a ? a.port : 0 },
      requests: () => requests,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }

  for (const how of ['reset', 'close'] as const) {
    it(`sends a GET or HEAD again to the next instance when the first ${how}s the connection unanswered`, async () => {
      const bad = await dying(how);
      const good = await backend('good');
      // Each app name starts its round robin at the first instance: the dying one.
      const ingress = await startIngress({
        resolve: () => ({ found: true, instances: [bad.instance, good.instance] }),
        host: '127.0.0.1',
        port: 0,
        health: false,
      });
      try {
        const r = await call(ingress, { path: '/apps/one/x' });
        assert.equal(r.status, 200);
        assert.equal(r.json().name, 'good');
        assert.equal(r.json().path, '/x');
        const head = await call(ingress, { path: '/apps/two/', method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(bad.requests(), 2, 'both reached the dying instance first');
        assert.equal(ingress.unhealthy().size, 0, 'it accepted: not held down as refusing');
      } finally {
        await ingress.close();
        await bad.close();
        await new Promise<void>((r) => good.server.close(() => r()));
      }
    });
  }

  it('never sends a POST twice once it was sent, with or without a body', async () => {
    const bad = await dying('reset');
    let posts = 0;
    const good = await backend('good');
    good.server.prependListener('request', (req) => {
      if (req.method === 'POST') posts++;
    });
    const ingress = await startIngress({
      resolve: () => ({ found: true, instances: [bad.instance, good.instance] }),
      host: '127.0.0.1',
      port: 0,
      health: false,
    });
    try {
      const bodiless = await call(ingress, { path: '/apps/one/', method: 'POST' });
      assert.equal(bodiless.status, 502);
      assert.match(bodiless.body, /INSTANCE_FAILED/);
      const withBody = await call(ingress, { path: '/apps/two/', method: 'POST', body: 'once' });
      assert.equal(withBody.status, 502);
      assert.equal(bad.requests(), 2);
      assert.equal(posts, 0, 'the instance that answers never saw the POSTs');
    } finally {
      await ingress.close();
      await bad.close();
      await new Promise<void>((r) => good.server.close(() => r()));
    }
  });
});
