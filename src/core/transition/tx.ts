// A transaction's state transition: the checks that need no state (its kind's payload among
// them), then nonce, balance and the kind's own changes, dispatched through the table of kinds.
import type { Tx } from '../codec/types.ts';
import { addressBytes, type SignatureVerifier } from '../crypto/keys.ts';
import { fail, type Result } from '../ledger/errors.ts';
import { accountId, accounts, EMPTY_ACCOUNT, type StateOverlay } from '../ledger/state.ts';
import { checkTxSignature, minimumFee, txSize } from '../ledger/tx.ts';
import type { TxKindHandler } from '../ledger/types.ts';
import type { ChainParams } from '../params/index.ts';
import { knownTxKinds, txKindHandler } from './kinds.ts';

/** A payload decoded by its kind's handler, with what it takes from the sender besides the fee. */
export interface DecodedPayload {
  handler: TxKindHandler;
  value: unknown;
  spend: bigint;
}

/** Checks everything about a transaction that needs no state, except its signature. */
export function checkTxStateless(
  tx: Tx,
  params: ChainParams,
  size = txSize(tx),
): Result<{ payload: DecodedPayload }> {
  const body = tx.body;
  if (body.chainId !== params.chainId) {
    return fail(
      'WRONG_CHAIN',
      `transaction is for chain ${body.chainId}, this is ${params.network} (chain ${params.chainId})`,
    );
  }
  if (size > params.limits.maxTxBytes) {
    return fail('TOO_LARGE', `transaction is ${size} bytes, the limit is ${params.limits.maxTxBytes}`);
  }
  const minFee = minimumFee(size, params);
  if (body.fee < minFee)
    return fail('FEE_TOO_LOW', `fee ${body.fee} is below the minimum ${minFee} for ${size} bytes`);
  const handler = txKindHandler(body.kind);
  if (!handler) {
    return fail(
      'UNKNOWN_KIND',
      `unknown transaction kind ${body.kind} (known: ${knownTxKinds().join(', ')})`,
    );
  }
  const decoded = handler.decode(body.payload, params);
  if (!decoded.ok) return decoded;
  return { ok: true, payload: { handler, value: decoded.value, spend: handler.spend(decoded.value) } };
}

export interface ApplyTxOptions {
  params: ChainParams;
  /** Height of the block being built or checked. */
  height: number;
  /** Skip the signature check because the caller already verified it (e.g. in parallel). */
  signatureChecked?: boolean;
  verifier?: SignatureVerifier;
}

/**
 * Applies one transaction to the overlay. On failure nothing it wrote remains.
 * Returns the fee, which the block credits to its miner, and the accounts other than the sender
 * whose history lists the transaction.
 */
export function applyTx(
  state: StateOverlay,
  tx: Tx,
  opts: ApplyTxOptions,
): Result<{ fee: bigint; sender: Uint8Array; parties: Uint8Array[] }> {
  const checked = checkTxStateless(tx, opts.params);
  if (!checked.ok) return checked;
  if (!opts.signatureChecked) {
    const sig = checkTxSignature(tx, opts.verifier);
    if (!sig.ok) return sig;
  }
  const senderAddress = addressBytes(tx.body.sender);
  const senderId = accountId(senderAddress);
  const sender = state.read(accounts, senderId) ?? EMPTY_ACCOUNT;
  if (tx.body.nonce !== sender.nonce) {
    return fail('BAD_NONCE', `nonce ${tx.body.nonce} is not the sender's next nonce ${sender.nonce}`);
  }
  const { handler, value, spend: amount } = checked.payload;
  const spend = tx.body.fee + amount;
  if (spend > sender.balance) {
    return fail(
      'INSUFFICIENT_FUNDS',
      `sender ${senderId} has ${sender.balance}${sender.locked > 0n ? ` spendable (${sender.locked} more is locked as collateral)` : ''}, needs ${spend} (${handler.name} ${amount} + fee ${tx.body.fee})`,
    );
  }
  const mark = state.checkpoint();
  state.write(accounts, senderId, { ...sender, balance: sender.balance - spend, nonce: sender.nonce + 1 });
  const applied = handler.apply(state, value, {
    params: opts.params,
    height: opts.height,
    senderId,
    senderKey: tx.body.sender,
    nonce: tx.body.nonce,
  });
  if (!applied.ok) {
    state.revert(mark);
    return applied;
  }
  return { ok: true, fee: tx.body.fee, sender: senderAddress, parties: handler.parties(value) };
}

/** The accounts other than the sender a transaction concerns (none when its payload is bad). */
export function txParties(tx: Tx, params: ChainParams): Uint8Array[] {
  const handler = txKindHandler(tx.body.kind);
  const decoded = handler?.decode(tx.body.payload, params);
  return handler && decoded?.ok ? handler.parties(decoded.value) : [];
}
