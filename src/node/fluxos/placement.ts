// Placement at the chain's tip as this node sees it: every running app placed over the FluxNodes
// consensus counts (confirmed, not reported down) that this node's liveness view has alive, less,
// per app, the nodes whose heartbeats say they cannot run it (this node too); an app with
// replicated volumes stays on the node whose heartbeats say it runs it. A node
// builds it once (node/node.ts) and shares it: the app agent runs what it assigns here, the ingress
// routes to it, the API shows it. Cached per tip and liveness change, as status is polled.
import {
  type AppPlacement,
  appFromSpec,
  placeApps,
  placementNodesFromState,
  type RunningApp,
  replicatedVolumeGb,
  runningAppsFromState,
} from '../../core/apps/placement.ts';
import { toHex } from '../../core/crypto/hash.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import type { Chain } from '../chain/types.ts';
import type { Liveness } from '../liveness/service.ts';

export interface PlacementView {
  height: number;
  apps: Map<string, RunningApp>;
  placement: Map<string, AppPlacement>;
}

export interface Placement {
  /** Over the nodes consensus counts that this node's liveness view has alive (and able, per app). */
  view(): PlacementView;
  /** Over every node consensus counts, alive in this view or not (what failed over, and from where). */
  consensus(): PlacementView;
}

/**
 * Placement of every running app at the chain's current state, over the nodes consensus
 * counts (confirmed, not reported down) that `liveness`, when given, also has alive; an app
 * skips the nodes whose last heartbeat says they cannot run it.
 */
function computeView(
  chain: Chain,
  state: StateReader,
  liveness?: Pick<Liveness, 'isAlive' | 'get'>,
): PlacementView {
  const height = chain.tip().height;
  const running = runningAppsFromState(state, height);
  const nodes = placementNodesFromState(state, chain.params);
  const alive = liveness ? nodes.filter((n) => liveness.isAlive(n.id)) : nodes;
  // An app with replicated volumes stays on the node that runs it (its primary holds the newest
  // copy): the lowest id among alive nodes whose heartbeats say they run it, so views agree.
  const stateful = new Set(running.filter((a) => replicatedVolumeGb(a.spec) > 0).map((a) => a.name));
  const prefer = (app: string): string | undefined => {
    if (!liveness || !stateful.has(app)) return undefined;
    let best: string | undefined;
    for (const n of alive)
      if (liveness.get(n.id)?.running.has(app) && (best === undefined || n.id < best)) best = n.id;
    return best;
  };
  const placement = placeApps(
    alive,
    running.map((a) => appFromSpec(a.spec, a.registeredAt, chain.params)),
    liveness ? { cannotRun: (app, node) => liveness.get(node)?.unable.has(app) === true, prefer } : {},
  );
  return { height, apps: new Map(running.map((a) => [a.name, a])), placement };
}

/** `computeView` cached until the tip or the liveness view changes. */
function cachedView(
  chain: Chain,
  state: StateReader,
  liveness?: Pick<Liveness, 'isAlive' | 'get' | 'view'>,
): () => PlacementView {
  let cached: { key: string; view: PlacementView } | undefined;
  return () => {
    const key = `${toHex(chain.tip().hash)}/${liveness?.view.version ?? 0}`;
    if (cached?.key !== key) cached = { key, view: computeView(chain, state, liveness) };
    return cached.view;
  };
}

/** The placement views of a node over `state` (its chain's committed state at the tip). */
export function createPlacement(
  chain: Chain,
  state: StateReader,
  liveness?: Pick<Liveness, 'isAlive' | 'get' | 'view'>,
): Placement {
  return { view: cachedView(chain, state, liveness), consensus: cachedView(chain, state) };
}
