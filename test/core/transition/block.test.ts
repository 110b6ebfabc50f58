import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBlock, txId, txRoot } from '../../../src/core/codec/ids.ts';
import type { Block, Tx } from '../../../src/core/codec/types.ts';
import {
  validateBlockPostExecution,
  validateBlockPreExecution,
} from '../../../src/core/consensus/validate.ts';
import type { StateReader } from '../../../src/core/ledger/state.ts';
import { COIN, createParams } from '../../../src/core/params/index.ts';
import { applyBlock, BlockBuilder } from '../../../src/core/transition/block.ts';
import { genesisBlock } from '../../../src/core/transition/genesis.ts';
import { addressOf, filledKey } from '../../support/keys.ts';
import { testParams } from '../../support/params.ts';
import { genesisState } from '../../support/state.ts';
import { transfer } from '../../support/tx.ts';

const alice = filledKey(1);
const bob = filledKey(2);
const miner = addressOf(filledKey(9));
const params = testParams([alice], { genesisTime: 0, pow: 'preset', amount: 100n * COIN });

const genesis = (): StateReader => genesisState(params);
const pay = (amount: bigint, nonce: number): Tx => transfer(params, alice, addressOf(bob), amount, nonce);

/** A block at height 1 holding what the builder kept of `txs`. */
function build(base: StateReader, txs: Tx[]): Block {
  const parent = genesisBlock(params).header;
  const started = BlockBuilder.start(base, {
    params,
    height: 1,
    miner,
    parentStateRoot: parent.stateRoot,
  });
  assert.ok(started.ok);
  const kept = txs.filter((tx) => started.builder.addTx(tx).ok);
  const effects = started.builder.finish();
  const header = { ...parent, height: 1, stateRoot: effects.stateRoot, txRoot: txRoot(kept), miner };
  return { header, txs: kept, proof: new Uint8Array() };
}

describe('block building and applying', () => {
  it('run the same steps: a built block applies to the state root the builder computed', () => {
    const base = genesis();
    // The second spends more than is left and the third reuses a nonce: the builder leaves both out.
    const block = build(base, [pay(10n * COIN, 0), pay(95n * COIN, 1), pay(COIN, 0)]);
    assert.equal(block.txs.length, 1);
    const applied = applyBlock(base, block, {
      params,
      parentStateRoot: genesisBlock(params).header.stateRoot,
    });
    assert.ok(applied.ok, applied.ok ? '' : applied.error.message);
    assert.deepEqual(applied.effects.stateRoot, block.header.stateRoot);
    assert.equal(applied.effects.fees, block.txs[0].body.fee);
  });

  it('finishes a block once', () => {
    const started = BlockBuilder.start(genesis(), {
      params,
      height: 1,
      miner,
      parentStateRoot: new Uint8Array(32),
    });
    assert.ok(started.ok);
    started.builder.finish();
    assert.throws(() => started.builder.finish(), /finished/);
    assert.throws(() => started.builder.addTx(pay(COIN, 0)), /finished/);
  });
});

describe('checks before and after execution', () => {
  const base = genesis();
  const block = build(base, [pay(COIN, 0)]);

  it('count the transactions before looking at them', () => {
    const few = createParams(params, { limits: { ...params.limits, maxBlockTxs: 0 } });
    const r = validateBlockPreExecution({ ...block, txs: [null as unknown as Tx] }, few);
    assert.ok(
      !r.ok && r.error.code === 'BAD_BLOCK' && /1 transactions, the limit is 0/.test(r.error.message),
    );
  });

  it('refuse a malformed transaction, a block over the byte limit and a tx root that does not match', () => {
    const bad = validateBlockPreExecution(
      { ...block, txs: [{ ...block.txs[0], signature: new Uint8Array(3) }] },
      params,
    );
    assert.ok(
      !bad.ok && bad.error.code === 'MALFORMED' && /transaction 0: signature/.test(bad.error.message),
    );
    const small = createParams(params, { limits: { ...params.limits, maxBlockBytes: 100 } });
    const big = validateBlockPreExecution(block, small);
    assert.ok(!big.ok && /bytes, the limit is 100/.test(big.error.message));
    const swapped = validateBlockPreExecution({ ...block, txs: [pay(2n * COIN, 0)] }, params);
    assert.ok(!swapped.ok && /tx root/.test(swapped.error.message));
  });

  it('give the encoding and the transaction ids of a body that passes', () => {
    const r = validateBlockPreExecution(block, params);
    assert.ok(r.ok);
    assert.deepEqual(r.body.encoded, encodeBlock(block));
    assert.deepEqual(r.body.txIds, block.txs.map(txId));
  });

  it('refuse a state root the execution did not compute', () => {
    const r = validateBlockPostExecution(block.header, { stateRoot: new Uint8Array(32).fill(7) });
    assert.ok(!r.ok && /state root/.test(r.error.message));
    assert.deepEqual(validateBlockPostExecution(block.header, { stateRoot: block.header.stateRoot }), {
      ok: true,
    });
  });
});
