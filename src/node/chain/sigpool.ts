// Verifies transaction signatures on worker threads: ed25519 verification is most of the cost
// of importing a block, and it is independent per transaction.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { txSigningMessage } from '../../core/codec/ids.ts';
import type { Tx } from '../../core/codec/types.ts';

/** Bytes per item handed to a worker: message (32), public key (32), signature (64). */
export const ITEM_BYTES = 128;

export interface SignaturePool {
  readonly threads: number;
  /**
   * One boolean per transaction, in order. With the transactions' SSZ bytes the workers derive
   * the signed messages themselves, which takes that hashing off the calling thread.
   */
  verifyTxs(txs: Tx[], txBytes?: Uint8Array[]): Promise<boolean[]>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (valid: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** Below this many signatures a batch is verified by one worker: posting costs more than it saves. */
const MIN_SPLIT = 64;

export function createSignaturePool(opts: { threads?: number } = {}): SignaturePool {
  const threads = Math.max(1, opts.threads ?? availableParallelism());
  const workers = Array.from({ length: threads }, () => {
    const worker = new Worker(new URL('./sigpool-worker.ts', import.meta.url));
    worker.unref();
    return worker;
  });
  const pending = new Map<number, Pending>();
  let nextId = 0;
  for (const worker of workers) {
    worker.on('message', (m: { id: number; valid: Uint8Array }) => {
      pending.get(m.id)?.resolve(m.valid);
      pending.delete(m.id);
    });
    worker.on('error', (e) => {
      for (const p of pending.values()) p.reject(e);
      pending.clear();
    });
  }

  function run(
    worker: Worker,
    job: { items: Uint8Array } | { txs: Uint8Array; offsets: Uint32Array },
  ): Promise<Uint8Array> {
    const id = nextId++;
    const transfer = 'items' in job ? [job.items.buffer] : [job.txs.buffer, job.offsets.buffer];
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...job }, transfer as ArrayBuffer[]);
    });
  }

  /** Packs transactions' bytes into one buffer with their offsets. */
  function packBytes(parts: Uint8Array[]): { txs: Uint8Array; offsets: Uint32Array } {
    const offsets = new Uint32Array(parts.length + 1);
    for (let i = 0; i < parts.length; i++) offsets[i + 1] = offsets[i] + parts[i].length;
    const txs = new Uint8Array(offsets[parts.length]);
    for (let i = 0; i < parts.length; i++) txs.set(parts[i], offsets[i]);
    return { txs, offsets };
  }

  return {
    threads,
    async verifyTxs(txs, txBytes) {
      if (txs.length === 0) return [];
      const chunks = txs.length < MIN_SPLIT ? 1 : Math.min(threads, txs.length);
      const per = Math.ceil(txs.length / chunks);
      const jobs: Promise<Uint8Array>[] = [];
      for (let c = 0; c < chunks; c++) {
        if (txBytes && txBytes.length === txs.length) {
          jobs.push(run(workers[c], packBytes(txBytes.slice(c * per, (c + 1) * per))));
          continue;
        }
        const part = txs.slice(c * per, (c + 1) * per);
        const items = new Uint8Array(part.length * ITEM_BYTES);
        for (let i = 0; i < part.length; i++) {
          const at = i * ITEM_BYTES;
          items.set(txSigningMessage(part[i].body), at);
          items.set(part[i].body.sender, at + 32);
          items.set(part[i].signature, at + 64);
        }
        jobs.push(run(workers[c], { items }));
      }
      const results = await Promise.all(jobs);
      const out: boolean[] = [];
      for (const r of results) for (const v of r) out.push(v === 1);
      return out;
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
