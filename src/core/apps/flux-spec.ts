// A FluxOS app spec (versions 1-8, the JSON Flux's users have) -> our app spec (version 1).
// Pure and deterministic. Like the compose converter, what cannot be carried over is listed, one
// line each, `field: why`; nothing is dropped silently. The field names and units are FluxOS's:
// v1 `port`/`containerPort` (numbers); v2-v3 `ports`/`containerPorts` (strings of digits),
// `domains`; v1-v3 `enviromentParameters` (Flux's spelling), v4+ `compose[]` of components with
// `environmentParameters`; `cpu` cores, `ram` MB, `hdd` GB; `tiered` with cpu|ram|hdd ×
// basic|super|bamf (up to v7); `instances` (v3+); `contacts`, `geolocation` (v5+); `expire`
// blocks (v6+); `nodes`, `staticip`, per-component `secrets`, `repoauth` (v7+); `enterprise` (v8).
import { REGION_PATTERN } from '../nodes/region.ts';
import type { ChainParams } from '../params/index.ts';
import { ENV_NAME, ENV_NAME_RULE, type SpecResult, validateAppSpec } from './spec.ts';

export interface FluxImport {
  /** The spec object (validated in `result`); `{}` when the input was refused outright. */
  spec: Record<string, unknown>;
  result: SpecResult;
  /** What could not be carried over, one line each: `compose.db.containerData: ...`. */
  dropped: string[];
  /** Values chosen or changed because our spec says it differently (a name lowercased, a default). */
  defaults: string[];
}

export interface FluxImportOptions {
  /** The app's name here (else Flux's name, lowercased). */
  name?: string;
}

/** Versions whose fields this importer knows. */
export const FLUX_SPEC_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8] as const;

/** Flux's hardware tiers by the suffix of its tiered fields. */
const FLUX_TIERS: ReadonlyArray<{ suffix: 'basic' | 'super' | 'bamf'; flux: string }> = [
  { suffix: 'basic', flux: 'Cumulus' },
  { suffix: 'super', flux: 'Nimbus' },
  { suffix: 'bamf', flux: 'Stratus' },
];
const TIERED_KEYS = ['cpu', 'ram', 'hdd'].flatMap((r) => FLUX_TIERS.map((t) => `${r}${t.suffix}`));

// The fields each version defines (FluxOS refuses any other key); a key outside them is reported.
const V1_TOP = ['port', 'containerPort', 'repotag', 'enviromentParameters', 'commands', 'containerData'];
const V2_TOP = [
  'ports',
  'containerPorts',
  'domains',
  'repotag',
  'enviromentParameters',
  'commands',
  'containerData',
];
const HW = ['cpu', 'ram', 'hdd', 'tiered', ...TIERED_KEYS];
const COMPONENT_KEYS = [
  'name',
  'description',
  'repotag',
  'ports',
  'containerPorts',
  'domains',
  'environmentParameters',
  'commands',
  'containerData',
  'secrets',
  'repoauth',
  ...HW,
];
function topKeys(version: number): string[] {
  const common = ['version', 'name', 'description', 'owner'];
  if (version === 1) return [...common, ...V1_TOP, ...HW];
  if (version === 2) return [...common, ...V2_TOP, ...HW];
  if (version === 3) return [...common, ...V2_TOP, ...HW, 'instances'];
  const keys = [...common, 'compose', 'instances'];
  if (version >= 5) keys.push('contacts', 'geolocation');
  if (version >= 6) keys.push('expire');
  if (version >= 7) keys.push('nodes', 'staticip');
  if (version >= 8) keys.push('enterprise');
  return keys;
}

/** Flux v1-v2 apps had no `instances`; FluxOS ran them on its minimum, 3. */
const FLUX_DEFAULT_INSTANCES = 3;
/** Flux blocks before the PoN fork (v1-v5 apps, which have no `expire`, lasted 22000 of them). */
const FLUX_LEGACY_BLOCK_MS = 120_000;
const FLUX_DEFAULT_EXPIRE_LEGACY_BLOCKS = 22_000;
/** Flux blocks since the PoN fork: `expire` counts these (at most 1,056,000, about a year). */
const FLUX_BLOCK_MS = 30_000;

function refusal(message: string): SpecResult {
  return { ok: false, error: { code: 'BAD_SPEC', message, issues: [] } };
}

function refused(message: string, dropped: string[] = [], defaults: string[] = []): FluxImport {
  return { spec: {}, result: refusal(message), dropped, defaults };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => String(x)) : []);

/** A Flux name (letters and digits; v8 also hyphens) as one of ours: lowercase, 3-32, letter first. */
function ourName(flux: string, min: number): string {
  let n = flux.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (!/^[a-z]/.test(n)) n = `app-${n}`;
  n = n.slice(0, 32).replace(/-+$/, '');
  while (n.length < min) n += '0';
  return n;
}

interface Hardware {
  cpu: number;
  ram: number;
  hdd: number;
}

/** cpu/ram/hdd of one component (or a v1-v3 app), and what tiered values did not come along. */
function hardwareOf(src: Record<string, unknown>, where: string, out: FluxImport): Hardware {
  let cpu = Number(src.cpu);
  let ram = Number(src.ram);
  let hdd = Number(src.hdd);
  if (src.tiered === true) {
    // Our spec has one size per component: the Cumulus (basic) values, which every Flux tier ran
    // the app with at least, so it fits the smallest node it may be placed on.
    const basic = { cpu: Number(src.cpubasic), ram: Number(src.rambasic), hdd: Number(src.hddbasic) };
    if ([basic.cpu, basic.ram, basic.hdd].every(Number.isFinite)) {
      ({ cpu, ram, hdd } = basic);
      const bigger = FLUX_TIERS.slice(1)
        .map(
          (t) =>
            `${t.flux} ${src[`cpu${t.suffix}`]} cpu/${src[`ram${t.suffix}`]} MB/${src[`hdd${t.suffix}`]} GB`,
        )
        .join(', ');
      out.dropped.push(
        `${where}.tiered: one size per component here; took the Cumulus (basic) size ${cpu} cpu/${ram} MB/${hdd} GB, not ${bigger}`,
      );
    } else out.dropped.push(`${where}.tiered: the tier sizes are incomplete; took cpu/ram/hdd`);
  }
  const fix = (value: number, fallback: number, unit: string, min: number, step: number, name: string) => {
    if (!Number.isFinite(value)) {
      out.defaults.push(`${where}: ${name} ${fallback} ${unit} (the spec gives no number)`);
      return fallback;
    }
    const v = Math.max(min, Math.ceil(value / step - 1e-9) * step);
    const rounded = Math.round(v * 10) / 10;
    if (rounded !== value)
      out.defaults.push(
        `${where}: ${name} ${value} -> ${rounded} ${unit} (at least ${min}, steps of ${step})`,
      );
    return rounded;
  };
  return {
    cpu: fix(cpu, 0.5, 'cores', 0.1, 0.1, 'cpu'),
    ram: fix(ram, 256, 'MB', 16, 1, 'ram'),
    hdd: fix(hdd, 1, 'GB', 1, 1, 'hdd'),
  };
}

interface PortOut {
  container: number;
  host: number;
  protocol: 'tcp' | 'udp';
}

/** Flux's parallel lists (host port i <-> container port i <-> domain i) as our ports. */
function portsOf(
  hostPorts: unknown[],
  containerPorts: unknown[],
  domains: string[],
  where: string,
  out: FluxImport,
): PortOut[] {
  const ports: PortOut[] = [];
  if (hostPorts.length !== containerPorts.length)
    out.dropped.push(
      `${where}: ${hostPorts.length} ports but ${containerPorts.length} containerPorts; paired the first ${Math.min(hostPorts.length, containerPorts.length)}`,
    );
  const n = Math.min(hostPorts.length, containerPorts.length);
  for (let i = 0; i < n; i++) {
    const host = Number(hostPorts[i]);
    const container = Number(containerPorts[i]);
    if (!Number.isInteger(host) || !Number.isInteger(container)) {
      out.dropped.push(
        `${where}.ports[${i}]: ${JSON.stringify(hostPorts[i])}:${JSON.stringify(containerPorts[i])} is not a port pair`,
      );
      continue;
    }
    ports.push({ container, host, protocol: 'tcp' });
  }
  if (ports.length)
    out.dropped.push(
      `${where}.ports: Flux publishes each port over TCP and UDP; carried as TCP (add a protocol: udp entry if the app listens on UDP)`,
    );
  domains.forEach((d, i) => {
    if (d.trim())
      out.dropped.push(
        `${where}.domains[${i}]: ${JSON.stringify(d)}: the spec has no custom domains; the ingress serves <app>.<domain> from the first TCP port, others at the node's address and host port`,
      );
  });
  return ports;
}

function envOf(params: string[], where: string, out: FluxImport): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of params) {
    const at = p.indexOf('=');
    if (at <= 0) {
      out.dropped.push(`${where}: ${JSON.stringify(p)} is not NAME=VALUE; left out`);
      continue;
    }
    const name = p.slice(0, at);
    if (!ENV_NAME.test(name)) {
      out.dropped.push(`${where}.${name}: ${ENV_NAME_RULE} (the spec's rule); left out`);
      continue;
    }
    if (Object.hasOwn(env, name)) out.dropped.push(`${where}.${name}: set twice; the last value wins`);
    env[name] = p.slice(at + 1);
  }
  return env;
}

/**
 * Flux's containerData: `/path` (kept on its node), flagged `r:/path` or `g:/path` (synced to
 * other instances), `|`-joined mounts of other components' data (`0:/path`). The first path of
 * this component becomes a volume of the component's disk size: `local` unflagged, `replicated`
 * for r: and g: (one primary, standby copies: g:'s every-instance sync is not carried).
 */
function containerDataOf(
  data: unknown,
  where: string,
  out: FluxImport,
): { mount: string; mode: 'local' | 'replicated' } | undefined {
  if (typeof data !== 'string' || data.trim() === '' || data === '/tmp') return undefined;
  let volume: { mount: string; mode: 'local' | 'replicated' } | undefined;
  for (const part of data.split('|')) {
    const m = /^(?:([a-z0-9]+):)?(\/.*)$/.exec(part.trim());
    const flag = m?.[1];
    const path = m?.[2];
    if (!path) {
      out.dropped.push(`${where}.containerData: ${JSON.stringify(part)} is not a path; left out`);
      continue;
    }
    if (flag && /^\d+$/.test(flag)) {
      out.dropped.push(
        `${where}.containerData: ${JSON.stringify(path)} mounts component ${flag}'s data; a volume belongs to one component here; left out`,
      );
      continue;
    }
    if (volume) {
      out.dropped.push(
        `${where}.containerData: ${JSON.stringify(path)}: one data path per component is carried; left out`,
      );
      continue;
    }
    volume = { mount: path, mode: flag === 'r' || flag === 'g' ? 'replicated' : 'local' };
    if (flag === 'g')
      out.dropped.push(
        `${where}.containerData: g: syncs every instance; here one primary holds the data and standbys copy it (replicated)`,
      );
    else if (flag && flag !== 'r')
      out.dropped.push(`${where}.containerData: flag ${flag}: not known; taken as local`);
  }
  return volume;
}

interface FluxComponent {
  name: string;
  description: unknown;
  repotag: unknown;
  hostPorts: unknown[];
  containerPorts: unknown[];
  domains: string[];
  env: string[];
  commands: string[];
  containerData: unknown;
  raw: Record<string, unknown>;
}

function componentOf(
  fc: FluxComponent,
  where: string,
  min: number,
  out: FluxImport,
): Record<string, unknown> {
  const name = ourName(fc.name, min);
  if (name !== fc.name) out.defaults.push(`${where}: component name ${JSON.stringify(fc.name)} -> ${name}`);
  if (typeof fc.description === 'string' && fc.description.trim())
    out.dropped.push(`${where}.description: components have no description here`);
  const image = typeof fc.repotag === 'string' ? fc.repotag.trim() : '';
  if (!image) out.dropped.push(`${where}.repotag: missing`);
  const ports = portsOf(fc.hostPorts, fc.containerPorts, fc.domains, where, out);
  const env = envOf(fc.env, `${where}.environmentParameters`, out);
  const data = containerDataOf(fc.containerData, where, out);
  const secrets = fc.raw.secrets;
  if (typeof secrets === 'string' && secrets)
    out.dropped.push(
      `${where}.secrets: encrypted to the chosen Flux nodes' keys, which no node here holds; set them as env`,
    );
  const repoauth = fc.raw.repoauth;
  if (typeof repoauth === 'string' && repoauth)
    out.dropped.push(
      `${where}.repoauth: private registry credentials are not carried; the image must be public`,
    );
  const hw = hardwareOf(fc.raw, where, out);
  // Flux's hdd is the disk of the app's data: it becomes the volume's size, the container's own disk the least.
  const volumes =
    data === undefined
      ? []
      : [
          {
            name: `${name.slice(0, 27)}-data`,
            mount: data.mount,
            size: Number(hw.hdd) || 1,
            mode: data.mode,
          },
        ];
  if (data !== undefined)
    out.defaults.push(
      `${where}: containerData ${data.mount} -> volume ${volumes[0].name} of ${volumes[0].size} GB (${data.mode}); the container's own disk 1 GB`,
    );
  return {
    name,
    image,
    ports,
    env,
    ...(fc.commands.length ? { command: fc.commands } : {}),
    ...hw,
    ...(data === undefined ? {} : { hdd: 1, volumes }),
  };
}

const escapeRegExp = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Flux names a component's container `flux<component>_<app>`, and components reach each other by
 * that name; here each is reachable by its component name, so env values and commands follow.
 */
function renameHosts(
  fluxComponents: FluxComponent[],
  components: Array<Record<string, unknown>>,
  appName: string,
  out: FluxImport,
): void {
  const renames = fluxComponents.map((fc, i) => ({
    from: `flux${fc.name}_${appName}`,
    to: components[i].name as string,
    re: new RegExp(`(?<![A-Za-z0-9_-])${escapeRegExp(`flux${fc.name}_${appName}`)}(?![A-Za-z0-9_-])`, 'gi'),
  }));
  components.forEach((c) => {
    const where = `compose.${c.name}`;
    const rewrite = (v: string, field: string) => {
      let r = v;
      for (const n of renames)
        if (r.search(n.re) >= 0) {
          r = r.replace(n.re, n.to);
          out.defaults.push(
            `${where}.${field}: host ${n.from} -> ${n.to} (components reach each other by name here)`,
          );
        }
      return r;
    };
    const env = c.env as Record<string, string>;
    for (const k of Object.keys(env)) env[k] = rewrite(env[k], `env.${k}`);
    if (Array.isArray(c.command))
      c.command = (c.command as string[]).map((a, i) => rewrite(a, `command[${i}]`));
  });
}

/** Flux geolocation entries (`acEU`, `acEU_DE`, `a!cNA_US`, legacy `aEU`/`bDE`) as our regions. */
function regionsOf(entries: string[], out: FluxImport): string[] | undefined {
  const regions: string[] = [];
  const add = (r: string, entry: string) => {
    if (!REGION_PATTERN.test(r)) {
      out.dropped.push(
        `geolocation: ${JSON.stringify(entry)} names no continent or country we know; left out`,
      );
      return;
    }
    if (!regions.includes(r)) regions.push(r);
  };
  let anywhere = false;
  const allows = entries.filter((e) => e.startsWith('ac'));
  const denies = entries.filter((e) => e.startsWith('a!c'));
  const legacy = entries.filter((e) => !e.startsWith('ac') && !e.startsWith('a!c'));
  for (const e of allows) {
    const parts = e.slice(2).split('_');
    if (parts[0] === 'ALL') anywhere = true;
    else if (parts.length === 1 || parts[1] === 'ALL') add(parts[0], e);
    else {
      add(`${parts[0]}-${parts[1]}`, e);
      if (parts.length > 2)
        out.dropped.push(
          `geolocation: ${JSON.stringify(e)}: regions are continents and countries here; widened to ${parts[0]}-${parts[1]}`,
        );
    }
  }
  for (const e of denies)
    out.dropped.push(`geolocation: ${JSON.stringify(e)}: placement cannot exclude a place here; left out`);
  if (allows.length) {
    for (const e of legacy)
      out.dropped.push(
        `geolocation: ${JSON.stringify(e)}: a legacy pin, which Flux ignores beside ac entries`,
      );
  } else {
    // Legacy pins: the first `b<CC>` country and, without denies, the first `a<CONT>` continent.
    const country = legacy.find((e) => e.startsWith('b'))?.slice(1);
    const continent = denies.length ? undefined : legacy.find((e) => e.startsWith('a'))?.slice(1);
    if (country && continent) add(`${continent}-${country}`, `a${continent}`);
    else if (continent) add(continent, `a${continent}`);
    else if (country)
      out.dropped.push(
        `geolocation: "b${country}": a country without its continent (regions are CONTINENT-COUNTRY here); left out`,
      );
  }
  if (anywhere) {
    if (regions.length)
      out.defaults.push('geolocation: "acALL" admits every node; the other entries are moot');
    return undefined;
  }
  if (regions.length > 32) {
    out.dropped.push(`geolocation: ${regions.length - 32} regions past the 32 a spec lists; left out`);
    regions.length = 32;
  }
  return regions.length ? regions : undefined;
}

/** Flux's expire (30 s blocks since the PoN fork) or its default, as our expiry in this chain's blocks. */
function expiryOf(
  flux: Record<string, unknown>,
  version: number,
  params: ChainParams,
  out: FluxImport,
): number {
  const a = params.apps;
  let ms: number;
  if (version >= 6 && typeof flux.expire === 'number' && flux.expire > 0) ms = flux.expire * FLUX_BLOCK_MS;
  else {
    ms = FLUX_DEFAULT_EXPIRE_LEGACY_BLOCKS * FLUX_LEGACY_BLOCK_MS;
    out.defaults.push(
      `expiryBlocks: Flux's default lifetime, 22000 two-minute blocks (${Math.round(ms / 86_400_000)} days)${version >= 6 ? ', since expire is missing' : ''}`,
    );
  }
  const blocks = Math.round(ms / params.blockTimeMs);
  const clamped = Math.min(a.maxBlocks, Math.max(a.minBlocks, blocks));
  if (version >= 6 && typeof flux.expire === 'number' && blocks !== flux.expire && blocks === clamped)
    out.defaults.push(
      `expiryBlocks: expire ${flux.expire} Flux blocks of 30 s -> ${blocks} blocks of ${params.blockTimeMs / 1000} s`,
    );
  if (clamped !== blocks)
    out.defaults.push(
      `expiryBlocks: ${blocks} -> ${clamped} (this chain allows ${a.minBlocks}..${a.maxBlocks})`,
    );
  return clamped;
}

/** Converts a FluxOS app spec (JSON text, or the `data` of Flux's API answer) to our spec and a report. */
export function importFluxSpec(text: string, params: ChainParams, opts: FluxImportOptions = {}): FluxImport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return refused(`not JSON: ${(e as Error).message}`);
  }
  const out: FluxImport = { spec: {}, result: refusal(''), dropped: [], defaults: [] };
  // The API's answer ({status, data}) and a register message ({type, appSpecification}) wrap it.
  if (isObject(parsed) && isObject(parsed.data) && parsed.version === undefined) parsed = parsed.data;
  if (isObject(parsed) && isObject(parsed.appSpecification)) parsed = parsed.appSpecification;
  if (!isObject(parsed))
    return refused('not a FluxOS app spec (expected a JSON object with version, name, ...)');
  const flux = parsed;
  const version = flux.version;
  if (typeof version !== 'number' || !(FLUX_SPEC_VERSIONS as readonly number[]).includes(version))
    return refused(
      `unknown FluxOS spec version ${JSON.stringify(version ?? null)} (this importer knows ${FLUX_SPEC_VERSIONS.join(', ')})`,
    );
  if (typeof flux.name !== 'string' || !flux.name) return refused('the spec has no name');
  if (version >= 8 && typeof flux.enterprise === 'string' && flux.enterprise)
    return refused(
      "an enterprise app (v8 enterprise): its components and contacts are encrypted to Flux's enterprise nodes, so there is nothing to import; export the decrypted spec",
    );
  const allowed = new Set(topKeys(version));
  for (const key of Object.keys(flux))
    if (!allowed.has(key)) out.dropped.push(`${key}: not a FluxOS v${version} field; ignored`);

  const name = opts.name ?? ourName(flux.name, 3);
  if (opts.name === undefined && name !== flux.name)
    out.defaults.push(`name: ${JSON.stringify(flux.name)} -> ${name} (lowercase, 3-32 characters)`);
  const description = typeof flux.description === 'string' ? flux.description : '';
  const owner = typeof flux.owner === 'string' && flux.owner ? flux.owner : undefined;
  if (owner)
    out.defaults.push(
      `owner: ${owner} kept as information; the chain records whoever signs the registration`,
    );

  let fluxComponents: FluxComponent[];
  if (version <= 3) {
    const v1 = version === 1;
    fluxComponents = [
      {
        name: flux.name,
        description: undefined,
        repotag: flux.repotag,
        hostPorts: v1 ? (flux.port === undefined ? [] : [flux.port]) : strings(flux.ports),
        containerPorts: v1
          ? flux.containerPort === undefined
            ? []
            : [flux.containerPort]
          : strings(flux.containerPorts),
        domains: strings(flux.domains),
        env: strings(flux.enviromentParameters),
        commands: strings(flux.commands),
        containerData: flux.containerData,
        raw: flux,
      },
    ];
  } else {
    if (!Array.isArray(flux.compose) || flux.compose.length === 0)
      return refused(
        `a v${version} spec carries its components in compose[], and this one has none`,
        out.dropped,
      );
    fluxComponents = [];
    for (const [i, c] of flux.compose.entries()) {
      if (!isObject(c)) return refused(`compose[${i}] is not an object`, out.dropped);
      for (const key of Object.keys(c))
        if (
          !COMPONENT_KEYS.includes(key) ||
          (version >= 8 && (key === 'tiered' || TIERED_KEYS.includes(key) || key === 'secrets'))
        )
          out.dropped.push(
            `compose.${String(c.name ?? i)}.${key}: not a FluxOS v${version} component field; ignored`,
          );
      fluxComponents.push({
        name: typeof c.name === 'string' && c.name ? c.name : `component${i}`,
        description: c.description,
        repotag: c.repotag,
        hostPorts: Array.isArray(c.ports) ? c.ports : [],
        containerPorts: Array.isArray(c.containerPorts) ? c.containerPorts : [],
        domains: strings(c.domains),
        env: strings(c.environmentParameters),
        commands: strings(c.commands),
        containerData: c.containerData,
        raw: c,
      });
    }
  }
  // v1-v3 has one component, named after the app; compose entries by their own names.
  const components = fluxComponents.map((fc) =>
    componentOf(fc, version <= 3 ? '(app)' : `compose.${fc.name}`, 1, out),
  );

  if (version >= 4) renameHosts(fluxComponents, components, flux.name, out);

  let instances = Number(flux.instances);
  if (version < 3 || !Number.isInteger(instances) || instances < 1) {
    instances = FLUX_DEFAULT_INSTANCES;
    out.defaults.push(
      `instances: ${instances}, FluxOS's minimum (the spec ${version < 3 ? 'predates instances' : 'gives none'})`,
    );
  } else if (instances > params.apps.maxInstances) {
    out.defaults.push(`instances: ${instances} -> ${params.apps.maxInstances} (this chain's most)`);
    instances = params.apps.maxInstances;
  }

  const contacts = strings(flux.contacts).filter((c) => c.trim());
  if (contacts.length)
    out.dropped.push(
      `contacts: ${contacts.length} contact(s): the spec has no contacts; the chain notifies no one`,
    );
  const geolocation = regionsOf(strings(flux.geolocation), out);
  const expiryBlocks = expiryOf(flux, version, params, out);
  const nodes = strings(flux.nodes).filter((n) => n.trim());
  if (nodes.length)
    out.dropped.push(
      `nodes: ${nodes.length} chosen Flux node(s): placement here is computed from the chain, not chosen; those nodes are not ours either`,
    );
  if (flux.staticip === true)
    out.dropped.push(
      'staticip: placement here does not know which nodes have a static IP; any node may run it',
    );

  const spec: Record<string, unknown> = {
    version: 1,
    name,
    ...(description ? { description } : {}),
    ...(owner ? { owner } : {}),
    instances,
    expiryBlocks,
    ...(geolocation ? { geolocation } : {}),
    components,
  };
  return { spec, result: validateAppSpec(spec, params), dropped: out.dropped, defaults: out.defaults };
}
