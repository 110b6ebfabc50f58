// `flux job submit|status|result|verify|challenge`: matrix-multiplication jobs for PoUW miners.
import { readFile, writeFile } from 'node:fs/promises';
import { formatFlux, parseFlux } from '../api/amount.ts';
import { createClient } from '../api/client.ts';
import type { JobJson } from '../api/job-routes.ts';
import { asInt8, decodeMatrix, encodeMatrixFor, type Int32Matrix } from '../api/matrix-file.ts';
import { JobChallengePayload, JobSubmitPayload, TxKind } from '../core/codec/types.ts';
import { bytesEqual, fromHex, toHex } from '../core/crypto/hash.ts';
import { encodeAddress } from '../core/crypto/keys.ts';
import { jobIdOf } from '../core/jobs/types.ts';
import {
  columnOfB,
  commitJob,
  commitProduct,
  dotProduct,
  type Int8Matrix,
  type JobData,
  openProductEntry,
  rowOfA,
} from '../core/pouw/index.ts';
import { loadKeystore } from '../wallet/keystore.ts';
import type { CommandContext } from './context.ts';
import { CliError } from './io.ts';
import { networkParams, submitFromWallet } from './nodes.ts';
import { senderAccount } from './wallet.ts';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

async function readMatrixFile(
  path: string,
  name: string,
): Promise<{ bytes: Uint8Array; matrix: Int8Matrix }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new CliError(`${name}: cannot read ${path}: ${(e as Error).message}`, 2);
  }
  try {
    return { bytes, matrix: asInt8(decodeMatrix(bytes), name) };
  } catch (e) {
    throw new CliError(`${name} (${path}): ${(e as Error).message}`, 2);
  }
}

function jobIdArg(ctx: CommandContext): string {
  const id = ctx.positionals[0].toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(id)) throw new CliError(`ID must be a job id (64 hex characters), not ${id}`, 2);
  return id;
}

export async function jobSubmit(ctx: CommandContext): Promise<void> {
  const [pathA, pathB] = ctx.positionals;
  if (ctx.values.fee === undefined) throw new CliError('--fee F (in FLUX, paid to the miner) is required', 2);
  const fee = parseFlux(ctx.values.fee as string, '--fee');
  if (!fee.ok) throw new CliError(fee.error, 2);
  const { params, info } = await networkParams(ctx);
  // The upload counts against the quota of the account that will submit the job.
  const store = await loadKeystore(ctx.walletDir());
  const owner = encodeAddress(
    info.addressPrefix,
    fromHex(senderAccount(store, ctx.values.from as string | undefined, info).address),
  );
  const a = await readMatrixFile(pathA, 'A');
  const b = await readMatrixFile(pathB, 'B');
  const committed = commitJob(a.matrix, b.matrix, params.pouw);
  if (!committed.ok) throw new CliError(`the job is refused: ${committed.error.message}`, 2);
  const h = committed.value.header;
  // The node keeps the matrices, so its miner (and, by root, others) can take the job.
  const stored = await ctx.client().putJobData({ body: { a: b64(a.bytes), b: b64(b.bytes), owner } });
  if (stored.rootA !== toHex(h.rootA) || stored.rootB !== toHex(h.rootB)) {
    throw new CliError(
      'the node committed to other roots than this machine computed: check the node version',
    );
  }
  const payload = JobSubmitPayload.serialize({ ...h, fee: fee.value });
  const sent = await submitFromWallet(ctx, TxKind.jobSubmit, payload, fee.value, 'the job');
  const id = jobIdOf(sent.sender, sent.nonce);
  ctx.emit(
    {
      id,
      tx: sent.id,
      m: h.m,
      n: h.n,
      k: h.k,
      rootA: stored.rootA,
      rootB: stored.rootB,
      fee: fee.value.toString(),
    },
    `job ${id}\n  ${h.m}x${h.k} times ${h.k}x${h.n}, fee ${formatFlux(fee.value)} FLUX (tx ${sent.id}, pending)`,
  );
}

function jobLines(j: JobJson): string {
  return [
    `job        ${j.id}`,
    `status     ${j.status}`,
    `owner      ${j.owner}`,
    `dims       A ${j.m}x${j.k}, B ${j.k}x${j.n}`,
    `fee        ${formatFlux(BigInt(j.fee))} FLUX`,
    `submitted  at height ${j.submitHeight}`,
    ...(j.miner ? [`miner      ${j.miner} (claimed at ${j.claimHeight})`] : []),
    ...(j.productRoot ? [`product    ${j.productRoot}`] : []),
    ...(j.dueHeight !== undefined && (j.status === 'claimed' || j.status === 'delivered')
      ? [`due        ${j.status === 'claimed' ? 'result by' : 'paid at'} height ${j.dueHeight}`]
      : []),
    `this node  ${j.dataHere ? 'holds the data' : 'has no data'}${j.resultHere ? ', holds the product' : ''}`,
  ].join('\n');
}

export async function jobStatus(ctx: CommandContext): Promise<void> {
  const job = await ctx.client().job({ params: { id: jobIdArg(ctx) } });
  ctx.emit(job, jobLines(job));
}

/** A node lacking a product fetches it from its peers first (up to 1 s per MiB per peer asked). */
const RESULT_TIMEOUT_MS = 120_000;

/**
 * The product as the node serves it (any node: one that lacks it fetches it from its peers),
 * checked here against the root the miner posted.
 */
async function fetchProduct(
  ctx: CommandContext,
  job: JobJson,
): Promise<{ product: Int32Matrix; rootMatches: boolean }> {
  const client = createClient({ baseUrl: ctx.api, timeoutMs: RESULT_TIMEOUT_MS });
  const { file } = await client.jobResult({ params: { id: job.id } });
  const decoded = decodeMatrix(unb64(file));
  if (decoded.type !== 'int32' || decoded.rows !== job.m || decoded.cols !== job.n) {
    throw new CliError(`the node's product is not an int32 ${job.m}x${job.n} matrix`);
  }
  const root = commitProduct(decoded.data, job.m, job.n).root;
  return { product: decoded, rootMatches: job.productRoot !== undefined && toHex(root) === job.productRoot };
}

export async function jobResult(ctx: CommandContext): Promise<number | undefined> {
  const job = await ctx.client().job({ params: { id: jobIdArg(ctx) } });
  const out = ctx.values.out as string | undefined;
  if (!out) throw new CliError('-o FILE (.npy or .fxm) is required', 2);
  const { product, rootMatches } = await fetchProduct(ctx, job);
  await writeFile(out, encodeMatrixFor(out, { type: 'int32', ...product }));
  ctx.emit(
    { id: job.id, file: out, m: job.m, n: job.n, productRoot: job.productRoot ?? null, rootMatches },
    `${out}: C = A*B, ${job.m}x${job.n} int32; ${
      rootMatches ? 'matches the product root on chain' : 'does NOT match the product root on chain'
    }`,
  );
  return rootMatches ? undefined : 1;
}

async function jobData(ctx: CommandContext, job: JobJson): Promise<JobData> {
  const { params } = await networkParams(ctx);
  const data = await ctx.client().jobData({ params: { id: job.id } });
  const a = asInt8(decodeMatrix(unb64(data.a)), 'A');
  const b = asInt8(decodeMatrix(unb64(data.b)), 'B');
  const committed = commitJob(a, b, params.pouw);
  if (!committed.ok) throw new CliError(`the node's job data is not a valid job: ${committed.error.message}`);
  const h = committed.value.header;
  if (toHex(h.rootA) !== job.rootA || toHex(h.rootB) !== job.rootB) {
    throw new CliError("the node's matrices do not match the job's roots on chain");
  }
  return committed.value;
}

/** Entries of C that differ from A*B: every entry for small jobs, else a sample of `samples`. */
function wrongEntries(
  data: JobData,
  c: Int32Matrix,
  samples: number,
): { checked: number; wrong: Array<[number, number]> } {
  const { m, n, k } = data.header;
  const wrong: Array<[number, number]> = [];
  const check = (i: number, j: number) => {
    const expected = dotProduct(
      data.a.subarray(i * k, (i + 1) * k),
      data.bColumns.subarray(j * k, (j + 1) * k),
    );
    if (c.data[i * n + j] !== expected) wrong.push([i, j]);
  };
  if (m * n <= samples) {
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) check(i, j);
    return { checked: m * n, wrong };
  }
  for (let s = 0; s < samples; s++) check(Math.floor(Math.random() * m), Math.floor(Math.random() * n));
  return { checked: samples, wrong };
}

export async function jobVerify(ctx: CommandContext): Promise<number | undefined> {
  const job = await ctx.client().job({ params: { id: jobIdArg(ctx) } });
  const samples = ctx.values.samples === undefined ? 65_536 : Number(ctx.values.samples);
  if (!Number.isSafeInteger(samples) || samples < 1)
    throw new CliError('--samples must be a positive integer', 2);
  const data = await jobData(ctx, job);
  const { product, rootMatches } = await fetchProduct(ctx, job);
  const { checked, wrong } = wrongEntries(data, product, samples);
  const ok = rootMatches && wrong.length === 0;
  ctx.emit(
    { id: job.id, ok, rootMatches, checked, wrong: wrong.slice(0, 20) },
    ok
      ? `job ${job.id}: product verified (${checked} of ${job.m * job.n} entries recomputed, root matches)`
      : [
          `job ${job.id}: product is WRONG`,
          ...(rootMatches ? [] : ['  the product does not match the root on chain']),
          ...wrong
            .slice(0, 5)
            .map(
              ([i, j]) =>
                `  C[${i}][${j}] differs from A*B: flux job challenge ${job.id} --row ${i} --col ${j}`,
            ),
        ].join('\n'),
  );
  return ok ? undefined : 1;
}

export async function jobChallenge(ctx: CommandContext): Promise<void> {
  const job = await ctx.client().job({ params: { id: jobIdArg(ctx) } });
  const row = Number(ctx.values.row);
  const col = Number(ctx.values.col);
  if (!Number.isSafeInteger(row) || row < 0 || row >= job.m)
    throw new CliError(`--row must be 0..${job.m - 1}`, 2);
  if (!Number.isSafeInteger(col) || col < 0 || col >= job.n)
    throw new CliError(`--col must be 0..${job.n - 1}`, 2);
  if (job.status !== 'delivered')
    throw new CliError(`job ${job.id} is ${job.status}: only a delivered result can be challenged`);
  const data = await jobData(ctx, job);
  const { product } = await fetchProduct(ctx, job);
  const commitment = commitProduct(product.data, job.m, job.n);
  if (!bytesEqual(commitment.root, fromHex(job.productRoot!))) {
    throw new CliError(
      "the product this node serves is not the one committed on chain: a fraud proof needs the committed product's data",
    );
  }
  const entry = openProductEntry(commitment, row, col);
  const a = rowOfA(data, row);
  const b = columnOfB(data, col);
  const expected = dotProduct(a.row, b.column);
  if (entry.chunkC[col % 16] === expected) {
    throw new CliError(`C[${row}][${col}] = ${expected} is correct: a challenge of it would be refused`);
  }
  const u8 = (x: Int8Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const payload = JobChallengePayload.serialize({
    job: fromHex(job.id),
    row,
    col,
    rowA: u8(a.row),
    pathA: a.path,
    colB: u8(b.column),
    pathB: b.path,
    chunkC: new Uint8Array(entry.chunkC.buffer),
    chunkPath: entry.chunkPath,
    rowPath: entry.rowPath,
  });
  const sent = await submitFromWallet(ctx, TxKind.jobChallenge, payload, 0n, 'the challenge');
  ctx.emit(
    { id: job.id, tx: sent.id, row, col },
    `challenge of C[${row}][${col}] sent (tx ${sent.id}); the fee returns to the owner once it is mined`,
  );
}
