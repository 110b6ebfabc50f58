// Active health checks for the ingress: each instance the ingress has been asked about recently is
// probed on an interval (HTTP GET of a path: healthy on 2xx/3xx within the timeout; TCP: the
// connection opens), and the proxy routes to the healthy ones first. Only instances looked up
// lately are probed (an ingress never probes the whole network); one not looked up for a while is
// forgotten. An instance not probed yet counts as usable, so the first request after a deploy is
// not refused.
import { request } from 'node:http';
import { connect } from 'node:net';
import type { HealthCheckSpec } from '../../core/apps/spec.ts';

export type HealthState = 'unknown' | 'healthy' | 'unhealthy';

/** What is probed: an instance of an app and its component's check (absent: TCP connect). */
export interface ProbeTarget {
  host: string;
  port: number;
  check?: HealthCheckSpec;
}

export interface InstanceHealth {
  app: string;
  /** `host:port` the ingress routes to. */
  instance: string;
  state: HealthState;
  /** The last failure, e.g. `HTTP 500 from /health`; cleared when healthy. */
  reason?: string;
  /** Consecutive failures so far. */
  failures: number;
  /** When the state last changed (ms). */
  since: number;
}

export interface HealthOptions {
  /** Interval for checks that give none; default 5 s. */
  intervalMs?: number;
  /** Timeout for checks that give none; default 2 s, at most the interval. */
  timeoutMs?: number;
  /** Consecutive failures that make an instance unhealthy when the check gives none; default 2. */
  unhealthyAfter?: number;
  /** An instance not looked up for this long is no longer probed; default 60 s. */
  forgetAfterMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

export interface HealthMonitor {
  /** Notes that `app` was looked up with these instances: probes start for new ones. */
  watch(app: string, instances: readonly ProbeTarget[]): void;
  /** The state of an instance of an app ('unknown' when not probed yet or not watched). */
  state(app: string, instance: ProbeTarget): HealthState;
  /** The last failure of an instance, when it has one. */
  reason(app: string, instance: ProbeTarget): string | undefined;
  /** Every watched instance. */
  list(): InstanceHealth[];
  close(): void;
}

export const DEFAULT_CHECK_INTERVAL_MS = 5_000;
export const DEFAULT_CHECK_TIMEOUT_MS = 2_000;
export const DEFAULT_UNHEALTHY_AFTER = 2;

interface Watched {
  app: string;
  target: ProbeTarget;
  health: InstanceHealth;
  lastLookup: number;
  timer?: NodeJS.Timeout;
}

/** `connection refused`, `no answer within 2 s` and the like, from a socket error. */
function failureText(e: NodeJS.ErrnoException): string {
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ECONNRESET') return 'connection reset';
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return 'host unreachable';
  return e.message;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** One HTTP GET: undefined when healthy (2xx/3xx in time), else why not. */
export function probeHttp(
  host: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (why: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(why);
    };
    const req = request({
      host,
      port,
      path,
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'openflux-ingress-health', connection: 'close' },
    });
    const timer = setTimeout(() => finish(`no answer from ${path} within ${seconds(timeoutMs)}`), timeoutMs);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      finish(status >= 200 && status < 400 ? undefined : `HTTP ${status} from ${path}`);
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish(`${failureText(e)} (GET ${path})`));
    req.end();
  });
}

/** One TCP connect: undefined when it opens in time, else why not. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const s = connect({ host, port });
    const finish = (why: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => finish(`no TCP connection within ${seconds(timeoutMs)}`), timeoutMs);
    s.once('connect', () => finish(undefined));
    s.once('error', (e: NodeJS.ErrnoException) => finish(`TCP ${failureText(e)}`));
  });
}

export function createHealthMonitor(o: HealthOptions = {}): HealthMonitor {
  const defaultInterval = o.intervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
  const defaultTimeout = o.timeoutMs ?? Math.min(DEFAULT_CHECK_TIMEOUT_MS, defaultInterval);
  const defaultAfter = o.unhealthyAfter ?? DEFAULT_UNHEALTHY_AFTER;
  const forgetAfterMs = o.forgetAfterMs ?? 60_000;
  const now = o.now ?? Date.now;
  const watched = new Map<string, Watched>();
  let closed = false;

  const keyOf = (app: string, t: ProbeTarget) => `${app}/${t.host}:${t.port}`;
  const intervalOf = (c?: HealthCheckSpec) => (c?.intervalSec ? c.intervalSec * 1000 : defaultInterval);
  const timeoutOf = (c?: HealthCheckSpec) =>
    c?.timeoutSec ? c.timeoutSec * 1000 : Math.min(defaultTimeout, intervalOf(c));

  const probe = (t: ProbeTarget): Promise<string | undefined> => {
    const c = t.check;
    const port = c?.port ?? t.port;
    const timeout = timeoutOf(c);
    return c?.protocol === 'http'
      ? probeHttp(t.host, port, c.path ?? '/', timeout)
      : probeTcp(t.host, port, timeout);
  };

  const setState = (w: Watched, key: string, state: HealthState) => {
    if (w.health.state === state) return;
    const was = w.health.state;
    w.health.state = state;
    w.health.since = now();
    if (state === 'unhealthy') o.log?.(`ingress: ${key} unhealthy: ${w.health.reason}`);
    else if (was === 'unhealthy') o.log?.(`ingress: ${key} healthy again`);
  };

  const run = async (key: string) => {
    const w = watched.get(key);
    if (!w || closed) return;
    if (now() - w.lastLookup > forgetAfterMs) {
      watched.delete(key);
      return;
    }
    const why = await probe(w.target);
    if (closed || watched.get(key) !== w) return;
    if (why === undefined) {
      w.health.failures = 0;
      w.health.reason = undefined;
      setState(w, key, 'healthy');
    } else {
      w.health.failures++;
      w.health.reason = why;
      if (w.health.failures >= (w.target.check?.unhealthyAfter ?? defaultAfter))
        setState(w, key, 'unhealthy');
    }
    w.timer = setTimeout(() => void run(key), intervalOf(w.target.check));
    w.timer.unref();
  };

  const find = (app: string, t: ProbeTarget) => watched.get(keyOf(app, t));

  return {
    watch(app, instances) {
      if (closed) return;
      const t = now();
      for (const target of instances) {
        const key = keyOf(app, target);
        const w = watched.get(key);
        if (w) {
          w.lastLookup = t;
          // An app update may change the check; the next probe uses the new one.
          if (w.target.check !== target.check)
            w.target = { host: target.host, port: target.port, check: target.check };
          continue;
        }
        const fresh: Watched = {
          app,
          target: { host: target.host, port: target.port, check: target.check },
          health: { app, instance: `${target.host}:${target.port}`, state: 'unknown', failures: 0, since: t },
          lastLookup: t,
        };
        watched.set(key, fresh);
        void run(key);
      }
    },
    state: (app, t) => find(app, t)?.health.state ?? 'unknown',
    reason: (app, t) => find(app, t)?.health.reason,
    list: () => [...watched.values()].map((w) => ({ ...w.health })),
    close() {
      closed = true;
      for (const w of watched.values()) clearTimeout(w.timer);
      watched.clear();
    },
  };
}
