import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEVNET_REGIONS, withDevnetRegions } from '../../../src/cli/devnet-nodes.ts';
import { TxKind } from '../../../src/core/codec/types.ts';
import { encodeNodeDown } from '../../../src/core/nodes/payloads.ts';
import { withDevnetFluxNodes } from '../../../src/node/fluxnode/devnet.ts';
import { devnetParams } from '../../../src/node/genesis.ts';
import { createMiner } from '../../../src/node/miner/miner.ts';
import { signWithMinimumFee } from '../../../src/wallet/sign.ts';
import { filledKey } from '../../support/keys.ts';
import { apiFixture } from './fixture.ts';

const operatorKeys = [1, 2, 3, 4, 5].map((i) => filledKey(i));
const operators = operatorKeys.map((k) => k.publicKey);
const params = withDevnetRegions(
  withDevnetFluxNodes(
    devnetParams(Date.now()),
    operators.map((operator, i) => ({ operator, endpoint: `127.0.0.${i + 2}:16127` })),
  ),
);

describe('FluxNode regions on a devnet', () => {
  const api = apiFixture(params, 'nodes-api');

  it('gives genesis node i the region DEVNET_REGIONS[i mod 4]', () => {
    assert.deepEqual(
      params.genesis.nodes?.map((n) => n.region),
      ['EU-DE', 'NA-US', 'EU-FR', 'AS-JP', 'EU-DE'],
    );
    assert.equal(DEVNET_REGIONS.length, 4);
  });

  it('the nodes API shows each node’s region', async () => {
    const list = await api.client.nodes({ query: {} });
    assert.equal(list.count, 5);
    const byEndpoint = new Map(list.nodes.map((n) => [n.endpoint, n.region]));
    assert.deepEqual(
      operators.map((_, i) => byEndpoint.get(`127.0.0.${i + 2}:16127`)),
      ['EU-DE', 'NA-US', 'EU-FR', 'AS-JP', 'EU-DE'],
    );
    const one = await api.client.node({ params: { id: list.nodes[0].id } });
    assert.equal(one.region, list.nodes[0].region);
  });
});

describe('down FluxNodes in the nodes API', () => {
  const api = apiFixture(params, 'nodes-down-api');

  it('shows a node marked down, since when, and app earnings next to the rewards', async () => {
    const list = await api.client.nodes({ query: {} });
    assert.ok(list.nodes.every((n) => n.down === false && n.downSince === undefined && n.appEarned === '0'));
    const byOperator = new Map(list.nodes.map((n) => [n.operator, n.id]));
    const ids = operators.map((o) => byOperator.get(Buffer.from(o).toString('hex'))!);
    for (const i of [1, 2]) {
      const unsigned = { nonce: 0, kind: TxKind.nodeDown, payload: encodeNodeDown(ids[0], ids[i]) };
      assert.ok(api.chain.submitTx(signWithMinimumFee(unsigned, operatorKeys[i], params)).ok);
    }
    await createMiner({ chain: api.chain, minerAddress: new Uint8Array(20).fill(0xee) }).mineBlock();
    const node = await api.client.node({ params: { id: ids[0] } });
    assert.equal(node.status, 'confirmed');
    assert.equal(node.down, true);
    assert.equal(node.downSince, 1);
    assert.equal(node.queuePosition, undefined, 'out of the payout queue');
    const listed = (await api.client.nodes({ query: {} })).nodes.find((n) => n.id === ids[0])!;
    assert.equal(listed.downSince, 1);
    const rewards = await api.client.nodeRewards({ params: { id: ids[0] } });
    assert.equal(rewards.down, true);
    assert.equal(rewards.downSince, 1);
    assert.equal(rewards.appEarned, '0');
    assert.equal(rewards.lastAppPaidHeight, undefined);
  });
});
