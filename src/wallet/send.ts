// Sending a transaction through a node's API: the sender's next nonce (its pending transactions
// counted), the minimum fee the node asks for the signed size (or a fee given), then POST /txs.
import type { AccountJson, ChainInfoJson, FluxClient } from '../api/client.ts';
import { encodeTx, txId } from '../core/codec/ids.ts';
import type { Tx } from '../core/codec/types.ts';
import { toHex } from '../core/crypto/hash.ts';
import { addressBytes, encodeAddress, type KeyPair } from '../core/crypto/keys.ts';
import { signTx } from '../core/ledger/tx.ts';
import type { ChainParams } from '../core/params/index.ts';
import { signWithMinimumFee } from './sign.ts';

export interface SendTxOptions {
  kind: number;
  payload: Uint8Array;
  /** The fee to pay; default the minimum for the size at the node's fee rate. */
  fee?: bigint;
  /** Runs with the fee and the sender's account before the transaction is sent; throws to stop it. */
  check?: (fee: bigint, account: AccountJson) => void;
  /** Told when the node reports another id than the transaction's own. */
  warn?: (line: string) => void;
}

export interface SentTx {
  /** The id the node reported. */
  id: string;
  tx: Tx;
  nonce: number;
  fee: bigint;
}

/** Signs a transaction with `key` at its next nonce and submits it to the node behind `client`. */
export async function sendTx(
  client: Pick<FluxClient, 'account' | 'submitTx'>,
  key: KeyPair,
  network: { params: ChainParams; info: Pick<ChainInfoJson, 'addressPrefix' | 'minFeePerByte'> },
  opts: SendTxOptions,
): Promise<SentTx> {
  const { params, info } = network;
  const address = encodeAddress(info.addressPrefix, addressBytes(key.publicKey));
  const account = await client.account({ params: { address } });
  const unsigned = { nonce: account.pendingNonce, kind: opts.kind, payload: opts.payload };
  // The node's rate, which is what its mempool asks, rather than the preset's.
  const feeParams = { ...params, limits: { ...params.limits, minFeePerByte: BigInt(info.minFeePerByte) } };
  const tx =
    opts.fee === undefined
      ? signWithMinimumFee(unsigned, key, feeParams)
      : signTx({ ...unsigned, fee: opts.fee }, key, params);
  opts.check?.(tx.body.fee, account);
  const { id } = await client.submitTx({ body: { tx: toHex(encodeTx(tx)) } });
  const own = toHex(txId(tx));
  if (id !== own) opts.warn?.(`warning: the node reported id ${id}, expected ${own}`);
  return { id, tx, nonce: unsigned.nonce, fee: tx.body.fee };
}
