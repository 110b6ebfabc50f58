// Handlers of the /jobs routes and the PoUW part of /chain/info.
import type { JobRecord } from '../../core/codec/types.ts';
import { decodePouwProof, isZeroJobId } from '../../core/consensus/pouw.ts';
import { toHex } from '../../core/crypto/hash.ts';
import { encodeAddress } from '../../core/crypto/keys.ts';
import { getJob, JOB_STATUS_NAMES, JobStatus, listOpenJobs } from '../../core/jobs/index.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import { isActive } from '../../core/params/index.ts';
import type { Chain } from '../chain/types.ts';
import { asInt8, decodeMatrix, encodeFxm } from '../jobs/matrix-file.ts';
import type { JobDataStore } from '../jobs/store.ts';
import type { JobJson } from './job-routes.ts';
import { ApiError, type RouteOutput, type RouteRequest, type Routes } from './routes.ts';

export interface JobApiDeps {
  /** Committed state at the tip. */
  state: StateReader;
  /** This node's job matrices and products; without it the data routes answer 404. */
  data?: JobDataStore;
}

/** Blocks looked at for the share of recent blocks that carried paid jobs. */
export const RECENT_BLOCKS = 50;
const ZERO_20 = new Uint8Array(20);

type JobHandlers = {
  [K in 'job' | 'jobs' | 'putJobData' | 'jobData' | 'jobResult']: (
    req: RouteRequest<Routes[K]>,
  ) => RouteOutput<Routes[K]>;
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
      resultHere: deps?.data?.product(id) !== undefined,
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
  const decodeFile = (b64: string, name: string) => {
    try {
      return asInt8(decodeMatrix(new Uint8Array(Buffer.from(b64, 'base64'))), name);
    } catch (e) {
      throw new ApiError(400, 'BAD_MATRIX', `${name}: ${(e as Error).message}`);
    }
  };

  return {
    job: ({ params: { id } }) => json(id, jobOf(id)),
    jobs: () => ({ jobs: listOpenJobs(need().state, 200).map(({ id, job }) => json(id, job)) }),
    putJobData({ body }) {
      const put = dataStore().put(decodeFile(body.a, 'a'), decodeFile(body.b, 'b'));
      if (!put.ok) throw new ApiError(400, 'BAD_JOB', `${put.error.code}: ${put.error.message}`);
      const h = put.value.header;
      return { rootA: toHex(h.rootA), rootB: toHex(h.rootB), m: h.m, n: h.n, k: h.k };
    },
    jobData({ params: { id } }) {
      const matrices = dataStore().matrices(jobOf(id));
      if (!matrices) throw new ApiError(404, 'NOT_FOUND', `this node does not hold the data of job ${id}`);
      const b64 = (m: typeof matrices.a) => Buffer.from(encodeFxm({ type: 'int8', ...m })).toString('base64');
      return { a: b64(matrices.a), b: b64(matrices.b) };
    },
    jobResult({ params: { id } }) {
      jobOf(id);
      const product = dataStore().product(id);
      if (!product) throw new ApiError(404, 'NOT_FOUND', `this node does not hold the product of job ${id}`);
      return { file: Buffer.from(encodeFxm({ type: 'int32', ...product })).toString('base64') };
    },
  };
}

/** Which consensus the next block is under, the work of the tip, and PoUW figures. */
export function consensusInfo(chain: Chain, deps?: JobApiDeps) {
  const { params } = chain;
  const tip = chain.tip();
  const pouw = isActive(params, 'pouw', tip.height + 1);
  const activation = params.activations.pouw;
  let recentBlocks = 0;
  let recentJobBlocks = 0;
  for (let h = tip.height; h > Math.max(0, tip.height - RECENT_BLOCKS) && isActive(params, 'pouw', h); h--) {
    const block = chain.blockByHeight(h);
    const proof = block && decodePouwProof(block.proof);
    if (!proof?.ok) continue;
    recentBlocks++;
    if (!isZeroJobId(proof.proof.job)) recentJobBlocks++;
  }
  return {
    consensus: pouw ? ('pouw' as const) : ('pow' as const),
    pouw: {
      activationHeight: activation >= Number.MAX_SAFE_INTEGER ? null : activation,
      recentBlocks,
      recentJobBlocks,
      jobShare: recentBlocks === 0 ? 0 : recentJobBlocks / recentBlocks,
      openJobs: deps ? listOpenJobs(deps.state, 1000).length : 0,
    },
  };
}
