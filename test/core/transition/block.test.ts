import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBlock, txId, txRoot } from '../../../src/core/codec/ids.ts';
import type { Block, Tx } from '../../../src/core/codec/types.ts';
import {
  validateBlockPostExecution,
  validateBlockPreExecution,
} from '../../../src/core/consensus/validate.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes, keyPairFromSecret } from '../../../src/core/crypto/keys.ts';
import type { StateReader } from '../../../src/core/ledger/state.ts';
import { encodeTransfer, minimumFee, signTx, txSize } from '../../../src/core/ledger/tx.ts';
import { COIN, createParams, devnet } from '../../../src/core/params/index.ts';
import { applyBlock, BlockBuilder } from '../../../src/core/transition/block.ts';
import { genesisBlock, genesisEffects } from '../../../src/core/transition/genesis.ts';

const alice = keyPairFromSecret(new Uint8Array(32).fill(1));
const bob = keyPairFromSecret(new Uint8Array(32).fill(2));
const miner = addressBytes(keyPairFromSecret(new Uint8Array(32).fill(9)).publicKey);
const params = createParams(devnet, {
  genesis: { time: 0, allocations: [{ address: toHex(addressBytes(alice.publicKey)), amount: 100n * COIN }] },
});

function genesisState(): StateReader {
  const map = new Map(genesisEffects(params).changes as Array<[string, Uint8Array]>);
  return { get: (key) => map.get(key) };
}

function transfer(amount: bigint, nonce: number): Tx {
  const payload = encodeTransfer(addressBytes(bob.publicKey), amount);
  const unsigned = { nonce, fee: 0n, kind: 1, payload };
  const fee = minimumFee(txSize(signTx(unsigned, alice, params)), params);
  return signTx({ ...unsigned, fee }, alice, params);
}

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
    const base = genesisState();
    // The second spends more than is left and the third reuses a nonce: the builder leaves both out.
    const block = build(base, [transfer(10n * COIN, 0), transfer(95n * COIN, 1), transfer(COIN, 0)]);
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
    const started = BlockBuilder.start(genesisState(), {
      params,
      height: 1,
      miner,
      parentStateRoot: new Uint8Array(32),
    });
    assert.ok(started.ok);
    started.builder.finish();
    assert.throws(() => started.builder.finish(), /finished/);
    assert.throws(() => started.builder.addTx(transfer(COIN, 0)), /finished/);
  });
});

describe('checks before and after execution', () => {
  const base = genesisState();
  const block = build(base, [transfer(COIN, 0)]);

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
    const swapped = validateBlockPreExecution({ ...block, txs: [transfer(2n * COIN, 0)] }, params);
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
