// Transaction kinds jobSubmit, jobResult and jobChallenge (listed in transition/kinds.ts).
import {
  type JobChallengePayload as JobChallenge,
  JobChallengePayload,
  type JobResultPayload as JobResult,
  JobResultPayload,
  type JobSubmitPayload as JobSubmit,
  JobSubmitPayload,
  TxKind,
} from '../codec/types.ts';
import { fromHex, toHex } from '../crypto/hash.ts';
import { fail } from '../ledger/errors.ts';
import type { TxKindHandler } from '../ledger/types.ts';
import { type FraudProof, validateDims, verifyFraudProof } from '../pouw/index.ts';
import { deliverJob, refuteJob, registerJob } from './lifecycle.ts';
import { JobStatus, jobIdOf, jobs } from './types.ts';

function decodeWith<T>(
  name: string,
  type: { deserialize(b: Uint8Array): T },
  bytes: Uint8Array,
): { ok: true; value: T } | ReturnType<typeof fail> {
  try {
    return { ok: true, value: type.deserialize(bytes) };
  } catch (e) {
    return fail('MALFORMED', `${name} payload does not decode: ${(e as Error).message}`);
  }
}

export const jobSubmitHandler: TxKindHandler<JobSubmit> = {
  kind: TxKind.jobSubmit,
  name: 'jobSubmit',
  decode(bytes, params) {
    const decoded = decodeWith('jobSubmit', JobSubmitPayload, bytes);
    if (!decoded.ok) return decoded;
    const value = decoded.value;
    const dims = validateDims(value, params.pouw);
    if (!dims.ok) return fail('BAD_JOB', `jobSubmit: ${dims.error.code}: ${dims.error.message}`);
    if (value.fee < params.pouw.minJobFee) {
      return fail('BAD_AMOUNT', `job fee ${value.fee} is below the minimum ${params.pouw.minJobFee}`);
    }
    if (value.fee > params.maxSupply)
      return fail('BAD_AMOUNT', `job fee ${value.fee} exceeds the supply cap`);
    return { ok: true, value };
  },
  spend: (value) => value.fee,
  apply(state, value, ctx) {
    const owner = fromHex(ctx.senderId);
    registerJob(state, jobIdOf(owner, ctx.nonce), { ...value, owner }, ctx.height);
    return { ok: true };
  },
  parties: () => [],
};

export const jobResultHandler: TxKindHandler<JobResult> = {
  kind: TxKind.jobResult,
  name: 'jobResult',
  decode: (bytes) => decodeWith('jobResult', JobResultPayload, bytes),
  spend: () => 0n,
  apply: (state, value, ctx) =>
    deliverJob(state, toHex(value.job), ctx.senderId, value.productRoot, ctx.height, ctx.params),
  parties: () => [],
};

/** The payload as the PoUW core's fraud proof. */
export function fraudProofOf(value: JobChallenge): FraudProof {
  const int8 = (b: Uint8Array) => new Int8Array(b.buffer, b.byteOffset, b.byteLength);
  const chunk = new Int32Array(16);
  const view = new DataView(value.chunkC.buffer, value.chunkC.byteOffset, 64);
  for (let i = 0; i < 16; i++) chunk[i] = view.getInt32(i * 4, true);
  return {
    row: value.row,
    col: value.col,
    rowA: int8(value.rowA),
    pathA: value.pathA,
    colB: int8(value.colB),
    pathB: value.pathB,
    chunkC: chunk,
    chunkPath: value.chunkPath,
    rowPath: value.rowPath,
  };
}

export const jobChallengeHandler: TxKindHandler<JobChallenge> = {
  kind: TxKind.jobChallenge,
  name: 'jobChallenge',
  decode: (bytes) => decodeWith('jobChallenge', JobChallengePayload, bytes),
  spend: () => 0n,
  apply(state, value, ctx) {
    const id = toHex(value.job);
    const job = state.read(jobs, id);
    if (!job) return fail('JOB_NOT_FOUND', `job ${id} does not exist`);
    if (job.status !== JobStatus.delivered || ctx.height >= job.dueHeight) {
      return fail(
        'BAD_JOB_STATE',
        `job ${id.slice(0, 16)}… has no result inside its challenge window (status ${job.status})`,
      );
    }
    const checked = verifyFraudProof(job, job.productRoot, fraudProofOf(value), ctx.params.pouw);
    if (!checked.ok) {
      return fail('BAD_FRAUD_PROOF', `fraud proof refused: ${checked.error.code}: ${checked.error.message}`);
    }
    refuteJob(state, id, job);
    return { ok: true };
  },
  parties: () => [],
};
