// PoUW blocks over the network: a late node syncs a chain that crosses the activation height,
// and a PoUW block mined afterwards reaches it by gossip.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createParams } from '../../../src/core/params/index.ts';
import { addrOf, extendOnSchedule, sameTip, testNet } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';
import { waitFor } from '../../support/wait.ts';

const net = testNet();
after(() => net.close());
const node = net.node;

describe('PoUW over p2p', () => {
  it('syncs a chain across the switch and relays a new PoUW block', async () => {
    const params = createParams(liveParams(), { activations: { pouw: 4 } });
    const a = await node('a', params);
    await extendOnSchedule(a.chain, 8);
    assert.ok(a.chain.blockByHeight(6)!.proof.length > 0);
    const b = await node('b', params, { bootstrap: [addrOf(a)] });
    await waitFor('b to sync 8 blocks, 5 of them PoUW', () => sameTip([a, b]));
    await extendOnSchedule(a.chain, 1);
    await waitFor('the PoUW block to reach b by gossip', () => sameTip([a, b]));
    assert.equal(b.chain.tip().height, 9);
  });
});
