// docker-compose.yml -> app spec (version 1). What a spec cannot express is listed, not dropped
// silently: builds, volumes, networks, unset variables and the like. Pure: the variables that
// `${VAR}` reads are passed in (the CLI reads the env file and its own environment).
import { parse as parseYaml } from 'yaml';
import type { ChainParams } from '../params/index.ts';
import { ENV_NAME, ENV_NAME_RULE, type SpecResult, validateAppSpec } from './spec.ts';

export interface ComposeConversion {
  /** The spec object (validated in `result`). */
  spec: Record<string, unknown>;
  result: SpecResult;
  /** What could not be carried over, one line each: `services.web.volumes: not supported`. */
  dropped: string[];
  /** Values chosen because compose did not say (cpu, ram, hdd, expiry, a port moved above 1024). */
  defaults: string[];
}

export interface ComposeOptions {
  name?: string;
  expiryBlocks?: number;
  /** What `${VAR}` and a bare `- NAME` environment entry read (env file, then the caller's environment). */
  variables?: Readonly<Record<string, string>>;
  /** Reads a service's `env_file` (a path as the file gives it, relative to the compose file); undefined when it cannot. */
  readEnvFile?: (path: string) => string | undefined;
}

const CARRIED = new Set([
  'image',
  'ports',
  'environment',
  'command',
  'deploy',
  'cpus',
  'mem_limit',
  'container_name',
  'healthcheck',
  'depends_on',
  'entrypoint',
  'env_file',
  'volumes',
]);

// Docker's units (go-units RAMInBytes): binary, case-insensitive, `b`/`ib` optional: 1.5G = 1536 MB.
const MEMORY_UNIT: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Compose memory (bytes as a number, or `512m`, `1.5G`, `2gb`, `1GiB`) in whole MB (2^20 bytes), rounded up. */
export function memoryMb(value: string | number): number | undefined {
  if (typeof value === 'number') return value > 0 ? Math.ceil(value / 2 ** 20) : undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgt])i?b?|(b)?)$/i.exec(value.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]) * MEMORY_UNIT[(m[2] ?? 'b').toLowerCase()];
  return bytes > 0 ? Math.ceil(bytes / 2 ** 20) : undefined;
}

/** Splits a string command the way a POSIX shell splits words: quotes, backslash escapes; no expansion. */
export function splitShellWords(text: string): { ok: true; words: string[] } | { ok: false; error: string } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return { ok: false, error: 'unterminated single quote' };
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (ch === '"') {
      inWord = true;
      for (i++; ; i++) {
        if (i >= text.length) return { ok: false, error: 'unterminated double quote' };
        const c = text[i];
        if (c === '"') break;
        // Inside double quotes a backslash escapes only $ ` " \ and a newline.
        if (c === '\\' && i + 1 < text.length && '$`"\\\n'.includes(text[i + 1])) {
          i++;
          if (text[i] !== '\n') word += text[i];
        } else word += c;
      }
    } else if (ch === '\\') {
      if (i + 1 >= text.length) return { ok: false, error: 'a trailing backslash' };
      i++;
      if (text[i] !== '\n') word += text[i];
      inWord = true;
    } else if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return { ok: true, words };
}

/** Reads a `.env` file: `KEY=VALUE` lines, `#` comments, optional `export `, quoted values. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, '');
    if (!line || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    if (at <= 0) continue;
    const key = line.slice(0, at).trim();
    let value = line.slice(at + 1).trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    } else value = value.replace(/\s+#.*$/, '');
    out[key] = value;
  }
  return out;
}

interface Interpolation {
  variables: Readonly<Record<string, string>>;
  /** Variable name -> where it was read unset (the first place). */
  unset: Map<string, string>;
  problems: string[];
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Compose interpolation of one string: `$$`, `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?e}`, `${VAR:+a}`. */
function interpolate(text: string, where: string, ctx: Interpolation): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch !== '$') {
      out += ch;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '{') {
      // Find the matching brace (defaults may nest `${...}`).
      let depth = 1;
      let j = i + 2;
      for (; j < text.length && depth > 0; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}') depth--;
      }
      if (depth > 0) {
        ctx.problems.push(`${where}: unterminated \${ in ${JSON.stringify(text)}; left as written`);
        out += text.slice(i);
        return out;
      }
      const body = text.slice(i + 2, j - 1);
      out += expand(body, where, ctx);
      i = j - 1;
      continue;
    }
    const name = VAR_NAME.exec(text.slice(i + 1));
    if (name) {
      out += lookup(name[0], where, ctx) ?? '';
      i += name[0].length;
    } else out += '$';
  }
  return out;
}

function lookup(name: string, where: string, ctx: Interpolation, quiet = false): string | undefined {
  const v = Object.hasOwn(ctx.variables, name) ? ctx.variables[name] : undefined;
  if (v === undefined && !quiet && !ctx.unset.has(name)) ctx.unset.set(name, where);
  return v;
}

function expand(body: string, where: string, ctx: Interpolation): string {
  const name = VAR_NAME.exec(body)?.[0];
  if (!name) {
    ctx.problems.push(`${where}: \${${body}} is not a variable reference; substituted ''`);
    return '';
  }
  const rest = body.slice(name.length);
  if (rest === '') return lookup(name, where, ctx) ?? '';
  const op = /^(:?[-?+])/.exec(rest)?.[1];
  if (!op) {
    ctx.problems.push(`${where}: \${${body}} uses an operator compose does not define; substituted ''`);
    return '';
  }
  const arg = rest.slice(op.length);
  const value = lookup(name, where, ctx, true);
  const empty = op.startsWith(':') ? !value : value === undefined;
  switch (op.at(-1)) {
    case '-':
      return empty ? interpolate(arg, where, ctx) : (value as string);
    case '+':
      return empty ? '' : interpolate(arg, where, ctx);
    default:
      if (empty) {
        ctx.problems.push(
          `${where}: required variable ${name} is not set${arg ? ` (${interpolate(arg, where, ctx)})` : ''}; substituted ''`,
        );
        return '';
      }
      return value as string;
  }
}

/** Interpolates every string value (not keys) in a parsed compose tree, recording where. */
function interpolateTree(node: unknown, where: string, ctx: Interpolation): unknown {
  if (typeof node === 'string') return interpolate(node, where, ctx);
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, `${where}[${i}]`, ctx));
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = interpolateTree(v, where ? `${where}.${k}` : k, ctx);
    return out;
  }
  return node;
}

interface PortOut {
  container: number;
  host: number;
  protocol: 'tcp' | 'udp';
}

function portsOf(list: unknown, where: string, dropped: string[]): PortOut[] {
  const out: PortOut[] = [];
  if (!Array.isArray(list)) return out;
  list.forEach((p, i) => {
    if (typeof p === 'object' && p !== null) {
      const o = p as { target?: number; published?: number | string; protocol?: string };
      if (o.target && o.published) {
        out.push({
          container: Number(o.target),
          host: Number(o.published),
          protocol: o.protocol === 'udp' ? 'udp' : 'tcp',
        });
      } else dropped.push(`${where}.ports[${i}]: a port without a published host port is not exposed`);
      return;
    }
    const m = /^(?:\d+\.\d+\.\d+\.\d+:)?(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(String(p));
    if (!m) {
      dropped.push(`${where}.ports[${i}]: ${JSON.stringify(p)} (ranges and IPv6 binds are not supported)`);
      return;
    }
    if (!m[1]) {
      dropped.push(`${where}.ports[${i}]: ${p} has no host port; add HOST:${m[2]}`);
      return;
    }
    if (String(p).split(':').length === 3)
      dropped.push(`${where}.ports[${i}]: the bind address (nodes bind their own)`);
    out.push({ container: Number(m[2]), host: Number(m[1]), protocol: m[3] === 'udp' ? 'udp' : 'tcp' });
  });
  return out;
}

function envOf(
  env: unknown,
  where: string,
  variables: Readonly<Record<string, string>>,
  dropped: string[],
): Record<string, string> {
  const pairs: Array<[string, string | undefined]> = [];
  if (Array.isArray(env)) {
    for (const e of env) {
      const s = String(e);
      const at = s.indexOf('=');
      pairs.push(at < 0 ? [s, undefined] : [s.slice(0, at), s.slice(at + 1)]);
    }
  } else if (env && typeof env === 'object') {
    for (const [k, v] of Object.entries(env))
      pairs.push([k, v === null || v === undefined ? undefined : String(v)]);
  }
  const out: Record<string, string> = {};
  for (const [name, given] of pairs) {
    // A name without a value takes it from the variables (compose reads the shell), else it is unset.
    const value = given ?? (Object.hasOwn(variables, name) ? variables[name] : undefined);
    if (value === undefined) {
      dropped.push(`${where}.environment.${name}: has no value and is not set in the variables; left out`);
      continue;
    }
    if (!ENV_NAME.test(name)) {
      dropped.push(`${where}.environment.${name}: ${ENV_NAME_RULE} (the spec's rule); left out`);
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** A compose service name as a component name (the spec's rule: lowercase, digits, hyphens). */
const componentName = (service: string) => service.toLowerCase().replace(/[^a-z0-9-]/g, '-');

/** A `command` or `entrypoint`: a list as given, a string split by shell rules (no shell runs it). */
function argvOf(value: unknown, where: string, dropped: string[]): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String);
  const split = splitShellWords(String(value));
  if (split.ok) return split.words;
  dropped.push(`${where}: ${split.error} in ${JSON.stringify(value)}; left out`);
  return undefined;
}

/**
 * `depends_on` (a list, or a map with conditions) as component names. The spec starts a
 * component once those it depends on run: `service_healthy` and `service_completed_successfully`
 * are said to be taken as started.
 */
function dependsOnOf(value: unknown, where: string, services: Set<string>, dropped: string[]): string[] {
  if (value === undefined || value === null) return [];
  const entries: Array<[string, Record<string, unknown>]> = Array.isArray(value)
    ? value.map((v) => [String(v), {}])
    : typeof value === 'object'
      ? Object.entries(value as Record<string, unknown>).map(([k, v]) => [
          k,
          v && typeof v === 'object' ? (v as Record<string, unknown>) : {},
        ])
      : [];
  if (entries.length === 0 && !Array.isArray(value))
    dropped.push(`${where}.depends_on: ${JSON.stringify(value)} is neither a list nor a map; left out`);
  const out: string[] = [];
  for (const [service, opts] of entries) {
    if (!services.has(service)) {
      dropped.push(`${where}.depends_on.${service}: no such service; left out`);
      continue;
    }
    const condition = opts.condition;
    if (condition !== undefined && condition !== 'service_started')
      dropped.push(
        `${where}.depends_on.${service}.condition: ${String(condition)} taken as service_started (the spec waits until it runs)`,
      );
    for (const key of Object.keys(opts))
      if (key !== 'condition') dropped.push(`${where}.depends_on.${service}.${key}: not supported`);
    const name = componentName(service);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * A service's named volumes (`name:/path[:ro]`, or `{type: volume, source, target}`) and
 * anonymous ones (`/path`) as spec volumes of 1 GB (compose does not size them; said in the
 * defaults). Bind mounts of host paths have no place on a node someone else runs: reported.
 * A named volume is one component's: a second service mounting it is reported.
 */
function volumesOf(
  value: unknown,
  where: string,
  declared: Record<string, unknown>,
  owners: Map<string, string>,
  names: Set<string>,
  dropped: string[],
  defaults: string[],
): Array<{ name: string; mount: string; size: number }> {
  if (!Array.isArray(value)) {
    if (value !== undefined && value !== null) dropped.push(`${where}.volumes: not a list; left out`);
    return [];
  }
  const out: Array<{ name: string; mount: string; size: number }> = [];
  value.forEach((entry, i) => {
    let source: string | undefined;
    let target: string | undefined;
    let type = 'volume';
    if (typeof entry === 'string') {
      const parts = entry.split(':');
      if (parts.length === 1) target = parts[0];
      else [source, target] = parts;
      if (source !== undefined && /^[./~]/.test(source)) type = 'bind';
      if (source === '') {
        dropped.push(`${where}.volumes[${i}]: ${JSON.stringify(entry)} has an empty source; left out`);
        return;
      }
      if (type === 'volume' && parts.length > 2 && parts[2] !== 'rw')
        dropped.push(`${where}.volumes[${i}]: mode ${parts[2]} not supported (mounted read-write)`);
    } else if (entry && typeof entry === 'object') {
      const e = entry as Record<string, unknown>;
      type = String(e.type ?? 'volume');
      source = e.source === undefined ? undefined : String(e.source);
      target = e.target === undefined ? undefined : String(e.target);
      for (const key of Object.keys(e))
        if (!['type', 'source', 'target'].includes(key))
          dropped.push(`${where}.volumes[${i}].${key}: not supported`);
    }
    if (type !== 'volume' || target === undefined) {
      dropped.push(
        `${where}.volumes[${i}]: ${type === 'bind' ? `a bind mount of the host's ${source}` : `a ${type} mount`} is not supported (only named volumes, which the node keeps); left out`,
      );
      return;
    }
    if (source !== undefined && !Object.hasOwn(declared, source))
      dropped.push(`${where}.volumes[${i}]: volume ${source} is not declared under volumes:; carried anyway`);
    const base = (source ?? target.split('/').filter(Boolean).at(-1) ?? 'data')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^[^a-z]+/, '')
      .slice(0, 32)
      .replace(/-+$/, '');
    let name = base || 'data';
    if (source !== undefined && owners.has(source)) {
      dropped.push(
        `${where}.volumes[${i}]: volume ${source} is also mounted by ${owners.get(source)}; a volume belongs to one component; left out`,
      );
      return;
    }
    if (source !== undefined) owners.set(source, where);
    for (let n = 2; names.has(name); n++) name = `${base.slice(0, 29)}-${n}`;
    names.add(name);
    out.push({ name, mount: target, size: 1 });
    defaults.push(
      `${where}.volumes[${i}]: volume ${name} of 1 GB at ${target} (compose does not size volumes)`,
    );
  });
  return out;
}

/** A service's `env_file` (a path, a list of paths or of {path, required}), read through `read`. */
function envFilesOf(
  value: unknown,
  where: string,
  read: ComposeOptions['readEnvFile'],
  dropped: string[],
): Record<string, string> {
  if (value === undefined || value === null) return {};
  const list = Array.isArray(value) ? value : [value];
  const out: Record<string, string> = {};
  for (const entry of list) {
    const path =
      typeof entry === 'string'
        ? entry
        : entry && typeof entry === 'object' && typeof (entry as { path?: unknown }).path === 'string'
          ? (entry as { path: string }).path
          : undefined;
    if (path === undefined) {
      dropped.push(`${where}.env_file: ${JSON.stringify(entry)} is not a path; left out`);
      continue;
    }
    const required = !(
      entry &&
      typeof entry === 'object' &&
      (entry as { required?: unknown }).required === false
    );
    const text = read?.(path);
    if (text === undefined) {
      if (required) dropped.push(`${where}.env_file: ${path} could not be read; its variables are left out`);
      continue;
    }
    for (const [k, v] of Object.entries(parseEnvFile(text))) {
      if (ENV_NAME.test(k)) out[k] = v;
      else dropped.push(`${where}.env_file ${path}: ${k}: ${ENV_NAME_RULE} (the spec's rule); left out`);
    }
  }
  return out;
}

function imageOf(svc: Record<string, unknown>, where: string, dropped: string[]): string {
  if (typeof svc.image === 'string') return svc.image;
  dropped.push(`${where}: has no image (build: is not supported)`);
  return '';
}

/** Compose durations (`30s`, `1m30s`, `500ms`, `1h`) in seconds, or undefined. */
function durationSec(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const re = /(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g;
  let total = 0;
  let seen = '';
  for (let m = re.exec(value); m; m = re.exec(value)) {
    total += Number(m[1]) * { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 }[m[2] as 'h'];
    seen += m[0];
  }
  return seen === value.trim() && seen ? total : undefined;
}

// curl and wget take a URL without a scheme as http://.
const HTTP_URL =
  /(?:\bhttps?:\/\/|(?<![\w/.:@-]))(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::(\d+))?(\/[\x21\x23-\x26\x28-\x5b\x5d-\x7e]*)?/;

/** A compose healthcheck as the spec's check: an HTTP GET of a localhost URL (curl/wget), else none. */
function healthCheckOf(
  hc: unknown,
  ports: PortOut[],
  where: string,
  dropped: string[],
): Record<string, unknown> | undefined {
  if (!hc || typeof hc !== 'object') return undefined;
  const h = hc as {
    test?: unknown;
    interval?: unknown;
    timeout?: unknown;
    retries?: unknown;
    disable?: unknown;
  };
  const test = Array.isArray(h.test) ? h.test.map(String) : typeof h.test === 'string' ? [h.test] : [];
  if (h.disable === true || test[0] === 'NONE') return undefined;
  const line = test.join(' ');
  const url = /\b(curl|wget)\b/.test(line) ? HTTP_URL.exec(line) : null;
  if (!url) {
    dropped.push(
      `${where}.healthcheck: ${JSON.stringify(line)} is not an HTTP GET of a localhost URL (curl or wget), the only command check a spec carries; left out`,
    );
    return undefined;
  }
  const containerPort = Number(url[1] ?? (url[0].startsWith('https') ? 443 : 80));
  const port = ports.find((p) => p.protocol === 'tcp' && p.container === containerPort);
  if (!port) {
    dropped.push(
      `${where}.healthcheck: checks container port ${containerPort}, which the service does not publish`,
    );
    return undefined;
  }
  if (url[0].startsWith('https'))
    dropped.push(`${where}.healthcheck: HTTPS; the ingress checks plain HTTP, so it may fail`);
  const out: Record<string, unknown> = { protocol: 'http', path: url[2] ?? '/', port: port.host };
  const interval = durationSec(h.interval);
  if (interval !== undefined) {
    const s = Math.min(60, Math.max(1, Math.round(interval)));
    if (s !== interval) dropped.push(`${where}.healthcheck.interval: ${h.interval} taken as ${s} s (1..60)`);
    out.intervalSec = s;
  }
  const timeout = durationSec(h.timeout);
  if (timeout !== undefined) {
    const s = Math.min((out.intervalSec as number | undefined) ?? 60, Math.max(1, Math.round(timeout)));
    if (s !== timeout) dropped.push(`${where}.healthcheck.timeout: ${h.timeout} taken as ${s} s`);
    out.timeoutSec = s;
  }
  if (typeof h.retries === 'number') {
    const n = Math.min(10, Math.max(1, Math.round(h.retries)));
    if (n !== h.retries) dropped.push(`${where}.healthcheck.retries: ${h.retries} taken as ${n} (1..10)`);
    out.unhealthyAfter = n;
  }
  for (const key of Object.keys(h))
    if (!['test', 'interval', 'timeout', 'retries'].includes(key))
      dropped.push(`${where}.healthcheck.${key}: not supported`);
  return out;
}

function refusal(message: string): SpecResult {
  return { ok: false, error: { code: 'BAD_SPEC', message, issues: [] } };
}

/** Converts compose text; `name` defaults to the compose `name:` field. */
export function convertCompose(
  text: string,
  params: ChainParams,
  opts: ComposeOptions = {},
): ComposeConversion {
  const dropped: string[] = [];
  const defaults: string[] = [];
  const variables = opts.variables ?? {};
  let parsed: unknown;
  try {
    // `<<: *anchor` merge keys are YAML 1.1; compose files rely on them (x-common blocks).
    parsed = parseYaml(text, { merge: true, maxAliasCount: 100 });
  } catch (e) {
    const err = e as Error & { linePos?: Array<{ line: number; col: number }> };
    const at = err.linePos?.[0];
    const first = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    return {
      spec: {},
      result: refusal(`compose file is not YAML: ${at ? `line ${at.line}, column ${at.col}: ` : ''}${first}`),
      dropped,
      defaults,
    };
  }
  if (parsed === null || parsed === undefined)
    return { spec: {}, result: refusal('compose file is empty'), dropped, defaults };
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    return {
      spec: {},
      result: refusal('compose file is not a mapping (expected services: ...)'),
      dropped,
      defaults,
    };
  const ctx: Interpolation = { variables, unset: new Map(), problems: [] };
  const doc = interpolateTree(parsed, '', ctx) as Record<string, unknown>;
  for (const [name, at] of ctx.unset) dropped.push(`${at}: variable ${name} is not set; substituted ''`);
  dropped.push(...ctx.problems);
  for (const key of Object.keys(doc))
    if (
      key !== 'services' &&
      key !== 'name' &&
      key !== 'version' &&
      key !== 'volumes' &&
      !key.startsWith('x-')
    )
      dropped.push(`${key}: not supported`);
  const declared = (doc.volumes && typeof doc.volumes === 'object' ? doc.volumes : {}) as Record<
    string,
    unknown
  >;
  for (const [name, v] of Object.entries(declared))
    for (const key of Object.keys(v && typeof v === 'object' ? v : {}))
      if (key !== 'name')
        dropped.push(`volumes.${name}.${key}: not supported (a volume is the node's quota'd disk)`);
  const volumeOwners = new Map<string, string>();
  const volumeNames = new Set<string>();
  const services = doc.services;
  if (!services || typeof services !== 'object' || Object.keys(services).length === 0)
    return { spec: {}, result: refusal('compose file has no services'), dropped, defaults };
  let instances = 1;
  const serviceNames = new Set(Object.keys(services));
  const components = Object.entries(services as Record<string, Record<string, unknown>>).map(
    ([name, raw]) => {
      const svc = raw && typeof raw === 'object' ? raw : {};
      const where = `services.${name}`;
      for (const key of Object.keys(svc))
        if (!CARRIED.has(key) && !key.startsWith('x-')) dropped.push(`${where}.${key}: not supported`);
      const deploy = (svc.deploy ?? {}) as {
        replicas?: number;
        resources?: { limits?: { cpus?: string | number; memory?: string | number } };
      };
      for (const key of Object.keys(deploy))
        if (key !== 'replicas' && key !== 'resources') dropped.push(`${where}.deploy.${key}: not supported`);
      for (const key of Object.keys(deploy.resources ?? {}))
        if (key !== 'limits') dropped.push(`${where}.deploy.resources.${key}: not supported (limits are)`);
      if (deploy.replicas && deploy.replicas > instances) instances = deploy.replicas;
      const limits = deploy.resources?.limits ?? {};
      let cpu = Number(limits.cpus ?? svc.cpus ?? Number.NaN);
      if (!Number.isFinite(cpu)) {
        cpu = 0.5;
        defaults.push(`${where}: cpu 0.5 (compose sets no cpu limit)`);
      }
      cpu = Math.max(0.1, Math.ceil(cpu * 10) / 10);
      const memory = (limits.memory ?? svc.mem_limit) as string | number | undefined;
      let ram = memory === undefined ? undefined : memoryMb(memory);
      if (memory !== undefined && ram === undefined)
        dropped.push(`${where}: memory ${JSON.stringify(memory)} is not a size (like 512m or 1.5g)`);
      if (!ram) {
        ram = 256;
        defaults.push(`${where}: ram 256 MB (compose sets no memory limit)`);
      }
      defaults.push(`${where}: hdd 1 GB (compose does not size disks)`);
      const command = argvOf(svc.command, `${where}.command`, dropped);
      const entrypoint = argvOf(svc.entrypoint, `${where}.entrypoint`, dropped);
      const ports = portsOf(svc.ports, where, dropped);
      const healthCheck = healthCheckOf(svc.healthcheck, ports, where, dropped);
      const dependsOn = dependsOnOf(svc.depends_on, where, serviceNames, dropped);
      const volumes = volumesOf(svc.volumes, where, declared, volumeOwners, volumeNames, dropped, defaults);
      // Compose's precedence: `environment` over the env files, later files over earlier ones.
      const env = {
        ...envFilesOf(svc.env_file, where, opts.readEnvFile, dropped),
        ...envOf(svc.environment, where, variables, dropped),
      };
      return {
        name: componentName(name),
        image: imageOf(svc, where, dropped),
        ports,
        env,
        ...(command === undefined ? {} : { command }),
        ...(entrypoint === undefined ? {} : { entrypoint }),
        ...(dependsOn.length ? { dependsOn } : {}),
        ...(volumes.length ? { volumes } : {}),
        cpu,
        ram: Math.max(16, ram),
        hdd: 1,
        ...(healthCheck ? { healthCheck } : {}),
      };
    },
  );
  const appName = opts.name ?? (typeof doc.name === 'string' ? doc.name : 'my-app');
  moveLowPorts(components, appName, defaults);
  const expiryBlocks =
    opts.expiryBlocks ?? Math.min(params.apps.maxBlocks, Math.max(params.apps.minBlocks, 10_000));
  if (opts.expiryBlocks === undefined) defaults.push(`expiryBlocks ${expiryBlocks}`);
  const spec = { version: 1, name: appName, instances, expiryBlocks, components };
  return { spec, result: validateAppSpec(spec, params), dropped, defaults };
}

/**
 * Host ports below 1024 are the node's own: each moves to a free high port (P + 8000, then up),
 * chosen in file order so the result is the same everywhere. An HTTP one (80) becomes the app's
 * ingress route: its port goes first, since the ingress serves `<app>.<domain>` from the first
 * published TCP port.
 */
function moveLowPorts(
  components: Array<{ name: string; ports: PortOut[]; healthCheck?: Record<string, unknown> }>,
  appName: string,
  defaults: string[],
): void {
  const used = new Set(components.flatMap((c) => c.ports.map((p) => `${p.host}/${p.protocol}`)));
  let ingress: { component: number; port: number } | undefined;
  components.forEach((c, ci) => {
    c.ports.forEach((p, pi) => {
      if (p.host >= 1024) return;
      let host = p.host + 8000;
      while (used.has(`${host}/${p.protocol}`)) host++;
      used.add(`${host}/${p.protocol}`);
      const http = p.protocol === 'tcp' && (p.host === 80 || p.container === 80);
      if (c.healthCheck?.port === p.host) c.healthCheck.port = host;
      defaults.push(
        http
          ? `components.${c.name}: host port ${p.host} -> ${host}; the ingress serves it as ${appName}.<domain> (ports below 1024 are the node's own)`
          : `components.${c.name}: host port ${p.host}/${p.protocol} -> ${host} (ports below 1024 are the node's own; clients must use ${host})`,
      );
      p.host = host;
      if (http && !ingress) ingress = { component: ci, port: pi };
    });
  });
  if (!ingress) return;
  const firstTcp = components.flatMap((c) => c.ports).find((p) => p.protocol === 'tcp');
  const target = components[ingress.component].ports[ingress.port];
  if (firstTcp === target) return;
  const [comp] = components.splice(ingress.component, 1);
  comp.ports.splice(ingress.port, 1);
  comp.ports.unshift(target);
  components.unshift(comp);
  defaults.push(
    `components.${comp.name}: listed first, port ${target.host} first, so the ingress routes to it`,
  );
}
