// The state transition of a block, composed on top of core. What every block does besides its
// transactions is one ordered list of steps (BEFORE_TXS, AFTER_TXS); BlockBuilder runs them, and
// both applying a block (executeBlock, applyBlock) and building one (the miner's template) go
// through BlockBuilder, so the order is written once. The steps live in ledger, nodes, apps and
// jobs and never import this file.
import { payHostingNodes, processDueApps } from '../apps/handlers.ts';
import type { Block, Header, Tx } from '../codec/types.ts';
import { type DecodedPouwProof, decodePouwProof } from '../consensus/pouw.ts';
import { validateBlockPostExecution, validateBlockPreExecution } from '../consensus/validate.ts';
import type { SignatureVerifier } from '../crypto/keys.ts';
import { applyPouwBlock, processDueJobs } from '../jobs/lifecycle.ts';
import { blockSubsidy, splitSubsidy, TIERS, type Tier } from '../ledger/emission.ts';
import { fail, type Result } from '../ledger/errors.ts';
import {
  accountId,
  credit,
  EMPTY_SUPPLY,
  nextStateRoot,
  StateOverlay,
  type StateReader,
  supply,
} from '../ledger/state.ts';
import type { BlockEffects } from '../ledger/types.ts';
import { payNodeOfTier, processDueNodes } from '../nodes/lifecycle.ts';
import { type ChainParams, isActive } from '../params/index.ts';
import { applyTx } from './tx.ts';

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

/** The block being applied or built, as its steps see it. */
export interface BlockInProgress {
  readonly params: ChainParams;
  readonly height: number;
  /** The account (20 bytes) the miner share and the fees go to. */
  readonly miner: Uint8Array;
  /** Under PoUW, the job the block's proof names (a zero id for the zero job) and its header. */
  readonly pouw?: Pick<DecodedPouwProof, 'job' | 'jobHeader'>;
  readonly tierPayee: TierPayee;
  /** Fees of the transactions applied so far. */
  fees: bigint;
  /** Set by the subsidy step: the block's subsidy, and what it mints of it (the miner share plus the tier shares paid). */
  subsidy: bigint;
  minted: bigint;
}

/** A step before the transactions: it may refuse the block. */
export type BlockStartStep = (state: StateOverlay, block: BlockInProgress) => Result<object>;
/** A step after the transactions: bookkeeping that never refuses a block. */
export type BlockEndStep = (state: StateOverlay, block: BlockInProgress) => void;

/** Before the transactions: a PoUW block claims the job its proof names, so no transaction in it acts on that job first. */
export const BEFORE_TXS: readonly BlockStartStep[] = Object.freeze([
  (state, b) => applyPouwBlock(state, b, b.pouw, b.params),
]);

/** After the transactions, in this order. */
export const AFTER_TXS: readonly BlockEndStep[] = Object.freeze([
  // Lapses, expiries and unlocks due now, before payouts: a node expiring here is not paid.
  (state, b) => processDueNodes(state, b.height, b.params),
  // Job payments and missed delivery deadlines.
  (state, b) => processDueJobs(state, b.height),
  // Apps whose paid time ends here, then (every payoutInterval blocks) hosting nodes' pay.
  (state, b) => processDueApps(state, b.height),
  (state, b) => payHostingNodes(state, b.height, b.params),
  mintSubsidy,
]);

/** Mints the subsidy (miner share + the tier shares that have a payee) and credits the fees to the miner. */
function mintSubsidy(state: StateOverlay, b: BlockInProgress): void {
  const totals = state.read(supply, '') ?? EMPTY_SUPPLY;
  const subsidy = blockSubsidy(b.height, totals.minted, b.params);
  const split = splitSubsidy(subsidy, b.params);
  let minted = split.miner;
  for (const tier of TIERS) {
    const amount = split.tiers[tier];
    if (amount === 0n) continue;
    const id = b.tierPayee(state, tier, { height: b.height, amount });
    if (id === undefined) continue;
    credit(state, id, amount);
    minted += amount;
  }
  credit(state, accountId(b.miner), split.miner + b.fees);
  state.write(supply, '', { ...(state.read(supply, '') ?? totals), minted: totals.minted + minted });
  b.subsidy = subsidy;
  b.minted = minted;
}

export interface BlockBuilderOptions {
  params: ChainParams;
  height: number;
  miner: Uint8Array;
  parentStateRoot: Uint8Array;
  /** Under PoUW: the job the block's proof names. */
  pouw?: Pick<DecodedPouwProof, 'job' | 'jobHeader'>;
  tierPayee?: TierPayee;
  /** Set when every transaction's signature was already verified (e.g. by a worker pool). */
  signaturesChecked?: boolean;
  verifier?: SignatureVerifier;
}

/**
 * One block on top of `base`: `start` runs the steps before the transactions, `addTx` applies
 * one transaction (a refused one leaves nothing behind), `finish` runs the steps after them and
 * returns the writes and the state root. `base` itself is never changed.
 */
export class BlockBuilder {
  private readonly state: StateOverlay;
  private readonly block: BlockInProgress;
  private readonly parentStateRoot: Uint8Array;
  private readonly signaturesChecked: boolean;
  private readonly verifier?: SignatureVerifier;
  private readonly senders: Uint8Array[] = [];
  private readonly parties: Uint8Array[][] = [];
  private finished = false;

  private constructor(base: StateReader, opts: BlockBuilderOptions) {
    this.state = new StateOverlay(base);
    this.block = {
      params: opts.params,
      height: opts.height,
      miner: opts.miner,
      pouw: opts.pouw,
      tierPayee: opts.tierPayee ?? payNodeOfTier,
      fees: 0n,
      subsidy: 0n,
      minted: 0n,
    };
    this.parentStateRoot = opts.parentStateRoot;
    this.signaturesChecked = opts.signaturesChecked ?? false;
    this.verifier = opts.verifier;
  }

  /** Starts a block: runs the steps before its transactions, which may refuse it. */
  static start(base: StateReader, opts: BlockBuilderOptions): Result<{ builder: BlockBuilder }> {
    const builder = new BlockBuilder(base, opts);
    for (const step of BEFORE_TXS) {
      const r = step(builder.state, builder.block);
      if (!r.ok) return r;
    }
    return { ok: true, builder };
  }

  /** Applies the next transaction; when it is refused nothing it wrote remains. */
  addTx(tx: Tx): Result<{ fee: bigint }> {
    if (this.finished) throw new Error('the block is finished');
    const { params, height } = this.block;
    const r = applyTx(this.state, tx, {
      params,
      height,
      signatureChecked: this.signaturesChecked,
      verifier: this.verifier,
    });
    if (!r.ok) return r;
    this.block.fees += r.fee;
    this.senders.push(r.sender);
    this.parties.push(r.parties);
    return { ok: true, fee: r.fee };
  }

  /** Runs the steps after the transactions and returns the block's effects (once). */
  finish(): BlockEffects {
    if (this.finished) throw new Error('the block is finished');
    this.finished = true;
    const { state, block } = this;
    for (const step of AFTER_TXS) step(state, block);
    const changes = state.changes();
    const undo = changes.map(([key]): [string, Uint8Array | undefined] => [key, state.base.get(key)]);
    return {
      changes,
      undo,
      stateRoot: nextStateRoot(this.parentStateRoot, changes),
      txSenders: this.senders,
      txParties: this.parties,
      subsidy: block.subsidy,
      fees: block.fees,
      minted: block.minted,
    };
  }
}

export interface ExecuteBlockOptions {
  params: ChainParams;
  parentStateRoot: Uint8Array;
  /** Set when every transaction's signature was already verified (e.g. by a worker pool). */
  signaturesChecked?: boolean;
  verifier?: SignatureVerifier;
  tierPayee?: TierPayee;
}

/**
 * Executes a block on `base`: its PoUW claim, its transactions in order, then the end-of-block
 * steps. Any refused transaction refuses the whole block. Returns the writes without changing
 * `base`; the block's header and body are checked by consensus/validate.ts.
 */
export function executeBlock(
  base: StateReader,
  block: { header: Pick<Header, 'height' | 'miner'>; txs: Tx[]; proof: Uint8Array },
  opts: ExecuteBlockOptions,
): Result<{ effects: BlockEffects }> {
  const { header, txs } = block;
  let pouw: DecodedPouwProof | undefined;
  if (isActive(opts.params, 'pouw', header.height)) {
    const decoded = decodePouwProof(block.proof);
    if (!decoded.ok) return decoded;
    pouw = decoded.proof;
  }
  const started = BlockBuilder.start(base, { ...opts, height: header.height, miner: header.miner, pouw });
  if (!started.ok) return started;
  const { builder } = started;
  for (let i = 0; i < txs.length; i++) {
    const r = builder.addTx(txs[i]);
    if (!r.ok) return fail('BAD_BLOCK', `transaction ${i}: ${r.error.code}: ${r.error.message}`);
  }
  return { ok: true, effects: builder.finish() };
}

/**
 * The state transition of one block whose header was checked against its parent: the body's
 * rules (validateBlockPreExecution), executeBlock, then the state root
 * (validateBlockPostExecution). Returns the writes without changing `base`; any broken rule
 * refuses the whole block. The node calls the same three itself, so it can check the body before
 * it stores a side block.
 */
export function applyBlock(
  base: StateReader,
  block: Block,
  opts: ExecuteBlockOptions,
): Result<{ effects: BlockEffects }> {
  const body = validateBlockPreExecution(block, opts.params);
  if (!body.ok) return body;
  const executed = executeBlock(base, block, opts);
  if (!executed.ok) return executed;
  const post = validateBlockPostExecution(block.header, executed.effects);
  if (!post.ok) return post;
  return executed;
}
