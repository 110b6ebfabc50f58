import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEVNET_REGIONS, withDevnetRegions } from '../../../src/cli/devnet-nodes.ts';
import { createClient, type FluxClient } from '../../../src/client/client.ts';
import { Tx, TxKind } from '../../../src/core/codec/types.ts';
import { keyPairFromSecret } from '../../../src/core/crypto/keys.ts';
import { minimumFee, signTx } from '../../../src/core/ledger/tx.ts';
import { encodeNodeDown } from '../../../src/core/nodes/payloads.ts';
import { type ApiServer, startApiServer } from '../../../src/node/api/server.ts';
import { type LocalChain, openChain } from '../../../src/node/chain/chain.ts';
import { withDevnetFluxNodes } from '../../../src/node/fluxnode/devnet.ts';
import { createMiner } from '../../../src/node/miner/miner.ts';
import { devnetParams } from '../../../src/node/node.ts';

const operatorKeys = [1, 2, 3, 4, 5].map((i) => keyPairFromSecret(new Uint8Array(32).fill(i)));
const operators = operatorKeys.map((k) => k.publicKey);
const params = withDevnetRegions(
  withDevnetFluxNodes(
    devnetParams(Date.now()),
    operators.map((operator, i) => ({ operator, endpoint: `127.0.0.${i + 2}:16127` })),
  ),
);

describe('FluxNode regions on a devnet', () => {
  let dir: string;
  let chain: LocalChain;
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

describe('down FluxNodes in the nodes API', () => {
  let dir: string;
  let chain: LocalChain;
  let server: ApiServer;
  let client: FluxClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openflux-nodes-down-api-'));
    chain = openChain({ params, dbPath: join(dir, 'chain.db') });
    server = await startApiServer({ chain, port: 0 });
    client = createClient({ baseUrl: server.url });
  });
  after(async () => {
    await server.close();
    chain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows a node marked down, since when, and app earnings next to the rewards', async () => {
    const list = await client.nodes({ query: {} });
    assert.ok(list.nodes.every((n) => n.down === false && n.downSince === undefined && n.appEarned === '0'));
    const byOperator = new Map(list.nodes.map((n) => [n.operator, n.id]));
    const ids = operators.map((o) => byOperator.get(Buffer.from(o).toString('hex'))!);
    for (const i of [1, 2]) {
      const unsigned = { nonce: 0, fee: 0n, kind: TxKind.nodeDown, payload: encodeNodeDown(ids[0], ids[i]) };
      unsigned.fee = minimumFee(Tx.value_serializedSize(signTx(unsigned, operatorKeys[i], params)), params);
      assert.ok(chain.submitTx(signTx(unsigned, operatorKeys[i], params)).ok);
    }
    await createMiner({ chain, minerAddress: new Uint8Array(20).fill(0xee) }).mineBlock();
    const node = await client.node({ params: { id: ids[0] } });
    assert.equal(node.status, 'confirmed');
    assert.equal(node.down, true);
    assert.equal(node.downSince, 1);
    assert.equal(node.queuePosition, undefined, 'out of the payout queue');
    const listed = (await client.nodes({ query: {} })).nodes.find((n) => n.id === ids[0])!;
    assert.equal(listed.downSince, 1);
    const rewards = await client.nodeRewards({ params: { id: ids[0] } });
    assert.equal(rewards.down, true);
    assert.equal(rewards.downSince, 1);
    assert.equal(rewards.appEarned, '0');
    assert.equal(rewards.lastAppPaidHeight, undefined);
  });
});
