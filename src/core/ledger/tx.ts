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

export function checkTxSignature(tx: Tx, verifier?: SignatureVerifier): Result<object> {
  const message = txSigningMessage(tx.body);
  const valid = verifier
    ? verifier.verify(message, tx.body.sender, tx.signature)
    : verifySignature(message, tx.body.sender, tx.signature);
  return valid
    ? { ok: true }
    : fail('BAD_SIGNATURE', 'signature does not match the sender key and transaction body');
}

export function txSenderAddress(tx: Tx): Uint8Array {
  return addressBytes(tx.body.sender);
}
