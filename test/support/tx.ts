// Signed transfers for tests and benches.
import { type Tx, TxKind } from '../../src/core/codec/types.ts';
import type { KeyPair } from '../../src/core/crypto/keys.ts';
import { encodeTransfer, minimumFee, signTx, txSize } from '../../src/core/ledger/tx.ts';
import { type ChainParams, COIN } from '../../src/core/params/index.ts';
import { addressOf, testKey } from './keys.ts';

/** A transfer paying `feePerByte` for its exact size (default: the minimum fee), with an optional memo. */
export function transfer(
  params: ChainParams,
  from: KeyPair,
  to: Uint8Array,
  amount: bigint,
  nonce: number,
  feePerByte = params.limits.minFeePerByte,
  memo?: string,
): Tx {
  const payload = encodeTransfer(to, amount, memo === undefined ? undefined : new TextEncoder().encode(memo));
  const unsigned = { nonce, fee: 0n, kind: TxKind.transfer, payload };
  const size = txSize({
    body: { ...unsigned, chainId: params.chainId, sender: from.publicKey },
    signature: new Uint8Array(64),
  });
  return signTx({ ...unsigned, fee: BigInt(size) * feePerByte }, from, params);
}

/** A transfer with this fee, whatever its size. */
export function transferAtFee(
  params: ChainParams,
  from: KeyPair,
  to: Uint8Array,
  amount: bigint,
  nonce: number,
  fee: bigint,
): Tx {
  return signTx({ nonce, fee, kind: TxKind.transfer, payload: encodeTransfer(to, amount) }, from, params);
}

/** The account the p2p tests pay: no test funds it. */
export const PAYEE = addressOf(testKey(99));

/** A payment to PAYEE at the minimum fee of 300 bytes (above any transfer's size). */
export const payment = (params: ChainParams, from: KeyPair, nonce: number, amount = COIN): Tx =>
  transferAtFee(params, from, PAYEE, amount, nonce, minimumFee(300, params));

export const minFee = (params: ChainParams, tx: Tx): bigint => minimumFee(txSize(tx), params);
