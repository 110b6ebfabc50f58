// Every transaction kind and its handler: a constant table, in kind order. A module that adds a
// kind writes its handler next to its own code (against ledger/types.ts) and is listed here.
import {
  appCancelHandler,
  appExtendHandler,
  appRegisterHandler,
  appUpdateHandler,
} from '../apps/handlers.ts';
import { jobChallengeHandler, jobResultHandler, jobSubmitHandler } from '../jobs/handlers.ts';
import { transferHandler } from '../ledger/transfer.ts';
import type { TxKindHandler } from '../ledger/types.ts';
import { nodeConfirmHandler, nodeDownHandler, nodeStartHandler, nodeStopHandler } from '../nodes/handlers.ts';

export const TX_KINDS: readonly TxKindHandler[] = Object.freeze([
  transferHandler,
  nodeStartHandler,
  nodeConfirmHandler,
  nodeStopHandler,
  nodeDownHandler,
  appRegisterHandler,
  appUpdateHandler,
  appExtendHandler,
  appCancelHandler,
  jobSubmitHandler,
  jobResultHandler,
  jobChallengeHandler,
]);

/** Handlers by kind (a u8), so a lookup is one array read. */
const byKind: ReadonlyArray<TxKindHandler | undefined> = (() => {
  const out = new Array<TxKindHandler | undefined>(256).fill(undefined);
  for (const h of TX_KINDS) {
    if (out[h.kind]) throw new Error(`transaction kind ${h.kind} is listed twice`);
    out[h.kind] = h;
  }
  return out;
})();

export function txKindHandler(kind: number): TxKindHandler | undefined {
  return byKind[kind];
}

export function knownTxKinds(): string[] {
  return TX_KINDS.map((h) => `${h.kind} (${h.name})`);
}
