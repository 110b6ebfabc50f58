// Worker side of the signature pool: verifies packed (message, public key, signature) items.
import { parentPort } from 'node:worker_threads';
import { SignatureVerifier } from '../../core/crypto/keys.ts';

const ITEM_BYTES = 128;
const verifier = new SignatureVerifier();

parentPort!.on('message', (m: { id: number; items: Uint8Array }) => {
  const count = m.items.length / ITEM_BYTES;
  const valid = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * ITEM_BYTES;
    const item = m.items;
    valid[i] = verifier.verify(
      item.subarray(at, at + 32),
      item.subarray(at + 32, at + 64),
      item.subarray(at + 64, at + 128),
    )
      ? 1
      : 0;
  }
  parentPort!.postMessage({ id: m.id, valid }, [valid.buffer]);
});
