import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeTx, encodeTx, txId, txRoot } from '../../src/core/codec/ids.ts';
import { Block, type Tx, TxKind } from '../../src/core/codec/types.ts';
import { toHex } from '../../src/core/crypto/hash.ts';
import { addressBytes, type KeyPair } from '../../src/core/crypto/keys.ts';
import { blockSubsidy, scheduledSubsidy, splitSubsidy } from '../../src/core/ledger/emission.ts';
import {
  accounts,
  EMPTY_SUPPLY,
  StateOverlay,
  type StateReader,
  supply,
} from '../../src/core/ledger/state.ts';
import { minimumFee, signTx, txSize } from '../../src/core/ledger/tx.ts';
import { type ChainParams, COIN, createParams, devnet, mainnet } from '../../src/core/params/index.ts';
import { applyBlock, executeBlock } from '../../src/core/transition/block.ts';
import { genesisBlock } from '../../src/core/transition/genesis.ts';
import { applyTx } from '../../src/core/transition/tx.ts';
import { addressOf, filledKey, idOf } from '../support/keys.ts';
import { testParams } from '../support/params.ts';
import { genesisState } from '../support/state.ts';
import { transferAtFee } from '../support/tx.ts';

const keys: KeyPair[] = [1, 2, 3, 4].map((i) => filledKey(i));
const ids = keys.map(idOf);
const miner = addressOf(filledKey(99));

/** Keys 0 to 2 funded at genesis time 0, devnet's PoW as it is. */
const ledgerParams = (overrides: Partial<ChainParams> = {}): ChainParams =>
  createParams(testParams(keys.slice(0, 3), { genesisTime: 0, pow: 'preset' }), overrides);

/** A transfer from keys[from] at the minimum fee of 200 bytes unless `fee` says otherwise. */
const transfer = (
  from: number,
  to: Uint8Array,
  amount: bigint,
  nonce: number,
  params: ChainParams,
  fee?: bigint,
): Tx => transferAtFee(params, keys[from], to, amount, nonce, fee ?? minimumFee(200, params));

function totals(state: StateReader, params: ChainParams) {
  const view = new StateOverlay(state);
  let balances = 0n;
  let locked = 0n;
  for (const id of [...ids, toHex(miner)]) {
    const a = view.read(accounts, id);
    balances += a?.balance ?? 0n;
    locked += a?.locked ?? 0n;
  }
  const s = view.read(supply, '') ?? EMPTY_SUPPLY;
  assert.ok(s.minted <= params.maxSupply, 'minted never exceeds the cap');
  return { balances, locked, minted: s.minted };
}

describe('transactions', () => {
  const params = ledgerParams();

  it('moves the amount and the fee, and bumps the nonce', () => {
    const view = new StateOverlay(genesisState(params));
    const tx = transfer(0, addressBytes(keys[3].publicKey), 5n * COIN, 0, params);
    const r = applyTx(view, tx, { params, height: 1 });
    assert.ok(r.ok);
    assert.equal(view.read(accounts, ids[0])!.balance, 1000n * COIN - 5n * COIN - tx.body.fee);
    assert.equal(view.read(accounts, ids[0])!.nonce, 1);
    assert.equal(view.read(accounts, ids[3])!.balance, 5n * COIN);
  });

  const refusals: Array<[string, (p: ChainParams) => Tx, string]> = [
    [
      'a bad signature',
      (p) => ({ ...transfer(0, miner, 1n, 0, p), signature: new Uint8Array(64) }),
      'BAD_SIGNATURE',
    ],
    ['a wrong nonce', (p) => transfer(0, miner, 1n, 5, p), 'BAD_NONCE'],
    ['an overspend', (p) => transfer(0, miner, 1000n * COIN, 0, p), 'INSUFFICIENT_FUNDS'],
    ['a zero amount', (p) => transfer(0, miner, 0n, 0, p), 'BAD_AMOUNT'],
    ['a fee below the minimum', (p) => transfer(0, miner, 1n, 0, p, 1n), 'FEE_TOO_LOW'],
    ['another chain', (p) => transfer(0, miner, 1n, 0, { ...p, chainId: 77 }), 'WRONG_CHAIN'],
    [
      'an unknown kind',
      (p) => signTx({ nonce: 0, fee: COIN, kind: 42 as TxKind, payload: new Uint8Array(8) }, keys[0], p),
      'UNKNOWN_KIND',
    ],
    [
      'a malformed payload',
      (p) => signTx({ nonce: 0, fee: COIN, kind: TxKind.transfer, payload: new Uint8Array(3) }, keys[0], p),
      'MALFORMED',
    ],
    [
      'an oversize transaction',
      (p) =>
        signTx({ nonce: 0, fee: COIN, kind: TxKind.transfer, payload: new Uint8Array(16_000) }, keys[0], p),
      'TOO_LARGE',
    ],
  ];
  for (const [what, make, code] of refusals) {
    it(`refuses ${what} with ${code} and changes nothing`, () => {
      const view = new StateOverlay(genesisState(params));
      const before = view.changes();
      const r = applyTx(view, make(params), { params, height: 1 });
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.error.code, code);
      assert.ok(!r.ok && r.error.message.length > 10);
      assert.deepEqual(view.changes(), before);
    });
  }

  it('knows its encoded size without encoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat({ max: 1e6 }), (payload, nonce) => {
        const tx = signTx({ nonce, fee: COIN, kind: TxKind.transfer, payload }, keys[0], params);
        assert.equal(txSize(tx), encodeTx(tx).length);
      }),
      { numRuns: 30 },
    );
  });

  it('round-trips through its SSZ bytes with the same id', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.nat({ max: 1e6 }), (amount, nonce) => {
        const tx = transfer(1, miner, amount, nonce, params);
        const back = decodeTx(encodeTx(tx));
        assert.deepEqual(back, tx);
        assert.deepEqual(txId(back), txId(tx));
      }),
      { numRuns: 30 },
    );
  });
});

describe('emission', () => {
  it('halves on schedule, never below the tail, and starts at block 1', () => {
    const p = ledgerParams({ emission: { initialSubsidy: 1000n, halvingInterval: 10, tailSubsidy: 100n } });
    assert.equal(scheduledSubsidy(0, p), 0n);
    assert.equal(scheduledSubsidy(1, p), 1000n);
    assert.equal(scheduledSubsidy(10, p), 1000n);
    assert.equal(scheduledSubsidy(11, p), 500n);
    assert.equal(scheduledSubsidy(21, p), 250n);
    assert.equal(scheduledSubsidy(41, p), 100n);
    assert.equal(scheduledSubsidy(10_000, p), 100n);
  });

  it('clamps the last subsidy so the cap is reached exactly, then mints nothing', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 6n }), fc.bigInt({ min: 1n, max: 1000n }), (cap, tail) => {
        const p = ledgerParams({
          maxSupply: cap,
          emission: { initialSubsidy: 5000n, halvingInterval: 3, tailSubsidy: tail },
        });
        let minted = 0n;
        let height = 1;
        while (minted < cap) {
          const s = blockSubsidy(height++, minted, p);
          assert.ok(s > 0n);
          minted += s;
        }
        assert.equal(minted, cap);
        assert.equal(blockSubsidy(height, minted, p), 0n);
      }),
      { numRuns: 50 },
    );
  });

  it('splits by basis points with the rounding dust to the miner', () => {
    const split = splitSubsidy(1001n, devnet);
    assert.deepEqual(split.tiers, { cumulus: 75n, nimbus: 125n, stratus: 300n });
    assert.equal(split.miner, 501n);
  });

  it('mainnet emits 413,910,000 FLUX in six halving eras, then 1 FLUX a block until the cap', () => {
    const interval = mainnet.emission.halvingInterval;
    let total = 0n;
    for (let era = 0; era < 6; era++)
      total += scheduledSubsidy(era * interval + 1, mainnet) * BigInt(interval);
    assert.equal(total, 413_910_000n * COIN);
    assert.equal(scheduledSubsidy(6 * interval + 1, mainnet), COIN);
    assert.equal(scheduledSubsidy(100 * interval, mainnet), COIN);
  });

  it('mainnet halving schedule stays within 440,000,000 FLUX', () => {
    assert.equal(devnet.maxSupply, 440_000_000n * COIN);
    assert.equal(blockSubsidy(1, 440_000_000n * COIN - 7n, devnet), 7n);
  });
});

describe('blocks', () => {
  const params = ledgerParams();

  function makeBlock(state: StateReader, txs: Tx[], height: number, parentRoot: Uint8Array): Block {
    const built = executeBlock(
      state,
      { header: { height, miner }, txs, proof: new Uint8Array() },
      {
        params,
        parentStateRoot: parentRoot,
      },
    );
    assert.ok(built.ok, !built.ok ? built.error.message : '');
    const header = {
      ...genesisBlock(params).header,
      height,
      stateRoot: built.effects.stateRoot,
      txRoot: txRoot(txs),
      miner,
    };
    return { header, txs, proof: new Uint8Array() };
  }

  it('keeps balances + locked == minted <= cap over random blocks, and refused blocks change nothing', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.record({ from: fc.nat(2), to: fc.nat(3), amount: fc.bigInt({ min: 1n, max: 600n * COIN }) }),
            {
              maxLength: 6,
            },
          ),
          { minLength: 1, maxLength: 6 },
        ),
        (blocks) => {
          const state = genesisState(params);
          let root = genesisBlock(params).header.stateRoot;
          const nonces = [0, 0, 0, 0];
          for (let h = 0; h < blocks.length; h++) {
            // Only the transfers that apply in order make it into the block, like a miner's template.
            const view = new StateOverlay(state);
            const txs: Tx[] = [];
            for (const t of blocks[h]) {
              const tx = transfer(
                t.from,
                addressBytes(keys[t.to].publicKey),
                t.amount,
                nonces[t.from],
                params,
              );
              if (applyTx(view, tx, { params, height: 1 }).ok) {
                txs.push(tx);
                nonces[t.from]++;
              }
            }
            const block = makeBlock(state, txs, h + 1, root);
            // A tampered copy is refused and the state is untouched.
            const snapshot = new Map(state.map);
            const bad = { ...block, header: { ...block.header, stateRoot: new Uint8Array(32).fill(1) } };
            assert.equal(applyBlock(state, bad, { params, parentStateRoot: root }).ok, false);
            assert.deepEqual(state.map, snapshot);
            const r = applyBlock(state, block, { params, parentStateRoot: root });
            assert.ok(r.ok, !r.ok ? r.error.message : '');
            state.apply(r.effects.changes);
            root = r.effects.stateRoot;
            const t = totals(state, params);
            assert.equal(t.balances + t.locked, t.minted);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('refuses a block whose tx root does not match, or that holds an invalid transaction', () => {
    const state = genesisState(params);
    const root = genesisBlock(params).header.stateRoot;
    const good = makeBlock(state, [transfer(0, miner, COIN, 0, params)], 1, root);
    const swapped = { ...good, txs: [transfer(0, miner, 2n * COIN, 0, params)] };
    const r1 = applyBlock(state, swapped, { params, parentStateRoot: root });
    assert.ok(!r1.ok && r1.error.message.includes('tx root'));
    const replay = makeBlock(state, [], 1, root);
    const withReplay = { ...replay, txs: [good.txs[0], good.txs[0]] };
    withReplay.header = { ...withReplay.header, txRoot: txRoot(withReplay.txs) };
    const r2 = applyBlock(state, withReplay, { params, parentStateRoot: root });
    assert.ok(!r2.ok && r2.error.message.includes('BAD_NONCE'));
  });

  it('does not mint a tier share when no node of that tier can be paid', () => {
    const state = genesisState(params);
    const root = genesisBlock(params).header.stateRoot;
    const block = makeBlock(state, [], 1, root);
    const r = applyBlock(state, block, { params, parentStateRoot: root });
    assert.ok(r.ok);
    assert.equal(r.effects.minted, splitSubsidy(r.effects.subsidy, params).miner);
    const paid = applyBlock(state, block, { params, parentStateRoot: root, tierPayee: () => ids[3] });
    assert.equal(paid.ok, false, 'a payee changes the state root, so the same header no longer matches');
  });

  it('encodes and decodes whole blocks', () => {
    const state = genesisState(params);
    const block = makeBlock(
      state,
      [transfer(0, miner, COIN, 0, params)],
      1,
      genesisBlock(params).header.stateRoot,
    );
    assert.deepEqual(Block.deserialize(Block.serialize(block)), block);
  });
});
