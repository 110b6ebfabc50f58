import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatFlux, parseFlux } from '../../src/api/amount.ts';

const MAX = 440_000_000n * 100_000_000n * 1000n;

describe('FLUX amounts', () => {
  it('parses what it formats, exactly, for any amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX }), (units) => {
        assert.deepEqual(parseFlux(formatFlux(units)), { ok: true, value: units });
      }),
    );
  });

  it('reads any decimal with up to 8 places as whole units, padding or not', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.integer({ min: 0, max: 8 }),
        (whole, places) => {
          const frac = places === 0 ? '' : `.${'7'.repeat(places)}`;
          const expected =
            whole * 10n ** 8n + (places === 0 ? 0n : BigInt('7'.repeat(places).padEnd(8, '0')));
          assert.deepEqual(parseFlux(`${whole}${frac}`), { ok: true, value: expected });
        },
      ),
    );
  });

  it('refuses more than 8 decimals, negatives and garbage, saying why', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.stringMatching(/^[0-9]{9,20}$/),
        (whole, frac) => {
          const r = parseFlux(`${whole}.${frac}`);
          assert.equal(r.ok, false);
          assert.match((r as { error: string }).error, /more than 8 decimals/);
        },
      ),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX }), (units) => {
        const r = parseFlux(`-${formatFlux(units)}`);
        assert.equal(r.ok, false);
        assert.match((r as { error: string }).error, /negative/);
      }),
    );
    for (const bad of [
      '',
      '.',
      'abc',
      '1e5',
      '0x10',
      '1.2.3',
      '1,5',
      '+1',
      'NaN',
      'Infinity',
      ' 1 2',
      '１',
    ]) {
      const r = parseFlux(bad, 'AMOUNT');
      assert.equal(r.ok, false, bad);
      assert.match((r as { error: string }).error, /^AMOUNT /, bad);
    }
  });

  it('accepts the usual spellings', () => {
    assert.deepEqual(parseFlux('1'), { ok: true, value: 100_000_000n });
    assert.deepEqual(parseFlux('0.00000001'), { ok: true, value: 1n });
    assert.deepEqual(parseFlux('.5'), { ok: true, value: 50_000_000n });
    assert.deepEqual(parseFlux('2.'), { ok: true, value: 200_000_000n });
    assert.deepEqual(parseFlux('1_000'), { ok: true, value: 100_000_000_000n });
    assert.equal(formatFlux(150_000_000n), '1.5');
    assert.equal(formatFlux(0n), '0');
    assert.equal(formatFlux(-1n), '-0.00000001');
  });
});
