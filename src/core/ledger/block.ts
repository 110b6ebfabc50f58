import { payHostingNodes, processDueApps } from '../apps/handlers.ts';
import { txRoot, txRootFromIds } from '../codec/ids.ts';
import { Block, type Header, type Tx } from '../codec/types.ts';
import { bigintToBytes32, bytesEqual, toHex } from '../crypto/hash.ts';
import type { SignatureVerifier } from '../crypto/keys.ts';
import { applyBlockProof, processDueJobs } from '../jobs/lifecycle.ts';
import { payNodeOfTier, processDueNodes, registerGenesisNodes } from '../nodes/lifecycle.ts';
import type { ChainParams } from '../params/index.ts';
import { applyTx } from '../transition/tx.ts';
import { blockSubsidy, splitSubsidy, TIERS, type Tier } from './emission.ts';
import { fail, type Result } from './errors.ts';
import {
  accountId,
  credit,
  EMPTY_SUPPLY,
  nextStateRoot,
  StateOverlay as Overlay,
  type StateOverlay,
  type StateReader,
  supply,
} from './state.ts';

export const ZERO_HASH = new Uint8Array(32);
export const ZERO_ADDRESS = new Uint8Array(20);

/**
 * Who receives a tier's share of this block's subsidy (an account id), or undefined when nobody
 * can be paid and the share is not minted. The default pays the front of the tier's FluxNode
 * payout queue and moves that node to the back.
 */
export type TierPayee = (
  state: StateOverlay,
  tier: Tier,
  ctx: { height: number; amount: bigint },
) => string | undefined;

export interface BlockEffects {
  /** Sorted writes: key -> new encoded value, undefined for a deletion. */
  changes: Array<[string, Uint8Array | undefined]>;
  /** Previous encoded values of the same keys, to undo the block on a reorg. */
  undo: Array<[string, Uint8Array | undefined]>;
  stateRoot: Uint8Array;
  /** Per transaction, the sender's account id and the other accounts it concerns (history indexes). */
  txSenders?: Uint8Array[];
  txParties?: Uint8Array[][];
  subsidy: bigint;
  fees: bigint;
  minted: bigint;
}

export interface ApplyBlockOptions {
  params: ChainParams;
  parentStateRoot: Uint8Array;
  /** Set when every transaction's signature was already verified (e.g. by a worker pool). */
  signaturesChecked?: boolean;
  verifier?: SignatureVerifier;
  tierPayee?: TierPayee;
  /** The transactions' ids when the caller already computed them (saves hashing them twice). */
  txIds?: Uint8Array[];
}

/**
 * The state transition of one block: applies its transactions and its subsidy to `base` and
 * returns the writes, without changing `base`. Any broken rule refuses the whole block.
 * Header checks that need the chain (parent, time, target, work) are in consensus/.
 */
export function applyBlock(
  base: StateReader,
  block: Block,
  opts: ApplyBlockOptions,
): Result<{ effects: BlockEffects }> {
  const { params } = opts;
  const { header, txs } = block;
  if (txs.length > params.limits.maxBlockTxs) {
    return fail(
      'BAD_BLOCK',
      `block has ${txs.length} transactions, the limit is ${params.limits.maxBlockTxs}`,
    );
  }
  const size = Block.value_serializedSize(block);
  if (size > params.limits.maxBlockBytes) {
    return fail('BAD_BLOCK', `block is ${size} bytes, the limit is ${params.limits.maxBlockBytes}`);
  }
  const root = opts.txIds && opts.txIds.length === txs.length ? txRootFromIds(opts.txIds) : txRoot(txs);
  if (!bytesEqual(root, header.txRoot)) return fail('BAD_BLOCK', 'tx root does not match the transactions');
  const state = new Overlay(base);
  // PoUW: the job the proof names is claimed before the transactions run.
  const claimed = applyBlockProof(state, block, params);
  if (!claimed.ok) return claimed;
  const built = applyBody(state, header, txs, opts);
  if (!built.ok) return built;
  if (!bytesEqual(built.effects.stateRoot, header.stateRoot)) {
    return fail(
      'BAD_BLOCK',
      `state root ${toHex(header.stateRoot)} does not match the computed ${toHex(built.effects.stateRoot)}`,
    );
  }
  return built;
}

/** Applies transactions, subsidy and fees to `state`, then computes the effects. */
export function applyBody(
  state: StateOverlay,
  header: Pick<Header, 'height' | 'miner'>,
  txs: Tx[],
  opts: ApplyBlockOptions,
): Result<{ effects: BlockEffects }> {
  const { params } = opts;
  let fees = 0n;
  const senders: Uint8Array[] = new Array(txs.length);
  const parties: Uint8Array[][] = new Array(txs.length);
  for (let i = 0; i < txs.length; i++) {
    const r = applyTx(state, txs[i], {
      params,
      height: header.height,
      signatureChecked: opts.signaturesChecked,
      verifier: opts.verifier,
    });
    if (!r.ok) return fail('BAD_BLOCK', `transaction ${i}: ${r.error.code}: ${r.error.message}`);
    fees += r.fee;
    senders[i] = r.sender;
    parties[i] = r.parties;
  }
  const effects = finishBlock(state, header, fees, opts);
  effects.txSenders = senders;
  effects.txParties = parties;
  return { ok: true, effects };
}

/** Mints the subsidy (miner share + tier shares), credits fees to the miner, computes the root. */
export function finishBlock(
  state: StateOverlay,
  header: Pick<Header, 'height' | 'miner'>,
  fees: bigint,
  opts: ApplyBlockOptions,
): BlockEffects {
  const { params } = opts;
  // Lapses, expiries and unlocks due now, before payouts: a node expiring here is not paid.
  processDueNodes(state, header.height, params);
  // Job payments and missed delivery deadlines.
  processDueJobs(state, header.height);
  // Apps whose paid time ends here, then (every payoutInterval blocks) hosting nodes' pay.
  processDueApps(state, header.height);
  payHostingNodes(state, header.height, params);
  const totals = state.read(supply, '') ?? EMPTY_SUPPLY;
  const subsidy = blockSubsidy(header.height, totals.minted, params);
  const split = splitSubsidy(subsidy, params);
  const payee = opts.tierPayee ?? payNodeOfTier;
  let minted = split.miner;
  for (const tier of TIERS) {
    const amount = split.tiers[tier];
    if (amount === 0n) continue;
    const id = payee(state, tier, { height: header.height, amount });
    if (id === undefined) continue;
    credit(state, id, amount);
    minted += amount;
  }
  credit(state, accountId(header.miner), split.miner + fees);
  state.write(supply, '', { ...(state.read(supply, '') ?? totals), minted: totals.minted + minted });
  const changes = state.changes();
  const undo = changes.map(([key]): [string, Uint8Array | undefined] => [key, state.base.get(key)]);
  return { changes, undo, stateRoot: nextStateRoot(opts.parentStateRoot, changes), subsidy, fees, minted };
}

/** The genesis state: allocations from params, recorded as minted. */
export function genesisEffects(params: ChainParams): BlockEffects {
  const state = new Overlay({ get: () => undefined });
  let total = 0n;
  for (const a of params.genesis.allocations) {
    credit(state, a.address, a.amount);
    total += a.amount;
  }
  if (total > params.maxSupply) throw new Error('genesis allocations exceed the supply cap');
  state.write(supply, '', { minted: total, locked: 0n });
  registerGenesisNodes(state, params);
  const changes = state.changes();
  return {
    changes,
    undo: changes.map(([key]) => [key, undefined]),
    stateRoot: nextStateRoot(ZERO_HASH, changes),
    subsidy: 0n,
    fees: 0n,
    minted: total,
  };
}

export function genesisBlock(params: ChainParams): Block {
  const header: Header = {
    version: 1,
    height: 0,
    parent: ZERO_HASH,
    time: params.genesis.time,
    stateRoot: genesisEffects(params).stateRoot,
    txRoot: txRoot([]),
    target: bigintToBytes32(params.pow.initialTarget),
    miner: ZERO_ADDRESS,
    nonce: 0,
  };
  return { header, txs: [], proof: new Uint8Array() };
}
