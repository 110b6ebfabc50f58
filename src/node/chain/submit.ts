// Transactions a node's own services send (FluxNode confirmations and down reports, PoUW
// results): the next nonce counts the key's transactions still in the mempool, and the fee is
// the minimum for the signed size.
import type { Tx, TxKind } from '../../core/codec/types.ts';
import { bytesEqual } from '../../core/crypto/hash.ts';
import { addressBytes, type KeyPair } from '../../core/crypto/keys.ts';
import { signWithMinimumFee } from '../../wallet/sign.ts';
import type { Chain, SubmitResult } from './types.ts';

/** The nonce of `key`'s next transaction: its account's nonce plus its pending transactions. */
function nextNonce(chain: Pick<Chain, 'mempool' | 'account'>, publicKey: Uint8Array): number {
  const pending = chain.mempool(100_000).filter((e) => bytesEqual(e.tx.body.sender, publicKey)).length;
  return chain.account(addressBytes(publicKey)).nonce + pending;
}

/** Signs a transaction of `kind` with the minimum fee and the next nonce, and submits it. */
export function submitOwn(
  chain: Pick<Chain, 'mempool' | 'account' | 'submitTx' | 'params'>,
  key: KeyPair,
  kind: TxKind,
  payload: Uint8Array,
): { tx: Tx; result: SubmitResult } {
  const tx = signWithMinimumFee({ nonce: nextNonce(chain, key.publicKey), kind, payload }, key, chain.params);
  return { tx, result: chain.submitTx(tx) };
}
