// A delivered job's product for whoever asks this node (`GET /jobs/:id/result`): the product the
// store holds (the miner's own, or one fetched before), else one fetched on demand from connected
// peers by the job's id on the job-data protocol, checked there against the product root on chain
// (a peer sending another product is penalised and the next peer asked), then kept in the store,
// whose keeper deletes it `keepBlocks` after the job ends, as it does the miner's.
import type { Int32Matrix } from '../../api/matrix-file.ts';
import type { JobRecord } from '../../core/codec/types.ts';
import { fromHex } from '../../core/crypto/hash.ts';
import { getJob, JOB_STATUS_NAMES, JobStatus } from '../../core/jobs/index.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import type { ProductFetch, ProductWanted } from '../p2p/index.ts';
import type { JobDataStore } from './store.ts';

export interface ProductNetwork {
  peers(): Array<{ id: string }>;
  fetchProduct(peerId: string, want: ProductWanted): Promise<ProductFetch>;
}

export interface ProductFetcherOptions {
  /** Committed state at the tip: the job's status, dimensions and product root. */
  state: StateReader;
  store: JobDataStore;
  /** Peers to fetch from; without it only the store answers. */
  net?: ProductNetwork;
  /** Peers asked per lookup, one at a time (default 8). */
  peersPerLookup?: number;
  /** Products fetched at once, each up to P2PLimits.maxJobDataBytes in memory (default 2). */
  concurrency?: number;
  log?: (line: string) => void;
}

export type ProductLookup =
  | { ok: true; product: Int32Matrix; from: 'store' | { peer: string } }
  | {
      ok: false;
      error: {
        /**
         * NOT_FOUND: no such job, or no peers to ask; NOT_DELIVERED: no product root on chain yet
         * (or never: lapsed); UNAVAILABLE: no peer asked served a product matching the root;
         * BUSY: this node is fetching other products; TOO_LARGE: over the fetch limit.
         */
        code: 'NOT_FOUND' | 'NOT_DELIVERED' | 'UNAVAILABLE' | 'BUSY' | 'TOO_LARGE';
        message: string;
      };
    };

export interface ProductFetcher {
  /** The product of job `id` (hex): from the store, or fetched from peers and kept. */
  product(id: string): Promise<ProductLookup>;
  /** Stops asking peers; fetches under way keep nothing. */
  close(): void;
}

/** Why a job has no product to fetch, or undefined when its product root is on chain. */
function notDelivered(id: string, job: JobRecord): string | undefined {
  const status = JOB_STATUS_NAMES[job.status] ?? 'unknown';
  switch (job.status) {
    case JobStatus.open:
      return `job ${id} is open: no miner has claimed it yet, so there is no product`;
    case JobStatus.claimed:
      return `job ${id} is claimed: its miner has not posted the product yet (due by height ${job.dueHeight})`;
    case JobStatus.lapsed:
      return `job ${id} lapsed: its miner never posted a product (the fee went back to the owner)`;
    case JobStatus.delivered:
    case JobStatus.paid:
    case JobStatus.refuted:
      return undefined;
    default:
      return `job ${id} is ${status}: no product`;
  }
}

export function createProductFetcher(opts: ProductFetcherOptions): ProductFetcher {
  const { state, store, net } = opts;
  const log = opts.log ?? (() => {});
  const peersPerLookup = Math.max(1, opts.peersPerLookup ?? 8);
  const concurrency = Math.max(1, opts.concurrency ?? 2);
  /** Fetches under way by job id: a second caller for the same job waits for the first. */
  const running = new Map<string, Promise<ProductLookup>>();
  let rotation = 0;
  let closed = false;

  async function fetchFromPeers(id: string, job: JobRecord): Promise<ProductLookup> {
    const want: ProductWanted = {
      job: fromHex(id),
      m: job.m,
      n: job.n,
      k: job.k,
      productRoot: job.productRoot,
    };
    const peers = (net?.peers() ?? []).map((p) => p.id);
    if (peers.length === 0) {
      return {
        ok: false,
        error: {
          code: 'UNAVAILABLE',
          message: `this node does not hold the product of job ${id} and has no connected peer to ask for it`,
        },
      };
    }
    const start = rotation++ % peers.length;
    const order = [...peers.slice(start), ...peers.slice(0, start)].slice(0, peersPerLookup);
    const reasons: string[] = [];
    for (const peer of order) {
      if (closed) break;
      const got = await net!.fetchProduct(peer, want);
      if (got.ok) {
        if (closed) break;
        const product = { rows: job.m, cols: job.n, data: got.product };
        store.putProduct(id, product);
        log(`job ${id.slice(0, 16)}… product fetched from ${peer} (matches the root on chain)`);
        return { ok: true, product, from: { peer } };
      }
      if (got.error.code === 'TOO_LARGE')
        return {
          ok: false,
          error: {
            code: 'TOO_LARGE',
            message: `the product of job ${id} is not fetched: ${got.error.message}`,
          },
        };
      if (got.error.code === 'BAD_PRODUCT')
        log(`job ${id.slice(0, 16)}… product from ${peer} refused: ${got.error.message}`);
      reasons.push(
        `${peer}: ${got.error.code === 'BAD_PRODUCT' ? 'sent a wrong product' : got.error.message}`,
      );
    }
    return {
      ok: false,
      error: {
        code: 'UNAVAILABLE',
        message:
          `no peer served the product of job ${id} (asked ${reasons.length} of ${peers.length}: ` +
          `${reasons.join('; ')}); its miner keeps it until some blocks after the job is paid`,
      },
    };
  }

  return {
    async product(id) {
      const job = getJob(state, id);
      if (!job) return { ok: false, error: { code: 'NOT_FOUND', message: `no job with id ${id}` } };
      const held = store.product(id);
      // The miner's own product is served from its claim on, before the root is on chain.
      if (held && held.rows === job.m && held.cols === job.n)
        return { ok: true, product: held, from: 'store' };
      const why = notDelivered(id, job);
      if (why) return { ok: false, error: { code: 'NOT_DELIVERED', message: why } };
      if (!net) {
        return {
          ok: false,
          error: {
            code: 'NOT_FOUND',
            message: `this node does not hold the product of job ${id} and asks no peers (it runs without p2p)`,
          },
        };
      }
      const under = running.get(id);
      if (under) return under;
      if (running.size >= concurrency) {
        return {
          ok: false,
          error: {
            code: 'BUSY',
            message: `this node is fetching ${running.size} other product(s); ask again for job ${id} shortly`,
          },
        };
      }
      const task = fetchFromPeers(id, job).finally(() => running.delete(id));
      running.set(id, task);
      return task;
    },
    close() {
      closed = true;
    },
  };
}
