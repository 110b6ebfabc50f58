// The PoW miner: builds a template on the tip from the mempool, searches nonces in chunks
// (yielding to the event loop between them), and imports what it finds through the chain.
import type { Block } from '../../core/codec/types.ts';
import { searchNonce } from '../../core/consensus/pow.ts';
import { bytesEqual } from '../../core/crypto/hash.ts';
import type { LocalChain } from '../chain/chain.ts';
import { buildTemplate } from './template.ts';

export interface MinerOptions {
  chain: LocalChain;
  minerAddress: Uint8Array;
  now?: () => number;
  /** Nonces tried between yields to the event loop. */
  chunk?: number;
  /**
   * A number in [0, 1) drawn for each paced block (default Math.random): the block is due between
   * 0.75 and 1.25 block times after its parent, so paced miners on one network do not all publish
   * at the same instant and split the network into equal-work tips.
   */
  jitter?: () => number;
  /** Called when the miner's own block is refused or mining fails; defaults to console.error. */
  onError?: (error: Error) => void;
}

export interface Miner {
  start(): void;
  stop(): Promise<void>;
  /** Mines one block on the current tip now (no pacing) and imports it. */
  mineBlock(): Promise<Block>;
}

const TEMPLATE_RESERVE_BYTES = 1024; // header, list offsets and proof around the transactions

export function createMiner(opts: MinerOptions): Miner {
  const { chain, minerAddress } = opts;
  const now = opts.now ?? Date.now;
  const chunk = opts.chunk ?? 20_000;
  const jitter = opts.jitter ?? Math.random;
  const onError = opts.onError ?? ((e: Error) => console.error(`miner: ${e.message}`));
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  const yieldNow = () => new Promise<void>((resolve) => setImmediate(resolve));
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  /** One attempt on the current tip: the imported block, or undefined if the tip moved or stop came. */
  async function attempt(paced: boolean): Promise<Block | undefined> {
    const { params } = chain;
    const tipHash = chain.tip().hash;
    const tipMoved = () => !bytesEqual(chain.tip().hash, tipHash);
    if (paced && params.pow.pacedMining) {
      const due = chain.tip().header.time + Math.round(params.blockTimeMs * (0.75 + 0.5 * jitter()));
      while (running && now() < due && !tipMoved()) await sleep(Math.min(due - now(), 100));
      if (!running || tipMoved()) return undefined;
    }
    const ctx = chain.nextBlockContext();
    const time = Math.max(now(), ctx.medianTimePast + 1);
    const txs = chain.selectTxs(
      params.limits.maxBlockTxs,
      params.limits.maxBlockBytes - TEMPLATE_RESERVE_BYTES,
    );
    const template = buildTemplate(chain, txs, minerAddress, time);
    let start = 0;
    for (;;) {
      const nonce = searchNonce(template.prefix, template.target, start, chunk);
      if (nonce !== undefined) {
        const block: Block = {
          header: { ...template.prefix, nonce },
          txs: template.txs,
          proof: new Uint8Array(),
        };
        const result = await chain.importBlock(block, now());
        if (result.ok && (result.status === 'extended' || result.status === 'reorged')) return block;
        if (tipMoved()) return undefined; // another block won the race; mine on the new tip
        if (result.ok) return undefined;
        throw new Error(`own block at height ${block.header.height} was refused: ${result.error.message}`);
      }
      start += chunk;
      await yieldNow();
      if ((paced && !running) || tipMoved()) return undefined;
    }
  }

  async function run(): Promise<void> {
    while (running) {
      try {
        await attempt(true);
      } catch (e) {
        onError(e as Error);
        if (running) await sleep(1000);
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      loop = undefined;
    },
    async mineBlock() {
      for (;;) {
        const block = await attempt(false);
        if (block) return block;
      }
    },
  };
}

export { buildBlock, buildTemplate, sealHeader } from './template.ts';
