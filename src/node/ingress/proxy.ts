// The ingress: a small reverse proxy (node:http) that any node runs so that an app can be reached
// through any node. A request names its app by Host (`<app>.<domain>`) or by path prefix
// (`/apps/<app>/...`, the prefix is stripped); the resolver says where the app's instances are.
// Instances are taken round robin; one that refuses the connection is skipped for a hold-down
// period and the next one is tried. Bodies stream both ways; HTTP upgrades (websockets) are piped.
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Where an instance listens: the hosting node's address and the component's published port. */
export interface Instance {
  host: string;
  port: number;
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
  now?: () => number;
  log?: (line: string) => void;
}

export interface Ingress {
  url: string;
  port: number;
  /** Instances currently skipped after a failure, as `host:port` -> until (ms). */
  unhealthy(): Map<string, number>;
  close(): Promise<void>;
}

export const DEFAULT_INGRESS_DOMAIN = 'flux.localhost';
export const DEFAULT_INGRESS_PORT = 16180;
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

  /** Instances to try, in order: healthy ones round robin, then those held down (last resort). */
  const order = (app: string, instances: Instance[]): Instance[] => {
    const start = turn.get(app) ?? 0;
    turn.set(app, (start + 1) % Math.max(1, instances.length));
    const rotated = instances.map((_, k) => instances[(start + k) % instances.length]);
    const t = now();
    const healthy = rotated.filter((i) => (downUntil.get(keyOf(i)) ?? 0) <= t);
    const held = rotated.filter((i) => (downUntil.get(keyOf(i)) ?? 0) > t);
    return [...healthy, ...held];
  };

  /** Connects to the first instance that accepts, marking the ones that refuse. */
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
      downUntil.set(keyOf(instance), now() + holdDownMs);
      o.log?.(`ingress: ${keyOf(instance)} did not accept a connection; skipped for ${holdDownMs} ms`);
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

  const server = createServer((req, res) => {
    const t = target(req);
    if ('status' in t) {
      req.resume();
      answer(res, t.status, t.code, t.message);
      return;
    }
    void connectAny(order(t.app, t.instances)).then((c) => {
      if (!c) {
        req.resume();
        answer(
          res,
          502,
          'NO_INSTANCE_ANSWERED',
          `no instance of ${t.app} answered (tried ${t.instances.length})`,
        );
        return;
      }
      const { socket } = c;
      const upstream = request({
        method: req.method,
        path: t.path,
        headers: forwardedHeaders(req),
        createConnection: () => socket,
      });
      upstream.on('response', (ures) => {
        const headers: IncomingHttpHeaders = {};
        for (const [k, v] of Object.entries(ures.headers))
          if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
        res.writeHead(ures.statusCode ?? 502, ures.statusMessage, headers);
        ures.pipe(res);
      });
      upstream.on('error', (e) =>
        answer(res, 502, 'INSTANCE_FAILED', `the instance of ${t.app} failed: ${e.message}`),
      );
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
