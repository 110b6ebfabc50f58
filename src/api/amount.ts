// FLUX amounts as text <-> bigint base units (1 FLUX = 10^8), exactly, without floats.

export const DECIMALS = 8;
const UNIT = 10n ** BigInt(DECIMALS);

export type ParsedAmount = { ok: true; value: bigint } | { ok: false; error: string };

/**
 * Parses an amount written in FLUX ("12", "0.5", "1.00000001", "1_000") into base units.
 * Refuses signs, exponents, more than 8 decimals and anything that is not a plain decimal.
 */
export function parseFlux(text: string, field = 'amount'): ParsedAmount {
  const s = text.trim().replaceAll('_', '');
  if (s.startsWith('-')) return { ok: false, error: `${field} must not be negative: ${text}` };
  const m = /^(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) {
    return {
      ok: false,
      error: `${field} is not a decimal number of FLUX (e.g. 12.5): ${JSON.stringify(text)}`,
    };
  }
  const whole = m[1] === '' ? '0' : m[1];
  const frac = m[2] ?? '';
  if (frac.length > DECIMALS) {
    return {
      ok: false,
      error: `${field} has more than ${DECIMALS} decimals (1 FLUX = 10^8 base units): ${text}`,
    };
  }
  return { ok: true, value: BigInt(whole) * UNIT + BigInt(frac.padEnd(DECIMALS, '0')) };
}

/** Base units -> FLUX text with no trailing zeros ("1.5", "0.00000001", "-2"). */
export function formatFlux(units: bigint): string {
  const neg = units < 0n;
  const abs = neg ? -units : units;
  const whole = abs / UNIT;
  const frac = (abs % UNIT).toString().padStart(DECIMALS, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}
