// The consensus rules of a block, sorted by when they can run, each checked in exactly one place
// (as reth's Consensus trait separates them):
//   validateHeader               the header alone: shape, version, not too far in the future
//   validateHeaderAgainstParent  height, parent hash, time after the median, target, work
//   validateBlockPreExecution    the body against its header: limits, shapes, tx root
//   (execution)                  core/transition: the PoUW claim, the transactions, the steps after them
//   validateBlockPostExecution   the state root the execution computed
import { blockHash, blockTxBytes, encodeBlock, txIdFromBytes, txRootFromIds } from '../codec/ids.ts';
import type { Block, Header } from '../codec/types.ts';
import { bytesEqual, compareBytes, sha256Concat, toHex } from '../crypto/hash.ts';
import { fail, type Result } from '../ledger/errors.ts';
import type { BlockEffects } from '../ledger/types.ts';
import { type ChainParams, isActive } from '../params/index.ts';
import type { AsertAnchor } from './asert.ts';
import { blockWork, checkBlockWork, expectedTarget } from './pouw.ts';
import { headerTarget, workOf } from './pow.ts';
import { bodyShapeError, headerShapeError } from './shape.ts';

/** What header validation needs to know about the chain the header extends. */
export interface HeaderContext {
  params: ChainParams;
  parent: Header;
  anchor: AsertAnchor;
  /** Median of the times of the last 11 blocks up to and including the parent. */
  medianTimePast: number;
  /** The block's `proof` bytes: required from the PoUW activation height on (the winning tile). */
  proof?: Uint8Array;
}

export const MEDIAN_TIME_SPAN = 11;

export function medianTime(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * The rules a header meets on its own: its fields have the right lengths and ranges (SSZ does not
 * check values handed over as objects), version 1, and a time at most `maxFutureMs` after the
 * validating node's clock `now` (passed in, so core stays free of clocks).
 */
export function validateHeader(header: Header, params: ChainParams, now: number): Result<object> {
  const shape = headerShapeError(header);
  if (shape) return fail('MALFORMED', `malformed block: ${shape}`);
  if (header.version !== 1) return fail('BAD_BLOCK', `unknown header version ${header.version}`);
  if (header.time > now + params.pow.maxFutureMs) {
    return fail('BAD_BLOCK', `time ${header.time} is too far in the future (now ${now})`);
  }
  return { ok: true };
}

/** The rules of a header that need its parent and the chain: linkage, time, target and work. */
export function validateHeaderAgainstParent(header: Header, ctx: HeaderContext): Result<object> {
  const { params, parent } = ctx;
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

/** A body that passed validateBlockPreExecution: its encoding and its transactions' bytes and ids. */
export interface CheckedBody {
  encoded: Uint8Array;
  txBytes: Uint8Array[];
  txIds: Uint8Array[];
}

/**
 * The rules of a block's body that need no state: at most `maxBlockTxs` transactions (checked
 * first, before anything walks them), transactions and proof of the right shape, at most
 * `maxBlockBytes` encoded, and a tx root that matches the transactions.
 */
export function validateBlockPreExecution(block: Block, params: ChainParams): Result<{ body: CheckedBody }> {
  if (block?.txs?.length > params.limits.maxBlockTxs) {
    return fail(
      'BAD_BLOCK',
      `block has ${block.txs.length} transactions, the limit is ${params.limits.maxBlockTxs}`,
    );
  }
  const shape = bodyShapeError(block);
  if (shape) return fail('MALFORMED', `malformed block: ${shape}`);
  let encoded: Uint8Array;
  try {
    encoded = encodeBlock(block);
  } catch (e) {
    return fail('MALFORMED', `block does not encode: ${(e as Error).message}`);
  }
  if (encoded.length > params.limits.maxBlockBytes) {
    return fail('BAD_BLOCK', `block is ${encoded.length} bytes, the limit is ${params.limits.maxBlockBytes}`);
  }
  const txBytes = blockTxBytes(encoded, block.txs.length);
  const txIds = txBytes.map(txIdFromBytes);
  if (!bytesEqual(txRootFromIds(txIds), block.header.txRoot)) {
    return fail('BAD_BLOCK', 'tx root does not match the transactions');
  }
  return { ok: true, body: { encoded, txBytes, txIds } };
}

/** The rules checked on what executing the block computed: its state root. */
export function validateBlockPostExecution(
  header: Pick<Header, 'stateRoot'>,
  effects: Pick<BlockEffects, 'stateRoot'>,
): Result<object> {
  if (!bytesEqual(effects.stateRoot, header.stateRoot)) {
    return fail(
      'BAD_BLOCK',
      `state root ${toHex(header.stateRoot)} does not match the computed ${toHex(effects.stateRoot)}`,
    );
  }
  return { ok: true };
}

/** The work a block adds; without params, as proof of work (genesis and pre-PoUW callers). */
export function headerWork(header: Header, params?: ChainParams): bigint {
  return params ? blockWork(header, params) : workOf(headerTarget(header));
}

/**
 * Fork choice: the chain with the most cumulative work wins. Equal work is not better: a tie is
 * settled by `tieWinner` over every tip of that work the node knows.
 */
export function isBetterChain(candidateWork: bigint, currentWork: bigint): boolean {
  return candidateWork > currentWork;
}

/**
 * Among tips of equal cumulative work (two miners' blocks at one height, most often), the one
 * every node picks once it has seen them all: the lowest sha256(hash ‖ mix), where mix is the
 * XOR of all their hashes. The same set gives the same winner in any order of arrival, so a race
 * at the tip settles as soon as both blocks have spread, not a block later; and since the winner
 * depends on every competitor's hash, a miner cannot know at mining time whether its block would
 * win a tie (a fair coin between two, as with uniform random tie-breaking), where "first seen"
 * gives ties to the best-connected miner and "lowest hash" to a miner that withholds a low one.
 */
export function tieWinner(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) throw new Error('tieWinner of no tips');
  const mix = new Uint8Array(32);
  for (const h of hashes) for (let i = 0; i < 32; i++) mix[i] ^= h[i] ?? 0;
  let best = hashes[0];
  let bestKey = sha256Concat(best, mix);
  for (let i = 1; i < hashes.length; i++) {
    const key = sha256Concat(hashes[i], mix);
    if (compareBytes(key, bestKey) < 0) {
      best = hashes[i];
      bestKey = key;
    }
  }
  return best;
}
