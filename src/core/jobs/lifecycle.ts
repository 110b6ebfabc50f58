// A job's life: submitted (fee in escrow), claimed by the block that mined one of its tiles,
// delivered (product root), then paid after the challenge window, or refunded to its owner
// when a fraud proof shows a wrong entry or the miner misses the delivery deadline.
import type { Header, JobRecord } from '../codec/types.ts';
import { type DecodedPouwProof, isZeroJobId, jobHeaderHash } from '../consensus/pouw.ts';
import { bytesEqual, toHex } from '../crypto/hash.ts';
import { fail, type Result } from '../ledger/errors.ts';
import { credit, type StateOverlay, type StateReader } from '../ledger/state.ts';
import { type ChainParams, isActive } from '../params/index.ts';
import { dueKey, JobStatus, jobs, jobsDue, openJobs, openKey, pouwTally } from './types.ts';

const DUE_BATCH = 256;
const ZERO_20 = new Uint8Array(20);
const ZERO_32 = new Uint8Array(32);

export function getJob(state: StateReader, id: string): JobRecord | undefined {
  const bytes = state.get(jobs.prefix + id);
  return bytes === undefined ? undefined : jobs.decode(bytes);
}

/** Records a new open job (its fee already taken from the owner). */
export function registerJob(
  state: StateOverlay,
  id: string,
  job: Pick<JobRecord, 'owner' | 'rootA' | 'rootB' | 'm' | 'n' | 'k' | 'fee'>,
  height: number,
): void {
  const record: JobRecord = {
    ...job,
    status: JobStatus.open,
    submitHeight: height,
    miner: ZERO_20,
    claimHeight: 0,
    productRoot: ZERO_32,
    dueHeight: 0,
  };
  state.write(jobs, id, record);
  state.write(openJobs, openKey(record, id), true);
}

/**
 * The PoUW rules of a block that need the state, applied before its transactions: a proof that
 * names a job must name an open job with the same roots and dimensions, which its miner then
 * claims; every PoUW block records the job it named, so the block hash commits to it.
 */
export function applyPouwBlock(
  state: StateOverlay,
  header: Pick<Header, 'height' | 'miner'>,
  proof: Pick<DecodedPouwProof, 'job' | 'jobHeader'> | undefined,
  params: ChainParams,
): Result<object> {
  if (!isActive(params, 'pouw', header.height)) return { ok: true };
  if (!proof) return fail('BAD_BLOCK', `a block at height ${header.height} needs a PoUW proof`);
  const tally = state.read(pouwTally, '') ?? {
    pouwBlocks: 0,
    jobBlocks: 0,
    lastJob: ZERO_32,
    lastJobHeader: ZERO_32,
  };
  const paid = !isZeroJobId(proof.job);
  if (paid) {
    const id = toHex(proof.job);
    const job = state.read(jobs, id);
    if (!job) return fail('BAD_BLOCK', `PoUW proof names job ${id.slice(0, 16)}…, which does not exist`);
    if (job.status !== JobStatus.open) {
      return fail('BAD_BLOCK', `PoUW proof names job ${id.slice(0, 16)}…, which is not open`);
    }
    const h = proof.jobHeader;
    if (
      h.m !== job.m ||
      h.n !== job.n ||
      h.k !== job.k ||
      !bytesEqual(h.rootA, job.rootA) ||
      !bytesEqual(h.rootB, job.rootB)
    ) {
      return fail(
        'BAD_BLOCK',
        `PoUW proof's job (m=${h.m} n=${h.n} k=${h.k}) differs from job ${id.slice(0, 16)}… (m=${job.m} n=${job.n} k=${job.k}) or its roots`,
      );
    }
    const dueHeight = header.height + params.pouw.deliveryWindow;
    state.write(openJobs, openKey(job, id), undefined);
    state.write(jobs, id, {
      ...job,
      status: JobStatus.claimed,
      miner: header.miner,
      claimHeight: header.height,
      dueHeight,
    });
    state.write(jobsDue, dueKey(dueHeight, id), true);
  }
  state.write(pouwTally, '', {
    pouwBlocks: tally.pouwBlocks + 1,
    jobBlocks: tally.jobBlocks + (paid ? 1 : 0),
    lastJob: proof.job,
    lastJobHeader: jobHeaderHash(proof.jobHeader),
  });
  return { ok: true };
}

/** The claiming miner posts the product root before the deadline; payment waits out the challenge window. */
export function deliverJob(
  state: StateOverlay,
  id: string,
  senderId: string,
  productRoot: Uint8Array,
  height: number,
  params: ChainParams,
): Result<object> {
  const job = state.read(jobs, id);
  if (!job) return fail('JOB_NOT_FOUND', `job ${id} does not exist`);
  if (job.status !== JobStatus.claimed) {
    return fail('BAD_JOB_STATE', `job ${id.slice(0, 16)}… is not awaiting a result (status ${job.status})`);
  }
  if (toHex(job.miner) !== senderId) {
    return fail(
      'NOT_AUTHORIZED',
      `only the claiming miner ${toHex(job.miner)} may post job ${id.slice(0, 16)}…'s result`,
    );
  }
  if (height > job.dueHeight) {
    return fail('BAD_JOB_STATE', `job ${id.slice(0, 16)}…'s result was due by height ${job.dueHeight}`);
  }
  const payAt = height + params.pouw.challengeWindow;
  state.write(jobsDue, dueKey(job.dueHeight, id), undefined);
  state.write(jobs, id, { ...job, status: JobStatus.delivered, productRoot, dueHeight: payAt });
  state.write(jobsDue, dueKey(payAt, id), true);
  return { ok: true };
}

/** A proven wrong entry: the owner gets the fee back and the miner's claim is forfeit. */
export function refuteJob(state: StateOverlay, id: string, job: JobRecord): void {
  state.write(jobsDue, dueKey(job.dueHeight, id), undefined);
  state.write(jobs, id, { ...job, status: JobStatus.refuted });
  credit(state, toHex(job.owner), job.fee);
}

/** Payments and lapses due at `height` (run once per block, before the subsidy). */
export function processDueJobs(state: StateOverlay, height: number): void {
  for (;;) {
    const batch = state.scan(jobsDue.prefix, DUE_BATCH);
    let done = batch.length === 0;
    for (const [key] of batch) {
      const rest = key.slice(jobsDue.prefix.length);
      const at = Number(rest.slice(0, rest.indexOf('/')));
      if (at > height) {
        done = true;
        break;
      }
      const id = rest.slice(rest.indexOf('/') + 1);
      state.write(jobsDue, rest, undefined);
      const job = state.read(jobs, id);
      if (!job) continue;
      if (job.status === JobStatus.delivered) {
        state.write(jobs, id, { ...job, status: JobStatus.paid });
        credit(state, toHex(job.miner), job.fee);
      } else if (job.status === JobStatus.claimed) {
        state.write(jobs, id, { ...job, status: JobStatus.lapsed });
        credit(state, toHex(job.owner), job.fee);
      }
    }
    if (done) return;
  }
}

/** Open jobs, oldest first (the miner's pool). */
export function listOpenJobs(state: StateReader, limit: number): Array<{ id: string; job: JobRecord }> {
  const out: Array<{ id: string; job: JobRecord }> = [];
  for (const [key] of state.scan?.(openJobs.prefix, limit) ?? []) {
    const id = key.slice(key.lastIndexOf('/') + 1);
    const job = getJob(state, id);
    if (job) out.push({ id, job });
  }
  return out;
}
