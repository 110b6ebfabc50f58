// The routes of PoUW jobs, declared once (spread into `routes` in routes.ts). Matrices travel as
// base64 of the .npy or .fxm file bytes (see matrix-file.ts).
import { z } from 'zod';
import { route } from './route.ts';

const JOB_ID = /^[0-9a-f]{64}$/;
const jobIdParams = z.object({
  id: z.string().regex(JOB_ID, { error: 'id must be a job id (64 lowercase hex characters)' }),
});

export const JOB_STATUSES = ['open', 'claimed', 'delivered', 'paid', 'refuted', 'lapsed'] as const;

export const JobJson = z
  .object({
    id: z.string(),
    owner: z.string().describe('bech32m address'),
    status: z.enum(JOB_STATUSES),
    m: z.number(),
    n: z.number(),
    k: z.number(),
    rootA: z.string(),
    rootB: z.string(),
    fee: z.string().describe('base units, paid to the miner that delivers'),
    submitHeight: z.number(),
    miner: z.string().optional().describe('claiming miner (bech32m), once claimed'),
    claimHeight: z.number().optional(),
    productRoot: z.string().optional().describe('Merkle root of the delivered product'),
    dueHeight: z
      .number()
      .optional()
      .describe('claimed: last height for the result; delivered: height the fee is paid'),
    dataHere: z.boolean().describe("whether this node holds the job's matrices"),
    resultHere: z.boolean().describe('whether this node holds the computed product'),
  })
  .meta({ id: 'Job' });
export type JobJson = z.infer<typeof JobJson>;

export const MatrixFileJson = z.object({ file: z.string().describe('base64 of an .npy or .fxm file') });

export const JobDataJson = z.object({
  rootA: z.string(),
  rootB: z.string(),
  m: z.number(),
  n: z.number(),
  k: z.number(),
  quota: z
    .object({
      used: z
        .number()
        .describe('bytes of A and B this node now holds for the submitter, this upload included'),
      limit: z.number().describe('the most it holds for one submitter'),
    })
    .describe("the submitter's quota on this node (owner, or all uploads that name none)"),
});

export const PouwInfoJson = z.object({
  activationHeight: z.number().nullable().describe('null when PoUW is not scheduled'),
  recentBlocks: z.number().describe('PoUW blocks among the last blocks looked at'),
  recentJobBlocks: z.number().describe('of those, blocks that claimed a paid job'),
  jobShare: z.number().describe('recentJobBlocks / recentBlocks, 0 when none'),
  openJobs: z.number(),
});

export const jobRoutes = {
  job: route({
    method: 'GET',
    path: '/jobs/:id',
    summary: 'A PoUW job: commitments, fee, status, claim and result',
    params: jobIdParams,
    status: 200,
    response: JobJson,
  }),
  jobs: route({
    method: 'GET',
    path: '/jobs',
    summary: 'Open jobs, oldest first (the pool miners take jobs from)',
    status: 200,
    response: z.object({ jobs: z.array(JobJson) }),
  }),
  putJobData: route({
    method: 'POST',
    path: '/jobs/data',
    summary:
      "Stores a job's matrices A and B on this node (its miner can then take the job); returns the commitments. " +
      'What a node holds per submitter is limited (429 QUOTA_EXCEEDED); the data is deleted some blocks after ' +
      'its jobs end, or when no job names it in time',
    body: z
      .object({
        a: z.string(),
        b: z.string(),
        owner: z
          .string()
          .optional()
          .describe('the address that will submit the job: the upload counts against its quota'),
      })
      .describe('base64 of .npy or .fxm files'),
    bodyLimit: 64 * 1024 * 1024,
    status: 201,
    response: JobDataJson,
  }),
  jobData: route({
    method: 'GET',
    path: '/jobs/:id/data',
    summary: "A job's matrices A and B (.fxm, base64) when this node holds them",
    params: jobIdParams,
    status: 200,
    response: z.object({ a: z.string(), b: z.string() }),
  }),
  jobResult: route({
    method: 'GET',
    path: '/jobs/:id/result',
    summary:
      'The product C = A*B (int32 .fxm, base64) of a delivered job: held here, or fetched from peers and checked against the product root on chain',
    params: jobIdParams,
    status: 200,
    response: MatrixFileJson,
  }),
} as const;
