// The one place a transaction is priced at the least fee its size needs and signed: the CLI, a
// wallet's sends and a node's own services (FluxNode confirmations, down reports, PoUW results)
// all sign through it.
import type { Tx } from '../core/codec/types.ts';
import type { KeyPair } from '../core/crypto/keys.ts';
import { minimumFee, signTx, txSize, type UnsignedTx } from '../core/ledger/tx.ts';
import type { ChainParams } from '../core/params/index.ts';

/**
 * Signs `unsigned` with the minimum fee `params` ask for its size. The size does not depend on
 * the fee's value, so one trial signature gives it.
 */
export function signWithMinimumFee(unsigned: Omit<UnsignedTx, 'fee'>, key: KeyPair, params: ChainParams): Tx {
  const fee = minimumFee(txSize(signTx({ ...unsigned, fee: 0n }, key, params)), params);
  return signTx({ ...unsigned, fee }, key, params);
}
