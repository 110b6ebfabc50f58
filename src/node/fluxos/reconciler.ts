// The node agent: continuously and idempotently makes what Docker runs for this node equal to
// what placement assigns to it. Each pass: list this node's containers (by label), remove those no
// longer assigned or of an older spec revision, then for every assigned app and component find or
// pull the image, create, start, and restart a crashed container with exponential backoff. Every
// app is handled on its own: one that fails is reported with the reason and does not block others.
// An app's components start in dependency order (`dependsOn`): one waits until those it depends on run.
// Each app gets its own Docker network on this node (created before its containers, removed once
// the app no longer runs here); the host firewall walls those networks off from the node.
// What it cannot run (engine silent past a deadline, image missing, starts failing again and
// again) it marks (cannot-run.ts), so that placement moves the app to the next-ranked node.
import { type AppComponent, type AppSpec, startOrder } from '../../core/apps/spec.ts';
import { serialPasses } from '../passes.ts';
import { CannotRun, withDeadline } from './cannot-run.ts';
import type { HostFirewall } from './firewall.ts';
import {
  appNetworkName,
  appVolumeName,
  containerName,
  containerOptions,
  LABELS,
  networkOptions,
  publishesNothing,
} from './options.ts';
import type { VolumeReplicaStatus } from './replication.ts';
import { type ContainerSummary, engineMessage, type NetworkSummary, type Runtime } from './runtime.ts';
import { VolumeError, type VolumeStore } from './volumes.ts';

export type InstanceState = 'pulling' | 'starting' | 'running' | 'restarting' | 'failed';

export interface AssignedApp {
  spec: AppSpec;
  revision: number;
  /** The app's secrets for its containers (secrets.ts); a new digest recreates them. */
  secrets?: { env: Record<string, string>; digest: string };
}

export interface ComponentStatus {
  name: string;
  state: InstanceState;
  /** ms since the Unix epoch when it entered this state. */
  since: number;
  reason?: string;
  restarts: number;
  containerId?: string;
}

export interface LocalAppStatus {
  app: string;
  node: string;
  revision: number;
  state: InstanceState;
  since: number;
  reason?: string;
  restarts: number;
  /** `host:port` of each published port on this node. */
  endpoints: string[];
  components: ComponentStatus[];
  /** The app's volumes here: role, copy generation and round, each standby's lag (replication.ts). */
  volumes?: VolumeReplicaStatus[];
}

export interface ReconcilerOptions {
  runtime: Runtime;
  /** Short id of the chain (see LABELS.network). */
  network: string;
  /** This machine's confirmed FluxNode id, or undefined while it has none. */
  nodeId: () => string | undefined;
  hostAddress: string;
  /** The apps placement assigns to this node now. */
  assigned: () => AssignedApp[];
  /**
   * Keeps app containers from reaching the node (its API and p2p ports). Without one, nothing
   * does: only tests that bring their own leave it out. An app whose wall cannot be put up fails.
   */
  firewall?: HostFirewall;
  /** Where app volumes live (volumes.ts); without one, an app with volumes cannot run here. */
  volumes?: VolumeStore;
  /**
   * Before an app's containers start here: its replicated volumes brought up to the newest copy
   * (replication.ts `prepare`); a VolumeError keeps the app from this node.
   */
  prepareVolumes?: (nodeId: string, app: AssignedApp) => Promise<void>;
  intervalMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** A container running this long has its restart count reset. */
  stableMs?: number;
  /** How long an engine call may take before the engine counts as not answering; default 15 s. */
  engineTimeoutMs?: number;
  /** Failed starts (or crashes) in a row after which an app counts as one this node cannot run; default 3. */
  maxStartFailures?: number;
  /** How long an app stays marked as one this node cannot run after the last failure; default 60 s. */
  holdDownMs?: number;
  /** Told after each pass: the apps this node cannot run now, with why. */
  onCannotRun?: (apps: Map<string, string>) => void;
  log?: (line: string) => void;
  now?: () => number;
}

export interface Reconciler {
  /** One pass now (passes never overlap; a call during a pass runs another one after it). */
  reconcile(): Promise<void>;
  /** Asks for a pass soon (new tip, new assignment). */
  trigger(): void;
  status(app?: string): LocalAppStatus[];
  /** The apps this node cannot run now (engine, image, failed starts), with why. */
  cannotRun(): Map<string, string>;
  /**
   * Leaves the app's containers alone (no start, restart or removal) until the returned release
   * is called: a backup pauses them, a restore stops and starts them. Resolves once no pass is
   * touching them.
   */
  hold(app: string): Promise<() => void>;
  /**
   * `hold` without waiting for a pass that may be at the app (a replication round's pause of a
   * few ms: a pass that finds the container paused unpauses it, which costs that round only its
   * cross-file consistency).
   */
  holdNow(app: string): () => void;
  close(): Promise<void>;
}

/** An image that is not on this node and could not be pulled. */
class ImageMissing extends Error {}

/** `runtime` with every call but `pull` (which may take long) bounded by `ms`. */
export function boundedRuntime(runtime: Runtime, ms: number): Runtime {
  const bound =
    <A extends unknown[], R>(what: string, f: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      withDeadline(f(...args), ms, `the Docker engine (${what})`);
  return {
    list: bound('list', runtime.list.bind(runtime)),
    inspect: bound('inspect', runtime.inspect.bind(runtime)),
    hasImage: bound('image inspect', runtime.hasImage.bind(runtime)),
    pull: runtime.pull.bind(runtime),
    create: bound('create', runtime.create.bind(runtime)),
    start: bound('start', runtime.start.bind(runtime)),
    remove: bound('remove', runtime.remove.bind(runtime)),
    listNetworks: bound('network list', runtime.listNetworks.bind(runtime)),
    createNetwork: bound('network create', runtime.createNetwork.bind(runtime)),
    removeNetwork: bound('network remove', runtime.removeNetwork.bind(runtime)),
    logs: bound('logs', runtime.logs.bind(runtime)),
    stats: bound('stats', runtime.stats.bind(runtime)),
    restart: bound('restart', runtime.restart.bind(runtime)),
    stop: bound('stop', runtime.stop.bind(runtime)),
    pause: bound('pause', runtime.pause.bind(runtime)),
    unpause: bound('unpause', runtime.unpause.bind(runtime)),
    ensureVolume: bound('volume create', runtime.ensureVolume.bind(runtime)),
    removeVolume: bound('volume remove', runtime.removeVolume.bind(runtime)),
    exec: bound('exec', runtime.exec.bind(runtime)),
  };
}

const RANK: Record<InstanceState, number> = { running: 0, starting: 1, pulling: 2, restarting: 3, failed: 4 };

interface Tracked extends ComponentStatus {
  app: string;
  revision: number;
  nextTryAt: number;
  runningSince?: number;
}

export function createReconciler(o: ReconcilerOptions): Reconciler {
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => {});
  const backoff = o.backoff ?? { baseMs: 1_000, maxMs: 30_000 };
  const stableMs = o.stableMs ?? 60_000;
  const engineTimeoutMs = o.engineTimeoutMs ?? 15_000;
  const maxStartFailures = o.maxStartFailures ?? 3;
  const runtime = boundedRuntime(o.runtime, engineTimeoutMs);
  const cannot = new CannotRun({ holdDownMs: o.holdDownMs ?? 60_000, now });
  // One engine probe at a time: an engine that never answers holds one request, not one per
  // pass; one stuck for four deadlines is given up (a new one goes out), lest it block for good.
  let probing: { list: Promise<ContainerSummary[]>; since: number } | undefined;
  const probe = (labels: Record<string, string>): Promise<ContainerSummary[]> => {
    if (!probing || now() - probing.since > 4 * engineTimeoutMs) {
      const list = o.runtime.list(labels);
      const mine = { list, since: now() };
      probing = mine;
      const done = () => {
        if (probing === mine) probing = undefined;
      };
      list.then(done, done);
    }
    return withDeadline(probing.list, engineTimeoutMs, 'the Docker engine (list)');
  };
  const tracked = new Map<string, Tracked>();
  /** Apps held by a backup or restore (count of holds): passes leave their containers alone. */
  const held = new Map<string, number>();
  let assignedNow: AssignedApp[] = [];
  let nodeNow: string | undefined;
  let engineDown: string | undefined;

  const delay = (restarts: number) =>
    Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, restarts - 1));

  const set = (key: string, t: Tracked, state: InstanceState, reason?: string) => {
    if (t.state !== state || t.reason !== reason) {
      if (state === 'failed' || t.state === 'failed')
        log(`fluxos: ${t.app}/${t.name} ${state}${reason ? `: ${reason}` : ''}`);
      t.since = now();
    }
    t.state = state;
    t.reason = reason;
    tracked.set(key, t);
  };

  async function ensureImage(image: string): Promise<void> {
    if (await runtime.hasImage(image)) return;
    try {
      await runtime.pull(image);
    } catch (e) {
      throw new ImageMissing(
        `image ${image} is not on this node and could not be pulled: ${engineMessage(e)}`,
      );
    }
  }

  /**
   * The tracked state of a component's container at the app's revision: new ones, and those of an
   * older revision (a fixed image is tried at once, not after the old one's backoff), start as `starting`.
   */
  function trackedFor(name: string, app: AssignedApp, component: string): Tracked {
    const known = tracked.get(name);
    const t: Tracked = (known?.revision === app.revision ? known : undefined) ?? {
      app: app.spec.name,
      name: component,
      revision: app.revision,
      state: 'starting',
      since: now(),
      restarts: 0,
      nextTryAt: 0,
    };
    t.revision = app.revision;
    return t;
  }

  /** Marks every component of an app failed (its network or wall could not be set up). */
  function failApp(nodeId: string, app: AssignedApp, reason: string): void {
    for (const c of app.spec.components) {
      const name = containerName(o.network, nodeId, app.spec.name, c.name);
      set(name, trackedFor(name, app, c.name), 'failed', reason);
    }
  }

  /** Mounts (creating or growing) the component's volumes and their Docker volumes. */
  async function ensureVolumes(nodeId: string, app: AssignedApp, component: AppComponent): Promise<void> {
    const wanted = component.volumes ?? [];
    if (wanted.length === 0) return;
    if (!o.volumes) throw new VolumeError('this node keeps no app volumes');
    if (o.prepareVolumes && wanted.some((v) => v.mode === 'replicated')) await o.prepareVolumes(nodeId, app);
    for (const v of wanted) {
      const path = await o.volumes.ensure({ app: app.spec.name, name: v.name, sizeGb: v.size });
      await runtime.ensureVolume(appVolumeName(o.network, nodeId, app.spec.name, v.name), path, {
        [LABELS.managed]: '1',
        [LABELS.network]: o.network,
        [LABELS.node]: nodeId,
        [LABELS.app]: app.spec.name,
      });
    }
  }

  let wallUntil = 0;
  async function ensureWall(): Promise<void> {
    if (!o.firewall || now() < wallUntil) return;
    await o.firewall.ensure();
    wallUntil = now() + 30_000; // someone may flush the rules: look again now and then
  }

  async function reconcileComponent(
    nodeId: string,
    app: AssignedApp,
    component: AppComponent,
    existing: ContainerSummary | undefined,
  ): Promise<void> {
    const name = containerName(o.network, nodeId, app.spec.name, component.name);
    const t = trackedFor(name, app, component.name);
    if (existing?.state === 'paused') {
      // Only a backup pauses (its app is held meanwhile): this one was cut short, by a node restart.
      await runtime.unpause(existing.id);
      log(`fluxos: unpaused ${name} (left paused by a backup cut short)`);
      existing = { ...existing, state: 'running' };
    }
    if (existing?.state === 'running') {
      t.containerId = existing.id;
      if (t.state !== 'running') t.runningSince = now();
      if (t.runningSince !== undefined && now() - t.runningSince >= stableMs) t.restarts = 0;
      set(name, t, 'running');
      return;
    }
    if (existing && t.state === 'running') {
      // It was running and stopped: a crash. Restart after a backoff that grows per restart.
      const d = await runtime.inspect(existing.id);
      t.restarts++;
      t.nextTryAt = now() + delay(t.restarts);
      const why = `exited with code ${d.exitCode ?? '?'}${d.oomKilled ? ' (out of memory)' : ''}${d.error ? `: ${d.error}` : ''}`;
      set(
        name,
        t,
        'restarting',
        `${why}; restart ${t.restarts} in ${Math.round(delay(t.restarts) / 1000)} s`,
      );
      return;
    }
    if (now() < t.nextTryAt) {
      tracked.set(name, t);
      return;
    }
    try {
      // Before every start, not only the first: after a reboot a volume's file system is not
      // mounted, and a container started then would write to the bare directory beneath.
      await ensureVolumes(nodeId, app, component);
      let id = existing?.id;
      if (!id) {
        set(name, t, 'pulling');
        await ensureImage(component.image);
        id = await runtime.create(
          containerOptions({
            network: o.network,
            nodeId,
            hostAddress: o.hostAddress,
            app: app.spec,
            revision: app.revision,
            component,
            secrets: app.secrets,
          }),
        );
      }
      t.containerId = id;
      await runtime.start(id);
      const d = await runtime.inspect(id);
      if (d.state === 'running') {
        t.runningSince = now();
        set(name, t, 'running');
      } else {
        t.restarts++;
        t.nextTryAt = now() + delay(t.restarts);
        set(
          name,
          t,
          'restarting',
          `exited at once with code ${d.exitCode ?? '?'}${d.error ? `: ${d.error}` : ''}`,
        );
      }
    } catch (e) {
      t.restarts++;
      t.nextTryAt = now() + delay(t.restarts);
      set(name, t, 'failed', engineMessage(e));
      if (e instanceof ImageMissing || e instanceof VolumeError)
        cannot.mark(app.spec.name, `${component.name}: ${e.message}`);
    }
  }

  async function pass(): Promise<void> {
    const nodeId = o.nodeId();
    nodeNow = nodeId;
    if (!nodeId) {
      tracked.clear();
      assignedNow = [];
      return;
    }
    const assigned = o.assigned();
    assignedNow = assigned;
    let actual: ContainerSummary[];
    try {
      actual = await probe({ [LABELS.network]: o.network, [LABELS.node]: nodeId });
      if (engineDown) log('fluxos: the Docker engine answers again');
      engineDown = undefined;
    } catch (e) {
      if (!engineDown) log(`fluxos: the Docker engine does not answer: ${engineMessage(e)}`);
      engineDown = `the Docker engine on this node does not answer: ${engineMessage(e)}`;
      // Nothing placed here runs while it is silent; the marks hold until a hold-down after it answers.
      for (const app of new Set([...assigned.map((a) => a.spec.name), ...cannot.current().keys()]))
        cannot.mark(app, engineDown);
      return;
    }
    const wanted = new Map<string, { revision: number; network: string; secrets: string }>();
    for (const a of assigned)
      for (const c of a.spec.components)
        wanted.set(containerName(o.network, nodeId, a.spec.name, c.name), {
          revision: a.revision,
          network: appNetworkName(o.network, nodeId, a.spec.name),
          secrets: a.secrets?.digest ?? '',
        });
    const byName = new Map<string, ContainerSummary>();
    for (const c of actual) {
      const w = wanted.get(c.name);
      if (held.has(c.labels[LABELS.app] ?? '')) {
        if (w !== undefined) byName.set(c.name, c);
        continue;
      }
      // One on another network (Docker's default bridge, before app networks) is re-created too.
      const stale = w !== undefined && c.labels[LABELS.revision] !== String(w.revision);
      const offNetwork = w !== undefined && !stale && !c.networks.includes(w.network);
      const secretsChanged =
        w !== undefined && !stale && !offNetwork && (c.labels[LABELS.secrets] ?? '') !== w.secrets;
      if (w === undefined || stale || offNetwork || secretsChanged) {
        try {
          await runtime.remove(c.id);
          log(
            `fluxos: removed ${c.name}${stale ? ' (new revision)' : offNetwork ? ' (not on its app network)' : secretsChanged ? ' (secrets changed)' : ''}`,
          );
        } catch (e) {
          log(`fluxos: could not remove ${c.name}: ${engineMessage(e)}`);
        }
        if (w !== undefined) tracked.delete(c.name);
        continue;
      }
      byName.set(c.name, c);
    }
    for (const key of [...tracked.keys()]) if (!wanted.has(key)) tracked.delete(key);
    const networks = await reconcileNetworks(nodeId, assigned);
    for (const app of assigned) {
      if (held.has(app.spec.name)) continue;
      const net = appNetworkName(o.network, nodeId, app.spec.name);
      try {
        await ensureWall();
        if (!networks.has(net)) {
          await runtime.createNetwork(networkOptions({ network: o.network, nodeId, app: app.spec }));
          networks.add(net);
        }
      } catch (e) {
        failApp(nodeId, app, `no network for the app: ${engineMessage(e)}`);
        continue;
      }
      // Dependencies first (`dependsOn`, as compose's depends_on: started, not healthy); one whose
      // dependencies do not run yet waits for a later pass, and a running one is left alone.
      for (const component of startOrder(app.spec.components)) {
        const name = containerName(o.network, nodeId, app.spec.name, component.name);
        const existing = byName.get(name);
        const waitingFor = (component.dependsOn ?? []).filter(
          (d) => tracked.get(containerName(o.network, nodeId, app.spec.name, d))?.state !== 'running',
        );
        if (existing?.state !== 'running' && waitingFor.length > 0) {
          const t = trackedFor(name, app, component.name);
          set(name, t, 'starting', `waiting for ${waitingFor.join(', ')} to run`);
          continue;
        }
        try {
          await reconcileComponent(nodeId, app, component, existing);
        } catch (e) {
          log(`fluxos: ${app.spec.name}: ${engineMessage(e)}`);
        }
        const t = tracked.get(name);
        if (t && t.state !== 'running' && t.restarts >= maxStartFailures)
          cannot.mark(
            app.spec.name,
            `${t.name}: ${t.reason ?? t.state} (${t.restarts} failed starts in a row)`,
          );
      }
    }
  }

  /**
   * Removes this node's app networks that no app here needs any more (their containers are gone
   * by now), and those whose `internal` no longer fits the spec (a new revision publishes a port,
   * or stops publishing); returns the names of those that stay.
   */
  async function reconcileNetworks(nodeId: string, assigned: AssignedApp[]): Promise<Set<string>> {
    const keep = new Set<string>();
    let found: NetworkSummary[];
    try {
      found = await runtime.listNetworks({ [LABELS.network]: o.network, [LABELS.node]: nodeId });
    } catch (e) {
      log(`fluxos: could not list app networks: ${engineMessage(e)}`);
      return keep;
    }
    const byApp = new Map(assigned.map((a) => [a.spec.name, a.spec]));
    for (const n of found) {
      const spec = byApp.get(n.labels[LABELS.app] ?? '');
      const fits =
        spec !== undefined &&
        n.name === appNetworkName(o.network, nodeId, spec.name) &&
        n.internal === publishesNothing(spec);
      if (fits) {
        keep.add(n.name);
        continue;
      }
      try {
        await runtime.removeNetwork(n.id);
        log(`fluxos: removed network ${n.name}${spec ? ' (internal changes)' : ''}`);
      } catch (e) {
        log(`fluxos: could not remove network ${n.name}: ${engineMessage(e)}`);
        if (spec !== undefined) keep.add(n.name); // still there: do not try to create it again
      }
    }
    return keep;
  }

  let told = new Map<string, string>();
  const passes = serialPasses(async () => {
    try {
      await pass();
    } finally {
      const marked = cannot.current();
      for (const [app, why] of marked)
        if (!told.has(app)) log(`fluxos: cannot run ${app} (other nodes take it): ${why}`);
      for (const app of told.keys()) if (!marked.has(app)) log(`fluxos: may run ${app} again`);
      told = marked;
      o.onCannotRun?.(marked);
    }
  });
  const reconcile = passes.run;
  function holdNow(app: string): () => void {
    held.set(app, (held.get(app) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (held.get(app) ?? 1) - 1;
      if (n > 0) held.set(app, n);
      else held.delete(app);
    };
  }

  const timer = setInterval(() => void reconcile(), o.intervalMs ?? 2_000);
  timer.unref();

  return {
    reconcile,
    trigger: () => void reconcile(),
    cannotRun: () => cannot.current(),
    async hold(app) {
      const release = holdNow(app);
      // A pass that began before the hold may still be at the app: this settles after it.
      await reconcile().catch(() => undefined);
      return release;
    },
    holdNow,
    status(app) {
      const node = nodeNow;
      if (!node) return [];
      const out: LocalAppStatus[] = [];
      for (const a of assignedNow) {
        if (app !== undefined && a.spec.name !== app) continue;
        const components: ComponentStatus[] = a.spec.components.map((c) => {
          const t = tracked.get(containerName(o.network, node, a.spec.name, c.name));
          if (engineDown)
            return { name: c.name, state: 'failed', since: now(), reason: engineDown, restarts: 0 };
          if (!t) return { name: c.name, state: 'starting', since: now(), restarts: 0 };
          return {
            name: c.name,
            state: t.state,
            since: t.since,
            restarts: t.restarts,
            ...(t.reason ? { reason: t.reason } : {}),
            ...(t.containerId ? { containerId: t.containerId } : {}),
          };
        });
        const worst = components.reduce((w, c) => (RANK[c.state] > RANK[w.state] ? c : w), components[0]);
        out.push({
          app: a.spec.name,
          node,
          revision: a.revision,
          state: worst.state,
          since: Math.max(...components.map((c) => c.since)),
          ...(worst.reason ? { reason: `${worst.name}: ${worst.reason}` } : {}),
          restarts: components.reduce((s, c) => s + c.restarts, 0),
          endpoints: a.spec.components.flatMap((c) => c.ports.map((p) => `${o.hostAddress}:${p.host}`)),
          components,
        });
      }
      return out;
    },
    async close() {
      clearInterval(timer);
      await passes.stop();
    },
  };
}
