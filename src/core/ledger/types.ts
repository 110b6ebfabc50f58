// The contract between the state transition (core/transition) and the modules that add
// transaction kinds (ledger's transfer, nodes, apps, jobs): they implement these types and never
// import the transition, which lists their handlers in its table of kinds.
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
