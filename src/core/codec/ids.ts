import { sha256Concat } from '../crypto/hash.ts';
import { Block, Header, HeaderPrefix, Tx, TxBody, TxList } from './types.ts';

// Domain tags keep a signature over one kind of object from being valid for another.
const DOMAIN_TX = new TextEncoder().encode('openflux/tx/v1');

/** The 32 bytes a sender signs: the body root under the transaction domain. */
export function txSigningMessage(body: TxBody): Uint8Array {
  return sha256Concat(DOMAIN_TX, TxBody.hashTreeRoot(body));
}

export function txId(tx: Tx): Uint8Array {
  return Tx.hashTreeRoot(tx);
}

export function txRoot(txs: Tx[]): Uint8Array {
  return TxList.hashTreeRoot(txs);
}

export function blockHash(header: Header): Uint8Array {
  return Header.hashTreeRoot(header);
}

export function headerPrefixRoot(header: HeaderPrefix): Uint8Array {
  return HeaderPrefix.hashTreeRoot(header);
}

export function encodeTx(tx: Tx): Uint8Array {
  return Tx.serialize(tx);
}

export function decodeTx(bytes: Uint8Array): Tx {
  return Tx.deserialize(bytes);
}

export function encodeBlock(block: Block): Uint8Array {
  return Block.serialize(block);
}

export function decodeBlock(bytes: Uint8Array): Block {
  return Block.deserialize(bytes);
}
