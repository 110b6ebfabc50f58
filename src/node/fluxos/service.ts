// FluxOS on a node: this machine's FluxNode id (from its operator key), and the reconciler that
// runs what placement (placement.ts, built by the node) assigns here.

import type { Readable } from 'node:stream';
import { blockHash } from '../../core/codec/ids.ts';
import { toHex } from '../../core/crypto/hash.ts';
import type { KeyPair } from '../../core/crypto/keys.ts';
import { NodeStatus } from '../../core/nodes/types.ts';
import type { Chain } from '../chain/types.ts';
import type { Liveness } from '../liveness/service.ts';
import { pickVolume, restoreVolume, tarStream, VolumeAccessError } from './backup.ts';
import type { HostFirewall } from './firewall.ts';
import { appVolumeName, containerName, LABELS } from './options.ts';
import type { PlacementView } from './placement.ts';
import {
  type AssignedApp,
  boundedRuntime,
  createReconciler,
  type LocalAppStatus,
  type Reconciler,
} from './reconciler.ts';
import { createReplication, type Replication } from './replication.ts';
import type { ContainerStats, ExecOptions, ExecProcess, Runtime } from './runtime.ts';
import type { AppSecrets } from './secrets.ts';
import type { VolumeStore } from './volumes.ts';

export interface FluxOs {
  /** This machine's confirmed FluxNode id, if it has one. */
  nodeId(): string | undefined;
  hostAddress: string;
  status(app?: string): LocalAppStatus[];
  /** Replicated volumes: rounds to standbys, copies taken, the node routes (replication.ts). */
  replication?: Replication;
  /** An app gone from the chain whose volumes this node still keeps: which, and until what height. */
  volumesKept(app: string): { volumes: string[]; since: number; deleteAt: number } | undefined;
  /** The last lines a component's container wrote on this node. */
  logs(app: string, component: string | undefined, opts: { tail: number; since?: number }): Promise<string>;
  /** One sample of each of the app's containers on this node. */
  stats(app: string): Promise<Array<ContainerStats & { component: string; containerId: string }>>;
  /** Restarts the app's containers on this node (or one component's); when each started again. */
  restart(
    app: string,
    component?: string,
  ): Promise<Array<{ component: string; containerId: string; startedAt: string }>>;
  /** Starts a command in a component's container on this node (the first component's by default). */
  exec(app: string, component: string | undefined, opts: ExecOptions): Promise<ExecProcess>;
  /**
   * A consistent tar stream of one of the app's volumes here (its component's container paused
   * until the stream ends); throws VolumeAccessError (backup.ts).
   */
  backup(app: string, volume?: string): Promise<{ volume: string; component: string; stream: Readable }>;
  /**
   * Replaces one of the app's volumes here with a tar archive (checked against the signed sha256,
   * at most the volume's size), its container stopped for the swap and started again.
   */
  restore(
    app: string,
    volume: string | undefined,
    body: { stream: AsyncIterable<Uint8Array>; length?: number; sha256: Uint8Array },
  ): Promise<{ volume: string; component: string; bytes: number; containerId: string; startedAt: string }>;
  reconciler: Reconciler;
  /** Stops the agent (once; later calls wait for the same close). */
  close(): Promise<void>;
}

export interface FluxOsOptions {
  chain: Chain;
  /** Placement at the tip as this node sees it (placement.ts), shared with the ingress and the API. */
  view: () => PlacementView;
  /** The operator key of this machine's FluxNodes (see fluxnode/operator.ts). */
  operatorKey: Uint8Array;
  runtime: Runtime;
  /** Where published ports bind: the node's own address. */
  hostAddress: string;
  /** Walls app containers off from this machine (firewall.ts). */
  firewall?: HostFirewall;
  /** This node's view of which FluxNodes are alive: a change asks for a pass; a hand-over waits for the new hosts. */
  liveness?: Liveness;
  intervalMs?: number;
  /** How long an engine call may take before the engine counts as not answering (reconciler.ts). */
  engineTimeoutMs?: number;
  /** The app secrets this node holds: they join the containers' environment (secrets.ts). */
  secrets?: AppSecrets;
  /** App volumes on this machine (volumes.ts); without them an app with volumes cannot run here. */
  volumes?: VolumeStore;
  /** The operator key pair: with volumes, this node replicates volumes to standbys and takes copies (replication.ts). */
  operator?: KeyPair;
  /** Placement over every node consensus counts (holders a returning or new primary asks). */
  consensus?: () => PlacementView;
  /** Remove this node's containers when the agent closes (a devnet's nodes; a real node keeps them). */
  removeOnClose?: boolean;
  log?: (line: string) => void;
}

/** Seconds a container has to stop on SIGTERM before a restart kills it. */
const RESTART_GRACE_S = 3;

export function startFluxOs(o: FluxOsOptions): FluxOs {
  const { chain, view } = o;
  const nodeId = (): string | undefined =>
    chain.fluxNodesOfOperator(o.operatorKey).find((n) => n.node.status === NodeStatus.confirmed)?.id;
  const genesis = chain.blockByHeight(0);
  if (!genesis) throw new Error('the chain has no genesis block');
  const network = toHex(blockHash(genesis.header)).slice(0, 12);
  /** Tells liveness the apps whose every component runs here (its heartbeats carry them). */
  const report = (running: string[]): void => o.liveness?.setRunning(running);
  const replication =
    o.volumes && o.operator
      ? createReplication({
          chain,
          view,
          consensus: o.consensus,
          volumes: o.volumes,
          operator: o.operator,
          nodeId,
          liveness: o.liveness,
          running: () => runningApps(reconciler.status()),
          pause: async (app) => {
            const me = nodeId();
            const release = reconciler.holdNow(app);
            const ids = me
              ? (await engine.list({ [LABELS.network]: network, [LABELS.node]: me, [LABELS.app]: app }))
                  .filter((c) => c.state === 'running')
                  .map((c) => c.id)
              : [];
            const paused: string[] = [];
            try {
              for (const id of ids) {
                await engine.pause(id);
                paused.push(id);
              }
            } catch (e) {
              await Promise.all(paused.map((id) => engine.unpause(id).catch(() => undefined)));
              release();
              throw e;
            }
            return async () => {
              await Promise.all(
                paused.map((id) =>
                  engine
                    .unpause(id)
                    .catch((e: Error) =>
                      o.log?.(`fluxos: could not unpause ${id.slice(0, 12)}: ${e.message}`),
                    ),
                ),
              );
              release();
            };
          },
          log: o.log,
        })
      : undefined;
  const reconciler = createReconciler({
    prepareVolumes: replication?.prepare,
    runtime: o.runtime,
    network,
    nodeId,
    hostAddress: o.hostAddress,
    firewall: o.firewall,
    volumes: o.volumes,
    intervalMs: o.intervalMs,
    engineTimeoutMs: o.engineTimeoutMs,
    // Taken back no sooner than a returning node: the same hold-down keeps apps from flapping.
    holdDownMs: chain.params.nodes.liveness.holdDownMs,
    onCannotRun: (apps) => o.liveness?.setUnable(apps),
    log: o.log,
    assigned: () => {
      const me = nodeId();
      if (!me) {
        report([]);
        return [];
      }
      const v = view();
      const out: AssignedApp[] = [];
      const statuses = reconciler.status();
      const runningHere = new Set(runningApps(statuses));
      o.secrets?.prune(new Set(v.apps.keys()));
      for (const [name, p] of v.placement) {
        const app = v.apps.get(name);
        if (!app) continue;
        // Make before break: an instance this node runs but no longer holds (a node that was
        // down is back) keeps running until every node placement assigns reports it running.
        const handOver =
          !p.nodes.includes(me) &&
          runningHere.has(name) &&
          o.liveness !== undefined &&
          p.nodes.some((n) => !o.liveness?.get(n)?.running.has(name));
        if (!p.nodes.includes(me) && !handOver) continue;
        // A newly assigned app waits (bounded) for its secrets from the other holders (secrets.ts).
        const known = statuses.some((s) => s.app === name);
        const secrets = o.secrets?.forContainers(name, known);
        if (secrets?.waiting) continue;
        out.push({ spec: app.spec, revision: app.revision, ...(secrets ? { secrets } : {}) });
      }
      // What runs once this pass takes `out`: an app no longer assigned here stops counting now.
      report(runningOnceAssigned(statuses, out));
      return out;
    },
  });
  // A pass asked for here is told to liveness when it ends; one the reconciler's own timer ran,
  // at the start of the next pass.
  const reconcile = (): void => {
    void reconciler.reconcile().then(() => report(runningApps(reconciler.status())));
  };
  /**
   * This node's containers of `app`: one named component's, else every component's (or only the
   * first's); throws when the app does not run here or a container is not there yet.
   */
  const containersOf = async (
    app: string,
    component?: string,
    firstOnly = false,
  ): Promise<Array<{ component: string; id: string }>> => {
    const me = nodeId();
    const running = view().apps.get(app);
    if (!me || !running) throw new Error(`app ${app} does not run on this node`);
    const all = running.spec.components;
    const wanted =
      component !== undefined ? all.filter((x) => x.name === component) : firstOnly ? all.slice(0, 1) : all;
    if (wanted.length === 0) throw new Error(`app ${app} has no component ${component}`);
    const found = await o.runtime.list({ [LABELS.network]: network, [LABELS.node]: me, [LABELS.app]: app });
    return wanted.map((c) => {
      const container = found.find((x) => x.name === containerName(network, me, app, c.name));
      if (!container) throw new Error(`no container of ${app}/${c.name} on this node yet`);
      return { component: c.name, id: container.id };
    });
  };
  /**
   * Volumes of apps gone from the chain (cancelled, expired): kept `volumeGraceBlocks` from when
   * this node first saw them gone, then deleted with their Docker volumes. Nothing else deletes
   * a volume: not an update, a restart, a failed start or placement moving the app.
   */
  const goneSince = new Map<string, number>();
  let sweeping = false;
  const sweepVolumes = async (): Promise<void> => {
    const me = nodeId();
    if (!o.volumes || !me || sweeping) return;
    sweeping = true;
    try {
      const height = chain.tip().height;
      const apps = view().apps;
      const byApp = new Map<string, string[]>();
      for (const v of o.volumes.list()) byApp.set(v.app, [...(byApp.get(v.app) ?? []), v.name]);
      for (const [app, names] of byApp) {
        if (apps.has(app)) {
          goneSince.delete(app);
          continue;
        }
        const since = goneSince.get(app) ?? height;
        goneSince.set(app, since);
        if (height < since + chain.params.apps.volumeGraceBlocks) continue;
        const containers = await o.runtime.list({
          [LABELS.network]: network,
          [LABELS.node]: me,
          [LABELS.app]: app,
        });
        if (containers.length > 0) continue; // the reconciler removes them first
        for (const name of names) await o.runtime.removeVolume(appVolumeName(network, me, app, name));
        await o.volumes.remove(app);
        goneSince.delete(app);
        o.log?.(
          `fluxos: deleted the volumes of ${app} (${names.join(', ')}): gone from the chain since height ${since}`,
        );
      }
    } catch (e) {
      o.log?.(`fluxos: volume sweep: ${(e as Error).message}`);
    } finally {
      sweeping = false;
    }
  };
  // Backups and restores: engine calls bounded (an unpause must not wait forever), one at a time per volume.
  const engine = boundedRuntime(o.runtime, o.engineTimeoutMs ?? 15_000);
  const volumeBusy = new Set<string>();
  /** The app's volume here (picked as pickVolume does), its data directory and its component's container. */
  const volumeOf = async (app: string, asked: string | undefined) => {
    const me = nodeId();
    const running = view().apps.get(app);
    if (!me || !running)
      throw new VolumeAccessError('NO_VOLUME', 404, `app ${app} does not run on this node`);
    const picked = pickVolume(running.spec, asked);
    const here = o.volumes?.list().find((v) => v.app === app && v.name === picked.name);
    if (!here?.mounted)
      throw new VolumeAccessError(
        'NOT_MOUNTED',
        409,
        `volume ${picked.name} of ${app} is not mounted on this node (its container has not started here yet)`,
      );
    const key = `${app}/${picked.name}`;
    if (volumeBusy.has(key))
      throw new VolumeAccessError('VOLUME_BUSY', 409, `a backup or restore of ${key} runs on this node`);
    // Held until the caller's `done` (the backup's stream ended, the restore answered).
    volumeBusy.add(key);
    const done = () => volumeBusy.delete(key);
    try {
      const found = await engine.list({ [LABELS.network]: network, [LABELS.node]: me, [LABELS.app]: app });
      const container = found.find((x) => x.name === containerName(network, me, app, picked.component.name));
      return { ...picked, key, dataDir: here.path, container, done };
    } catch (e) {
      done();
      throw e;
    }
  };
  let closed: Promise<void> | undefined;
  const onBlock = () => {
    reconcile();
    void sweepVolumes();
  };
  const onLiveness = () => reconcile();
  chain.on('block', onBlock);
  o.liveness?.on('change', onLiveness);
  const offSecrets = o.secrets?.onChange(() => reconcile());
  reconcile();
  return {
    nodeId,
    hostAddress: o.hostAddress,
    status: (app) =>
      reconciler.status(app).map((s) => {
        const volumes = replication?.status(s.app) ?? [];
        return volumes.length ? { ...s, volumes } : s;
      }),
    replication,
    volumesKept(app) {
      if (view().apps.has(app)) return undefined;
      const volumes = (o.volumes?.list() ?? []).filter((v) => v.app === app).map((v) => v.name);
      if (volumes.length === 0) return undefined;
      const since = goneSince.get(app) ?? chain.tip().height;
      return { volumes, since, deleteAt: since + chain.params.apps.volumeGraceBlocks };
    },
    async logs(app, component, opts) {
      const [c] = await containersOf(app, component, true);
      return o.runtime.logs(c.id, { tail: opts.tail, since: opts.since, timestamps: true });
    },
    async stats(app) {
      const found = await containersOf(app);
      return Promise.all(
        found.map(async (c) => ({
          component: c.component,
          containerId: c.id,
          ...(await o.runtime.stats(c.id)),
        })),
      );
    },
    async restart(app, component) {
      const found = await containersOf(app, component);
      const out: Array<{ component: string; containerId: string; startedAt: string }> = [];
      for (const c of found) {
        await o.runtime.restart(c.id, RESTART_GRACE_S);
        const d = await o.runtime.inspect(c.id);
        out.push({ component: c.component, containerId: c.id, startedAt: d.startedAt ?? '' });
      }
      return out;
    },
    async exec(app, component, opts) {
      const [c] = await containersOf(app, component, true);
      return o.runtime.exec(c.id, opts);
    },
    async backup(app, asked) {
      const v = await volumeOf(app, asked);
      const release = await reconciler.hold(app);
      const running = v.container?.state === 'running' ? v.container.id : undefined;
      let paused = false;
      const done = (error?: Error) => {
        if (error) o.log?.(`fluxos: backup of ${v.key}: ${error.message}`);
        const unpaused = paused && running ? engine.unpause(running) : Promise.resolve();
        void unpaused
          .catch((e: Error) => o.log?.(`fluxos: could not unpause ${app}/${v.component.name}: ${e.message}`))
          .finally(() => {
            release();
            v.done();
          });
      };
      try {
        if (running) {
          await engine.pause(running);
          paused = true;
        }
        return { volume: v.name, component: v.component.name, stream: tarStream(v.dataDir, done) };
      } catch (e) {
        done();
        throw e;
      }
    },
    async restore(app, asked, body) {
      const v = await volumeOf(app, asked);
      let release: (() => void) | undefined;
      try {
        if (body.length !== undefined && body.length > v.sizeBytes)
          throw new VolumeAccessError(
            'TOO_LARGE',
            413,
            `the archive is ${body.length.toLocaleString('en-US')} bytes, larger than volume ${v.name} (${v.sizeBytes.toLocaleString('en-US')} bytes)`,
          );
        if (!v.container)
          throw new VolumeAccessError(
            'NOT_MOUNTED',
            409,
            `no container of ${app}/${v.component.name} on this node yet`,
          );
        const id = v.container.id;
        const bytes = await restoreVolume({
          dataDir: v.dataDir,
          body: body.stream,
          sha256: body.sha256,
          limit: v.sizeBytes,
          stop: async () => {
            release = await reconciler.hold(app);
            await engine.stop(id, RESTART_GRACE_S);
          },
          start: () => engine.start(id),
        });
        const d = await engine.inspect(id);
        o.log?.(`fluxos: restored ${v.key} (${bytes} bytes); ${v.component.name} started again`);
        return {
          volume: v.name,
          component: v.component.name,
          bytes,
          containerId: id,
          startedAt: d.startedAt ?? '',
        };
      } finally {
        release?.();
        v.done();
      }
    },
    reconciler,
    close() {
      closed ??= (async () => {
        chain.off('block', onBlock);
        o.liveness?.off('change', onLiveness);
        offSecrets?.();
        replication?.close();
        await reconciler.close();
        if (o.removeOnClose !== true) return;
        const me = nodeId();
        const mine =
          me === undefined ? [] : await o.runtime.list({ [LABELS.network]: network, [LABELS.node]: me });
        for (const c of mine) await o.runtime.remove(c.id).catch(() => undefined);
        if (mine.length > 0) o.log?.(`fluxos: removed ${mine.length} container(s) of this node`);
        const nets =
          me === undefined
            ? []
            : await o.runtime.listNetworks({ [LABELS.network]: network, [LABELS.node]: me }).catch(() => []);
        for (const n of nets) await o.runtime.removeNetwork(n.id).catch(() => undefined);
        // No container uses them now: unmount (the data stays in the datadir for the next start).
        if (me !== undefined)
          for (const v of o.volumes?.list() ?? [])
            await o.runtime.removeVolume(appVolumeName(network, me, v.app, v.name)).catch(() => undefined);
        await o.volumes?.unmountAll();
      })();
      return closed;
    },
  };
}

/** The apps whose every component runs here. */
function runningApps(statuses: LocalAppStatus[]): string[] {
  return statuses.flatMap((s) => (s.state === 'running' ? [s.app] : []));
}

/**
 * The apps that still run here once the reconciler takes `assigned` (its status shows each
 * assigned app by the components of the assigned spec): those whose every such component runs.
 */
function runningOnceAssigned(statuses: LocalAppStatus[], assigned: AssignedApp[]): string[] {
  const byApp = new Map(statuses.map((s) => [s.app, s]));
  return assigned.flatMap(({ spec }) => {
    const components = byApp.get(spec.name)?.components ?? [];
    const runs = spec.components.every((c) =>
      components.some((x) => x.name === c.name && x.state === 'running'),
    );
    return runs ? [spec.name] : [];
  });
}
