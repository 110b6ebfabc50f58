// Block templates: the tip, some transactions, the subsidy and fees, the state root, then a
// nonce. Used by the miner and by tests that need valid blocks quickly.
import { headerPrefixRoot, txRoot } from '../../core/codec/ids.ts';
import type { Block, Header, HeaderPrefix, Tx } from '../../core/codec/types.ts';
import { powHash } from '../../core/consensus/pow.ts';
import { bigintToBytes32, bytesToBigint } from '../../core/crypto/hash.ts';
import { finishBlock } from '../../core/ledger/block.ts';
import { StateOverlay } from '../../core/ledger/state.ts';
import { applyTx } from '../../core/ledger/tx.ts';
import type { LocalChain } from '../chain/chain.ts';

export interface BlockTemplate {
  prefix: HeaderPrefix;
  txs: Tx[];
  target: bigint;
}

export interface TemplateOptions {
  /**
   * Put transactions that fail to apply into the block anyway (their effects left out of the
   * state root): for tests that need a block breaking a transaction rule.
   */
  includeInvalid?: boolean;
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
  const state = new StateOverlay(chain.state);
  const included: Tx[] = [];
  let fees = 0n;
  for (const tx of txs) {
    const r = applyTx(state, tx, { params, height: ctx.height, signatureChecked: true });
    if (r.ok) fees += r.fee;
    if (r.ok || opts.includeInvalid) included.push(tx);
  }
  const effects = finishBlock(state, { height: ctx.height, miner }, fees, {
    params,
    parentStateRoot: ctx.parent.stateRoot,
  });
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
  return { prefix, txs: included, target: ctx.target };
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
  return { header: sealHeader(template.prefix), txs: template.txs, proof: new Uint8Array() };
}
