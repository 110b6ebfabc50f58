// Handlers of the /jobs routes and the PoUW part of /chain/info.

import type { JobJson } from '../../api/job-routes.ts';
import { asInt8, decodeMatrix, encodeFxm } from '../../api/matrix-file.ts';
import { ApiError, type RouteOutput, type RouteRequest } from '../../api/route.ts';
import type { Routes } from '../../api/routes.ts';
import type { JobRecord } from '../../core/codec/types.ts';
import { decodePouwProof, isZeroJobId } from '../../core/consensus/pouw.ts';
import { toHex } from '../../core/crypto/hash.ts';
import { decodeAddress, encodeAddress } from '../../core/crypto/keys.ts';
import { getJob, JOB_STATUS_NAMES, JobStatus, listOpenJobs } from '../../core/jobs/index.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import { isActive } from '../../core/params/index.ts';
import type { Chain } from '../chain/types.ts';
import { createProductFetcher, type ProductFetcher } from '../jobs/products.ts';
import { type JobDataStore, NO_SUBMITTER, type Submitter } from '../jobs/store.ts';
import { perTip } from './tip-cache.ts';

export interface JobApiDeps {
  /** Committed state at the tip. */
  state: StateReader;
  /** This node's job matrices and products; without it the data routes answer 404. */
  data?: JobDataStore;
  /**
   * Where `GET /jobs/:id/result` gets a product this node lacks (from peers, by the job's id);
   * without it only `data` answers.
   */
  products?: ProductFetcher;
}

/** HTTP status and error code of each reason a product is not served. */
const PRODUCT_ERRORS = {
  NOT_FOUND: [404, 'NOT_FOUND'],
  TOO_LARGE: [404, 'NOT_FOUND'],
  NOT_DELIVERED: [409, 'NOT_DELIVERED'],
  UNAVAILABLE: [503, 'PRODUCT_UNAVAILABLE'],
  BUSY: [503, 'BUSY'],
} as const;

/** Blocks looked at for the share of recent blocks that carried paid jobs. */
export const RECENT_BLOCKS = 50;
const ZERO_20 = new Uint8Array(20);
const OPEN_LISTED = 200;
const OPEN_COUNTED = 1000;

type JobHandlers = {
  [K in 'job' | 'jobs' | 'putJobData' | 'jobData']: (req: RouteRequest<Routes[K]>) => RouteOutput<Routes[K]>;
} & {
  jobResult: (req: RouteRequest<Routes['jobResult']>) => Promise<RouteOutput<Routes['jobResult']>>;
};

export function createJobHandlers(chain: Chain, deps?: JobApiDeps): JobHandlers {
  const prefix = chain.params.addressPrefix;
  const need = (): JobApiDeps => {
    if (!deps) throw new ApiError(503, 'NOT_AVAILABLE', 'this node serves no job state');
    return deps;
  };
  const json = (id: string, job: JobRecord): JobJson => {
    const claimed = job.status !== JobStatus.open;
    return {
      id,
      owner: encodeAddress(prefix, job.owner),
      status: JOB_STATUS_NAMES[job.status] ?? 'open',
      m: job.m,
      n: job.n,
      k: job.k,
      rootA: toHex(job.rootA),
      rootB: toHex(job.rootB),
      fee: job.fee.toString(),
      submitHeight: job.submitHeight,
      ...(claimed && !job.miner.every((b, i) => b === ZERO_20[i])
        ? { miner: encodeAddress(prefix, job.miner), claimHeight: job.claimHeight, dueHeight: job.dueHeight }
        : {}),
      ...(job.status >= JobStatus.delivered ? { productRoot: toHex(job.productRoot) } : {}),
      dataHere: deps?.data?.has(job) ?? false,
      resultHere: deps?.data?.hasProduct(id) ?? false,
    };
  };
  const jobOf = (id: string): JobRecord => {
    const job = getJob(need().state, id);
    if (!job) throw new ApiError(404, 'NOT_FOUND', `no job with id ${id}`);
    return job;
  };
  const dataStore = (): JobDataStore => {
    const data = need().data;
    if (!data) throw new ApiError(404, 'NOT_FOUND', 'this node keeps no job data');
    return data;
  };
  let localProducts: ProductFetcher | undefined;
  const products = (): ProductFetcher =>
    need().products ?? (localProducts ??= createProductFetcher({ state: need().state, store: dataStore() }));
  const decodeFile = (b64: string, name: string) => {
    try {
      return asInt8(decodeMatrix(new Uint8Array(Buffer.from(b64, 'base64'))), name);
    } catch (e) {
      throw new ApiError(400, 'BAD_MATRIX', `${name}: ${(e as Error).message}`);
    }
  };
  const submitterOf = (owner: string | undefined): Submitter => {
    if (owner === undefined) return NO_SUBMITTER;
    const decoded = decodeAddress(prefix, owner);
    if (!decoded.ok) throw new ApiError(400, 'BAD_ADDRESS', `owner: ${decoded.error}`);
    return { id: toHex(decoded.address), name: `owner ${encodeAddress(prefix, decoded.address)}` };
  };
  // The open-job list is polled: built once per tip and change of the store (its dataHere flags).
  let openCache: { key: string; value: { jobs: JobJson[] } } | undefined;
  const openAtTip = perTip(chain, () => listOpenJobs(need().state, OPEN_LISTED));

  return {
    job: ({ params: { id } }) => json(id, jobOf(id)),
    jobs: () => {
      const key = `${toHex(chain.tip().hash)}/${deps?.data?.version ?? 0}`;
      if (openCache?.key !== key)
        openCache = { key, value: { jobs: openAtTip().map(({ id, job }) => json(id, job)) } };
      return openCache.value;
    },
    putJobData({ body }) {
      const store = dataStore();
      const submitter = submitterOf(body.owner);
      const put = store.put(decodeFile(body.a, 'a'), decodeFile(body.b, 'b'), submitter);
      if (!put.ok) {
        if (put.error.code === 'QUOTA_EXCEEDED') throw new ApiError(429, put.error.code, put.error.message);
        if (put.error.code === 'STORE_FULL') throw new ApiError(507, put.error.code, put.error.message);
        throw new ApiError(400, 'BAD_JOB', `${put.error.code}: ${put.error.message}`);
      }
      const h = put.value.header;
      return {
        rootA: toHex(h.rootA),
        rootB: toHex(h.rootB),
        m: h.m,
        n: h.n,
        k: h.k,
        quota: { used: store.usage(submitter.id), limit: store.quotaBytes },
      };
    },
    jobData({ params: { id } }) {
      const matrices = dataStore().matrices(jobOf(id));
      if (!matrices) throw new ApiError(404, 'NOT_FOUND', `this node does not hold the data of job ${id}`);
      const b64 = (m: typeof matrices.a) => Buffer.from(encodeFxm({ type: 'int8', ...m })).toString('base64');
      return { a: b64(matrices.a), b: b64(matrices.b) };
    },
    async jobResult({ params: { id } }) {
      jobOf(id);
      dataStore();
      const got = await products().product(id);
      if (!got.ok) {
        const [status, code] = PRODUCT_ERRORS[got.error.code];
        throw new ApiError(status, code, got.error.message);
      }
      return { file: Buffer.from(encodeFxm({ type: 'int32', ...got.product })).toString('base64') };
    },
  };
}

export type ConsensusInfo = ReturnType<ReturnType<typeof createConsensusInfo>>;

/**
 * Which consensus the next block is under and PoUW figures, computed once per tip. The paid-job
 * share of the last RECENT_BLOCKS blocks reads each block's proof once (by hash, without its
 * transactions), so a new tip costs one proof and RECENT_BLOCKS index reads.
 */
export function createConsensusInfo(chain: Chain, deps?: JobApiDeps) {
  const { params } = chain;
  const activation = params.activations.pouw;
  /** Block hash (hex) -> whether it claimed a paid job; undefined when it has no PoUW proof. */
  let claimedJob = new Map<string, boolean | undefined>();
  return perTip(chain, (tip) => {
    const seen = new Map<string, boolean | undefined>();
    let recentBlocks = 0;
    let recentJobBlocks = 0;
    for (
      let h = tip.height;
      h > Math.max(0, tip.height - RECENT_BLOCKS) && isActive(params, 'pouw', h);
      h--
    ) {
      const hash = h === tip.height ? tip.hash : chain.hashAtHeight(h);
      if (!hash) break;
      const key = toHex(hash);
      let paid = claimedJob.get(key);
      if (!claimedJob.has(key)) {
        const proof = decodePouwProof(chain.blockProof(hash) ?? new Uint8Array());
        paid = proof.ok ? !isZeroJobId(proof.proof.job) : undefined;
      }
      seen.set(key, paid);
      if (paid === undefined) continue;
      recentBlocks++;
      if (paid) recentJobBlocks++;
    }
    claimedJob = seen; // only the blocks of this window are kept
    return {
      consensus: isActive(params, 'pouw', tip.height + 1) ? ('pouw' as const) : ('pow' as const),
      pouw: {
        activationHeight: activation >= Number.MAX_SAFE_INTEGER ? null : activation,
        recentBlocks,
        recentJobBlocks,
        jobShare: recentBlocks === 0 ? 0 : recentJobBlocks / recentBlocks,
        openJobs: deps ? listOpenJobs(deps.state, OPEN_COUNTED).length : 0,
      },
    };
  });
}
