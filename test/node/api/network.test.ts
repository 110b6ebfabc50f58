import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from '../../../src/api/client.ts';
import { createDevNode } from '../../../src/node/dev-node.ts';
import type { FluxNode } from '../../../src/node/node.ts';

describe('GET /network', () => {
  let a: FluxNode;
  let b: FluxNode;
  before(async () => {
    a = await createDevNode({ p2p: true });
    b = await createDevNode({ p2p: false });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  it("shows the node's peer id, listen addresses and peers, and chain info counts the peers", async () => {
    const client = createClient({ baseUrl: a.url! });
    const net = await client.network();
    assert.equal(net.enabled, true);
    assert.equal(net.peerId, a.p2p!.peerId);
    assert.ok(net.listen.length > 0 && net.listen.every((addr) => addr.endsWith(`/p2p/${net.peerId}`)));
    assert.deepEqual(net.peers, []);
    assert.equal(net.syncing, false);
    const info = await client.chainInfo();
    assert.equal(info.peers, 0);
    assert.equal(info.syncing, false);
  });

  it('says p2p is off on a node without it', async () => {
    const client = createClient({ baseUrl: b.url! });
    const net = await client.network();
    assert.equal(net.enabled, false);
    assert.equal((await client.chainInfo()).peers, undefined);
  });
});
