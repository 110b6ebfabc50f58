// The routes the CLI polls answer from what was computed once per tip (or per change of the
// mempool), not by reading blocks or scanning state on every request: counted here on the
// chain's methods, across new blocks and a reorg.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient, type FluxClient } from '../../../src/api/client.ts';
import { encodeTx } from '../../../src/core/codec/ids.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes, encodeAddress } from '../../../src/core/crypto/keys.ts';
import { createParams, devnet } from '../../../src/core/params/index.ts';
import { type ApiServer, startApiServer } from '../../../src/node/api/server.ts';
import { type LocalChain, openChain } from '../../../src/node/chain/chain.ts';
import { buildBlock } from '../../../src/node/miner/miner.ts';
import { ALICE } from '../../support/keys.ts';
import { extendOnSchedule } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';
import { payment } from '../../support/tx.ts';

// PoUW from height 3 with an easy per-MAC target: blocks carry proofs, so the paid-job share has
// blocks to look at.
const params = createParams(liveParams(), {
  activations: { pouw: 3 },
  pouw: { ...devnet.pouw, initialTargetPerMac: 1n << 236n },
});
const COUNTED = [
  'blockByHeight',
  'blockByHash',
  'blockProof',
  'mempool',
  'fluxNodes',
  'payoutQueue',
] as const;
type Counted = (typeof COUNTED)[number];

/** The chain with its calls to the methods that read blocks or scan counted. */
function counting(chain: LocalChain): { chain: LocalChain; calls: Record<Counted, number>; reset(): void } {
  const calls = Object.fromEntries(COUNTED.map((m) => [m, 0])) as Record<Counted, number>;
  const proxy = new Proxy(chain, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if ((COUNTED as readonly string[]).includes(prop as string))
        return (...args: unknown[]) => {
          calls[prop as Counted]++;
          return value.apply(target, args);
        };
      return value.bind(target);
    },
  });
  return {
    chain: proxy,
    calls,
    reset: () => {
      for (const m of COUNTED) calls[m] = 0;
    },
  };
}

/** `count` blocks on schedule mined to `miner`: another miner makes another branch. */
async function extendBy(chain: LocalChain, count: number, miner: Uint8Array): Promise<void> {
  for (let i = 0; i < count; i++) {
    const time = chain.tip().header.time + chain.params.blockTimeMs;
    const r = await chain.importBlock(buildBlock(chain, [], miner, time), Date.now());
    assert.ok(r.ok, r.ok ? '' : r.error.message);
  }
}

describe('polled routes', () => {
  let dir: string;
  let chain: LocalChain;
  let counted: ReturnType<typeof counting>;
  let server: ApiServer;
  let client: FluxClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openflux-polled-'));
    chain = openChain({ params, dbPath: join(dir, 'chain.db') });
    await extendOnSchedule(chain, 5);
    await extendOnSchedule(chain, 1, [payment(params, ALICE, 0), payment(params, ALICE, 1)]);
    counted = counting(chain);
    server = await startApiServer({ chain: counted.chain, port: 0, jobs: { state: chain.state } });
    client = createClient({ baseUrl: server.url });
  });
  after(async () => {
    await server.close();
    chain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a block’s proof without its transactions, empty before PoUW', () => {
    assert.deepEqual(chain.blockProof(chain.hashAtHeight(1)!), new Uint8Array());
    const block = chain.blockByHeight(6)!;
    assert.equal(block.txs.length, 2);
    const proof = chain.blockProof(chain.hashAtHeight(6)!);
    assert.ok(proof && proof.length > 0);
    assert.deepEqual(proof, block.proof);
    assert.equal(chain.hashAtHeight(99), undefined);
  });

  it('answers chain info from the tip: one block proof read per new block, no block decoded', async () => {
    const first = await client.chainInfo();
    assert.equal(first.height, 6);
    assert.equal(first.consensus, 'pouw');
    assert.equal(first.pouw?.recentBlocks, 4, 'blocks 3..6 are PoUW blocks');
    assert.equal(counted.calls.blockProof, 4);
    counted.reset();
    for (let i = 0; i < 20; i++) assert.deepEqual(await client.chainInfo(), first);
    assert.deepEqual(counted.calls, {
      ...counted.calls,
      blockByHeight: 0,
      blockByHash: 0,
      blockProof: 0,
      mempool: 0,
    });

    await extendOnSchedule(chain, 1);
    const next = await client.chainInfo();
    for (let i = 0; i < 20; i++) await client.chainInfo();
    assert.equal(next.height, 7);
    assert.equal(next.pouw?.recentBlocks, 5);
    assert.notEqual(next.tipHash, first.tipHash);
    assert.ok(BigInt(next.supply.minted) > BigInt(first.supply.minted));
    assert.equal(counted.calls.blockProof, 1, 'only the new block’s proof is read');
    assert.equal(counted.calls.blockByHeight + counted.calls.blockByHash, 0);
  });

  it('follows a reorg to a heavier branch', async () => {
    const before = await client.chainInfo();
    // A second chain from the same genesis, mined by another address, two blocks longer.
    const otherDir = mkdtempSync(join(tmpdir(), 'openflux-polled-other-'));
    const other = openChain({ params, dbPath: join(otherDir, 'chain.db') });
    try {
      await extendBy(other, before.height + 2, new Uint8Array(20).fill(3));
      for (let h = 1; h <= other.tip().height; h++) {
        const r = await chain.importBlock(other.blockByHeight(h)!, Date.now());
        assert.ok(r.ok, r.ok ? '' : r.error.message);
      }
      const after = await client.chainInfo();
      assert.equal(after.tipHash, toHex(other.tip().hash));
      assert.equal(after.height, before.height + 2);
      assert.equal(after.pouw?.recentBlocks, after.height - 2);
    } finally {
      other.close();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('answers an account from the mempool as it was last changed, and nodes from the tip', async () => {
    const address = encodeAddress(params.addressPrefix, addressBytes(ALICE.publicKey));
    counted.reset();
    for (let i = 0; i < 10; i++) await client.account({ params: { address } });
    assert.equal(counted.calls.mempool, 1);
    const account = await client.account({ params: { address } });
    await client.submitTx({ body: { tx: toHex(encodeTx(payment(params, ALICE, account.pendingNonce))) } });
    const pending = await client.account({ params: { address } });
    assert.equal(pending.pendingNonce, account.pendingNonce + 1, 'the new transaction counts at once');
    assert.equal(counted.calls.mempool, 2);

    counted.reset();
    for (let i = 0; i < 10; i++) await client.nodes();
    for (let i = 0; i < 10; i++) await client.payoutQueues();
    assert.equal(counted.calls.fluxNodes, 1);
    assert.equal(counted.calls.payoutQueue, 3, 'each tier’s queue read once');
  });
});
