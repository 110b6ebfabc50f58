// Block templates: the tip, some transactions, the subsidy and fees, the state root, then a
// nonce. Used by the miner and by tests that need valid blocks quickly.
import { headerPrefixRoot, txRoot } from '../../core/codec/ids.ts';
import type { Block, Header, HeaderPrefix, Tx } from '../../core/codec/types.ts';
import { chainZeroJob, encodePouwProof, tileNonce, ZERO_JOB_ID } from '../../core/consensus/pouw.ts';
import { powHash } from '../../core/consensus/pow.ts';
import { bigintToBytes32, bytesToBigint } from '../../core/crypto/hash.ts';
import { type ChainParams, isActive } from '../../core/params/index.ts';
import {
  type JobData,
  type MinedJob,
  mineJob,
  openTile,
  type PouwKernel,
  winningTiles,
} from '../../core/pouw/index.ts';
import { BlockBuilder } from '../../core/transition/block.ts';
import type { LocalChain } from '../chain/chain.ts';

/** The job a PoUW block works on: a job from the pool (its id and data) or the zero job. */
export interface PouwWork {
  /** The job's id, or 32 zero bytes for the zero job. */
  job: Uint8Array;
  data: JobData;
}

export interface BlockTemplate {
  prefix: HeaderPrefix;
  txs: Tx[];
  target: bigint;
  /** Set when PoUW is active at the template's height. */
  pouw?: PouwWork;
}

export interface TemplateOptions {
  /**
   * Put transactions that fail to apply into the block anyway (their effects left out of the
   * state root): for tests that need a block breaking a transaction rule.
   */
  includeInvalid?: boolean;
  /** Under PoUW: the job to mine (default: the zero job). */
  pouw?: PouwWork;
}

/**
 * A template on the chain's tip holding those of `txs` that apply in order (signatures are not
 * checked here: the mempool did, and import does again). `time` must exceed the median time past.
 */
export function buildTemplate(
  chain: LocalChain,
  txs: Tx[],
  miner: Uint8Array,
  time: number,
  opts: TemplateOptions = {},
): BlockTemplate {
  const { params } = chain;
  const ctx = chain.nextBlockContext();
  const pouw = isActive(params, 'pouw', ctx.height)
    ? (opts.pouw ?? { job: ZERO_JOB_ID, data: chainZeroJob(params) })
    : undefined;
  // The same steps, in the same order, as applying the block (core/transition/block.ts).
  const started = BlockBuilder.start(chain.state, {
    params,
    height: ctx.height,
    miner,
    parentStateRoot: ctx.parent.stateRoot,
    pouw: pouw && { job: pouw.job, jobHeader: pouw.data.header },
    signaturesChecked: true,
  });
  if (!started.ok) throw new Error(`cannot mine that job: ${started.error.message}`);
  const { builder } = started;
  const included: Tx[] = [];
  for (const tx of txs) {
    if (builder.addTx(tx).ok || opts.includeInvalid) included.push(tx);
  }
  const effects = builder.finish();
  const prefix: HeaderPrefix = {
    version: 1,
    height: ctx.height,
    parent: ctx.parentHash,
    time,
    stateRoot: effects.stateRoot,
    txRoot: txRoot(included),
    target: bigintToBytes32(ctx.target),
    miner,
  };
  return { prefix, txs: included, target: ctx.target, pouw };
}

/** A sealed PoUW block and the mining pass that found it (its noisy product, for the job's result). */
export interface PouwSeal {
  block: Block;
  mined: MinedJob;
}

/**
 * One PoUW mining pass over the template's job at `time`: the block if a tile wins, else
 * undefined (the caller tries again with another time). Returns the MACs spent too.
 */
export function pouwPass(
  template: BlockTemplate,
  time: number,
  params: ChainParams,
  kernel?: PouwKernel,
): { seal?: PouwSeal; macs: number; tiles: number } {
  const work = template.pouw;
  if (!work) throw new Error('the template is not a PoUW template');
  const prefix = { ...template.prefix, time };
  const mined = mineJob(work.data, headerPrefixRoot(prefix), params.pouw, kernel);
  const { m, n, k } = work.data.header;
  const stats = { macs: m * n * k, tiles: mined.tileRows * mined.tileCols };
  const wins = winningTiles(work.data, mined, template.target);
  if (wins.length === 0) return stats;
  const tile = openTile(work.data, mined, wins[0]);
  const header: Header = { ...prefix, nonce: tileNonce(tile.tile) };
  const proof = encodePouwProof(work.job, work.data.header, tile);
  return { ...stats, seal: { block: { header, txs: template.txs, proof }, mined } };
}

/** Searches nonces from 0 until the header meets its own target (for easy test targets). */
export function sealHeader(prefix: HeaderPrefix): Header {
  const target = bytesToBigint(prefix.target);
  const root = headerPrefixRoot(prefix);
  const scratch = new Uint8Array(40);
  for (let nonce = 0; nonce < Number.MAX_SAFE_INTEGER; nonce++) {
    if (bytesToBigint(powHash(root, nonce, scratch)) <= target) return { ...prefix, nonce };
  }
  throw new Error('no nonce meets the target');
}

/** A mined block on the chain's tip: build the template, then search its nonce synchronously. */
export function buildBlock(
  chain: LocalChain,
  txs: Tx[],
  miner: Uint8Array,
  time: number,
  opts: TemplateOptions = {},
): Block {
  const template = buildTemplate(chain, txs, miner, time, opts);
  if (template.pouw) return sealPouw(template, chain.params).block;
  return { header: sealHeader(template.prefix), txs: template.txs, proof: new Uint8Array() };
}

/** Mining passes at time, time + 1 ms, ... until a tile wins (for tests and easy targets). */
export function sealPouw(template: BlockTemplate, params: ChainParams, maxPasses = 100_000): PouwSeal {
  for (let i = 0; i < maxPasses; i++) {
    const { seal } = pouwPass(template, template.prefix.time + i, params);
    if (seal) return seal;
  }
  throw new Error(`no tile won in ${maxPasses} passes`);
}
