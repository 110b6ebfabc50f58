// Where an app's instances are, from placement at the tip: each hosting node's address (the host
// of its FluxNode endpoint, where its agent binds published ports) and the first TCP port the
// app's components publish. Placement is what consensus assigns, not what is known to run: until
// liveness is gossiped, a dead host is only noticed by the ingress's own connection attempts.
import { toHex } from '../../core/crypto/hash.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import type { Chain } from '../chain/types.ts';
import { computeView, type PlacementView } from '../fluxos/service.ts';
import type { Instance, Lookup, Resolver } from './proxy.ts';

/** The host part of `HOST:PORT` (brackets of an IPv6 address removed). */
export function hostOfEndpoint(endpoint: string): string {
  const at = endpoint.lastIndexOf(':');
  const host = at < 0 ? endpoint : endpoint.slice(0, at);
  return host.replace(/^\[(.*)\]$/, '$1');
}

export function placementResolver(
  view: () => PlacementView,
  endpointOf: (nodeId: string) => string | undefined,
): Resolver {
  return (name: string): Lookup => {
    const v = view();
    const app = v.apps.get(name);
    if (!app) return { found: false };
    const port = app.spec.components.flatMap((c) => c.ports).find((p) => p.protocol === 'tcp')?.host;
    if (port === undefined) return { found: true, instances: [], why: `app ${name} publishes no TCP port` };
    const instances: Instance[] = [];
    for (const id of v.placement.get(name)?.nodes ?? []) {
      const endpoint = endpointOf(id);
      if (endpoint) instances.push({ host: hostOfEndpoint(endpoint), port });
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

/** Placement at the chain's tip, computed once per tip (what FluxOs.view() does, without an agent). */
export function tipView(chain: Chain, state: StateReader): () => PlacementView {
  let cached: { tip: string; view: PlacementView } | undefined;
  return () => {
    const tip = toHex(chain.tip().hash);
    if (cached?.tip !== tip) cached = { tip, view: computeView(chain, state) };
    return cached.view;
  };
}

/** The resolver a node's ingress uses: placement at the tip, node addresses from FluxNode records. */
export function chainResolver(chain: Chain, view: () => PlacementView): Resolver {
  return placementResolver(view, (id) => {
    const endpoint = chain.fluxNode(id)?.endpoint;
    return endpoint ? new TextDecoder().decode(endpoint) : undefined;
  });
}
