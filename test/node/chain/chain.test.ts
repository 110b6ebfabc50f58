import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { blockHash, txId, txRoot } from '../../../src/core/codec/ids.ts';
import type { Block, Tx } from '../../../src/core/codec/types.ts';
import { tieWinner } from '../../../src/core/consensus/validate.ts';
import { bigintToBytes32, bytesEqual, toHex } from '../../../src/core/crypto/hash.ts';
import { signTx } from '../../../src/core/ledger/tx.ts';
import { COIN, createParams } from '../../../src/core/params/index.ts';
import { type LocalChain, openChain } from '../../../src/node/chain/chain.ts';
import {
  badNonce,
  extend,
  hashHex,
  MINER,
  nextBlock,
  reseal,
  snapshot,
  type TempChains,
  tempChains,
} from '../../support/chain.ts';
import { addressOf, testKeys } from '../../support/keys.ts';
import { testParams } from '../../support/params.ts';
import { transfer } from '../../support/tx.ts';

const keys = testKeys(4);
const params = testParams(keys);
const [alice, bob, carol] = keys;

describe('chain import', () => {
  let t: TempChains;
  before(() => {
    t = tempChains(params);
  });
  after(() => t.cleanup());

  it('starts a fresh database at genesis with the allocations', () => {
    const chain = t.open('fresh');
    assert.equal(chain.tip().height, 0);
    assert.equal(chain.account(addressOf(alice)).balance, 1_000n * COIN);
    const supply = chain.supply(0)!;
    assert.equal(supply.minted, 4_000n * COIN);
    assert.equal(supply.nextSubsidy, params.emission.initialSubsidy);
    assert.ok(chain.blockByHeight(0));
    assert.equal(chain.blockByHeight(1), undefined);
  });

  it('imports valid blocks, indexes their transactions and keeps them after reopening', async () => {
    const chain = t.open('valid');
    const seen: number[] = [];
    chain.on('block', (b) => seen.push(b.header.height));
    const t1 = transfer(params, alice, addressOf(bob), 5n * COIN, 0);
    const t2 = transfer(params, alice, addressOf(carol), 1n * COIN, 1);
    const t3 = transfer(params, bob, addressOf(alice), 2n * COIN, 0);
    const blocks = await extend(chain, 3, (i) => [[t1], [t2, t3], []][i]);
    assert.deepEqual(seen, [1, 2, 3]);
    const tip = chain.tip();
    assert.equal(tip.height, 3);
    assert.equal(toHex(tip.hash), hashHex(blocks[2]));
    const fees = t1.body.fee + t2.body.fee + t3.body.fee;
    assert.equal(
      chain.account(addressOf(alice)).balance,
      1_000n * COIN - 6n * COIN + 2n * COIN - t1.body.fee - t2.body.fee,
    );
    assert.equal(chain.account(addressOf(alice)).nonce, 2);
    assert.equal(chain.account(addressOf(bob)).balance, 1_003n * COIN - t3.body.fee);
    assert.equal(chain.account(MINER).balance, (3n * params.emission.initialSubsidy) / 2n + fees);
    const stored = chain.tx(txId(t2))!;
    assert.equal(stored.height, 2);
    assert.equal(stored.index, 0);
    assert.deepEqual(stored.tx, t2);
    assert.equal(toHex(stored.blockHash), hashHex(blocks[1]));
    const aliceTxs = chain.txsByAddress(addressOf(alice), 10).map((s) => toHex(s.id));
    assert.deepEqual(aliceTxs, [toHex(txId(t3)), toHex(txId(t2)), toHex(txId(t1))]);
    assert.deepEqual(
      chain.txsByAddress(addressOf(carol), 10).map((s) => toHex(s.id)),
      [toHex(txId(t2))],
    );
    assert.equal(chain.txsByAddress(addressOf(alice), 1).length, 1);
    assert.equal(chain.supply(3)!.minted, 4_000n * COIN + (3n * params.emission.initialSubsidy) / 2n);
    assert.equal(chain.supply(1)!.minted, 4_000n * COIN + params.emission.initialSubsidy / 2n);
    assert.equal(chain.supply(4), undefined);
    assert.deepEqual(chain.blockByHeight(2), blocks[1]);
    assert.deepEqual(chain.blockByHash(blockHash(blocks[0].header)), blocks[0]);
    const before = snapshot(chain, keys);
    chain.close();
    const reopened = t.open('valid');
    assert.deepEqual(snapshot(reopened, keys), before);
    assert.deepEqual(reopened.tx(txId(t1))?.tx, t1);
  });

  it('answers known for a block it already has', async () => {
    const chain = t.open('known');
    const [b] = await extend(chain, 1);
    const r = await chain.importBlock(b, Date.now());
    assert.ok(r.ok);
    assert.equal(r.status, 'known');
  });

  it('refuses a block whose parent is unknown', async () => {
    const chain = t.open('orphan');
    const b = nextBlock(chain);
    const orphan = { ...b, header: reseal(b.header, { parent: new Uint8Array(32).fill(9) }) };
    const r = await chain.importBlock(orphan, Date.now());
    assert.equal(r.ok, false);
    assert.ok(
      !r.ok && r.error.code === 'BAD_BLOCK' && /parent .* is unknown/.test(r.error.message),
      JSON.stringify(r),
    );
  });

  it('refuses a body that does not match its header without holding that against the header', async () => {
    const chain = t.open('forged-body');
    const good = nextBlock(chain, [transfer(params, alice, addressOf(bob), COIN, 0)]);
    const forged = { ...good, txs: [transfer(params, alice, addressOf(carol), COIN, 0)] };
    const r = await chain.importBlock(forged, Date.now());
    assert.ok(!r.ok && r.error.code === 'BAD_BLOCK' && /tx root/.test(r.error.message));
    const real = await chain.importBlock(good, Date.now());
    assert.equal(real.ok ? real.status : real.error.message, 'extended');
  });

  it('checks the body of a side block before storing it', async () => {
    const chain = t.open('forged-side');
    const other = t.open('forged-side-other');
    const side = nextBlock(other, [transfer(params, alice, addressOf(bob), COIN, 0)]);
    await extend(chain, 1);
    const forged = { ...side, txs: [transfer(params, alice, addressOf(carol), COIN, 0)] };
    const r = await chain.importBlock(forged, Date.now());
    assert.ok(!r.ok && /tx root/.test(r.error.message));
    assert.equal(chain.blockByHash(blockHash(side.header)), undefined);
    const tip = chain.tip().hash;
    const real = await chain.importBlock(side, Date.now());
    // A sibling of the tip, of equal work: stored, and the tip if it wins the tie.
    const wins = bytesEqual(tieWinner([tip, blockHash(side.header)]), blockHash(side.header));
    assert.equal(real.ok ? real.status : real.error.message, wins ? 'reorged' : 'side');
  });

  it('refuses a chain database of another network', () => {
    const chain = t.open('other-net');
    chain.close();
    const other = createParams(params, { genesis: { ...params.genesis, time: params.genesis.time + 1 } });
    assert.throws(() => openChain({ params: other, dbPath: join(t.dir, 'other-net.db') }), /genesis/);
  });
});

describe('bad blocks', () => {
  let t: TempChains;
  let chain: LocalChain;
  before(async () => {
    t = tempChains(params);
    chain = t.open('bad');
    await extend(chain, 2, (i) => (i === 0 ? [transfer(params, alice, addressOf(bob), COIN, 0)] : []));
  });
  after(() => t.cleanup());

  const sealed = (b: Block, change: Partial<Block['header']>): Block => ({
    ...b,
    header: reseal(b.header, change),
  });
  const withTxs = (b: Block, txs: Tx[]): Block => sealed({ ...b, txs }, { txRoot: txRoot(txs) });

  const cases: Array<[string, RegExp, () => Block]> = [
    [
      'a header that misses its target',
      /proof of work/,
      () => {
        const b = nextBlock(chain);
        return { ...b, header: badNonce(b.header) };
      },
    ],
    [
      'a wrong target',
      /target/,
      () => sealed(nextBlock(chain), { target: bigintToBytes32(params.pow.powLimit) }),
    ],
    ['a wrong height', /height/, () => sealed(nextBlock(chain), { height: chain.tip().height + 2 })],
    [
      'a time not after the median of recent blocks',
      /median/,
      () => sealed(nextBlock(chain), { time: chain.blockByHeight(chain.tip().height - 1)!.header.time }),
    ],
    [
      'a time too far in the future',
      /future/,
      () => sealed(nextBlock(chain), { time: Date.now() + 10 * 60_000 }),
    ],
    ['an unknown header version', /version/, () => sealed(nextBlock(chain), { version: 2 })],
    [
      'a wrong state root',
      /state root/,
      () => sealed(nextBlock(chain), { stateRoot: new Uint8Array(32).fill(1) }),
    ],
    [
      'a tx root that does not match',
      /tx root/,
      () => sealed(nextBlock(chain), { txRoot: new Uint8Array(32).fill(1) }),
    ],
    [
      'a transaction with a bad signature',
      /BAD_SIGNATURE/,
      () => {
        const tx = transfer(params, bob, addressOf(carol), COIN, 0);
        return nextBlock(chain, [{ ...tx, signature: new Uint8Array(64).fill(3) }]);
      },
    ],
    [
      'a transaction that overspends',
      /INSUFFICIENT_FUNDS/,
      () =>
        nextBlock(chain, [transfer(params, bob, addressOf(carol), 5_000n * COIN, 0)], {
          includeInvalid: true,
        }),
    ],
    [
      'a transaction with a wrong nonce',
      /BAD_NONCE/,
      () => nextBlock(chain, [transfer(params, bob, addressOf(carol), COIN, 3)], { includeInvalid: true }),
    ],
    [
      'a replayed transaction',
      /BAD_NONCE/,
      () => nextBlock(chain, [chain.blockByHeight(1)!.txs[0]], { includeInvalid: true }),
    ],
    [
      'a transaction for another chain',
      /WRONG_CHAIN/,
      () => {
        const other = createParams(params, { chainId: 99 });
        const tx = signTx(
          {
            nonce: 0,
            fee: 10_000n,
            kind: 1,
            payload: transfer(params, bob, addressOf(carol), COIN, 0).body.payload,
          },
          bob,
          other,
        );
        return nextBlock(chain, [tx], { includeInvalid: true });
      },
    ],
    [
      'a transaction of unknown kind',
      /UNKNOWN_KIND/,
      () => {
        const tx = signTx({ nonce: 0, fee: 10_000n, kind: 1, payload: new Uint8Array(40) }, bob, params);
        return withTxs(nextBlock(chain), [signTx({ ...tx.body, kind: 77 as 1 }, bob, params)]);
      },
    ],
    [
      'a miner reward above the subsidy',
      /state root/,
      () => {
        // Built as if the miner had been paid one more unit: the state root cannot match.
        const good = nextBlock(chain);
        return sealed(good, { stateRoot: blockHash(good.header) });
      },
    ],
  ];

  for (const [name, pattern, make] of cases) {
    it(`refuses ${name} and changes nothing`, async () => {
      const before = snapshot(chain, keys);
      const block = make();
      const r = await chain.importBlock(block, Date.now());
      assert.equal(r.ok, false, `${name} was accepted`);
      assert.ok(
        !r.ok && r.error.code === 'BAD_BLOCK' && pattern.test(r.error.message),
        !r.ok ? r.error.message : '',
      );
      assert.deepEqual(snapshot(chain, keys), before);
      // A second try is refused too (and cheaply, for blocks found invalid by their contents).
      assert.equal((await chain.importBlock(block, Date.now())).ok, false);
    });
  }

  it('refuses an oversized block', async () => {
    const small = createParams(params, { limits: { ...params.limits, maxBlockBytes: 600 } });
    const t2 = tempChains(small);
    try {
      const c = t2.open('small');
      const txs = [0, 1, 2, 3].map((n) => transfer(small, alice, addressOf(bob), COIN, n));
      const block = nextBlock(c, txs);
      const before = snapshot(c, keys);
      const r = await c.importBlock(block, Date.now());
      assert.ok(!r.ok && /bytes, the limit is 600/.test(r.error.message));
      assert.deepEqual(snapshot(c, keys), before);
    } finally {
      t2.cleanup();
    }
  });

  it('still extends normally after all that', async () => {
    await extend(chain, 1, () => [transfer(params, bob, addressOf(carol), COIN, 0)]);
    assert.equal(chain.tip().height, 3);
  });
});

describe('malformed input', () => {
  let t: TempChains;
  before(() => {
    t = tempChains(params);
  });
  after(() => t.cleanup());

  it('refuses a block value with a wrong-length field or a bad number, naming the field', async () => {
    const chain = t.open('malformed');
    const good = nextBlock(chain, [transfer(params, alice, addressOf(bob), COIN, 0)]);
    const before = snapshot(chain, keys);
    const bad: Array<[Block, RegExp]> = [
      [{ ...good, header: { ...good.header, parent: new Uint8Array(31) } }, /header parent is not 32 bytes/],
      [{ ...good, header: { ...good.header, time: -1 } }, /header time/],
      [
        { ...good, txs: [{ ...good.txs[0], signature: new Uint8Array(10) }] },
        /transaction 0: signature is not 64 bytes/,
      ],
      [{ ...good, txs: [{ ...good.txs[0], body: { ...good.txs[0].body, fee: -1n } }] }, /fee/],
    ];
    for (const [block, pattern] of bad) {
      const r = await chain.importBlock(block, Date.now());
      assert.ok(
        !r.ok && r.error.code === 'MALFORMED' && pattern.test(r.error.message),
        JSON.stringify(!r.ok && r.error),
      );
    }
    assert.deepEqual(snapshot(chain, keys), before);
    assert.ok((await chain.importBlock(good, Date.now())).ok);
  });

  it('refuses a malformed transaction value', () => {
    const chain = t.open('malformed-tx');
    const tx = transfer(params, alice, addressOf(bob), COIN, 0);
    const r = chain.submitTx({ ...tx, body: { ...tx.body, sender: new Uint8Array(5) } });
    assert.ok(!r.ok && r.error.code === 'MALFORMED' && /sender/.test(r.error.message));
    assert.equal(chain.mempool(10).length, 0);
  });
});
