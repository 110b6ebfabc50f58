// Shape checks for consensus objects handed over as values (not bytes): SSZ serialization does
// not check lengths or ranges, so a malformed value could hash and store inconsistently.
import { type Block, type Header, MAX_PAYLOAD_BYTES, MAX_PROOF_BYTES, type Tx } from '../codec/types.ts';

const U64_MAX = (1n << 64n) - 1n;

function bytesOf(value: unknown, length: number): boolean {
  return value instanceof Uint8Array && value.length === length;
}

function uint(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

/** Why the header is malformed, or undefined when its shape is right. */
export function headerShapeError(h: Header): string | undefined {
  if (typeof h !== 'object' || h === null) return 'header is missing';
  if (!uint(h.version, 0xffff_ffff)) return 'header version is not a 32-bit unsigned integer';
  for (const f of ['height', 'time', 'nonce'] as const) {
    if (!uint(h[f], Number.MAX_SAFE_INTEGER)) return `header ${f} is not a non-negative safe integer`;
  }
  for (const f of ['parent', 'stateRoot', 'txRoot', 'target'] as const) {
    if (!bytesOf(h[f], 32)) return `header ${f} is not 32 bytes`;
  }
  if (!bytesOf(h.miner, 20)) return 'header miner is not 20 bytes';
  return undefined;
}

/** Why the transaction is malformed, or undefined when its shape is right. */
export function txShapeError(tx: Tx): string | undefined {
  const b = tx?.body;
  if (typeof b !== 'object' || b === null) return 'transaction body is missing';
  if (!uint(b.chainId, 0xffff_ffff)) return 'chainId is not a 32-bit unsigned integer';
  if (!uint(b.nonce, Number.MAX_SAFE_INTEGER)) return 'nonce is not a non-negative safe integer';
  if (typeof b.fee !== 'bigint' || b.fee < 0n || b.fee > U64_MAX)
    return 'fee is not a 64-bit unsigned amount';
  if (!bytesOf(b.sender, 32)) return 'sender is not a 32-byte public key';
  if (!uint(b.kind, 0xff)) return 'kind is not an 8-bit unsigned integer';
  if (!(b.payload instanceof Uint8Array) || b.payload.length > MAX_PAYLOAD_BYTES)
    return `payload is not at most ${MAX_PAYLOAD_BYTES} bytes`;
  if (!bytesOf(tx.signature, 64)) return 'signature is not 64 bytes';
  return undefined;
}

/**
 * Why the block's body (its transactions and proof) is malformed, or undefined when its shape is
 * right. The header's shape is checked with the header (validateHeader).
 */
export function bodyShapeError(block: Block): string | undefined {
  if (typeof block !== 'object' || block === null) return 'block is missing';
  if (!Array.isArray(block.txs)) return 'block txs is not a list';
  for (let i = 0; i < block.txs.length; i++) {
    const e = txShapeError(block.txs[i]);
    if (e) return `transaction ${i}: ${e}`;
  }
  if (!(block.proof instanceof Uint8Array) || block.proof.length > MAX_PROOF_BYTES)
    return `proof is not at most ${MAX_PROOF_BYTES} bytes`;
  return undefined;
}
