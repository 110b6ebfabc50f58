import { blockHash } from '../codec/ids.ts';
import type { Header } from '../codec/types.ts';
import { bytesEqual, toHex } from '../crypto/hash.ts';
import { fail, type Result } from '../ledger/errors.ts';
import { type ChainParams, isActive } from '../params/index.ts';
import type { AsertAnchor } from './asert.ts';
import { blockWork, checkBlockWork, expectedTarget } from './pouw.ts';
import { headerTarget, workOf } from './pow.ts';

/** What header validation needs to know about the chain the header extends. */
export interface HeaderContext {
  params: ChainParams;
  parent: Header;
  anchor: AsertAnchor;
  /** Median of the times of the last 11 blocks up to and including the parent. */
  medianTimePast: number;
  /** The validating node's clock, in ms; passed in so core stays free of clocks. */
  now: number;
  /** The block's `proof` bytes: required from the PoUW activation height on (the winning tile). */
  proof?: Uint8Array;
}

export const MEDIAN_TIME_SPAN = 11;

export function medianTime(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Checks a header against its parent and the consensus rules that need the chain. */
export function validateHeader(header: Header, ctx: HeaderContext): Result<object> {
  const { params, parent } = ctx;
  if (header.version !== 1) return fail('BAD_BLOCK', `unknown header version ${header.version}`);
  if (header.height !== parent.height + 1) {
    return fail('BAD_BLOCK', `height ${header.height} does not follow parent height ${parent.height}`);
  }
  if (!bytesEqual(header.parent, blockHash(parent))) return fail('BAD_BLOCK', 'parent hash does not match');
  if (header.time <= ctx.medianTimePast) {
    return fail(
      'BAD_BLOCK',
      `time ${header.time} is not after the median of recent blocks ${ctx.medianTimePast}`,
    );
  }
  if (header.time > ctx.now + params.pow.maxFutureMs) {
    return fail('BAD_BLOCK', `time ${header.time} is too far in the future (now ${ctx.now})`);
  }
  const expected = expectedTarget(ctx.anchor, parent, params);
  if (headerTarget(header) !== expected) {
    return fail('BAD_BLOCK', `target ${toHex(header.target)} is not the expected ${expected.toString(16)}`);
  }
  if (ctx.proof === undefined && isActive(params, 'pouw', header.height)) {
    return fail('BAD_BLOCK', `a block at height ${header.height} needs its PoUW proof to be checked`);
  }
  const work = checkBlockWork(header, ctx.proof ?? new Uint8Array(), params);
  if (!work.ok) return work;
  return { ok: true };
}

/** The work a block adds; without params, as proof of work (genesis and pre-PoUW callers). */
export function headerWork(header: Header, params?: ChainParams): bigint {
  return params ? blockWork(header, params) : workOf(headerTarget(header));
}

/**
 * Fork choice: the chain with the most cumulative work wins. On a tie the chain we already
 * follow stays, so nodes do not flip between equal branches.
 */
export function isBetterChain(candidateWork: bigint, currentWork: bigint): boolean {
  return candidateWork > currentWork;
}
