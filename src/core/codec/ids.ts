import { ListCompositeType } from '@chainsafe/ssz';
import { concatBytes, sha256 } from '../crypto/hash.ts';
import {
  Block,
  Bytes32,
  Header,
  HeaderPrefix,
  MAX_BLOCK_TXS,
  type Tx,
  TxBody,
  Tx as TxType,
} from './types.ts';

// Domain tags keep a signature over one kind of object from being valid for another.
const DOMAIN_TX = new TextEncoder().encode('openflux/tx/v1');

/** Tx ids are merkleized into the block's tx root as an SSZ List[Bytes32]. */
const TxIdList = new ListCompositeType(Bytes32, MAX_BLOCK_TXS);

/** Where a Tx's body starts in its SSZ bytes: after the body offset (4) and the signature (64). */
export const TX_BODY_OFFSET = 68;
/** Size of the fixed part of a Block's SSZ bytes: the header, then the txs and proof offsets. */
export const BLOCK_FIXED_BYTES = Header.fixedSize! + 8;

/**
 * A transaction id is sha256 of its SSZ bytes, and the signed message is sha256 of a domain tag
 * and the body's SSZ bytes: one pass over bytes the node already holds, where a hash tree root
 * would cost about twenty hashes per transaction.
 */
export function txId(tx: Tx): Uint8Array {
  return sha256(TxType.serialize(tx));
}

export function txIdFromBytes(txBytes: Uint8Array): Uint8Array {
  return sha256(txBytes);
}

/** The 32 bytes a sender signs. */
export function txSigningMessage(body: TxBody): Uint8Array {
  return sha256(concatBytes(DOMAIN_TX, TxBody.serialize(body)));
}

/** The signed message straight from a Tx's SSZ bytes (as held in a block). */
export function txSigningMessageFromBytes(txBytes: Uint8Array): Uint8Array {
  return sha256(concatBytes(DOMAIN_TX, txBytes.subarray(TX_BODY_OFFSET)));
}

export function txRoot(txs: Tx[]): Uint8Array {
  return txRootFromIds(txs.map(txId));
}

export function txRootFromIds(ids: Uint8Array[]): Uint8Array {
  return TxIdList.hashTreeRoot(ids);
}

/** [offset, length] of each transaction's SSZ bytes inside an encoded block, from its offsets. */
export function blockTxSpans(encodedBlock: Uint8Array, count: number): Array<[number, number]> {
  const view = new DataView(encodedBlock.buffer, encodedBlock.byteOffset, encodedBlock.byteLength);
  const start = view.getUint32(BLOCK_FIXED_BYTES - 8, true);
  const end = view.getUint32(BLOCK_FIXED_BYTES - 4, true);
  const spans: Array<[number, number]> = new Array(count);
  for (let i = 0; i < count; i++) {
    const from = start + view.getUint32(start + 4 * i, true);
    const to = i + 1 < count ? start + view.getUint32(start + 4 * (i + 1), true) : end;
    spans[i] = [from, to - from];
  }
  return spans;
}

/** The SSZ bytes of each transaction of an encoded block (views, not copies). */
export function blockTxBytes(encodedBlock: Uint8Array, count: number): Uint8Array[] {
  return blockTxSpans(encodedBlock, count).map(([at, len]) => encodedBlock.subarray(at, at + len));
}

export function blockHash(header: Header): Uint8Array {
  return Header.hashTreeRoot(header);
}

export function headerPrefixRoot(header: HeaderPrefix): Uint8Array {
  return HeaderPrefix.hashTreeRoot(header);
}

export function encodeTx(tx: Tx): Uint8Array {
  return TxType.serialize(tx);
}

export function decodeTx(bytes: Uint8Array): Tx {
  return TxType.deserialize(bytes);
}

export function encodeBlock(block: Block): Uint8Array {
  return Block.serialize(block);
}

export function decodeBlock(bytes: Uint8Array): Block {
  return Block.deserialize(bytes);
}
