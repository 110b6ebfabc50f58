// HTTP for tests and benches: a one-shot probe, a server in a child process that prints its port,
// and a raw HTTP/1.1 keep-alive load client (cheap, so a bench measures the server, not the client).
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';

/** The trimmed body of a 2xx answer, or undefined (error, timeout, other status). */
export async function httpText(url: string, timeoutMs = 2_000): Promise<string | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? (await r.text()).trim() : undefined;
  } catch {
    return undefined;
  }
}

export interface PeerProcess {
  child: ChildProcess;
  /** The port it printed on its first line. */
  port: number;
}

/** Runs `node SCRIPT ARGS` and resolves once it prints its port on its first line of stdout. */
export function startPeer(script: string, args: string[], name: string): Promise<PeerProcess> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      if (lines.length > 1) resolve({ child, port: Number(lines[0]) });
    });
  });
}

export function stopPeer(p: PeerProcess): Promise<void> {
  return new Promise((resolve) => {
    p.child.removeAllListeners('exit');
    p.child.once('exit', () => resolve());
    p.child.kill('SIGTERM');
  });
}

export interface LoadRound {
  requests: number;
  errors: number;
  ms: number;
  /** Each answer's latency, ms. */
  latencies: number[];
}

/**
 * One client sending `GET path` (with `host:` header `host`) to 127.0.0.1:port back to back until
 * `until` over a keep-alive connection, opening a new one whenever the server closes it (an
 * answer with `connection: close` or a closed or failed socket; then that request's latency
 * includes its connect). A connection lost before its answer counts as an error.
 */
function client(port: number, host: string, path: string, until: number, into: LoadRound): Promise<void> {
  const ask = Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
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

/** `connections` clients for `ms` against one server; `host` defaults to 127.0.0.1. */
export async function loadRound(
  port: number,
  o: { path?: string; host?: string; connections: number; ms: number },
): Promise<LoadRound> {
  const r: LoadRound = { requests: 0, errors: 0, ms: o.ms, latencies: [] };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.connections }, () =>
      client(port, o.host ?? '127.0.0.1', o.path ?? '/', t0 + o.ms, r),
    ),
  );
  r.ms = performance.now() - t0;
  return r;
}

export interface LoadSummary {
  perSecond: number;
  errors: number;
  p50: number;
  p99: number;
}

/** Requests per second, errors and latency percentiles (ms) over rounds. */
export function summarize(rounds: LoadRound[]): LoadSummary {
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
