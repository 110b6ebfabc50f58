// The node agent: continuously and idempotently makes what Docker runs for this node equal to
// what placement assigns to it. Each pass: list this node's containers (by label), remove those no
// longer assigned or of an older spec revision, then for every assigned app and component find or
// pull the image, create, start, and restart a crashed container with exponential backoff. Every
// app is handled on its own: one that fails is reported with the reason and does not block others.
import type { AppSpec } from '../../core/apps/spec.ts';
import { serialPasses } from '../passes.ts';
import { containerName, containerOptions, LABELS } from './options.ts';
import { type ContainerSummary, engineMessage, type Runtime } from './runtime.ts';

export type InstanceState = 'pulling' | 'starting' | 'running' | 'restarting' | 'failed';

export interface AssignedApp {
  spec: AppSpec;
  revision: number;
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
  intervalMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** A container running this long has its restart count reset. */
  stableMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export interface Reconciler {
  /** One pass now (passes never overlap; a call during a pass runs another one after it). */
  reconcile(): Promise<void>;
  /** Asks for a pass soon (new tip, new assignment). */
  trigger(): void;
  status(app?: string): LocalAppStatus[];
  close(): Promise<void>;
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
  const tracked = new Map<string, Tracked>();
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
    if (await o.runtime.hasImage(image)) return;
    try {
      await o.runtime.pull(image);
    } catch (e) {
      throw new Error(`image ${image} is not on this node and could not be pulled: ${engineMessage(e)}`);
    }
  }

  async function reconcileComponent(
    nodeId: string,
    app: AssignedApp,
    index: number,
    existing: ContainerSummary | undefined,
  ): Promise<void> {
    const component = app.spec.components[index];
    const name = containerName(o.network, nodeId, app.spec.name, component.name);
    const t: Tracked = tracked.get(name) ?? {
      app: app.spec.name,
      name: component.name,
      revision: app.revision,
      state: 'starting',
      since: now(),
      restarts: 0,
      nextTryAt: 0,
    };
    t.revision = app.revision;
    if (existing?.state === 'running') {
      t.containerId = existing.id;
      if (t.state !== 'running') t.runningSince = now();
      if (t.runningSince !== undefined && now() - t.runningSince >= stableMs) t.restarts = 0;
      set(name, t, 'running');
      return;
    }
    if (existing && t.state === 'running') {
      // It was running and stopped: a crash. Restart after a backoff that grows per restart.
      const d = await o.runtime.inspect(existing.id);
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
      let id = existing?.id;
      if (!id) {
        set(name, t, 'pulling');
        await ensureImage(component.image);
        id = await o.runtime.create(
          containerOptions({
            network: o.network,
            nodeId,
            hostAddress: o.hostAddress,
            app: app.spec,
            revision: app.revision,
            component,
          }),
        );
      }
      t.containerId = id;
      await o.runtime.start(id);
      const d = await o.runtime.inspect(id);
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
      actual = await o.runtime.list({ [LABELS.network]: o.network, [LABELS.node]: nodeId });
      if (engineDown) log('fluxos: the Docker engine answers again');
      engineDown = undefined;
    } catch (e) {
      if (!engineDown) log(`fluxos: the Docker engine does not answer: ${engineMessage(e)}`);
      engineDown = `the Docker engine on this node does not answer: ${engineMessage(e)}`;
      return;
    }
    const wanted = new Map<string, number>();
    for (const a of assigned)
      for (const c of a.spec.components)
        wanted.set(containerName(o.network, nodeId, a.spec.name, c.name), a.revision);
    const byName = new Map<string, ContainerSummary>();
    for (const c of actual) {
      const revision = wanted.get(c.name);
      if (revision === undefined || c.labels[LABELS.revision] !== String(revision)) {
        try {
          await o.runtime.remove(c.id);
          log(`fluxos: removed ${c.name}${revision === undefined ? '' : ' (new revision)'}`);
        } catch (e) {
          log(`fluxos: could not remove ${c.name}: ${engineMessage(e)}`);
        }
        if (revision !== undefined) tracked.delete(c.name);
        continue;
      }
      byName.set(c.name, c);
    }
    for (const key of [...tracked.keys()]) if (!wanted.has(key)) tracked.delete(key);
    for (const app of assigned) {
      for (let i = 0; i < app.spec.components.length; i++) {
        const name = containerName(o.network, nodeId, app.spec.name, app.spec.components[i].name);
        try {
          await reconcileComponent(nodeId, app, i, byName.get(name));
        } catch (e) {
          log(`fluxos: ${app.spec.name}: ${engineMessage(e)}`);
        }
      }
    }
  }

  const passes = serialPasses(pass);
  const reconcile = passes.run;

  const timer = setInterval(() => void reconcile(), o.intervalMs ?? 2_000);
  timer.unref();

  return {
    reconcile,
    trigger: () => void reconcile(),
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
