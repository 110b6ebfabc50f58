// What each transaction kind does, one handler per kind. A module that adds a kind (FluxNodes,
// apps, jobs) writes its handler next to its own code and registers it here.
import {
  appCancelHandler,
  appExtendHandler,
  appRegisterHandler,
  appUpdateHandler,
} from '../apps/handlers.ts';
import { jobChallengeHandler, jobResultHandler, jobSubmitHandler } from '../jobs/handlers.ts';
import { nodeConfirmHandler, nodeDownHandler, nodeStartHandler, nodeStopHandler } from '../nodes/handlers.ts';
import type { ChainParams } from '../params/index.ts';
import type { Result } from './errors.ts';
import type { StateOverlay } from './state.ts';
import { transferHandler } from './transfer.ts';

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

const handlers = new Map<number, TxKindHandler>();

export function registerTxKind<P>(handler: TxKindHandler<P>): void {
  if (handlers.has(handler.kind)) throw new Error(`transaction kind ${handler.kind} registered twice`);
  handlers.set(handler.kind, handler as TxKindHandler);
}

export function txKindHandler(kind: number): TxKindHandler | undefined {
  return handlers.get(kind);
}

export function knownTxKinds(): string[] {
  return [...handlers.values()].map((h) => `${h.kind} (${h.name})`);
}

registerTxKind(transferHandler);
registerTxKind(nodeStartHandler);
registerTxKind(nodeConfirmHandler);
registerTxKind(nodeStopHandler);
registerTxKind(nodeDownHandler);
registerTxKind(jobSubmitHandler);
registerTxKind(jobResultHandler);
registerTxKind(jobChallengeHandler);
registerTxKind(appRegisterHandler);
registerTxKind(appUpdateHandler);
registerTxKind(appExtendHandler);
registerTxKind(appCancelHandler);
