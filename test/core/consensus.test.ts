import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { blockHash } from '../../src/core/codec/ids.ts';
import type { Header } from '../../src/core/codec/types.ts';
import { type AsertAnchor, nextTarget } from '../../src/core/consensus/asert.ts';
import { checkProofOfWork, searchNonce, workOf } from '../../src/core/consensus/pow.ts';
import {
  type HeaderContext,
  isBetterChain,
  medianTime,
  tieWinner,
  validateHeader,
  validateHeaderAgainstParent,
} from '../../src/core/consensus/validate.ts';
import { bigintToBytes32, bytesEqual, compareBytes } from '../../src/core/crypto/hash.ts';
import { createParams, devnet } from '../../src/core/params/index.ts';
import { genesisBlock } from '../../src/core/transition/genesis.ts';

const params = createParams(devnet, { genesis: { time: 1_000_000, allocations: [] } });
const anchor: AsertAnchor = { height: 0, time: params.genesis.time, target: params.pow.initialTarget };

describe('ASERT difficulty', () => {
  it('keeps the target when blocks arrive exactly on schedule', () => {
    for (const h of [0, 1, 10, 1000]) {
      assert.equal(
        nextTarget(anchor, { height: h, time: anchor.time + h * params.blockTimeMs }, params),
        anchor.target,
      );
    }
  });

  it('doubles the target one half-life behind schedule and halves it one half-life ahead', () => {
    const h = 100;
    const onTime = anchor.time + h * params.blockTimeMs;
    const half = params.pow.asertHalfLifeMs;
    assert.equal(nextTarget(anchor, { height: h, time: onTime + half }, params), anchor.target * 2n);
    assert.equal(nextTarget(anchor, { height: h, time: onTime - half }, params), anchor.target / 2n);
  });

  it('is monotonic in time and never leaves [1, powLimit]', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10_000 }),
        fc.integer({ min: -1e8, max: 1e8 }),
        fc.nat({ max: 100_000 }),
        (h, dt, step) => {
          const t = anchor.time + h * params.blockTimeMs + dt;
          const a = nextTarget(anchor, { height: h, time: t }, params);
          const b = nextTarget(anchor, { height: h, time: t + step }, params);
          assert.ok(a <= b);
          assert.ok(a >= 1n && b <= params.pow.powLimit);
        },
      ),
    );
  });
});

function minedChild(parent: Header, time: number, tweak: Partial<Header> = {}): Header {
  const target = nextTarget(anchor, parent, params);
  const prefix = {
    ...parent,
    height: parent.height + 1,
    parent: blockHash(parent),
    time,
    target: bigintToBytes32(target),
    ...tweak,
  };
  const nonce = searchNonce(prefix, target, 0, 10_000_000);
  assert.notEqual(nonce, undefined);
  return { ...prefix, nonce: nonce! };
}

describe('proof of work and header rules', () => {
  const genesis = genesisBlock(params).header;
  const time = genesis.time + params.blockTimeMs;
  const ctx = (over: Partial<HeaderContext> = {}): HeaderContext => ({
    params,
    parent: genesis,
    anchor,
    medianTimePast: genesis.time,
    ...over,
  });

  it('accepts a mined header and refuses it once any field changes', () => {
    const header = minedChild(genesis, time);
    assert.ok(checkProofOfWork(header));
    assert.deepEqual(validateHeader(header, params, time), { ok: true });
    assert.deepEqual(validateHeaderAgainstParent(header, ctx()), { ok: true });
    // A nonce that fails the work check: search for one deliberately.
    let bad = header.nonce + 1;
    while (checkProofOfWork({ ...header, nonce: bad })) bad++;
    const r = validateHeaderAgainstParent({ ...header, nonce: bad }, ctx());
    assert.ok(!r.ok && r.error.message.includes('proof of work'));
  });

  const cases: Array<[string, (h: Header) => Header, Partial<HeaderContext>, RegExp]> = [
    ['a wrong height', (h) => ({ ...h, height: 5 }), {}, /height 5 does not follow/],
    ['an unknown parent', (h) => ({ ...h, parent: new Uint8Array(32).fill(1) }), {}, /parent hash/],
    ['a time not after the median', (h) => h, { medianTimePast: time }, /median/],
    [
      'an easier target than scheduled',
      (h) => ({ ...h, target: bigintToBytes32(params.pow.powLimit) }),
      {},
      /target/,
    ],
  ];
  for (const [what, change, over, message] of cases) {
    it(`refuses ${what} against the parent`, () => {
      const r = validateHeaderAgainstParent(change(minedChild(genesis, time)), ctx(over));
      assert.equal(r.ok, false);
      assert.match(!r.ok ? r.error.message : '', message);
    });
  }

  const alone: Array<[string, (h: Header) => Header, number, RegExp]> = [
    ['a time far in the future', (h) => h, time - params.pow.maxFutureMs - 1, /future/],
    ['an unknown version', (h) => ({ ...h, version: 9 }), time, /version/],
    ['a field of the wrong length', (h) => ({ ...h, stateRoot: new Uint8Array(31) }), time, /stateRoot/],
  ];
  for (const [what, change, now, message] of alone) {
    it(`refuses ${what} on the header alone`, () => {
      const r = validateHeader(change(minedChild(genesis, time)), params, now);
      assert.equal(r.ok, false);
      assert.match(!r.ok ? r.error.message : '', message);
    });
  }

  it('counts more work for harder targets and prefers strictly more cumulative work', () => {
    assert.ok(workOf(1000n) > workOf(2000n));
    assert.ok(isBetterChain(11n, 10n));
    assert.ok(!isBetterChain(10n, 10n), 'a tie keeps the current chain');
    assert.equal(medianTime([5, 1, 9, 3, 7]), 5);
  });
});

describe('fork choice among tips of equal work', () => {
  const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

  it('picks the same tip whatever order the tips are listed in', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(hash32, { minLength: 1, maxLength: 6, selector: (h) => h.join() }),
        fc.nat(),
        (tips, turn) => {
          const k = turn % tips.length;
          const rotated = [...tips.slice(k), ...tips.slice(0, k)];
          const winner = tieWinner(tips);
          assert.deepEqual(tieWinner(rotated), winner);
          assert.deepEqual(tieWinner([...tips].reverse()), winner);
          assert.ok(tips.some((t) => bytesEqual(t, winner)));
        },
      ),
    );
  });

  it('is a fair coin between two tips: neither the lower hash nor the first listed wins every time', () => {
    let lowerWins = 0;
    let firstWins = 0;
    const pairs = fc.sample(fc.tuple(hash32, hash32), { numRuns: 400, seed: 11 });
    for (const [a, b] of pairs) {
      const w = tieWinner([a, b]);
      if (bytesEqual(w, compareBytes(a, b) < 0 ? a : b)) lowerWins++;
      if (bytesEqual(w, a)) firstWins++;
    }
    // 400 fair coins: outside 150..250 is a rule that favours one side, not chance (p < 1e-6).
    assert.ok(lowerWins > 150 && lowerWins < 250, `the lower hash won ${lowerWins} of 400`);
    assert.ok(firstWins > 150 && firstWins < 250, `the first listed won ${firstWins} of 400`);
  });
});
