// Deterministic placement: which FluxNodes host which app instances, computed by every node from
// the same chain state. Apps are placed in registration order (then name); for each app the
// eligible nodes (right tier, in one of the app's regions if it lists any, enough free
// cpu/ram/hdd/gpu after the apps placed before it, host ports free, not already hosting it) are ranked by rendezvous hashing of (app, node), and the
// top `instances` host it.
//
// Rendezvous is hierarchical so that placement does not cost O(nodes) per app: nodes fall into
// 256 fixed buckets by a hash of their id; an app ranks the buckets by hash(app, bucket), then the
// nodes inside a bucket by hash(app, node). The ranking of any two nodes for an app depends only
// on those two nodes, so removing a node moves only the instances it held (when capacity is not
// the binding constraint; a re-placed instance may take room a later app would have used).

import type { FluxNodeRecord } from '../codec/types.ts';
import { TIERS, type Tier } from '../ledger/emission.ts';
import type { StateReader } from '../ledger/state.ts';
import { listNodes } from '../nodes/queries.ts';
import { inAnyRegion, regionOf } from '../nodes/region.ts';
import { isNodeDown, NodeStatus } from '../nodes/types.ts';
import type { ChainParams } from '../params/index.ts';
import { type AppSpec, type InstanceResources, instanceResources, storedAppSpec } from './spec.ts';
import { listApps } from './types.ts';

export interface PlacementNode {
  id: string;
  tier: Tier;
  /** What the node offers: cpu in tenths of a core, RAM in MB, disk in GB, GPUs. */
  capacity: { cpuTenths: number; ramMb: number; hddGb: number; gpu: number };
  /** Where the node is, `CONTINENT[-COUNTRY]` (see core/nodes/region.ts); absent or '': undeclared. */
  region?: string;
}

export interface PlacementApp {
  name: string;
  /** Height of the registration: earlier apps are placed first. */
  registeredAt: number;
  instances: number;
  needs: InstanceResources;
  /** Host ports as `port/protocol`. */
  hostPorts: string[];
  tiers?: Tier[];
  /** Regions the app may run in (a node matches one it lies in); absent: anywhere. */
  geolocation?: string[];
  /** Standby nodes that hold copies of the app's replicated volumes (0: none). */
  standbys?: number;
  /** GB of the replicated volumes: what a standby needs free. */
  volumeGb?: number;
}

export interface AppPlacement {
  name: string;
  wanted: number;
  /** Hosting node ids, best ranked first. */
  nodes: string[];
  /** Why fewer than `wanted` nodes host it. */
  reason?: string;
  /**
   * Nodes holding copies of its replicated volumes: the next-ranked nodes after the hosts that
   * could host it too (tier, region, able, resources and ports free), so the node a failover
   * picks has the data; each gives up only the volumes' disk until then.
   */
  standbys?: string[];
}

export const PLACEMENT_BUCKETS = 256;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The rendezvous score of (app, node): a 32-bit number, highest ranks first. */
export function rendezvousScore(appHash: number, nodeHash: number): number {
  return fmix32((appHash ^ nodeHash) >>> 0);
}

/** GB of the spec's replicated volumes (what each standby holds). */
export function replicatedVolumeGb(spec: AppSpec): number {
  let gb = 0;
  for (const c of spec.components) for (const v of c.volumes ?? []) if (v.mode === 'replicated') gb += v.size;
  return gb;
}

export function appFromSpec(spec: AppSpec, registeredAt: number, params?: ChainParams): PlacementApp {
  const hostPorts: string[] = [];
  for (const c of spec.components) for (const p of c.ports) hostPorts.push(`${p.host}/${p.protocol}`);
  const volumeGb = replicatedVolumeGb(spec);
  return {
    ...(volumeGb > 0 && params ? { standbys: params.apps.volumeStandbys, volumeGb } : {}),
    name: spec.name,
    registeredAt,
    instances: spec.instances,
    needs: instanceResources(spec),
    hostPorts,
    tiers: spec.tiers,
    geolocation: spec.geolocation,
  };
}

const SHIFT = 2 ** 20;

/**
 * Places every app; the result does not depend on the order of `nodes` or `apps`. `cannotRun`
 * (not consensus: a node's own view, from heartbeats) leaves a node out for one app only, so that
 * app's instance goes to the next-ranked node and nothing else moves.
 */
export function placeApps(
  nodesIn: PlacementNode[],
  appsIn: PlacementApp[],
  opts: {
    cannotRun?: (app: string, node: string) => boolean;
    /**
     * The node to host an app first when it is eligible (not consensus: a node's view). For an app
     * with replicated volumes, the node that runs it now: its primary stays its primary.
     */
    prefer?: (app: string) => string | undefined;
  } = {},
): Map<string, AppPlacement> {
  const cannotRun = opts.cannotRun;
  const nodes = [...nodesIn].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = nodes.length;
  const hash = new Uint32Array(n);
  const cpu = new Float64Array(n);
  const ram = new Float64Array(n);
  const hdd = new Float64Array(n);
  const gpu = new Float64Array(n);
  const tier = new Uint8Array(n);
  const ports: Array<Set<string> | undefined> = new Array(n);
  const region: string[] = nodes.map((node) => node.region ?? '');
  const members: number[][] = Array.from({ length: PLACEMENT_BUCKETS }, () => []);
  for (let i = 0; i < n; i++) {
    const node = nodes[i];
    hash[i] = fnv1a(node.id);
    members[fnv1a(node.id, 0x9e3779b9) % PLACEMENT_BUCKETS].push(i);
    cpu[i] = node.capacity.cpuTenths;
    ram[i] = node.capacity.ramMb;
    hdd[i] = node.capacity.hddGb;
    gpu[i] = node.capacity.gpu;
    tier[i] = TIERS.indexOf(node.tier);
  }
  const bucketSalt = new Uint32Array(PLACEMENT_BUCKETS);
  for (let b = 0; b < PLACEMENT_BUCKETS; b++) bucketSalt[b] = fmix32(b + 0x5bd1e995);
  const nonEmpty = members.map((m, b) => (m.length ? b : -1)).filter((b) => b >= 0);
  const bucketKey = new Float64Array(nonEmpty.length);
  let scratch = new Float64Array(64);

  const apps = [...appsIn].sort((a, b) =>
    a.registeredAt !== b.registeredAt
      ? a.registeredAt - b.registeredAt
      : a.name < b.name
        ? -1
        : a.name > b.name
          ? 1
          : 0,
  );
  const out = new Map<string, AppPlacement>();
  for (const app of apps) {
    const placed: string[] = [];
    const standbys: string[] = [];
    const standbysWanted = app.standbys ?? 0;
    const volumeGb = app.volumeGb ?? 0;
    const wanted = app.instances;
    const more = () => placed.length < wanted || standbys.length < standbysWanted;
    /** Node i can host one instance (tier and ability are checked by the walk, and here for a preferred node). */
    const fits = (i: number): boolean => {
      if (!((tierMask >> tier[i]) & 1) || cannotRun?.(app.name, nodes[i].id)) return false;
      if (cpu[i] < need.cpuTenths || ram[i] < need.ramMb || hdd[i] < need.hddGb || gpu[i] < need.gpu)
        return false;
      if (geo && !inAnyRegion(region[i], geo)) return false;
      const used = ports[i];
      return !(used && app.hostPorts.some((p) => used.has(p)));
    };
    const take = (i: number): void => {
      cpu[i] -= need.cpuTenths;
      ram[i] -= need.ramMb;
      hdd[i] -= need.hddGb;
      gpu[i] -= need.gpu;
      if (app.hostPorts.length) {
        const set = ports[i] ?? new Set<string>();
        for (const p of app.hostPorts) set.add(p);
        ports[i] = set;
      }
      placed.push(nodes[i].id);
    };
    const need = app.needs;
    const tierMask = app.tiers ? app.tiers.reduce((m, t) => m | (1 << TIERS.indexOf(t)), 0) : 0xff;
    const geo = app.geolocation;
    const ah = fnv1a(app.name);
    for (let j = 0; j < nonEmpty.length; j++)
      bucketKey[j] = rendezvousScore(ah, bucketSalt[nonEmpty[j]]) * 256 + nonEmpty[j];
    let bucketsLeft = nonEmpty.length;
    const preferred = opts.prefer?.(app.name);
    const pi = preferred === undefined ? -1 : nodes.findIndex((x) => x.id === preferred);
    if (pi >= 0 && wanted > 0 && fits(pi)) take(pi);
    while (more() && bucketsLeft > 0) {
      // The best bucket not yet walked (a linear scan: most apps need only one or two).
      let best = -1;
      for (let j = 0; j < nonEmpty.length; j++)
        if (bucketKey[j] >= 0 && (best < 0 || bucketKey[j] > bucketKey[best])) best = j;
      const b = nonEmpty[best];
      bucketKey[best] = -1;
      bucketsLeft--;
      const list = members[b];
      if (scratch.length < list.length) scratch = new Float64Array(list.length * 2);
      const keys = scratch.subarray(0, list.length);
      for (let k = 0; k < list.length; k++) keys[k] = rendezvousScore(ah, hash[list[k]]) * SHIFT + k;
      keys.sort();
      for (let k = list.length - 1; k >= 0 && more(); k--) {
        const i = list[keys[k] % SHIFT];
        if (placed.includes(nodes[i].id) || !fits(i)) continue;
        if (placed.length < wanted) take(i);
        else {
          // Hosts chosen: the next nodes that could host it hold the copies, so the one a
          // failover picks has the data. A copy takes only the volumes' disk until then.
          hdd[i] -= volumeGb;
          standbys.push(nodes[i].id);
        }
      }
    }
    const result: AppPlacement = {
      name: app.name,
      wanted,
      nodes: placed,
      ...(standbysWanted > 0 ? { standbys } : {}),
    };
    if (placed.length < wanted)
      result.reason = whyNotPlaced(
        app,
        placed,
        nodes,
        region,
        { cpu, ram, hdd, gpu, tier, ports },
        cannotRun,
      );
    out.set(app.name, result);
  }
  return out;
}

/**
 * "2 of 3 instances placed: no other node: 1 of 3 without 64000 MB RAM free", or for an app with
 * a geolocation "0 of 2 instances placed: no confirmed node in region EU-DE with 2000 MB RAM free
 * (2 in EU-DE: 2 without 2000 MB RAM free; 5 outside EU-DE)". Runs only for apps that do not fit.
 */
function whyNotPlaced(
  app: PlacementApp,
  placed: string[],
  nodes: PlacementNode[],
  region: string[],
  free: {
    cpu: Float64Array;
    ram: Float64Array;
    hdd: Float64Array;
    gpu: Float64Array;
    tier: Uint8Array;
    ports: Array<Set<string> | undefined>;
  },
  cannotRun?: (app: string, node: string) => boolean,
): string {
  const head = `${placed.length} of ${app.instances} instances placed`;
  if (nodes.length === 0) return `${head}: no confirmed FluxNode`;
  // Each cause: what the node lacks, and what an eligible node would have had.
  const counts = new Map<string, { count: number; with: string }>();
  const add = (without: string, withIt: string) => {
    const c = counts.get(without);
    if (c) c.count++;
    else counts.set(without, { count: 1, with: withIt });
  };
  const hosting = new Set(placed);
  const need = app.needs;
  const geo = app.geolocation;
  let inside = 0;
  let undeclared = 0;
  for (let i = 0; i < nodes.length; i++) {
    if (geo && !inAnyRegion(region[i], geo)) {
      if (region[i] === '') undeclared++;
      continue;
    }
    inside++;
    if (hosting.has(nodes[i].id)) add('already host it', '');
    else if (cannotRun?.(app.name, nodes[i].id)) add('say they cannot run it', 'that can run it');
    else if (app.tiers && !app.tiers.includes(TIERS[free.tier[i]]))
      add(`not of tier ${app.tiers.join('/')}`, `of tier ${app.tiers.join('/')}`);
    else if (free.gpu[i] < need.gpu) add(`without ${need.gpu} GPU free`, `with ${need.gpu} GPU free`);
    else if (free.ram[i] < need.ramMb)
      add(`without ${need.ramMb} MB RAM free`, `with ${need.ramMb} MB RAM free`);
    else if (free.cpu[i] < need.cpuTenths)
      add(`without ${need.cpuTenths / 10} cores free`, `with ${need.cpuTenths / 10} cores free`);
    else if (free.hdd[i] < need.hddGb)
      add(`without ${need.hddGb} GB disk free`, `with ${need.hddGb} GB disk free`);
    else {
      const port = app.hostPorts.find((p) => free.ports[i]?.has(p));
      add(`with host port ${port} taken`, `with host port ${port} free`);
    }
  }
  const parts = [...counts]
    .filter(([why]) => why !== 'already host it')
    .sort((a, b) => b[1].count - a[1].count);
  const top = parts[0];
  if (!geo) {
    const first = top ? `no other node: ${top[1].count} of ${nodes.length} ${top[0]}` : 'no other node';
    const rest = parts.slice(1).map(([why, c]) => `${c.count} ${why}`);
    return `${head}: ${first}${rest.length ? ` (${rest.join(', ')})` : ''}`;
  }
  const where = geo.join(' or ');
  const outside = nodes.length - inside;
  const noRegion = undeclared ? `, ${undeclared} of them declaring no region` : '';
  if (inside === 0) return `${head}: no confirmed node in region ${where} (${outside} elsewhere${noRegion})`;
  const other = placed.length ? 'other ' : '';
  const hosts = counts.get('already host it');
  const breakdown = [
    ...(hosts ? [`${hosts.count} already host it`] : []),
    ...parts.map(([why, c]) => `${c.count} ${why}`),
  ].join(', ');
  return `${head}: no ${other}confirmed node in region ${where}${top ? ` ${top[1].with}` : ''} (${inside} in ${where}: ${breakdown}; ${outside} outside ${where}${noRegion})`;
}

/**
 * The nodes placement may use: confirmed and not marked down by reports. A node's capacity is its
 * last report, but never less than its tier guarantees.
 */
export function placementNodesFromState(state: StateReader, params: ChainParams): PlacementNode[] {
  const usable = (node: FluxNodeRecord) => node.status === NodeStatus.confirmed && !isNodeDown(node);
  return listNodes(state, usable).map(({ id, node }) => {
    const t = TIERS[node.tier];
    const m = params.nodes.tiers[t].minimums;
    return {
      id,
      tier: t,
      capacity: {
        cpuTenths: Math.max(node.report.cores, m.cores) * 10,
        ramMb: Math.max(node.report.ramMb, m.ramGb * 1000),
        hddGb: Math.max(node.report.ssdGb, m.ssdGb),
        gpu: 0,
      },
      ...(node.region.length ? { region: regionOf(node.region) } : {}),
    };
  });
}

/** An app registered and not expired, with its parsed spec. */
export interface RunningApp {
  name: string;
  spec: AppSpec;
  revision: number;
  registeredAt: number;
  expiresAt: number;
  owner: Uint8Array;
}

/** The apps that run at `height` (registered, not expired), with their specs. */
export function runningAppsFromState(state: StateReader, height: number): RunningApp[] {
  const out: RunningApp[] = [];
  for (const { name, app } of listApps(state)) {
    if (app.expiresAt <= height) continue;
    out.push({
      name,
      spec: storedAppSpec(app.spec),
      revision: app.revision,
      registeredAt: app.registeredAt,
      expiresAt: app.expiresAt,
      owner: app.owner,
    });
  }
  return out;
}

/** Placement at the chain state's tip. */
export function placementFromState(
  state: StateReader,
  params: ChainParams,
  height: number,
): Map<string, AppPlacement> {
  const apps = runningAppsFromState(state, height).map((a) => appFromSpec(a.spec, a.registeredAt, params));
  return placeApps(placementNodesFromState(state, params), apps);
}
