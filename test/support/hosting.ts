// A hosting node for the owner-route tests: one FluxNode on a local chain (no p2p, no miner), one app owned by a test key recorded over its genesis state and placed on it, a real FluxOS agent running it, and the REST API serving it.
import { createServer } from 'node:net';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { AppSpec } from '../../src/core/apps/spec.ts';
import { blockHash } from '../../src/core/codec/ids.ts';
import { AppRecord } from '../../src/core/codec/types.ts';
import { toHex } from '../../src/core/crypto/hash.ts';
import type { KeyPair } from '../../src/core/crypto/keys.ts';
import type { ChainParams } from '../../src/core/params/index.ts';
import { type ApiServer, startApiServer } from '../../src/node/api/server.ts';
import { type LocalChain, openChain } from '../../src/node/chain/chain.ts';
import { withDevnetFluxNodes } from '../../src/node/fluxnode/devnet.ts';
import { loadOrCreateOperatorKey, operatorKeyFile } from '../../src/node/fluxnode/operator.ts';
import type { PlacementView } from '../../src/node/fluxos/placement.ts';
import { createDockerRuntime } from '../../src/node/fluxos/runtime.ts';
import { type FluxOs, type FluxOsOptions, startFluxOs } from '../../src/node/fluxos/service.ts';
import { devnetParams } from '../../src/node/genesis.ts';

/** A port on 127.0.0.1 that was free a moment ago. */
export const freePort = (): Promise<number> =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

export interface HostingNode {
  chain: LocalChain;
  /** Its FluxNode id. */
  nodeId: string;
  operator: KeyPair;
  /** Short id of the chain (LABELS.network). */
  network: string;
  /** What placement says: the app on this node. Tests may change it (an app leaving the chain). */
  view: PlacementView;
  fluxos: FluxOs;
  server: ApiServer;
  url: string;
}

/**
 * Starts the node in `dir` hosting `spec`, owned by `owner` (an address): `params` may change the
 * devnet params, `agent` adds FluxOS options, `beforeAgent` runs once the chain is open.
 */
export async function startHostingNode(o: {
  dir: string;
  docker: Docker;
  spec: AppSpec;
  owner: Uint8Array;
  params?: (base: ChainParams) => ChainParams;
  agent?: Partial<FluxOsOptions>;
  beforeAgent?: (n: { chain: LocalChain; nodeId: string; network: string }) => Promise<void>;
}): Promise<HostingNode> {
  const name = o.spec.name;
  const apiPort = await freePort();
  const operator = loadOrCreateOperatorKey(operatorKeyFile(o.dir));
  const base = devnetParams(Date.now());
  const params = withDevnetFluxNodes(o.params ? o.params(base) : base, [
    { operator: operator.publicKey, endpoint: `127.0.0.1:${apiPort}` },
  ]);
  const chain = openChain({ params, dbPath: join(o.dir, 'chain.db') });
  const [me] = chain.fluxNodesOfOperator(operator.publicKey);
  const nodeId = me.id;
  const network = toHex(blockHash(chain.blockByHeight(0)!.header)).slice(0, 12);
  const record = AppRecord.serialize({
    owner: o.owner,
    spec: new TextEncoder().encode(JSON.stringify(o.spec)),
    revision: 1,
    registeredAt: 0,
    updatedAt: 0,
    expiresAt: 1_000,
    pricePerBlock: 1n,
    escrow: 1_000n,
    owed: 0n,
    hosts: [],
  });
  // The app as the chain records it, over the genesis state: its owner is what the node checks.
  const state = {
    get: (key: string) => (key === `app/${name}` ? record : chain.state.get(key)),
    scan: chain.state.scan?.bind(chain.state),
  };
  const view: PlacementView = {
    height: 0,
    apps: new Map([
      [name, { name, spec: o.spec, revision: 1, registeredAt: 0, expiresAt: 1_000, owner: o.owner }],
    ]),
    placement: new Map([[name, { name, wanted: 1, nodes: [nodeId] }]]),
  };
  await o.beforeAgent?.({ chain, nodeId, network });
  const fluxos = startFluxOs({
    chain,
    view: () => view,
    operatorKey: operator.publicKey,
    runtime: createDockerRuntime(o.docker),
    hostAddress: '127.0.0.1',
    intervalMs: 60_000,
    removeOnClose: true,
    ...o.agent,
  });
  const server = await startApiServer({
    chain,
    port: apiPort,
    apps: { state, fluxos, placement: { view: () => view, consensus: () => view } },
  });
  return { chain, nodeId, operator, network, view, fluxos, server, url: server.url };
}
