// Replicated volumes: the node that runs an app (its primary, placement's first node) sends the
// changes of each replicated volume to the app's standby nodes (placement's `standbys`: the
// next-ranked eligible nodes, so the node a failover picks already holds the data) every
// `apps.volumeSyncMs`, over the node API, signed by its operator key (node routes: the receiver
// checks the key is the operator's of the node the request names, and that placement makes
// both of them holders of the app). Each round pauses the app's containers (cgroup freezer)
// while it lists the tree and reads what changed, so a round is one point in time, what a crash
// then would have left; only files whose sha256 differs from what the standby holds travel, and each is
// checked against its hash on arrival and renamed into place whole (volume-sync.ts).
//
// A copy's place in history is (generation, seq): seq counts the primary's rounds, generation
// goes up each time a node starts as primary. A standby refuses data older than its own; a node
// about to start an app as primary asks the other holders first: a newer copy on a node that
// runs the app keeps this node out (it would roll the data back), a newer copy on one that does
// not is pulled before the containers start. So a node that comes back with an old copy never
// overwrites the newer one, and a failover loses at most the writes since the last round that
// reached the standby: the recovery point, about twice `volumeSyncMs`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { callRawRoute, callRoute } from '../../api/call.ts';
import { ownerSigner } from '../../api/owner-auth.ts';
import { ApiError } from '../../api/route.ts';
import { routes } from '../../api/routes.ts';
import type { AppSpec } from '../../core/apps/spec.ts';
import { sha256 } from '../../core/crypto/hash.ts';
import type { KeyPair } from '../../core/crypto/keys.ts';
import type { Chain } from '../chain/types.ts';
import type { Liveness } from '../liveness/service.ts';
import type { PlacementView } from './placement.ts';
import type { AssignedApp } from './reconciler.ts';
import {
  applyDelta,
  type CopyMeta,
  decodeDelta,
  diffManifests,
  type Entry,
  encodeDelta,
  type Manifest,
  newer,
  readCopyMeta,
  type ScanCache,
  scanTree,
  writeCopyMeta,
} from './volume-sync.ts';
import { VolumeError, type VolumeStore } from './volumes.ts';

/** Bytes one round reads at most (the rest waits for the next round). */
const ROUND_READ_BYTES = 64 * 2 ** 20;
/** Bytes of files one delta carries at most (a standby far behind catches up over several rounds). */
export const ROUND_SEND_BYTES = 64 * 2 ** 20;
const ASK_TIMEOUT_MS = 3_000;

export interface StandbyLag {
  node: string;
  /** The last round the standby took. */
  seq: number;
  /** Bytes of changed files it does not have yet (as of the last round). */
  behindBytes: number;
  /** How old its copy is: ms since the round it holds was read (what a failover now would lose). */
  behindMs: number;
  /** Why the last send failed, if it did. */
  error?: string;
}

export interface VolumeReplicaStatus {
  name: string;
  mode: 'replicated' | 'local';
  role: 'primary' | 'standby';
  generation: number;
  seq: number;
  standbys: StandbyLag[];
}

export interface ReplicationOptions {
  chain: Chain;
  view: () => PlacementView;
  consensus?: () => PlacementView;
  volumes: VolumeStore;
  operator: KeyPair;
  nodeId: () => string | undefined;
  liveness?: Pick<Liveness, 'get' | 'isAlive'>;
  /** The apps whose every component runs on this node now. */
  running: () => string[];
  /**
   * Pauses the app's running containers here (cgroup freezer: none of its processes runs, no
   * write is half done); resolves to what unpauses them. A round reads the volume meanwhile.
   */
  pause: (app: string) => Promise<() => Promise<void>>;
  log?: (line: string) => void;
  now?: () => number;
}

export interface Replication {
  /**
   * Before this node starts an app as its primary: each replicated volume mounted, brought up to
   * the newest copy a holder that does not run the app has, and its generation bumped; throws
   * VolumeError (the app counts as one this node cannot run) when a newer copy runs elsewhere.
   */
  prepare(nodeId: string, app: AssignedApp): Promise<void>;
  /** Node route: this copy's (generation, seq), and its manifest when asked. */
  state(
    app: string,
    volume: string,
    asker: string,
    withManifest: boolean,
  ): Promise<CopyMeta & { entries?: Entry[] }>;
  /** Throws 403 NOT_A_HOLDER unless placement makes `node` a holder of `app`. */
  holder(app: string, node: string): void;
  /** Throws the refusal a round from `sender` would get, before its body is read (not a holder, primary here). */
  accepts(app: string, volume: string, sender: string): void;
  /** Node route: a primary's round arrives (a delta, checked and applied whole). */
  receive(app: string, volume: string, sender: string, body: Buffer): Promise<CopyMeta>;
  /** Node route: what turns the asker's copy (its manifest) into this one. */
  delta(app: string, volume: string, asker: string, have: Entry[]): Promise<Buffer>;
  /** This node's part in an app's replicated volumes (for its local status). */
  status(app: string): VolumeReplicaStatus[];
  /** One round for every app this node is the primary of (also on a timer). */
  round(): Promise<void>;
  close(): void;
}

interface PeerState {
  known?: Manifest;
  seq: number;
  ackedReadAt?: number;
  behindBytes: number;
  error?: string;
}

interface CopyState {
  cache: ScanCache;
  manifest: Manifest;
  /** When the last round's snapshot was read. */
  readAt: number;
  peers: Map<string, PeerState>;
}

const replicated = (spec: AppSpec) =>
  spec.components.flatMap((c) => (c.volumes ?? []).filter((v) => v.mode === 'replicated'));

const manifestOf = (entries: Entry[]): Manifest => new Map(entries.map((e) => [e.path, e]));
/** A copy's (generation, seq), beside its data directory (outside what the container sees). */
const metaPath = (data: string) => join(data, '..', '.ofx-copy.json');
/** A buffer as a raw route's signed body. */
const rawBody = (b: Buffer) => ({ stream: Readable.from([b]), length: b.length, sha256: sha256(b) });

export function createReplication(o: ReplicationOptions): Replication {
  const { chain } = o;
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => {});
  /** app/volume this node started as primary (its generation bumped), until placement moves it. */
  const primaryHere = new Set<string>();
  const copies = new Map<string, CopyState>();
  const busy = new Set<string>();
  const key = (app: string, volume: string) => `${app}/${volume}`;
  const copyState = (k: string): CopyState => {
    let c = copies.get(k);
    if (!c) {
      c = { cache: new Map(), manifest: new Map(), readAt: 0, peers: new Map() };
      copies.set(k, c);
    }
    return c;
  };
  const endpoint = (node: string) =>
    new TextDecoder().decode(chain.fluxNode(node)?.endpoint ?? new Uint8Array());
  const specOf = (app: string) => o.view().apps.get(app)?.spec ?? o.consensus?.().apps.get(app)?.spec;

  /** Where a copy lives on this node (mounting it, creating it at its size the first time). */
  async function copyDirs(app: string, volume: string): Promise<{ data: string; mnt: string; meta: string }> {
    const spec = specOf(app);
    const v = spec ? replicated(spec).find((x) => x.name === volume) : undefined;
    if (!v) throw new ApiError(404, 'NO_VOLUME', `app ${app} has no replicated volume ${volume}`);
    const data = await o.volumes.ensure({ app, name: volume, sizeGb: v.size });
    const mnt = join(data, '..');
    return { data, mnt, meta: metaPath(data) };
  }

  /** Nodes placement makes holders of `app` (hosts and standbys), in this node's view and in consensus. */
  function holders(app: string): Set<string> {
    const out = new Set<string>();
    for (const v of [o.view(), o.consensus?.()]) {
      const p = v?.placement.get(app);
      for (const n of [...(p?.nodes ?? []), ...(p?.standbys ?? [])]) out.add(n);
    }
    return out;
  }
  const mustHold = (app: string, node: string, who: string) => {
    if (!holders(app).has(node))
      throw new ApiError(
        403,
        'NOT_A_HOLDER',
        `${who} ${node.slice(0, 16)} holds no copy of ${app} in this node's placement`,
      );
  };

  /** Throws unless a round of `app`/`volume` from `sender` would be taken here (checked before its body is read). */
  function accepts(app: string, volume: string, sender: string): void {
    const me = o.nodeId();
    if (!me) throw new ApiError(404, 'NOT_HOSTED', 'this node runs no apps');
    mustHold(app, sender, 'node');
    mustHold(app, me, 'this node');
    if (primaryHere.has(key(app, volume)))
      throw new ApiError(
        409,
        'PRIMARY_HERE',
        `this node runs ${app} as its primary; it takes no copy of ${volume}`,
      );
  }

  async function prepare(me: string, app: AssignedApp): Promise<void> {
    const name = app.spec.name;
    for (const v of replicated(app.spec)) {
      const k = key(name, v.name);
      if (primaryHere.has(k)) continue;
      const dirs = await copyDirs(name, v.name);
      let mine = readCopyMeta(dirs.meta);
      // What the other holders have (those alive in this node's view).
      const others = [...holders(name)].filter((n) => n !== me && (o.liveness?.isAlive(n) ?? true));
      const answers = await Promise.all(
        others.map(async (node) => {
          try {
            const s = await callRoute(
              `http://${endpoint(node)}`,
              routes.appVolumeState,
              { params: { name, volume: v.name }, query: { for: me } },
              { timeoutMs: ASK_TIMEOUT_MS, sign: ownerSigner(o.operator, node) },
            );
            return { node, meta: { generation: s.generation, seq: s.seq } };
          } catch {
            return undefined;
          }
        }),
      );
      let best: { node: string; meta: CopyMeta } | undefined;
      let topGeneration = mine?.generation ?? 0;
      for (const a of answers) {
        if (!a) continue;
        topGeneration = Math.max(topGeneration, a.meta.generation);
        if (newer(a.meta, best?.meta)) best = a;
      }
      if (best && newer(best.meta, mine ?? { generation: 0, seq: 0 })) {
        if (o.liveness?.get(best.node)?.running.has(name))
          throw new VolumeError(
            `a newer copy of volume ${v.name} (generation ${best.meta.generation}, round ${best.meta.seq}) runs on node ${best.node.slice(0, 16)}; starting here would roll it back`,
          );
        await pull(me, name, v.name, best.node, dirs);
        mine = readCopyMeta(dirs.meta);
        log(
          `fluxos: ${k}: caught up from node ${best.node.slice(0, 16)} (generation ${best.meta.generation}, round ${best.meta.seq})`,
        );
      }
      const next = { generation: topGeneration + 1, seq: mine?.seq ?? 0 };
      writeCopyMeta(dirs.meta, next);
      primaryHere.add(k);
      copyState(k).peers.clear();
      log(`fluxos: ${k}: primary here, generation ${next.generation}`);
    }
  }

  async function pull(
    me: string,
    app: string,
    volume: string,
    from: string,
    dirs: { data: string; mnt: string; meta: string },
  ): Promise<void> {
    const c = copyState(key(app, volume));
    const have = scanTree(dirs.data, c.cache, c.manifest, Number.MAX_SAFE_INTEGER).manifest;
    const body = Buffer.from(JSON.stringify({ entries: [...have.values()] }));
    const res = await callRawRoute(
      `http://${endpoint(from)}`,
      routes.appVolumeDelta,
      { params: { name: app, volume }, query: { for: me } },
      {
        sign: ownerSigner(o.operator, from),
        body: rawBody(body),
        timeoutMs: 60_000,
      },
    );
    if (!res.ok)
      throw new VolumeError(
        `cannot pull volume ${volume} from ${from.slice(0, 16)}: HTTP ${res.status} ${await res.text()}`,
      );
    const { header, files } = decodeDelta(Buffer.from(await res.arrayBuffer()));
    applyDelta(dirs.data, join(dirs.mnt, '.ofx-tmp'), header, files);
    writeCopyMeta(dirs.meta, { generation: header.generation, seq: header.seq });
  }

  /** One round of one volume to its standbys. */
  async function roundOf(me: string, app: string, volume: string, standbys: string[]): Promise<void> {
    const k = key(app, volume);
    if (busy.has(k)) return;
    busy.add(k);
    try {
      const dirs = await copyDirs(app, volume);
      const c = copyState(k);
      const readAt = now();
      const resume = await o.pause(app);
      let scan: ReturnType<typeof scanTree>;
      try {
        scan = scanTree(dirs.data, c.cache, c.manifest, ROUND_READ_BYTES);
      } finally {
        await resume();
      }
      const meta = readCopyMeta(dirs.meta) ?? { generation: 1, seq: 0 };
      const changed = diffManifests(scan.manifest, c.manifest);
      if (changed.entries.length > 0 || changed.deletes.length > 0 || c.readAt === 0) {
        meta.seq++;
        writeCopyMeta(dirs.meta, meta);
      }
      c.manifest = scan.manifest;
      c.readAt = readAt;
      for (const peer of [...c.peers.keys()]) if (!standbys.includes(peer)) c.peers.delete(peer);
      await Promise.all(standbys.map((s) => sendTo(me, app, volume, s, c, scan, meta, dirs.data)));
    } catch (e) {
      log(`fluxos: ${k}: round failed: ${(e as Error).message}`);
    } finally {
      busy.delete(k);
    }
  }

  async function sendTo(
    me: string,
    app: string,
    volume: string,
    standby: string,
    c: CopyState,
    scan: ReturnType<typeof scanTree>,
    meta: CopyMeta,
    data: string,
  ): Promise<void> {
    const p: PeerState = c.peers.get(standby) ?? { seq: -1, behindBytes: 0 };
    c.peers.set(standby, p);
    const url = `http://${endpoint(standby)}`;
    try {
      if (!p.known) {
        const s = await callRoute(
          url,
          routes.appVolumeState,
          { params: { name: app, volume }, query: { for: me, manifest: '1' } },
          { timeoutMs: ASK_TIMEOUT_MS, sign: ownerSigner(o.operator, standby) },
        );
        p.known = manifestOf((s.entries ?? []) as Entry[]);
      }
      const { entries, deletes } = diffManifests(scan.manifest, p.known);
      if (entries.length === 0 && deletes.length === 0 && p.seq === meta.seq) {
        p.behindBytes = 0;
        p.ackedReadAt = c.readAt;
        return;
      }
      const contents: Buffer[] = [];
      const sent: Entry[] = [];
      let partial = false;
      let bytes = 0;
      for (const e of entries) {
        if (e.type !== 'f') {
          sent.push(e);
          continue;
        }
        if (bytes + (e.size ?? 0) > ROUND_SEND_BYTES && sent.length > 0) {
          partial = true; // the rest goes in the next rounds
          continue;
        }
        let content = scan.read.get(e.path);
        if (!content) {
          // Unchanged since an earlier round but not on this standby: read now, if still the same.
          try {
            const now = readFileSync(join(data, e.path));
            content = Buffer.from(sha256(now)).toString('hex') === e.hash ? now : undefined;
          } catch {
            content = undefined;
          }
        }
        if (!content) {
          partial = true;
          continue;
        }
        contents.push(content);
        sent.push(e);
        bytes += content.length;
      }
      p.behindBytes = contents.reduce((n, b) => n + b.length, 0);
      const body = encodeDelta(
        { app, volume, generation: meta.generation, seq: meta.seq, entries: sent, deletes },
        contents,
      );
      const res = await callRawRoute(
        url,
        routes.appVolumeSync,
        { params: { name: app, volume }, query: { for: me } },
        {
          sign: ownerSigner(o.operator, standby),
          body: rawBody(body),
          timeoutMs: 60_000,
        },
      );
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
      await res.arrayBuffer();
      if (partial) {
        // What the standby holds now: its copy as known, with what this round carried.
        const known = new Map(p.known);
        for (const e of sent) known.set(e.path, e);
        for (const d of deletes) known.delete(d);
        p.known = known;
      } else p.known = scan.manifest;
      p.seq = meta.seq;
      p.ackedReadAt = c.readAt;
      p.behindBytes = 0;
      if (p.error) log(`fluxos: ${app}/${volume}: standby ${standby.slice(0, 16)} takes rounds again`);
      p.error = undefined;
    } catch (e) {
      const why = (e as Error).message;
      if (p.error !== why) log(`fluxos: ${app}/${volume}: standby ${standby.slice(0, 16)}: ${why}`);
      p.error = why;
      p.known = undefined;
    }
  }

  async function round(): Promise<void> {
    const me = o.nodeId();
    if (!me) return;
    const v = o.view();
    const running = new Set(o.running());
    // An app that runs here is its primary here, prepared by this process or not (started by an
    // earlier one, or started while placement looked elsewhere): its rounds go out.
    for (const app of running) {
      const spec = v.apps.get(app)?.spec;
      for (const vol of spec ? replicated(spec) : []) primaryHere.add(key(app, vol.name));
    }
    const work: Array<Promise<void>> = [];
    for (const k of [...primaryHere]) {
      const [app, volume] = k.split('/');
      const p = v.placement.get(app);
      if (!running.has(app)) {
        // Started here but not running (yet, or any more): primary again only through prepare.
        if (p?.nodes[0] !== me) {
          primaryHere.delete(k);
          log(`fluxos: ${k}: no longer primary here`);
        }
        continue;
      }
      // Every other holder takes the rounds: the standbys, and a host placement names that does
      // not run it yet (a hand-over), so it starts from this copy.
      const targets = [...new Set([...(p?.nodes ?? []), ...(p?.standbys ?? [])])].filter((n) => n !== me);
      work.push(roundOf(me, app, volume, targets));
    }
    await Promise.all(work);
  }

  const timer = setInterval(() => void round(), chain.params.apps.volumeSyncMs);
  timer.unref();

  return {
    prepare,
    async state(app, volume, asker, withManifest) {
      mustHold(app, asker, 'node');
      // No copy here: say so without making one (a volume is made when a round arrives).
      if (!o.volumes.list().some((v) => v.app === app && v.name === volume))
        return { generation: 0, seq: 0, ...(withManifest ? { entries: [] } : {}) };
      const dirs = await copyDirs(app, volume);
      const meta = readCopyMeta(dirs.meta) ?? { generation: 0, seq: 0 };
      if (!withManifest) return meta;
      const c = copyState(key(app, volume));
      const scan = scanTree(dirs.data, c.cache, c.manifest, Number.MAX_SAFE_INTEGER);
      if (!primaryHere.has(key(app, volume))) c.manifest = scan.manifest;
      return { ...meta, entries: [...scan.manifest.values()] };
    },
    accepts,
    holder: (app, node) => mustHold(app, node, 'node'),
    async receive(app, volume, sender, body) {
      accepts(app, volume, sender);
      const k = key(app, volume);
      let decoded: ReturnType<typeof decodeDelta>;
      try {
        decoded = decodeDelta(body);
      } catch (e) {
        throw new ApiError(400, 'BAD_DELTA', (e as Error).message);
      }
      const { header, files } = decoded;
      if (header.app !== app || header.volume !== volume)
        throw new ApiError(400, 'BAD_DELTA', `the delta is for ${header.app}/${header.volume}, not ${k}`);
      const dirs = await copyDirs(app, volume);
      const mine = readCopyMeta(dirs.meta);
      const theirs = { generation: header.generation, seq: header.seq };
      if (newer(mine, theirs))
        throw new ApiError(
          409,
          'OLDER_COPY',
          `this copy is at generation ${mine?.generation}, round ${mine?.seq}; the delta's (${theirs.generation}, ${theirs.seq}) is not newer`,
        );
      try {
        applyDelta(dirs.data, join(dirs.mnt, '.ofx-tmp'), header, files);
      } catch (e) {
        throw new ApiError(400, 'BAD_DELTA', (e as Error).message);
      }
      writeCopyMeta(dirs.meta, theirs);
      copyState(k).manifest = new Map();
      return theirs;
    },
    async delta(app, volume, asker, have) {
      const me = o.nodeId();
      if (!me) throw new ApiError(404, 'NOT_HOSTED', 'this node runs no apps');
      mustHold(app, asker, 'node');
      const dirs = await copyDirs(app, volume);
      const c = copyState(key(app, volume));
      const resume = primaryHere.has(key(app, volume)) ? await o.pause(app) : async () => {};
      let scan: ReturnType<typeof scanTree>;
      try {
        scan = scanTree(dirs.data, c.cache, c.manifest, Number.MAX_SAFE_INTEGER);
      } finally {
        await resume();
      }
      const meta = readCopyMeta(dirs.meta) ?? { generation: 0, seq: 0 };
      const { entries, deletes } = diffManifests(scan.manifest, manifestOf(have));
      const contents = entries
        .filter((e) => e.type === 'f')
        .map((e) => scan.read.get(e.path) ?? readFileSync(join(dirs.data, e.path)));
      return encodeDelta({ app, volume, ...meta, entries, deletes }, contents);
    },
    status(app) {
      const me = o.nodeId();
      const spec = specOf(app);
      if (!me || !spec) return [];
      const out: VolumeReplicaStatus[] = [];
      const here = o.volumes.list().filter((x) => x.app === app);
      for (const c of spec.components)
        for (const v of c.volumes ?? []) {
          const k = key(app, v.name);
          const info = here.find((x) => x.name === v.name);
          const meta = info ? readCopyMeta(metaPath(info.path)) : undefined;
          const cs = copies.get(k);
          out.push({
            name: v.name,
            mode: v.mode,
            role: primaryHere.has(k) || v.mode === 'local' ? 'primary' : 'standby',
            generation: meta?.generation ?? 0,
            seq: meta?.seq ?? 0,
            standbys: [...(cs?.peers ?? new Map<string, PeerState>())].map(([node, p]) => ({
              node,
              seq: p.seq,
              behindBytes: p.behindBytes,
              // What a failover now would lose: the writes since the round the standby holds was read.
              behindMs: now() - (p.ackedReadAt ?? cs?.readAt ?? now()),
              ...(p.error ? { error: p.error } : {}),
            })),
          });
        }
      return out;
    },
    round,
    close() {
      clearInterval(timer);
    },
  };
}
