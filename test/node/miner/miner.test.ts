import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { txId } from '../../../src/core/codec/ids.ts';
import { checkProofOfWork } from '../../../src/core/consensus/pow.ts';
import { COIN, createParams, devnet } from '../../../src/core/params/index.ts';
import { createMiner } from '../../../src/node/miner/miner.ts';
import { type TempChains, tempChains } from '../../support/chain.ts';
import { addressOf, testKeys } from '../../support/keys.ts';
import { testParams } from '../../support/params.ts';
import { transfer } from '../../support/tx.ts';

const keys = testKeys(3);
const [alice, bob] = keys;
const minerAddress = new Uint8Array(20).fill(0x42);

describe('miner', () => {
  let t: TempChains;
  const params = testParams(keys, { blocksBack: 1 });
  before(() => {
    t = tempChains(params);
  });
  after(() => t.cleanup());

  it('mines a block with the mempool transactions and is paid subsidy and fees', async () => {
    const chain = t.open('mine-one');
    const tx0 = transfer(params, alice, addressOf(bob), 3n * COIN, 0, 20n);
    const tx1 = transfer(params, alice, addressOf(bob), 1n * COIN, 1, 10n);
    assert.ok(chain.submitTx(tx0).ok);
    assert.ok(chain.submitTx(tx1).ok);
    const miner = createMiner({ chain, minerAddress });
    const block = await miner.mineBlock();
    assert.ok(checkProofOfWork(block.header));
    assert.equal(chain.tip().height, 1);
    assert.equal(block.txs.length, 2);
    assert.equal(chain.tx(txId(tx1))?.index, 1);
    assert.equal(chain.mempool(10).length, 0);
    assert.equal(
      chain.account(minerAddress).balance,
      params.emission.initialSubsidy / 2n + tx0.body.fee + tx1.body.fee,
    );
    assert.ok(block.header.time > chain.blockByHeight(0)!.header.time);
  });

  it('uses a time after the median time past even when the clock lags', async () => {
    const chain = t.open('lagging-clock');
    // The clock lags the genesis time by 5 s (within maxFutureMs, so the block still imports).
    const miner = createMiner({ chain, minerAddress, now: () => params.genesis.time - 5_000 });
    const b1 = await miner.mineBlock();
    const b2 = await miner.mineBlock();
    assert.equal(b1.header.time, params.genesis.time + 1);
    assert.ok(b2.header.time > b1.header.time);
  });

  it('paces blocks 0.75 to 1.25 block times apart when pacedMining is on, and stops', async () => {
    const paced = createParams(params, {
      blockTimeMs: 60,
      pow: { ...params.pow, pacedMining: true, asertHalfLifeMs: 3_600_000 },
      genesis: { ...params.genesis, time: Date.now() },
    });
    const t2 = tempChains(paced);
    try {
      const chain = t2.open('paced');
      const draws = [0, 0.999, 0.5, 0, 0.999];
      const miner = createMiner({ chain, minerAddress, chunk: 500, jitter: () => draws.shift() ?? 0.5 });
      const times: number[] = [];
      chain.on('block', (b) => times.push(b.header.time));
      miner.start();
      while (times.length < 4) await new Promise((r) => setTimeout(r, 10));
      await miner.stop();
      const height = chain.tip().height;
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(chain.tip().height, height, 'mined after stop');
      // Draws 0 and 0.999 give the earliest (45 ms) and latest (75 ms) due times after the parent.
      for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 45, `blocks ${times}`);
      assert.ok(times[1] - times[0] >= 74, `the late draw waits most of 1.25 block times: ${times}`);
      // The API stays responsive while mining: a query between chunks answers.
      assert.ok(chain.supply());
    } finally {
      t2.cleanup();
    }
  });

  it('restarts on a new tip when another block arrives', async () => {
    // A harder target (~130k attempts), so the miner is still searching when the other block lands.
    const hard = createParams(params, { pow: { ...params.pow, initialTarget: devnet.pow.powLimit >> 13n } });
    const t3 = tempChains(hard);
    try {
      const chain = t3.open('racing');
      const other = t3.open('other');
      const { buildBlock } = await import('../../../src/node/miner/template.ts');
      // Someone else's block 1, found with a synchronous search, lands while our miner searches.
      const theirs = buildBlock(other, [], new Uint8Array(20).fill(1), hard.genesis.time + hard.blockTimeMs);
      const miner = createMiner({ chain, minerAddress, chunk: 200 });
      const mined = miner.mineBlock();
      await new Promise((r) => setImmediate(r));
      assert.equal((await chain.importBlock(theirs, Date.now())).ok, true);
      const ours = await mined;
      assert.equal(ours.header.height, 2);
      assert.equal(chain.tip().height, 2);
    } finally {
      t3.cleanup();
    }
  });
});
