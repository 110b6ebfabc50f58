import { txSigningMessage } from '../codec/ids.ts';
import { TransferPayload, TX_KIND_NAMES, Tx, type TxBody, TxKind } from '../codec/types.ts';
import { toHex } from '../crypto/hash.ts';
import {
  addressBytes,
  type KeyPair,
  type SignatureVerifier,
  signMessage,
  verifySignature,
} from '../crypto/keys.ts';
import type { ChainParams } from '../params/index.ts';
import { fail, type Result } from './errors.ts';
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

export function txSize(tx: Tx): number {
  return Tx.value_serializedSize(tx);
}

/** The smallest fee a transaction of this many bytes may pay. */
export function minimumFee(sizeBytes: number, params: ChainParams): bigint {
  return BigInt(sizeBytes) * params.limits.minFeePerByte;
}

export type DecodedPayload = { kind: 'transfer'; value: TransferPayload };

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
  const payload = decodePayload(body.kind, body.payload, params);
  if (!payload.ok) return payload;
  return { ok: true, payload: payload.payload };
}

function decodePayload(
  kind: number,
  bytes: Uint8Array,
  params: ChainParams,
): Result<{ payload: DecodedPayload }> {
  if (kind === TxKind.transfer) {
    let value: TransferPayload;
    try {
      value = TransferPayload.deserialize(bytes);
    } catch (e) {
      return fail('MALFORMED', `transfer payload does not decode: ${(e as Error).message}`);
    }
    if (value.amount <= 0n) return fail('BAD_AMOUNT', 'transfer amount must be positive');
    if (value.amount > params.maxSupply)
      return fail('BAD_AMOUNT', `transfer amount ${value.amount} exceeds the supply cap`);
    return { ok: true, payload: { kind: 'transfer', value } };
  }
  return fail(
    'UNKNOWN_KIND',
    `unknown transaction kind ${kind} (known: ${Object.values(TX_KIND_NAMES).join(', ')})`,
  );
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
  /** Skip the signature check because the caller already verified it (e.g. in parallel). */
  signatureChecked?: boolean;
  verifier?: SignatureVerifier;
}

/**
 * Applies one transaction to the overlay. On failure nothing it wrote remains.
 * Returns the fee, which the block credits to its miner.
 */
export function applyTx(state: StateOverlay, tx: Tx, opts: ApplyTxOptions): Result<{ fee: bigint }> {
  const checked = checkTxStateless(tx, opts.params);
  if (!checked.ok) return checked;
  if (!opts.signatureChecked) {
    const sig = checkTxSignature(tx, opts.verifier);
    if (!sig.ok) return sig;
  }
  const senderId = accountId(addressBytes(tx.body.sender));
  const sender = state.read(accounts, senderId) ?? EMPTY_ACCOUNT;
  if (tx.body.nonce !== sender.nonce) {
    return fail('BAD_NONCE', `nonce ${tx.body.nonce} is not the sender's next nonce ${sender.nonce}`);
  }
  const payload = checked.payload;
  const spend = tx.body.fee + (payload.kind === 'transfer' ? payload.value.amount : 0n);
  if (spend > sender.balance) {
    return fail(
      'INSUFFICIENT_FUNDS',
      `sender ${senderId} has ${sender.balance}, needs ${spend} (amount + fee)`,
    );
  }
  const mark = state.checkpoint();
  state.write(accounts, senderId, { ...sender, balance: sender.balance - spend, nonce: sender.nonce + 1 });
  if (payload.kind === 'transfer') {
    const toId = toHex(payload.value.to);
    const to = state.read(accounts, toId) ?? EMPTY_ACCOUNT;
    state.write(accounts, toId, { ...to, balance: to.balance + payload.value.amount });
  } else {
    state.revert(mark);
    return fail('UNKNOWN_KIND', 'unhandled payload');
  }
  return { ok: true, fee: tx.body.fee };
}

export function txSenderAddress(tx: Tx): Uint8Array {
  return addressBytes(tx.body.sender);
}
