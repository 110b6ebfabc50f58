// Worker side of the signature pool: verifies packed (message, public key, signature) items, or
// whole transactions' SSZ bytes, from which it derives the signed message itself.
import { parentPort } from 'node:worker_threads';
import { TX_BODY_OFFSET, txSigningMessageFromBytes } from '../../core/codec/ids.ts';
import { SignatureVerifier } from '../../core/crypto/keys.ts';

const ITEM_BYTES = 128;
/** In a Tx's bytes: the signature follows the 4-byte body offset; the sender is 20 bytes into the body. */
const SENDER_AT = TX_BODY_OFFSET + 20;
const verifier = new SignatureVerifier();

type Job = { id: number; items: Uint8Array } | { id: number; txs: Uint8Array; offsets: Uint32Array };

parentPort!.on('message', (m: Job) => {
  let valid: Uint8Array;
  if ('items' in m) {
    const count = m.items.length / ITEM_BYTES;
    valid = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const at = i * ITEM_BYTES;
      const it = m.items;
      valid[i] = verifier.verify(
        it.subarray(at, at + 32),
        it.subarray(at + 32, at + 64),
        it.subarray(at + 64, at + 128),
      )
        ? 1
        : 0;
    }
  } else {
    const count = m.offsets.length - 1;
    valid = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const tx = m.txs.subarray(m.offsets[i], m.offsets[i + 1]);
      if (tx.length < SENDER_AT + 32) continue;
      const ok = verifier.verify(
        txSigningMessageFromBytes(tx),
        tx.subarray(SENDER_AT, SENDER_AT + 32),
        tx.subarray(4, 68),
      );
      valid[i] = ok ? 1 : 0;
    }
  }
  parentPort!.postMessage({ id: m.id, valid }, [valid.buffer as ArrayBuffer]);
});
