// A node's job data: the matrices of jobs it holds (its owners' uploads, or fetched) and the
// products it computed, as files under `datadir/jobs/`, found by the job's roots and dimensions.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jobHeaderHash } from '../../core/consensus/pouw.ts';
import { bytesEqual, toHex } from '../../core/crypto/hash.ts';
import {
  commitJob,
  type Int8Matrix,
  type JobData,
  type JobHeader,
  type PouwParams,
  type PouwResult,
  transpose,
} from '../../core/pouw/index.ts';
import { decodeMatrix, encodeFxm, type Int32Matrix } from './matrix-file.ts';

const CACHE = 8;

export class JobDataStore {
  readonly dir: string;
  private readonly params: PouwParams;
  private readonly cache = new Map<string, JobData>();

  constructor(dir: string, params: PouwParams) {
    this.dir = dir;
    this.params = params;
    mkdirSync(dir, { recursive: true });
  }

  /** Commits to A and B (checking dimensions and entries) and keeps them; returns the job's data. */
  put(a: Int8Matrix, b: Int8Matrix): PouwResult<JobData> {
    const job = commitJob(a, b, this.params);
    if (!job.ok) return job;
    const key = toHex(jobHeaderHash(job.value.header));
    this.write(`${key}.a.fxm`, encodeFxm({ type: 'int8', ...a }));
    this.write(`${key}.b.fxm`, encodeFxm({ type: 'int8', ...b }));
    this.remember(key, job.value);
    return job;
  }

  /**
   * Keeps data already committed to (fetched from a peer and checked against the job's roots by
   * commitJob), without committing again.
   */
  putJob(job: JobData): void {
    const key = toHex(jobHeaderHash(job.header));
    const { m, n, k } = job.header;
    const b = transpose({ rows: n, cols: k, data: job.bColumns });
    // B first: `has` looks for A, so a crash between the writes leaves the job fetchable again.
    this.write(`${key}.b.fxm`, encodeFxm({ type: 'int8', ...b }));
    this.write(`${key}.a.fxm`, encodeFxm({ type: 'int8', rows: m, cols: k, data: job.a }));
    this.remember(key, job);
  }

  /** The job's data when this node holds matrices with exactly these roots and dimensions. */
  get(header: JobHeader): JobData | undefined {
    const key = toHex(jobHeaderHash(header));
    const cached = this.cache.get(key);
    if (cached) return cached;
    const a = this.read(`${key}.a.fxm`);
    const b = this.read(`${key}.b.fxm`);
    if (!a || !b) return undefined;
    const A = decodeMatrix(a);
    const B = decodeMatrix(b);
    if (A.type !== 'int8' || B.type !== 'int8') return undefined;
    const job = commitJob(A, B, this.params);
    if (
      !job.ok ||
      !bytesEqual(job.value.header.rootA, header.rootA) ||
      !bytesEqual(job.value.header.rootB, header.rootB)
    )
      return undefined;
    this.remember(key, job.value);
    return job.value;
  }

  has(header: JobHeader): boolean {
    return (
      this.cache.has(toHex(jobHeaderHash(header))) ||
      existsSync(join(this.dir, `${toHex(jobHeaderHash(header))}.a.fxm`))
    );
  }

  /** B as the owner gave it (k x n), for serving. */
  matrices(header: JobHeader): { a: Int8Matrix; b: Int8Matrix } | undefined {
    const job = this.get(header);
    if (!job) return undefined;
    const { m, n, k } = job.header;
    return {
      a: { rows: m, cols: k, data: job.a },
      b: transpose({ rows: n, cols: k, data: job.bColumns }),
    };
  }

  putProduct(jobId: string, product: Int32Matrix): void {
    this.write(`${jobId}.c.fxm`, encodeFxm({ type: 'int32', ...product }));
  }

  product(jobId: string): Int32Matrix | undefined {
    if (!/^[0-9a-f]{64}$/.test(jobId)) return undefined;
    const bytes = this.read(`${jobId}.c.fxm`);
    if (!bytes) return undefined;
    const m = decodeMatrix(bytes);
    return m.type === 'int32' ? m : undefined;
  }

  private remember(key: string, job: JobData): void {
    if (this.cache.size >= CACHE) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, job);
  }

  private write(name: string, bytes: Uint8Array): void {
    const tmp = join(this.dir, `${name}.tmp`);
    writeFileSync(tmp, bytes);
    renameSync(tmp, join(this.dir, name));
  }

  private read(name: string): Uint8Array | undefined {
    try {
      return new Uint8Array(readFileSync(join(this.dir, name)));
    } catch {
      return undefined;
    }
  }
}
