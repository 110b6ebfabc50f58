import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { txId } from '../../../src/core/codec/ids.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { SignatureVerifier } from '../../../src/core/crypto/keys.ts';
import { accountId, accounts } from '../../../src/core/ledger/state.ts';
import { signTx, txSize } from '../../../src/core/ledger/tx.ts';
import { COIN, createParams } from '../../../src/core/params/index.ts';
import { MAX_NONCE_GAP, Mempool } from '../../../src/node/chain/mempool.ts';
import { extend, type TempChains, tempChains } from '../../support/chain.ts';
import { addressOf, testKeys } from '../../support/keys.ts';
import { testParams } from '../../support/params.ts';
import { transfer } from '../../support/tx.ts';

const keys = testKeys(6);
const params = testParams(keys);
const [alice, bob, carol, dave, erin, frank] = keys;

/** A mempool over a plain in-memory state (the chain's StateReader interface). */
function poolWith(maxTxs = 100) {
  const state = new Map<string, Uint8Array>();
  for (const k of keys) {
    state.set(
      accounts.prefix + accountId(addressOf(k)),
      accounts.encode({ balance: 10n * COIN, locked: 0n, nonce: 0 }),
    );
  }
  return new Mempool({
    params,
    state: { get: (key) => state.get(key) },
    verifier: new SignatureVerifier(),
    maxTxs,
  });
}

const err = (r: { ok: boolean; error?: { code: string; message: string } }) =>
  r.ok ? 'ok' : `${r.error!.code}: ${r.error!.message}`;

describe('mempool rules', () => {
  it('accepts a valid transfer and a contiguous follow-up', () => {
    const pool = poolWith();
    assert.equal(err(pool.add(transfer(params, alice, addressOf(bob), COIN, 0))), 'ok');
    assert.equal(err(pool.add(transfer(params, alice, addressOf(bob), COIN, 1))), 'ok');
    assert.equal(pool.size, 2);
  });

  it('refuses a duplicate', () => {
    const pool = poolWith();
    const tx = transfer(params, alice, addressOf(bob), COIN, 0);
    pool.add(tx);
    assert.match(err(pool.add(tx)), /^DUPLICATE: transaction .* is already in the mempool/);
  });

  it('holds a transaction whose nonce leaves a gap, and takes it in when the gap fills', () => {
    const pool = poolWith();
    const second = transfer(params, alice, addressOf(bob), COIN, 1);
    const third = transfer(params, alice, addressOf(bob), COIN, 2);
    // Out of order, as gossip and concurrent clients deliver them: held, not refused.
    for (const tx of [third, second]) {
      const r = pool.add(tx);
      assert.ok(r.ok && r.held === true, err(r));
    }
    assert.equal(pool.size, 0);
    assert.equal(pool.heldSize, 2);
    assert.ok(pool.has(txId(second)), 'a held transaction counts as known');
    assert.match(err(pool.add(second)), /^DUPLICATE/);
    assert.deepEqual(pool.select(10, 1e6), []);
    // Nonce 0 arrives: 1 and 2 follow it into the pool, in order.
    const first = transfer(params, alice, addressOf(bob), COIN, 0);
    assert.equal(err(pool.add(first)), 'ok');
    assert.equal(pool.size, 3);
    assert.equal(pool.heldSize, 0);
    assert.deepEqual(
      pool.select(10, 1e6).map((tx) => tx.body.nonce),
      [0, 1, 2],
    );
  });

  it('a block that fills the gap takes the held transactions in', () => {
    const state = new Map<string, Uint8Array>();
    const set = (nonce: number) =>
      state.set(
        accounts.prefix + accountId(addressOf(alice)),
        accounts.encode({ balance: 10n * COIN, locked: 0n, nonce }),
      );
    set(0);
    const pool = new Mempool({
      params,
      state: { get: (key) => state.get(key) },
      verifier: new SignatureVerifier(),
    });
    assert.ok(pool.add(transfer(params, alice, addressOf(bob), COIN, 2)).ok);
    assert.equal(pool.heldSize, 1);
    set(2); // a block mined nonces 0 and 1, which this pool never saw
    pool.revalidateSenders([accountId(addressOf(alice))]);
    assert.equal(pool.heldSize, 0);
    assert.deepEqual(
      pool.select(10, 1e6).map((tx) => tx.body.nonce),
      [2],
    );
  });

  it('refuses a used nonce, a nonce already pending, and one too far ahead', () => {
    const pool = poolWith();
    pool.add(transfer(params, alice, addressOf(bob), COIN, 0));
    assert.match(
      err(pool.add(transfer(params, alice, addressOf(bob), 2n * COIN, 0))),
      /^BAD_NONCE: nonce 0 is already taken by pending/,
    );
    assert.match(
      err(pool.add(transfer(params, alice, addressOf(bob), COIN, 1 + MAX_NONCE_GAP + 1))),
      /too far ahead: the sender's next nonce is 1 \(0 on chain \+ 1 pending\)/,
    );
  });

  it('refuses an overspend, counting what the sender already has pending', () => {
    const pool = poolWith();
    assert.match(
      err(pool.add(transfer(params, alice, addressOf(bob), 11n * COIN, 0))),
      /^INSUFFICIENT_FUNDS/,
    );
    assert.equal(err(pool.add(transfer(params, alice, addressOf(bob), 6n * COIN, 0))), 'ok');
    assert.match(
      err(pool.add(transfer(params, alice, addressOf(bob), 4n * COIN, 1))),
      /^INSUFFICIENT_FUNDS: .*pending transactions spend 600/,
    );
  });

  it('refuses a fee below the minimum, a bad signature, another chain, a non-positive amount', () => {
    const pool = poolWith();
    const tx = transfer(params, alice, addressOf(bob), COIN, 0);
    const cheap = signTx({ ...tx.body, fee: 1n }, alice, params);
    assert.match(err(pool.add(cheap)), /^FEE_TOO_LOW: fee 1 is below the minimum/);
    assert.match(err(pool.add({ ...tx, signature: new Uint8Array(64).fill(1) })), /^BAD_SIGNATURE/);
    const other = createParams(params, { chainId: 42 });
    assert.match(err(pool.add(transfer(other, alice, addressOf(bob), COIN, 0))), /^WRONG_CHAIN/);
    assert.match(err(pool.add(transfer(params, alice, addressOf(bob), 0n, 0))), /^BAD_AMOUNT/);
    assert.equal(pool.size, 0);
  });

  it('lists by fee rate, best first', () => {
    const pool = poolWith();
    const fees = [3n, 10n, 5n];
    const txs = [alice, bob, carol].map((k, i) =>
      transfer(params, k, addressOf(dave), COIN, 0, fees[i] * 10n),
    );
    for (const tx of txs) pool.add(tx);
    assert.deepEqual(
      pool.list(10).map((e) => e.idHex),
      [txs[1], txs[2], txs[0]].map((t) => toHex(txId(t))),
    );
    assert.equal(pool.list(1).length, 1);
  });

  it('when full, evicts the lowest fee rate for a better one and refuses a worse one', () => {
    const pool = poolWith(3);
    const a = transfer(params, alice, addressOf(frank), COIN, 0, 20n);
    const b = transfer(params, bob, addressOf(frank), COIN, 0, 30n);
    const c = transfer(params, carol, addressOf(frank), COIN, 0, 40n);
    for (const tx of [a, b, c]) assert.equal(err(pool.add(tx)), 'ok');
    const better = transfer(params, dave, addressOf(frank), COIN, 0, 25n);
    assert.equal(err(pool.add(better)), 'ok');
    assert.equal(pool.size, 3);
    assert.equal(pool.has(txId(a)), false);
    const worse = transfer(params, erin, addressOf(frank), COIN, 0, 21n);
    assert.match(err(pool.add(worse)), /^FEE_TOO_LOW: the mempool is full/);
    assert.equal(pool.size, 3);
  });

  it('evicts only the last of a sender, never leaving a nonce gap', () => {
    const pool = poolWith(3);
    pool.add(transfer(params, alice, addressOf(frank), COIN, 0, 10n));
    const a1 = transfer(params, alice, addressOf(frank), COIN, 1, 100n);
    pool.add(a1);
    pool.add(transfer(params, bob, addressOf(frank), COIN, 0, 50n));
    // alice's nonce 0 pays least, but evicting it would strand nonce 1: bob's is evicted instead.
    assert.equal(err(pool.add(transfer(params, carol, addressOf(frank), COIN, 0, 60n))), 'ok');
    assert.equal(pool.has(txId(a1)), true);
    assert.equal(pool.size, 3);
  });

  it('selects by fee rate while keeping each sender in nonce order', () => {
    const pool = poolWith();
    const a0 = transfer(params, alice, addressOf(frank), COIN, 0, 10n);
    const a1 = transfer(params, alice, addressOf(frank), COIN, 1, 90n);
    const b0 = transfer(params, bob, addressOf(frank), COIN, 0, 50n);
    for (const tx of [a0, a1, b0]) pool.add(tx);
    const ids = (txs: (typeof a0)[]) => txs.map((t) => toHex(txId(t)));
    assert.deepEqual(ids(pool.select(10, 1_000_000)), ids([b0, a0, a1]));
    assert.deepEqual(ids(pool.select(2, 1_000_000)), ids([b0, a0]));
    // Room for one transaction only.
    assert.deepEqual(ids(pool.select(10, txSize(b0) + 4)), ids([b0]));
  });
});

describe('mempool and the chain', () => {
  let t: TempChains;
  before(() => {
    t = tempChains(params);
  });
  after(() => t.cleanup());

  it('submitTx emits tx; a connected block removes included and invalidated transactions', async () => {
    const chain = t.open('pool');
    const seen: string[] = [];
    chain.on('tx', (_tx, id) => seen.push(toHex(id)));
    const a0 = transfer(params, alice, addressOf(bob), COIN, 0);
    const a1 = transfer(params, alice, addressOf(bob), COIN, 1);
    const big = transfer(params, carol, addressOf(bob), 900n * COIN, 0);
    for (const tx of [a0, a1, big]) assert.equal(err(chain.submitTx(tx)), 'ok');
    assert.deepEqual(seen.length, 3);
    assert.equal(chain.mempool(10).length, 3);
    assert.ok(chain.mempool(10).every((e) => e.feePerByte >= params.limits.minFeePerByte));
    // A block spends most of carol's funds another way, and includes alice's first transfer.
    const carolElsewhere = transfer(params, carol, addressOf(dave), 500n * COIN, 0);
    await extend(chain, 1, () => [a0, carolElsewhere]);
    assert.equal(chain.mempoolTx(txId(a0)), undefined);
    assert.equal(chain.mempoolTx(txId(big)), undefined); // nonce used and balance gone
    assert.ok(chain.mempoolTx(txId(a1)));
    assert.match(err(chain.submitTx(a0)), /^BAD_NONCE: nonce 0 was already used/);
  });
});
