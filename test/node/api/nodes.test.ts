import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEVNET_REGIONS, withDevnetRegions } from '../../../src/cli/devnet-nodes.ts';
import { createClient, type FluxClient } from '../../../src/client/client.ts';
import { keyPairFromSecret } from '../../../src/core/crypto/keys.ts';
import { type ApiServer, startApiServer } from '../../../src/node/api/server.ts';
import { openChain } from '../../../src/node/chain/chain.ts';
import type { Chain } from '../../../src/node/chain/types.ts';
import { withDevnetFluxNodes } from '../../../src/node/fluxnode/devnet.ts';
import { devnetParams } from '../../../src/node/node.ts';

const operators = [1, 2, 3, 4, 5].map((i) => keyPairFromSecret(new Uint8Array(32).fill(i)).publicKey);
const params = withDevnetRegions(
  withDevnetFluxNodes(
    devnetParams(Date.now()),
    operators.map((operator, i) => ({ operator, endpoint: `127.0.0.${i + 2}:16127` })),
  ),
);

describe('FluxNode regions on a devnet', () => {
  let dir: string;
  let chain: Chain;
  let server: ApiServer;
  let client: FluxClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openflux-nodes-api-'));
    chain = openChain({ params, dbPath: join(dir, 'chain.db') });
    server = await startApiServer({ chain, port: 0 });
    client = createClient({ baseUrl: server.url });
  });
  after(async () => {
    await server.close();
    chain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives genesis node i the region DEVNET_REGIONS[i mod 4]', () => {
    assert.deepEqual(
      params.genesis.nodes?.map((n) => n.region),
      ['EU-DE', 'NA-US', 'EU-FR', 'AS-JP', 'EU-DE'],
    );
    assert.equal(DEVNET_REGIONS.length, 4);
  });

  it('the nodes API shows each node’s region', async () => {
    const list = await client.nodes({ query: {} });
    assert.equal(list.count, 5);
    const byEndpoint = new Map(list.nodes.map((n) => [n.endpoint, n.region]));
    assert.deepEqual(
      operators.map((_, i) => byEndpoint.get(`127.0.0.${i + 2}:16127`)),
      ['EU-DE', 'NA-US', 'EU-FR', 'AS-JP', 'EU-DE'],
    );
    const one = await client.node({ params: { id: list.nodes[0].id } });
    assert.equal(one.region, list.nodes[0].region);
  });
});
