// A real node (SQLite, API on loopback) whose operator key confirms the FluxNode an owner
// started, without help; payouts, the API views, stop and unlock follow.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient, type FluxClient } from '../../../src/api/client.ts';
import { type Tx, TxKind } from '../../../src/core/codec/types.ts';
import { deriveKeyPair } from '../../../src/core/crypto/hd.ts';
import { addressBytes, type KeyPair } from '../../../src/core/crypto/keys.ts';
import { nodeIdOf } from '../../../src/core/nodes/lifecycle.ts';
import { encodeNodeStart, encodeNodeStop } from '../../../src/core/nodes/payloads.ts';
import { COIN, DEVNET_MNEMONIC } from '../../../src/core/params/index.ts';
import type { LocalChain } from '../../../src/node/chain/chain.ts';
import { devnetParams } from '../../../src/node/genesis.ts';
import { createMiner, type Miner } from '../../../src/node/miner/miner.ts';
import { createNode, type FluxNode } from '../../../src/node/node.ts';
import { signWithMinimumFee } from '../../../src/wallet/sign.ts';
import { until } from '../../support/wait.ts';

const params = devnetParams(Date.now());
const owner: KeyPair = deriveKeyPair(DEVNET_MNEMONIC, 0, 1);

function ownerTx(nonce: number, kind: number, payload: Uint8Array): Tx {
  return signWithMinimumFee({ nonce, kind, payload }, owner, params);
}

describe('FluxNode confirmation service', () => {
  let dir: string;
  let node: FluxNode;
  let miner: Miner;
  let client: FluxClient;
  const id = nodeIdOf(addressBytes(owner.publicKey), 0);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openflux-fluxnode-'));
    node = await createNode({
      network: 'devnet',
      datadir: dir,
      params,
      api: { host: '127.0.0.1', port: 0 },
      p2p: false,
      fluxnode: { cpuMs: 100, diskBytes: 2 ** 22 },
    });
    miner = createMiner({ chain: node.chain as LocalChain, minerAddress: new Uint8Array(20).fill(0xee) });
    client = createClient({ baseUrl: node.url! });
  });
  after(async () => {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('confirms a started node by itself, then the node is paid each block', async () => {
    const start = ownerTx(
      0,
      TxKind.nodeStart,
      encodeNodeStart({
        tier: 'cumulus',
        operator: node.operatorKey!,
        endpoint: '127.0.0.1:16127',
        deposit: COIN,
      }),
    );
    assert.ok(node.chain.submitTx(start).ok);
    await miner.mineBlock();
    assert.equal((await client.node({ params: { id } })).status, 'started');
    // The service measures the machine, then submits the confirmation.
    await until(
      'the confirmation in the mempool',
      () => (node.chain.mempool(10).find((e) => e.tx.body.kind === TxKind.nodeConfirm) ? true : undefined),
      10_000,
      50,
    );
    await miner.mineBlock();
    const confirmed = await client.node({ params: { id } });
    assert.equal(confirmed.status, 'confirmed');
    assert.equal(confirmed.confirmations, 1);
    assert.ok(confirmed.report.eventsPerSec > 0);
    assert.equal(confirmed.queuePosition, 0);
    const before = await client.nodeRewards({ params: { id } });
    await miner.mineBlock();
    const afterPay = await client.nodeRewards({ params: { id } });
    assert.equal(afterPay.payouts, before.payouts + 1);
    assert.ok(BigInt(afterPay.rewards) > BigInt(before.rewards));
    const queues = await client.payoutQueues();
    assert.deepEqual(
      queues.tiers.map((t) => t.length),
      [1, 0, 0],
    );
    const listed = await client.nodes({ query: { tier: 'cumulus', status: 'confirmed' } });
    assert.deepEqual(
      listed.nodes.map((n) => n.id),
      [id],
    );
    assert.equal((await client.nodes({ query: { tier: 'stratus' } })).count, 0);
  });

  it('confirms again each period, so the node never expires', async () => {
    const { confirmPeriod } = params.nodes;
    for (let i = 0; i < confirmPeriod + 3; i++) {
      await miner.mineBlock();
      await new Promise((r) => setTimeout(r, 20)); // let the service react to the block
    }
    const n = await client.node({ params: { id } });
    assert.equal(n.status, 'confirmed');
    assert.ok(n.confirmations >= 2, `confirmations ${n.confirmations}`);
  });

  it('stop by the owner unlocks the collateral after the delay', async () => {
    assert.ok(node.chain.submitTx(ownerTx(1, TxKind.nodeStop, encodeNodeStop(id))).ok);
    await miner.mineBlock();
    const stopping = await client.node({ params: { id } });
    assert.equal(stopping.status, 'unlocking');
    for (let i = 0; i < params.nodes.unlockDelay; i++) await miner.mineBlock();
    assert.equal((await client.node({ params: { id } })).status, 'closed');
    assert.equal(node.chain.account(addressBytes(owner.publicKey)).locked, 0n);
    const missing = await client.node({ params: { id: '00'.repeat(32) } }).catch((e) => e);
    assert.equal(missing.status, 404);
  });
});
