// The miner: builds a template on the tip from the mempool, then searches nonces (PoW) or,
// from the PoUW activation height on, multiplies a job's matrices one pass per header time
// (a job from the pool whose data this node holds, else the zero job), yielding to the event
// loop between chunks, and imports what it finds through the chain. A block that claimed a
// job is followed by the job's result: the denoised product is kept and its root posted.
import { type Block, JobResultPayload, TxKind } from '../../core/codec/types.ts';
import { isZeroJobId } from '../../core/consensus/pouw.ts';
import { searchNonce } from '../../core/consensus/pow.ts';
import { bytesEqual, fromHex, toHex } from '../../core/crypto/hash.ts';
import { addressBytes, type KeyPair } from '../../core/crypto/keys.ts';
import { listOpenJobs } from '../../core/jobs/lifecycle.ts';
import { isActive } from '../../core/params/index.ts';
import { commitProduct, denoise } from '../../core/pouw/index.ts';
import type { LocalChain } from '../chain/chain.ts';
import { submitOwn } from '../chain/submit.ts';
import type { JobDataStore } from '../jobs/store.ts';
import { buildTemplate, type PouwSeal, type PouwWork, pouwPass } from './template.ts';

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
  /** Job matrices this node holds: with `resultKey`, the miner takes paid jobs from the pool. */
  jobData?: JobDataStore;
  /** The miner account's key, which signs job results (its address must be `minerAddress`). */
  resultKey?: KeyPair;
  /** Called after a job's result was posted. */
  onJobDelivered?: (jobId: string) => void;
}

/** What the miner has done since it was created (for the live display). */
export interface MinerStats {
  consensus: 'pow' | 'pouw';
  blocks: number;
  /** PoW nonces tried. */
  hashes: number;
  /** PoUW: multiply-accumulates done, tiles whose ticket was tried, passes. */
  macs: number;
  tickets: number;
  passes: number;
  /** Paid jobs this miner claimed, and those whose result it posted. */
  jobsClaimed: number;
  jobsDelivered: number;
  /** The job of the current PoUW pass: an id, or 'zero'. */
  currentJob?: string;
}

export interface Miner {
  start(): void;
  stop(): Promise<void>;
  /** Mines one block on the current tip now (no pacing) and imports it. */
  mineBlock(): Promise<Block>;
  stats(): MinerStats;
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
  const stats: MinerStats = {
    consensus: 'pow',
    blocks: 0,
    hashes: 0,
    macs: 0,
    tickets: 0,
    passes: 0,
    jobsClaimed: 0,
    jobsDelivered: 0,
  };
  const canDeliver =
    opts.jobData !== undefined &&
    opts.resultKey !== undefined &&
    bytesEqual(addressBytes(opts.resultKey.publicKey), minerAddress);

  /** The oldest open job whose data this node holds, or the zero job. */
  function pickJob(): PouwWork | undefined {
    if (!canDeliver) return undefined;
    for (const { id, job } of listOpenJobs(chain.state, 64)) {
      const data = opts.jobData!.get(job);
      if (data) return { job: fromHex(id), data };
    }
    return undefined;
  }

  /** Denoises the winning pass's product, keeps it, and posts its root from the miner's account. */
  function deliver(seal: PouwSeal, work: PouwWork): void {
    const { params } = chain;
    const { m, n } = work.data.header;
    const product = denoise(work.data, seal.mined.seed, seal.mined.noisyProduct, params.pouw);
    const id = toHex(work.job);
    opts.jobData!.putProduct(id, { rows: m, cols: n, data: product });
    const payload = JobResultPayload.serialize({
      job: work.job,
      productRoot: commitProduct(product, m, n).root,
    });
    const { result: sent } = submitOwn(chain, opts.resultKey!, TxKind.jobResult, payload);
    if (!sent.ok) throw new Error(`job ${id.slice(0, 16)}… result refused: ${sent.error.message}`);
    stats.jobsDelivered++;
    opts.onJobDelivered?.(id);
  }

  /** PoUW: one pass per header time until a tile wins, the tip moves, or the miner stops. */
  async function minePouw(
    template: ReturnType<typeof buildTemplate>,
    tipMoved: () => boolean,
    paced: boolean,
  ): Promise<Block | undefined> {
    const { params } = chain;
    let time = template.prefix.time;
    for (;;) {
      const pass = pouwPass(template, time, params);
      stats.macs += pass.macs;
      stats.tickets += pass.tiles;
      stats.passes++;
      if (pass.seal) {
        const block = pass.seal.block;
        const result = await chain.importBlock(block, now());
        if (result.ok && (result.status === 'extended' || result.status === 'reorged')) {
          stats.blocks++;
          const work = template.pouw!;
          if (!isZeroJobId(work.job)) {
            stats.jobsClaimed++;
            deliver(pass.seal, work);
          }
          return block;
        }
        if (tipMoved()) return undefined;
        if (result.ok) return undefined;
        throw new Error(`own block at height ${block.header.height} was refused: ${result.error.message}`);
      }
      await yieldNow();
      if ((paced && !running) || tipMoved()) return undefined;
      time = Math.max(time + 1, now());
    }
  }
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
    if (isActive(params, 'pouw', ctx.height)) {
      stats.consensus = 'pouw';
      const work = pickJob();
      stats.currentJob = work ? toHex(work.job) : 'zero';
      const template = buildTemplate(chain, txs, minerAddress, time, { pouw: work });
      return minePouw(template, tipMoved, paced);
    }
    const template = buildTemplate(chain, txs, minerAddress, time);
    let start = 0;
    for (;;) {
      const nonce = searchNonce(template.prefix, template.target, start, chunk);
      stats.hashes += nonce === undefined ? chunk : nonce - start + 1;
      if (nonce !== undefined) {
        const block: Block = {
          header: { ...template.prefix, nonce },
          txs: template.txs,
          proof: new Uint8Array(),
        };
        const result = await chain.importBlock(block, now());
        if (result.ok && (result.status === 'extended' || result.status === 'reorged')) {
          stats.blocks++;
          return block;
        }
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
    stats: () => ({ ...stats }),
  };
}

export { buildBlock, buildTemplate, sealHeader, sealPouw } from './template.ts';
