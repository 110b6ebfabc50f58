// The ingress: a small reverse proxy (node:http server) that any node runs so that an app can be
// reached through any node. A request names its app by Host (`<app>.<domain>`) or by path prefix
// (`/apps/<app>/...`, the prefix is stripped); the resolver says where the app's instances are.
// Instances are taken round robin among the healthy ones (active checks, health.ts); one that
// refuses the connection is skipped for a hold-down period and the next one is tried. Unhealthy
// and held-down instances are still tried last. Requests without a body go through a keep-alive
// undici pool per instance; requests with a body connect first and stream over node:http; HTTP
// upgrades (websockets) are piped.
import {
  type ClientRequest,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Dispatcher, errors, Pool } from 'undici';
import { DEFAULT_INGRESS_DOMAIN, DEFAULT_INGRESS_PORT } from '../../api/ingress.ts';
import type { HealthCheckSpec } from '../../core/apps/spec.ts';
import { createHealthMonitor, type HealthOptions, type InstanceHealth } from './health.ts';

/** Where an instance listens: the hosting node's address and the component's published port. */
export interface Instance {
  host: string;
  port: number;
  /** The health check of the component whose port this is (absent: TCP connect to `port`). */
  check?: HealthCheckSpec;
}

export type Lookup =
  | { found: false }
  /** `instances` empty: the app exists but nothing runs it (`why` says so). */
  | { found: true; instances: Instance[]; why?: string };

/** App name -> its instances, anywhere in the network. */
export type Resolver = (app: string) => Lookup;

export interface IngressOptions {
  resolve: Resolver;
  /** `<app>.<domain>` in the Host header names the app; default `flux.localhost`. */
  domain?: string;
  host?: string;
  /** 0: a free port. */
  port?: number;
  /** How long an instance that failed is skipped; default 5 s. */
  holdDownMs?: number;
  /** How long a connection to an instance may take; default 2 s. */
  connectTimeoutMs?: number;
  /** Active health checks: defaults for checks that leave them out; false: passive only. */
  health?: Omit<HealthOptions, 'now' | 'log'> | false;
  now?: () => number;
  log?: (line: string) => void;
}

export interface Ingress {
  url: string;
  port: number;
  /** Instances currently skipped after a failure, as `host:port` -> until (ms). */
  unhealthy(): Map<string, number>;
  /** What the active checks say about each instance probed lately. */
  health(): InstanceHealth[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const APP_LABEL = /^[a-z0-9][a-z0-9-]{0,62}$/i;

/** The app a request names and the path to forward, or undefined when it names none. */
export function routeOf(
  hostHeader: string | undefined,
  url: string,
  domain: string,
): { app: string; path: string } | undefined {
  const host = (hostHeader ?? '').replace(/:\d+$/, '').toLowerCase().replace(/\.$/, '');
  const suffix = `.${domain.toLowerCase()}`;
  if (host.endsWith(suffix)) {
    const app = host.slice(0, -suffix.length);
    if (APP_LABEL.test(app)) return { app, path: url };
  }
  const m = /^\/apps\/([^/?#]+)(.*)$/.exec(url);
  if (m && APP_LABEL.test(m[1])) {
    const rest = m[2];
    return { app: m[1].toLowerCase(), path: rest.startsWith('/') ? rest : `/${rest}` };
  }
  return undefined;
}

function forwardedHeaders(req: IncomingMessage): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  const connTokens = new Set(
    String(req.headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase()),
  );
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || connTokens.has(k)) continue;
    out[k] = v;
  }
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  out['x-forwarded-host'] = req.headers['x-forwarded-host'] ?? req.headers.host ?? '';
  out['x-forwarded-proto'] = req.headers['x-forwarded-proto'] ?? 'http';
  return out;
}

export async function startIngress(o: IngressOptions): Promise<Ingress> {
  const domain = o.domain ?? DEFAULT_INGRESS_DOMAIN;
  const holdDownMs = o.holdDownMs ?? 5_000;
  const connectTimeoutMs = o.connectTimeoutMs ?? 2_000;
  const now = o.now ?? Date.now;
  const downUntil = new Map<string, number>();
  const turn = new Map<string, number>();
  const keyOf = (i: Instance) => `${i.host}:${i.port}`;
  const checks = o.health === false ? undefined : createHealthMonitor({ ...o.health, now, log: o.log });

  /**
   * Instances to try, in order, round robin within each group: usable ones (healthy or not
   * checked yet), then those whose check fails, then those held down after a refused connection.
   */
  const order = (app: string, instances: Instance[]): Instance[] => {
    checks?.watch(app, instances);
    const start = turn.get(app) ?? 0;
    turn.set(app, (start + 1) % Math.max(1, instances.length));
    const t = now();
    const groups: Instance[][] = [[], [], []];
    for (let k = 0; k < instances.length; k++) {
      const i = instances[(start + k) % instances.length];
      const held = (downUntil.get(keyOf(i)) ?? 0) > t;
      groups[held ? 2 : checks?.state(app, i) === 'unhealthy' ? 1 : 0].push(i);
    }
    return groups[0].length === instances.length ? groups[0] : groups.flat();
  };

  /** Why no instance answered: each one's failing check or refused connection. */
  const failures = (app: string, instances: Instance[]): string =>
    instances
      .map((i) => {
        const why = checks?.reason(app, i);
        return `${keyOf(i)} ${why ? `unhealthy: ${why}` : 'did not accept a connection'}`;
      })
      .join('; ');

  /** Notes that an instance did not accept a connection: it is tried last for a while. */
  const refused = (instance: Instance) => {
    downUntil.set(keyOf(instance), now() + holdDownMs);
    o.log?.(`ingress: ${keyOf(instance)} did not accept a connection; skipped for ${holdDownMs} ms`);
  };

  // Requests without a body (most of them) go through an undici pool per instance: keep-alive,
  // no pipelining, idle connections closed after 4 s (before node:http's usual 5 s server
  // keep-alive timeout). node:http's client cost ~200 µs of CPU per proxied request. A pool
  // unused for a sweep interval (60 s) is closed.
  const pools = new Map<string, { pool: Pool; used: boolean }>();
  const poolOf = (i: Instance): Pool => {
    const key = keyOf(i);
    let p = pools.get(key);
    if (!p) {
      const pool = new Pool(`http://${i.host.includes(':') ? `[${i.host}]` : i.host}:${i.port}`, {
        pipelining: 1,
        keepAliveTimeout: 4_000,
        connect: { timeout: connectTimeoutMs },
        // As with node:http's client: a slow answer or a long stream (server-sent events) is not cut.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      pool.on('connectionError', () => {}); // each request sees its own error
      p = { pool, used: true };
      pools.set(key, p);
    }
    p.used = true;
    return p.pool;
  };
  const sweep = setInterval(() => {
    for (const [key, p] of pools) {
      if (p.used) p.used = false;
      else {
        pools.delete(key);
        void p.pool.close();
      }
    }
  }, 60_000);
  sweep.unref();

  /** The first instance that accepts a connection, marking the ones that refuse. */
  const connectAny = async (
    candidates: Instance[],
  ): Promise<{ socket: Socket; instance: Instance } | undefined> => {
    for (const instance of candidates) {
      const socket = await new Promise<Socket | undefined>((resolve) => {
        const s = connect({ host: instance.host, port: instance.port });
        const fail = () => {
          s.destroy();
          resolve(undefined);
        };
        s.setTimeout(connectTimeoutMs, fail);
        s.once('error', fail);
        s.once('connect', () => {
          s.setTimeout(0);
          s.removeListener('error', fail);
          resolve(s);
        });
      });
      if (socket) {
        downUntil.delete(keyOf(instance));
        return { socket, instance };
      }
      refused(instance);
    }
    return undefined;
  };

  /** Resolves the request's app; on failure, the status and message to answer. */
  const target = (
    req: IncomingMessage,
  ):
    | { app: string; path: string; instances: Instance[] }
    | { status: number; code: string; message: string } => {
    const route = routeOf(req.headers.host, req.url ?? '/', domain);
    if (!route)
      return {
        status: 404,
        code: 'NO_APP',
        message: `this is a FluxOS ingress: name an app by Host <app>.${domain} or by path /apps/<app>/`,
      };
    const found = o.resolve(route.app);
    if (!found.found) return { status: 404, code: 'APP_NOT_FOUND', message: `no app named ${route.app}` };
    if (found.instances.length === 0)
      return {
        status: 503,
        code: 'NO_INSTANCE',
        message: found.why ?? `app ${route.app} has no running instance`,
      };
    return { ...route, instances: found.instances };
  };

  const answer = (res: ServerResponse, status: number, code: string, message: string) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `${JSON.stringify({ error: { code, message } })}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const noInstanceAnswered = (res: ServerResponse, app: string, instances: Instance[]) =>
    answer(
      res,
      502,
      'NO_INSTANCE_ANSWERED',
      `no instance of ${app} answered (tried ${instances.length}: ${failures(app, instances)})`,
    );

  /**
   * A request without a body, through the instances' pools: on to the next instance when one does
   * not accept a connection; sent once more (to the next instance) when a GET or HEAD was sent but
   * its connection closed before any answer (a stale keep-alive connection, or a dead instance
   * whose published port still accepts during failover). Other methods are never sent twice.
   */
  const relayPooled = (
    res: ServerResponse,
    t: { app: string; path: string; instances: Instance[] },
    method: string,
    headers: IncomingHttpHeaders,
  ) => {
    const idempotent = method === 'GET' || method === 'HEAD';
    let clientGone = false;
    let abortUpstream: ((e: Error) => void) | undefined;
    res.on('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      abortUpstream?.(new Error('the client went away'));
    });
    const attempt = (list: Instance[], k: number, resent: boolean): void => {
      if (clientGone) return;
      if (k >= list.length) {
        noInstanceAnswered(res, t.app, t.instances);
        return;
      }
      const instance = list[k];
      let sent = false;
      let answered = false;
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(controller) {
          if (clientGone) {
            controller.abort(new Error('the client went away'));
            return;
          }
          sent = true; // connected: the request is written now
          downUntil.delete(keyOf(instance));
          abortUpstream = (e) => controller.abort(e);
        },
        onResponseStart(_controller, status, upstreamHeaders, statusMessage) {
          answered = true;
          const out: IncomingHttpHeaders = {};
          for (const name in upstreamHeaders) if (!HOP_BY_HOP.has(name)) out[name] = upstreamHeaders[name];
          res.writeHead(status, statusMessage, out);
        },
        onResponseData(controller, chunk) {
          if (!res.write(chunk)) {
            controller.pause();
            res.once('drain', () => controller.resume());
          }
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError(_controller, e) {
          if (clientGone) return;
          if (answered) res.destroy();
          else if (e instanceof errors.InvalidArgumentError || e instanceof errors.NotSupportedError)
            answer(res, 400, 'CANNOT_FORWARD', `this request cannot be forwarded: ${e.message}`);
          else if (!sent) {
            refused(instance);
            attempt(list, k + 1, resent);
          } else if (idempotent && !resent) attempt([...list.slice(k + 1), ...list.slice(0, k + 1)], 0, true);
          else answer(res, 502, 'INSTANCE_FAILED', `the instance of ${t.app} failed: ${e.message}`);
        },
      };
      poolOf(instance).dispatch({ method, path: t.path, headers, body: null }, handler);
    };
    attempt(order(t.app, t.instances), 0, false);
  };

  /**
   * A request with a body: the connection is opened first (next instance when one refuses), so
   * the body, streamed as it comes, is never lost to a refused connection.
   */
  const relayStreamed = (
    req: IncomingMessage,
    res: ServerResponse,
    t: { app: string; path: string; instances: Instance[] },
    headers: IncomingHttpHeaders,
  ) => {
    let upstream: ClientRequest | undefined;
    res.on('close', () => {
      if (!res.writableFinished) upstream?.destroy();
    });
    void connectAny(order(t.app, t.instances)).then((c) => {
      if (res.destroyed) {
        c?.socket.destroy();
        return;
      }
      if (!c) {
        req.resume();
        noInstanceAnswered(res, t.app, t.instances);
        return;
      }
      const { socket, instance } = c;
      const sent = request({
        method: req.method,
        path: t.path,
        headers,
        host: instance.host,
        port: instance.port,
        // No agent: with one (even `agent: false`) node:http opens a connection of its own and
        // leaves this one idle.
        createConnection: () => socket,
      });
      upstream = sent;
      sent.on('response', (ures) => {
        const out: IncomingHttpHeaders = {};
        for (const [k, v] of Object.entries(ures.headers))
          if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        res.writeHead(ures.statusCode ?? 502, ures.statusMessage, out);
        ures.pipe(res);
      });
      sent.on('error', (e) =>
        answer(res, 502, 'INSTANCE_FAILED', `the instance of ${t.app} failed: ${e.message}`),
      );
      req.pipe(sent);
    });
  };

  const server = createServer((req, res) => {
    const t = target(req);
    if ('status' in t) {
      req.resume();
      answer(res, t.status, t.code, t.message);
      return;
    }
    const headers = forwardedHeaders(req);
    const bodiless =
      req.headers['transfer-encoding'] === undefined &&
      (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');
    if (bodiless) {
      req.resume();
      delete headers.expect; // nothing to continue with (and undici refuses the header)
      relayPooled(res, t, req.method ?? 'GET', headers);
    } else relayStreamed(req, res, t, headers);
  });

  server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    client.on('error', () => client.destroy());
    const t = target(req);
    if ('status' in t) {
      client.end(`HTTP/1.1 ${t.status} ${t.code}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    void connectAny(order(t.app, t.instances)).then((c) => {
      if (!c) {
        client.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      const headers = forwardedHeaders(req);
      headers.connection = 'Upgrade';
      headers.upgrade = req.headers.upgrade;
      let text = `${req.method} ${t.path} HTTP/1.1\r\n`;
      for (const [k, v] of Object.entries(headers)) {
        for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) text += `${k}: ${one}\r\n`;
      }
      const { socket } = c;
      socket.write(`${text}\r\n`);
      if (head.length) socket.write(head);
      socket.on('error', () => client.destroy());
      client.on('close', () => socket.destroy());
      socket.on('close', () => client.destroy());
      socket.pipe(client);
      client.pipe(socket);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? DEFAULT_INGRESS_PORT, o.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const host = o.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    unhealthy: () => new Map([...downUntil].filter(([, until]) => until > now())),
    health: () => checks?.list() ?? [],
    close: () =>
      new Promise<void>((resolve) => {
        checks?.close();
        clearInterval(sweep);
        for (const p of pools.values()) void p.pool.destroy();
        pools.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
