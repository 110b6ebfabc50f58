// Where an app's instances are: the nodes placement assigns it (over the nodes this node's
// liveness view has alive) and the nodes whose heartbeats say they run it, each at its address
// (the host of its FluxNode endpoint, where its agent binds published ports) and the first TCP
// port the app's components publish.

import { hostOfEndpoint } from '../../api/ingress.ts';
import type { Chain } from '../chain/types.ts';
import type { PlacementView } from '../fluxos/placement.ts';
import type { Liveness } from '../liveness/service.ts';
import type { Instance, Lookup, Resolver } from './proxy.ts';

export function placementResolver(
  view: () => PlacementView,
  endpointOf: (nodeId: string) => string | undefined,
  liveness?: Pick<Liveness, 'view'>,
): Resolver {
  return (name: string): Lookup => {
    const v = view();
    const app = v.apps.get(name);
    if (!app) return { found: false };
    const port = app.spec.components.flatMap((c) => c.ports).find((p) => p.protocol === 'tcp')?.host;
    if (port === undefined) return { found: true, instances: [], why: `app ${name} publishes no TCP port` };
    const instances: Instance[] = [];
    // The health check of the component that publishes `port` (the first with a TCP port).
    const check = app.spec.components.find((c) => c.ports.some((p) => p.protocol === 'tcp'))?.healthCheck;
    // Placed nodes (alive in our view) first, then nodes whose heartbeat says they run it (a
    // replacement during failover, or the old host during a hand-over).
    const hosts = new Set(v.placement.get(name)?.nodes ?? []);
    for (const id of liveness?.view.runningApp(name) ?? []) hosts.add(id);
    for (const id of hosts) {
      const endpoint = endpointOf(id);
      if (endpoint) instances.push({ host: hostOfEndpoint(endpoint), port, ...(check ? { check } : {}) });
    }
    const reason = v.placement.get(name)?.reason;
    return instances.length
      ? { found: true, instances }
      : {
          found: true,
          instances: [],
          why: `app ${name} has no running instance${reason ? `: ${reason}` : ''}`,
        };
  };
}

/** The resolver a node's ingress uses: placement at the tip, node addresses from FluxNode records. */
export function chainResolver(
  chain: Chain,
  view: () => PlacementView,
  liveness?: Pick<Liveness, 'view'>,
): Resolver {
  return placementResolver(
    view,
    (id) => {
      const endpoint = chain.fluxNode(id)?.endpoint;
      return endpoint ? new TextDecoder().decode(endpoint) : undefined;
    },
    liveness,
  );
}
