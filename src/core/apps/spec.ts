// The app spec, version 1: what a user writes (YAML or JSON) and what an appRegister or appUpdate
// transaction carries (as JSON text). Validation is the same on the CLI and in consensus; every
// error names the field and the rule.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TIERS, type Tier } from '../ledger/emission.ts';
import { REGION_PATTERN, REGION_RULE } from '../nodes/region.ts';
import type { ChainParams } from '../params/index.ts';

export const APP_NAME = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const COMPONENT_NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]?$/;
/** NUL and every other control character (C0, DEL, C1): Docker cannot pass NUL, and the rest hide in logs and terminals. */
/** In a one-line field (the description): any control character. */
const CONTROL = /\p{Cc}/u;
const CONTROL_RULE = 'must not contain NUL or other control characters (tab and newline included)';
/**
 * In an environment value or a command argument: any but tab and newline, which a shell script
 * (`sh -c "..."` over several lines, as compose files carry) legitimately holds.
 */
const CONTROL_IN_VALUE = /[\p{Cc}--[\t\n]]/v;
const CONTROL_IN_VALUE_RULE =
  'must not contain NUL or other control characters (tab and newline are allowed)';
export const ENV_NAME_RULE = 'environment names are letters, digits and _, not starting with a digit';

// Docker's reference grammar: [domain[:port]/]path[:tag][@sha256:digest], lowercase path.
const DOMAIN =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?';
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE_REF = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

export function isImageReference(image: string): boolean {
  if (image.length === 0 || image.length > 255) return false;
  // A first part with a dot or a port is a domain, else it is part of the path (lowercase only).
  return IMAGE_REF.test(image);
}

const Port = z.strictObject({
  container: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be an integer' })
    .min(1, { error: 'container port must be in 1..65535' })
    .max(65535, { error: 'container port must be in 1..65535' }),
  host: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be an integer' })
    .min(1024, { error: 'host port must be in 1024..65535 (ports below 1024 are the node’s own)' })
    .max(65535, { error: 'host port must be in 1024..65535' }),
  protocol: z.enum(['tcp', 'udp'], { error: "must be 'tcp' or 'udp'" }).default('tcp'),
});

const HEALTH_PATH = /^\/[\x21-\x7e]*$/;

// How the ingress tells whether an instance can take requests. Unset fields take the ingress's
// defaults (interval 5 s, timeout 2 s at most the interval, unhealthy after 2 failures in a row),
// so a spec without a check, or with a partial one, keeps meaning the same as defaults improve.
const HealthCheck = z.strictObject({
  protocol: z.enum(['http', 'tcp'], { error: "must be 'http' or 'tcp'" }),
  path: z
    .string({ error: 'must be a string' })
    .max(256, { error: 'at most 256 characters' })
    .regex(HEALTH_PATH, { error: "must start with '/' and contain no spaces or control characters" })
    .optional(),
  port: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be an integer' })
    .min(1024, { error: 'must be a host port the component publishes (1024..65535)' })
    .max(65535, { error: 'must be a host port the component publishes (1024..65535)' })
    .optional(),
  intervalSec: z
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be whole seconds' })
    .min(1, { error: 'interval must be in 1..60 seconds' })
    .max(60, { error: 'interval must be in 1..60 seconds' })
    .optional(),
  timeoutSec: z
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be whole seconds' })
    .min(1, { error: 'timeout must be in 1..60 seconds' })
    .max(60, { error: 'timeout must be in 1..60 seconds' })
    .optional(),
  unhealthyAfter: z
    .number({ error: 'must be a number of failures' })
    .int({ error: 'must be an integer' })
    .min(1, { error: 'must be in 1..10 consecutive failures' })
    .max(10, { error: 'must be in 1..10 consecutive failures' })
    .optional(),
});

const Argv = z
  .array(
    z
      .string({ error: 'must be a string' })
      .max(1024, { error: 'at most 1024 characters' })
      .refine((a) => !CONTROL_IN_VALUE.test(a), { error: CONTROL_IN_VALUE_RULE }),
    { error: 'must be a list of strings' },
  )
  .max(64, { error: 'at most 64 arguments' });

const VOLUME_NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]?$/;
/** Paths a volume may not cover: the root and the kernel's own file systems. */
const RESERVED_MOUNTS = ['/proc', '/sys', '/dev'];

const Volume = z.strictObject({
  name: z.string({ error: 'must be a string' }).regex(VOLUME_NAME, {
    error: 'must be 1-32 lowercase letters, digits or hyphens, starting with a letter',
  }),
  mount: z
    .string({ error: 'must be an absolute path in the container' })
    .max(255, { error: 'at most 255 characters' })
    .regex(/^\/[^\0:,]*$/, { error: 'must be an absolute path (starting with /, no : or ,)' })
    .refine((m) => !m.split('/').some((p) => p === '..' || p === '.'), { error: 'must not contain . or ..' })
    .refine((m) => !CONTROL.test(m), { error: CONTROL_RULE }),
  size: z
    .number({ error: 'must be a number of GB' })
    .int({ error: 'size must be whole GB' })
    .min(1, { error: 'size must be at least 1 GB' }),
  mode: z
    .enum(['replicated', 'local'], { error: "must be 'replicated' (copies on standby nodes) or 'local'" })
    .default('replicated'),
});

/** A mount path without trailing slashes (`/data/` and `/data` are one place). */
export const normalMount = (m: string): string => m.replace(/\/+$/, '') || '/';

const Component = z.strictObject({
  name: z.string({ error: 'must be a string' }).regex(COMPONENT_NAME, {
    error: 'must be 1-32 lowercase letters, digits or hyphens, starting with a letter',
  }),
  image: z.string({ error: 'must be a string' }).refine(isImageReference, {
    error: 'is not an image reference (like registry.example:5000/team/web:1.2)',
  }),
  ports: z
    .array(Port, { error: 'must be a list of {container, host}' })
    .max(16, { error: 'at most 16 ports' })
    .default([]),
  env: z
    .record(
      z.string().regex(ENV_NAME, { error: ENV_NAME_RULE }),
      z
        .string({ error: 'environment values must be strings' })
        .max(1024, { error: 'at most 1024 characters' })
        .refine((v) => !CONTROL_IN_VALUE.test(v), { error: CONTROL_IN_VALUE_RULE }),
    )
    .refine((e) => Object.keys(e).length <= 64, { error: 'at most 64 environment variables' })
    .default({}),
  command: Argv.optional(),
  /** Replaces the image's entrypoint (compose `entrypoint`); `command` is then its arguments. */
  entrypoint: Argv.optional(),
  /** Components of this app started (running) before this one, as compose `depends_on`. */
  dependsOn: z
    .array(z.string({ error: 'must be a component name' }), { error: 'must be a list of component names' })
    .max(16, { error: 'at most 16 components' })
    .optional(),
  cpu: z
    .number({ error: 'must be a number of cores' })
    .min(0.1, { error: 'cpu must be at least 0.1 core' })
    .refine((c) => Math.abs(c * 10 - Math.round(c * 10)) < 1e-9, {
      error: 'cpu must be a multiple of 0.1 core',
    }),
  ram: z
    .number({ error: 'must be a number of MB' })
    .int({ error: 'ram must be whole MB' })
    .min(16, { error: 'ram must be at least 16 MB' }),
  hdd: z
    .number({ error: 'must be a number of GB' })
    .int({ error: 'hdd must be whole GB' })
    .min(1, { error: 'hdd must be at least 1 GB' }),
  gpu: z.number().int({ error: 'gpu must be a whole count' }).min(0).max(16).default(0),
  healthCheck: HealthCheck.optional(),
  /** Persistent volumes (GB each, counted in the instance's disk and price); kept across updates and restarts. */
  volumes: z
    .array(Volume, { error: 'must be a list of {name, mount, size, mode}' })
    .max(8, { error: 'at most 8 volumes' })
    .optional(),
});

const SpecShape = z.strictObject({
  version: z.literal(1, { error: 'version must be 1 (the only spec version this chain knows)' }),
  name: z.string({ error: 'must be a string' }).regex(APP_NAME, {
    error: 'must be 3-32 lowercase letters, digits or hyphens, starting with a letter',
  }),
  description: z
    .string()
    .max(256, { error: 'at most 256 characters' })
    .refine((d) => !CONTROL.test(d), { error: CONTROL_RULE })
    .default(''),
  owner: z.string().optional().describe('informational; the chain records the signer'),
  instances: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be an integer' })
    .min(1, { error: 'at least 1 instance' }),
  expiryBlocks: z.number({ error: 'must be a number of blocks' }).int({ error: 'must be an integer' }),
  tiers: z
    .array(z.enum(TIERS as unknown as [Tier, ...Tier[]], { error: `must be one of ${TIERS.join(', ')}` }))
    .min(1, { error: 'list at least one tier, or leave tiers out' })
    .optional(),
  geolocation: z
    .array(z.string({ error: 'must be a string' }).regex(REGION_PATTERN, { error: REGION_RULE }), {
      error: 'must be a list of regions, like [EU, NA-US]',
    })
    .min(1, { error: 'list at least one region, or leave geolocation out' })
    .max(32, { error: 'at most 32 regions' })
    .optional(),
  components: z
    .array(Component, { error: 'must be a list of components' })
    .min(1, { error: 'at least one component' }),
});

export type AppSpec = z.output<typeof SpecShape>;
export type AppComponent = AppSpec['components'][number];
/** A component's health check as the spec gives it (absent: TCP connect to its first TCP port). */
export type HealthCheckSpec = NonNullable<AppComponent['healthCheck']>;

export interface SpecIssue {
  /** Dotted path of the field, e.g. `components[0].ports[1].host`. */
  field: string;
  message: string;
}

export type SpecResult =
  | { ok: true; spec: AppSpec }
  | { ok: false; error: { code: 'BAD_SPEC'; message: string; issues: SpecIssue[] } };

function pathOf(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(spec)';
}

function bad(issues: SpecIssue[]): SpecResult {
  return {
    ok: false,
    error: { code: 'BAD_SPEC', message: issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues },
  };
}

/** Resources one instance asks for (all components together); cpu in tenths of a core. */
export interface InstanceResources {
  cpuTenths: number;
  ramMb: number;
  hddGb: number;
  gpu: number;
  ports: number;
}

export function instanceResources(spec: AppSpec): InstanceResources {
  const r: InstanceResources = { cpuTenths: 0, ramMb: 0, hddGb: 0, gpu: 0, ports: 0 };
  for (const c of spec.components) {
    r.cpuTenths += Math.round(c.cpu * 10);
    r.ramMb += c.ram;
    r.hddGb += c.hdd + (c.volumes ?? []).reduce((sum, v) => sum + v.size, 0);
    r.gpu += c.gpu;
    r.ports += c.ports.length;
  }
  return r;
}

/** The largest machine any tier guarantees (its minimums): no instance may ask for more. */
export function largestTier(params: ChainParams): {
  tier: Tier;
  cpuTenths: number;
  ramMb: number;
  hddGb: number;
} {
  let best = { tier: TIERS[0], cpuTenths: 0, ramMb: 0, hddGb: 0 };
  for (const tier of TIERS) {
    const m = params.nodes.tiers[tier].minimums;
    if (m.ramGb * 1000 >= best.ramMb)
      best = { tier, cpuTenths: m.cores * 10, ramMb: m.ramGb * 1000, hddGb: m.ssdGb };
  }
  return best;
}

/** Validates a spec object (already parsed from YAML or JSON) against the schema and the chain's limits. */
export function validateAppSpec(input: unknown, params: ChainParams): SpecResult {
  const parsed = SpecShape.safeParse(input);
  if (!parsed.success) {
    return bad(
      parsed.error.issues.map((i) =>
        // A refused record key (an env name) carries the rule in its nested issue, not in its own message.
        i.code === 'invalid_key'
          ? {
              field: pathOf(i.path.slice(0, -1)),
              message: `${JSON.stringify(String(i.path.at(-1)))}: ${i.issues[0]?.message ?? i.message}`,
            }
          : { field: pathOf(i.path), message: i.message },
      ),
    );
  }
  const spec = parsed.data;
  const issues: SpecIssue[] = [];
  const a = params.apps;
  if (spec.instances > a.maxInstances)
    issues.push({ field: 'instances', message: `at most ${a.maxInstances} instances` });
  if (spec.expiryBlocks < a.minBlocks || spec.expiryBlocks > a.maxBlocks)
    issues.push({ field: 'expiryBlocks', message: `must be in ${a.minBlocks}..${a.maxBlocks} blocks` });
  if (spec.components.length > a.maxComponents)
    issues.push({ field: 'components', message: `at most ${a.maxComponents} components` });
  const names = new Set<string>();
  const hostPorts = new Map<string, string>();
  spec.components.forEach((c, i) => {
    if (names.has(c.name))
      issues.push({
        field: `components[${i}].name`,
        message: `duplicate component name ${JSON.stringify(c.name)}`,
      });
    names.add(c.name);
    c.ports.forEach((p, j) => {
      const key = `${p.host}/${p.protocol}`;
      const other = hostPorts.get(key);
      if (other)
        issues.push({
          field: `components[${i}].ports[${j}].host`,
          message: `host port ${key} is also published by ${other}`,
        });
      else hostPorts.set(key, `components[${i}].ports[${j}]`);
    });
    const hc = c.healthCheck;
    if (hc) {
      const field = `components[${i}].healthCheck`;
      const tcpPorts = c.ports.filter((p) => p.protocol === 'tcp').map((p) => p.host);
      if (hc.path !== undefined && hc.protocol !== 'http')
        issues.push({ field: `${field}.path`, message: 'only an http check has a path' });
      if (hc.port !== undefined && !tcpPorts.includes(hc.port))
        issues.push({
          field: `${field}.port`,
          message: `${hc.port} is not a TCP host port this component publishes${tcpPorts.length ? ` (${tcpPorts.join(', ')})` : ''}`,
        });
      if (hc.port === undefined && tcpPorts.length === 0)
        issues.push({ field, message: 'the component publishes no TCP port to check' });
      if (hc.timeoutSec !== undefined && hc.intervalSec !== undefined && hc.timeoutSec > hc.intervalSec)
        issues.push({
          field: `${field}.timeoutSec`,
          message: `timeout (${hc.timeoutSec} s) must not exceed the interval (${hc.intervalSec} s)`,
        });
    }
  });
  issues.push(...dependencyIssues(spec.components), ...volumeIssues(spec.components));
  const need = instanceResources(spec);
  const top = largestTier(params);
  for (const [i, c] of spec.components.entries())
    for (const [j, v] of (c.volumes ?? []).entries())
      if (v.size > top.hddGb)
        issues.push({
          field: `components[${i}].volumes[${j}].size`,
          message: `${v.size} GB; the largest tier (${top.tier}) offers ${top.hddGb} GB of disk`,
        });

  if (need.ramMb > top.ramMb)
    issues.push({
      field: 'components[].ram',
      message: `one instance asks for ${need.ramMb} MB; the largest tier (${top.tier}) offers ${top.ramMb} MB`,
    });
  if (need.cpuTenths > top.cpuTenths)
    issues.push({
      field: 'components[].cpu',
      message: `one instance asks for ${need.cpuTenths / 10} cores; the largest tier (${top.tier}) offers ${top.cpuTenths / 10}`,
    });
  if (need.hddGb > top.hddGb)
    issues.push({
      field: 'components[].hdd',
      message: `one instance asks for ${need.hddGb} GB of disk; the largest tier (${top.tier}) offers ${top.hddGb} GB`,
    });
  if (spec.tiers && new Set(spec.tiers).size !== spec.tiers.length)
    issues.push({ field: 'tiers', message: 'lists a tier twice' });
  if (spec.geolocation && new Set(spec.geolocation).size !== spec.geolocation.length)
    issues.push({ field: 'geolocation', message: 'lists a region twice' });
  return issues.length ? bad(issues) : { ok: true, spec };
}

/** Volume names are unique in the app; a mount is not `/`, a kernel file system, or inside another volume. */
function volumeIssues(components: AppComponent[]): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const names = new Map<string, string>();
  components.forEach((c, i) => {
    const mounts: string[] = [];
    (c.volumes ?? []).forEach((v, j) => {
      const field = `components[${i}].volumes[${j}]`;
      const other = names.get(v.name);
      if (other)
        issues.push({ field: `${field}.name`, message: `volume ${JSON.stringify(v.name)} is also ${other}` });
      else names.set(v.name, field);
      const m = normalMount(v.mount);
      const under = (root: string) => m === root || m.startsWith(`${root}/`);
      if (m === '/')
        issues.push({ field: `${field}.mount`, message: 'a volume cannot cover the whole container (/)' });
      else if (RESERVED_MOUNTS.some(under))
        issues.push({
          field: `${field}.mount`,
          message: `${m} belongs to the kernel (${RESERVED_MOUNTS.join(', ')})`,
        });
      const clash = mounts.find((o) => o === m || m.startsWith(`${o}/`) || o.startsWith(`${m}/`));
      if (clash !== undefined)
        issues.push({
          field: `${field}.mount`,
          message: clash === m ? `${m} is mounted twice` : `${m} and ${clash} overlap (one inside the other)`,
        });
      mounts.push(m);
    });
  });
  return issues;
}

/** `dependsOn` names other components of the app, each once, and no chain of them leads back. */
function dependencyIssues(components: AppComponent[]): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const names = new Set(components.map((c) => c.name));
  components.forEach((c, i) => {
    const seen = new Set<string>();
    (c.dependsOn ?? []).forEach((d, j) => {
      const field = `components[${i}].dependsOn[${j}]`;
      if (d === c.name) issues.push({ field, message: 'a component cannot depend on itself' });
      else if (!names.has(d))
        issues.push({ field, message: `${JSON.stringify(d)} is not a component of this app` });
      else if (seen.has(d)) issues.push({ field, message: `lists ${JSON.stringify(d)} twice` });
      seen.add(d);
    });
  });
  if (issues.length) return issues;
  const cycle = dependencyCycle(components);
  return cycle ? [{ field: 'components[].dependsOn', message: `a cycle: ${cycle.join(' -> ')}` }] : [];
}

/** A cycle in `dependsOn` (its names, first repeated last), or undefined. */
function dependencyCycle(components: AppComponent[]): string[] | undefined {
  const deps = new Map(components.map((c) => [c.name, c.dependsOn ?? []]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const d of deps.get(n) ?? []) {
      const found = visit(d);
      if (found) return found;
    }
    path.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const c of components) {
    const found = visit(c.name);
    if (found) return found;
  }
  return undefined;
}

/**
 * The components in start order: each after the ones it depends on, otherwise in spec order.
 * The spec must be valid (no cycle).
 */
export function startOrder(components: readonly AppComponent[]): AppComponent[] {
  const byName = new Map(components.map((c) => [c.name, c]));
  const out: AppComponent[] = [];
  const placed = new Set<string>();
  const place = (c: AppComponent) => {
    if (placed.has(c.name)) return;
    placed.add(c.name);
    for (const d of c.dependsOn ?? []) {
      const dep = byName.get(d);
      if (dep) place(dep);
    }
    out.push(c);
  };
  for (const c of components) place(c);
  return out;
}

/** Parses YAML or JSON text (JSON is YAML) and validates it. */
export function parseAppSpec(text: string, params: ChainParams): SpecResult {
  let input: unknown;
  try {
    input = parseYaml(text, { maxAliasCount: 16 });
  } catch (e) {
    return bad([{ field: '(file)', message: `is not YAML or JSON: ${(e as Error).message.split('\n')[0]}` }]);
  }
  return validateAppSpec(input, params);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes a transaction carries: JSON of the validated spec (defaults filled in). */
export function encodeAppSpec(spec: AppSpec): Uint8Array {
  return encoder.encode(JSON.stringify(spec));
}

/** Decodes a spec from a transaction or the state: UTF-8, JSON, then validation. */
export function decodeAppSpec(bytes: Uint8Array, params: ChainParams): SpecResult {
  let input: unknown;
  try {
    input = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    return bad([{ field: '(spec)', message: `is not UTF-8 JSON: ${(e as Error).message}` }]);
  }
  return validateAppSpec(input, params);
}

/** A spec stored in the state: validated when it was registered, so it is only parsed. */
export function storedAppSpec(bytes: Uint8Array): AppSpec {
  return JSON.parse(decoder.decode(bytes)) as AppSpec;
}
