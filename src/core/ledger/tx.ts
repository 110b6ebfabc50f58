import { txSigningMessage } from '../codec/ids.ts';
import { TransferPayload, type Tx, type TxBody } from '../codec/types.ts';
import {
  addressBytes,
  type KeyPair,
  type SignatureVerifier,
  signMessage,
  verifySignature,
} from '../crypto/keys.ts';
import type { ChainParams } from '../params/index.ts';
import { fail, type Result } from './errors.ts';
import { knownTxKinds, type TxKindHandler, txKindHandler } from './kinds.ts';
import { accountId, accounts, EMPTY_ACCOUNT, type StateOverlay } from './state.ts';

export interface UnsignedTx {
  nonce: number;
  fee: bigint;
  kind: number;
  payload: Uint8Array;
}

export function signTx(unsigned: UnsignedTx, key: KeyPair, params: ChainParams): Tx {
  const body: TxBody = { chainId: params.chainId, sender: key.publicKey, ...unsigned };
  return { body, signature: signMessage(txSigningMessage(body), key.secretKey) };
}

export function encodeTransfer(to: Uint8Array, amount: bigint, memo = new Uint8Array()): Uint8Array {
  return TransferPayload.serialize({ to, amount, memo });
}

/** Encoded size: the Tx's fixed part (body offset 4 + signature 64 + the body's fixed 57) + payload. */
const TX_FIXED_BYTES = 125;

export function txSize(tx: Tx): number {
  return TX_FIXED_BYTES + tx.body.payload.length;
}

/** The smallest fee a transaction of this many bytes may pay. */
export function minimumFee(sizeBytes: number, params: ChainParams): bigint {
  return BigInt(sizeBytes) * params.limits.minFeePerByte;
}

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

export function checkTxSignature(tx: Tx, verifier?: SignatureVerifier): Result<object> {
  const message = txSigningMessage(tx.body);
  const valid = verifier
    ? verifier.verify(message, tx.body.sender, tx.signature)
    : verifySignature(message, tx.body.sender, tx.signature);
  return valid
    ? { ok: true }
    : fail('BAD_SIGNATURE', 'signature does not match the sender key and transaction body');
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

export function txSenderAddress(tx: Tx): Uint8Array {
  return addressBytes(tx.body.sender);
}

/** The accounts other than the sender a transaction concerns (none when its payload is bad). */
export function txParties(tx: Tx, params: ChainParams): Uint8Array[] {
  const handler = txKindHandler(tx.body.kind);
  const decoded = handler?.decode(tx.body.payload, params);
  return handler && decoded?.ok ? handler.parties(decoded.value) : [];
}
