// The contract between the state transition (core/transition) and the modules below it: the
// handler a transaction kind implements (ledger's transfer, nodes, apps, jobs; they never import
// the transition, which lists their handlers in its table of kinds), and what a block's
// transition hands the node to store.
import type { ChainParams } from '../params/index.ts';
import type { Result } from './errors.ts';
import type { StateOverlay } from './state.ts';

export interface TxContext {
  params: ChainParams;
  /** Height of the block the transaction is applied in. */
  height: number;
  /** Account id (hex) of the sender, already debited the fee and `spend`. */
  senderId: string;
  /** The sender's ed25519 public key. */
  senderKey: Uint8Array;
  /** The transaction's nonce (unique per sender, so it can name what the transaction creates). */
  nonce: number;
}

export interface TxKindHandler<P = unknown> {
  kind: number;
  name: string;
  /** Decodes and checks the payload without state; errors name the field and the rule. */
  decode(bytes: Uint8Array, params: ChainParams): Result<{ value: P }>;
  /** What leaves the sender's spendable balance besides the fee (checked against it up front). */
  spend(value: P): bigint;
  /** The kind's state changes, after the fee and `spend` were debited and the nonce bumped. */
  apply(state: StateOverlay, value: P, ctx: TxContext): Result<object>;
  /** Accounts other than the sender whose history should list the transaction. */
  parties(value: P): Uint8Array[];
}

/** What applying a block writes: the node stores it in the block's SQL transaction. */
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
