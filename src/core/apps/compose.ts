// docker-compose.yml -> app spec (version 1). What a spec cannot express is listed, not dropped
// silently: builds, volumes, networks, healthchecks and the like.
import { parse as parseYaml } from 'yaml';
import type { ChainParams } from '../params/index.ts';
import { type SpecResult, validateAppSpec } from './spec.ts';

export interface ComposeConversion {
  /** The spec object (validated in `result`). */
  spec: Record<string, unknown>;
  result: SpecResult;
  /** What could not be carried over, one line each: `services.web.volumes: not supported`. */
  dropped: string[];
  /** Values chosen because compose did not say (cpu, ram, hdd, expiry). */
  defaults: string[];
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
]);

function memoryMb(text: string | number): number | undefined {
  if (typeof text === 'number') return Math.ceil(text / 1e6);
  const m = /^([0-9.]+)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m) return undefined;
  const scale: Record<string, number> = { '': 1e-6, k: 1e-3, m: 1, g: 1000, t: 1_000_000 };
  return Math.ceil(Number(m[1]) * scale[m[2].toLowerCase()]);
}

function portsOf(list: unknown, where: string, dropped: string[]) {
  const out: Array<{ container: number; host: number; protocol: 'tcp' | 'udp' }> = [];
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
      dropped.push(`${where}.ports[${i}]: ${JSON.stringify(p)} (ranges are not supported)`);
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

function envOf(env: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const e of env) {
      const s = String(e);
      const at = s.indexOf('=');
      if (at > 0) out[s.slice(0, at)] = s.slice(at + 1);
    }
  } else if (env && typeof env === 'object') {
    for (const [k, v] of Object.entries(env)) out[k] = v === null || v === undefined ? '' : String(v);
  }
  return out;
}

function imageOf(svc: Record<string, unknown>, where: string, dropped: string[]): string {
  if (typeof svc.image === 'string') return svc.image;
  dropped.push(`${where}: has no image (build: is not supported)`);
  return '';
}

/** Converts compose text; `name` defaults to the compose `name:` field. */
export function convertCompose(
  text: string,
  params: ChainParams,
  opts: { name?: string; expiryBlocks?: number } = {},
): ComposeConversion {
  const dropped: string[] = [];
  const defaults: string[] = [];
  let doc: Record<string, unknown>;
  try {
    doc = (parseYaml(text) ?? {}) as Record<string, unknown>;
  } catch (e) {
    const result: SpecResult = {
      ok: false,
      error: { code: 'BAD_SPEC', message: `compose file is not YAML: ${(e as Error).message}`, issues: [] },
    };
    return { spec: {}, result, dropped, defaults };
  }
  for (const key of Object.keys(doc))
    if (key !== 'services' && key !== 'name' && key !== 'version') dropped.push(`${key}: not supported`);
  const services = (doc.services ?? {}) as Record<string, Record<string, unknown>>;
  let instances = 1;
  const components = Object.entries(services).map(([name, svc]) => {
    const where = `services.${name}`;
    for (const key of Object.keys(svc ?? {}))
      if (!CARRIED.has(key)) dropped.push(`${where}.${key}: not supported`);
    const deploy = (svc.deploy ?? {}) as {
      replicas?: number;
      resources?: { limits?: { cpus?: string | number; memory?: string } };
    };
    for (const key of Object.keys(deploy))
      if (key !== 'replicas' && key !== 'resources') dropped.push(`${where}.deploy.${key}: not supported`);
    if (deploy.replicas && deploy.replicas > instances) instances = deploy.replicas;
    const limits = deploy.resources?.limits ?? {};
    let cpu = Number(limits.cpus ?? svc.cpus ?? Number.NaN);
    if (!Number.isFinite(cpu)) {
      cpu = 0.5;
      defaults.push(`${where}: cpu 0.5 (compose sets no cpu limit)`);
    }
    cpu = Math.max(0.1, Math.ceil(cpu * 10) / 10);
    let ram = memoryMb((limits.memory ?? svc.mem_limit ?? '') as string);
    if (!ram) {
      ram = 256;
      defaults.push(`${where}: ram 256 MB (compose sets no memory limit)`);
    }
    defaults.push(`${where}: hdd 1 GB (compose does not size disks)`);
    const command = svc.command;
    if (typeof command === 'string') defaults.push(`${where}: command split on spaces (no shell quoting)`);
    return {
      name: name.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
      image: imageOf(svc, where, dropped),
      ports: portsOf(svc.ports, where, dropped),
      env: envOf(svc.environment),
      ...(command === undefined
        ? {}
        : {
            command: Array.isArray(command)
              ? command.map(String)
              : String(command).split(/\s+/).filter(Boolean),
          }),
      cpu,
      ram: Math.max(16, ram),
      hdd: 1,
    };
  });
  const expiryBlocks =
    opts.expiryBlocks ?? Math.min(params.apps.maxBlocks, Math.max(params.apps.minBlocks, 10_000));
  if (opts.expiryBlocks === undefined) defaults.push(`expiryBlocks ${expiryBlocks}`);
  const spec = {
    version: 1,
    name: opts.name ?? (typeof doc.name === 'string' ? doc.name : 'my-app'),
    instances,
    expiryBlocks,
    components,
  };
  return { spec, result: validateAppSpec(spec, params), dropped, defaults };
}
