// FluxOS on a node: placement at the chain's tip (cached per tip), this machine's FluxNode id
// (from its operator key), and the reconciler that runs what placement assigns here.
import {
  type AppPlacement,
  appFromSpec,
  placeApps,
  placementNodesFromState,
  runningAppsFromState,
} from '../../core/apps/placement.ts';
import type { AppSpec } from '../../core/apps/spec.ts';
import { blockHash } from '../../core/codec/ids.ts';
import { toHex } from '../../core/crypto/hash.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import { NodeStatus } from '../../core/nodes/types.ts';
import type { Chain } from '../chain/types.ts';
import { containerName, LABELS } from './options.ts';
import { createReconciler, type LocalAppStatus, type Reconciler } from './reconciler.ts';
import type { Runtime } from './runtime.ts';

export interface RunningApp {
  name: string;
  spec: AppSpec;
  revision: number;
  registeredAt: number;
  expiresAt: number;
  owner: Uint8Array;
}

export interface PlacementView {
  height: number;
  apps: Map<string, RunningApp>;
  placement: Map<string, AppPlacement>;
}

export interface FluxOs {
  /** This machine's confirmed FluxNode id, if it has one. */
  nodeId(): string | undefined;
  hostAddress: string;
  /** Placement at the tip (computed once per tip). */
  view(): PlacementView;
  status(app?: string): LocalAppStatus[];
  /** The last lines a component's container wrote on this node. */
  logs(app: string, component: string | undefined, opts: { tail: number; since?: number }): Promise<string>;
  reconciler: Reconciler;
  close(): Promise<void>;
}

export interface FluxOsOptions {
  chain: Chain;
  /** Committed state at the tip (the chain's store). */
  state: StateReader;
  /** The operator key of this machine's FluxNodes (see fluxnode/operator.ts). */
  operatorKey: Uint8Array;
  runtime: Runtime;
  /** Where published ports bind: the node's own address. */
  hostAddress: string;
  intervalMs?: number;
  log?: (line: string) => void;
}

/** Placement of every running app at the chain's current state. */
export function computeView(chain: Chain, state: StateReader): PlacementView {
  const height = chain.tip().height;
  const running = runningAppsFromState(state, height);
  const placement = placeApps(
    placementNodesFromState(state, chain.params),
    running.map((a) => appFromSpec(a.spec, a.registeredAt)),
  );
  return { height, apps: new Map(running.map((a) => [a.name, a])), placement };
}

export function startFluxOs(o: FluxOsOptions): FluxOs {
  const { chain } = o;
  let cached: { tip: string; view: PlacementView } | undefined;
  const view = (): PlacementView => {
    const tip = toHex(chain.tip().hash);
    if (cached?.tip !== tip) cached = { tip, view: computeView(chain, o.state) };
    return cached.view;
  };
  const nodeId = (): string | undefined =>
    chain.fluxNodesOfOperator(o.operatorKey).find((n) => n.node.status === NodeStatus.confirmed)?.id;
  const genesis = chain.blockByHeight(0);
  if (!genesis) throw new Error('the chain has no genesis block');
  const network = toHex(blockHash(genesis.header)).slice(0, 12);
  const reconciler = createReconciler({
    runtime: o.runtime,
    network,
    nodeId,
    hostAddress: o.hostAddress,
    intervalMs: o.intervalMs,
    log: o.log,
    assigned: () => {
      const me = nodeId();
      if (!me) return [];
      const v = view();
      const out = [];
      for (const [name, p] of v.placement) {
        const app = v.apps.get(name);
        if (app && p.nodes.includes(me)) out.push({ spec: app.spec, revision: app.revision });
      }
      return out;
    },
  });
  const onBlock = () => reconciler.trigger();
  chain.on('block', onBlock);
  reconciler.trigger();
  return {
    nodeId,
    hostAddress: o.hostAddress,
    view,
    status: (app) => reconciler.status(app),
    async logs(app, component, opts) {
      const me = nodeId();
      const running = view().apps.get(app);
      if (!me || !running) throw new Error(`app ${app} does not run on this node`);
      const c = component
        ? running.spec.components.find((x) => x.name === component)
        : running.spec.components[0];
      if (!c) throw new Error(`app ${app} has no component ${component}`);
      const found = await o.runtime.list({
        [LABELS.network]: network,
        [LABELS.node]: me,
        [LABELS.app]: app,
        [LABELS.component]: c.name,
      });
      const name = containerName(network, me, app, c.name);
      const container = found.find((x) => x.name === name);
      if (!container) throw new Error(`no container of ${app}/${c.name} on this node yet`);
      return o.runtime.logs(container.id, { tail: opts.tail, since: opts.since, timestamps: true });
    },
    reconciler,
    async close() {
      chain.off('block', onBlock);
      await reconciler.close();
    },
  };
}
