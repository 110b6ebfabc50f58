// A node's job data: the matrices of jobs it holds (its owners' uploads, or fetched) and the
// products it computed, as files under `datadir/jobs/`, found by the job's roots and dimensions.
// An index (`index.json`) says for whom each is held: an upload counts against its submitter's
// quota while no job names it or while a job naming it is open, claimed or delivered; once its
// jobs end, or when no job names it in time, the keeper (keeper.ts) has it deleted.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMatrix, encodeFxm, type Int32Matrix } from '../../api/matrix-file.ts';
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

const CACHE = 8;
const INDEX = 'index.json';
const MiB = 2 ** 20;

/** Per submitter: bytes of A and B held for its open jobs and pending uploads. */
export const DEFAULT_JOB_DATA_QUOTA = 256 * MiB;
/** Bytes of A and B held in all, whoever they are for. */
export const DEFAULT_JOB_DATA_TOTAL = 4096 * MiB;

export interface JobDataStoreOptions {
  /** Bytes of A and B held for one submitter's open jobs and uploads no job names yet. */
  quotaBytes?: number;
  /** Bytes of A and B held in all (uploads and fetched data). */
  totalBytes?: number;
}

export type StoreError = { code: 'QUOTA_EXCEEDED' | 'STORE_FULL'; message: string };
export type StoreResult<T> = PouwResult<T> | { ok: false; error: StoreError };

/** Who an upload is for: an account id (hex), '' for an upload that names nobody. */
export interface Submitter {
  id: string;
  /** How messages name it (an address). */
  name: string;
}

export const NO_SUBMITTER: Submitter = { id: '', name: 'uploads that name no owner' };

/** Where a job stands, as the keeper tells the store. */
export type JobPhase = 'live' | 'ended' | 'missing';

export interface RetentionPolicy {
  /** Blocks an ended job's matrices and product are kept, so its owner can still fetch them. */
  keepBlocks: number;
  /** Blocks an upload is kept while no job on chain names it. */
  pendingBlocks: number;
}

interface HeldData {
  /** m·k + k·n: the bytes of A and B. */
  bytes: number;
  /** Height it was stored at (set at the first settle for files found at start). */
  since?: number;
  /** Account ids (hex) that uploaded it naming themselves ('' for nobody); counted while no job names it. */
  submitters: string[];
  /** Jobs on chain that name it: id -> owner account id and whether the job ended. */
  jobs: Record<string, { owner: string; ended: boolean }>;
  /** Height at which the last job naming it ended. */
  endedAt?: number;
}

interface HeldProduct {
  endedAt?: number;
}

interface IndexFile {
  data: Record<string, HeldData>;
  products: Record<string, HeldProduct>;
}

const fmt = (n: number) => n.toLocaleString('en-US');

export class JobDataStore {
  readonly dir: string;
  readonly quotaBytes: number;
  readonly totalBytes: number;
  private readonly params: PouwParams;
  private readonly cache = new Map<string, JobData>();
  private readonly data = new Map<string, HeldData>();
  private readonly products = new Map<string, HeldProduct>();
  /** The last height the keeper settled at. */
  private height: number | undefined;
  private changes = 0;

  constructor(dir: string, params: PouwParams, opts: JobDataStoreOptions = {}) {
    this.dir = dir;
    this.params = params;
    this.quotaBytes = opts.quotaBytes ?? DEFAULT_JOB_DATA_QUOTA;
    this.totalBytes = opts.totalBytes ?? DEFAULT_JOB_DATA_TOTAL;
    mkdirSync(dir, { recursive: true });
    this.load();
  }

  /** Moves with every change to what the store holds (for caches of what it holds). */
  get version(): number {
    return this.changes;
  }

  /**
   * Commits to A and B (checking dimensions and entries) and keeps them for `submitter`, within
   * its quota and the store's total; returns the job's data.
   */
  put(a: Int8Matrix, b: Int8Matrix, submitter: Submitter = NO_SUBMITTER): StoreResult<JobData> {
    const job = commitJob(a, b, this.params);
    if (!job.ok) return job;
    const key = toHex(jobHeaderHash(job.value.header));
    const held = this.data.get(key);
    const bytes = dataBytes(job.value.header);
    const counted = held !== undefined && held.endedAt === undefined && countsFor(held, submitter.id);
    if (!counted) {
      const used = this.usage(submitter.id);
      if (used + bytes > this.quotaBytes) {
        return {
          ok: false,
          error: {
            code: 'QUOTA_EXCEEDED',
            message:
              `${submitter.name}: this node holds ${fmt(used)} bytes of job data for its open jobs and ` +
              `uploads no job names yet; this upload's ${fmt(bytes)} bytes would pass the quota of ` +
              `${fmt(this.quotaBytes)} bytes per submitter (data is deleted when its jobs end)`,
          },
        };
      }
    }
    if (!held) {
      const full = this.fullError(bytes);
      if (full) return full;
      this.write(`${key}.a.fxm`, encodeFxm({ type: 'int8', ...a }));
      this.write(`${key}.b.fxm`, encodeFxm({ type: 'int8', ...b }));
    }
    const entry: HeldData = held ?? { bytes, submitters: [], jobs: {} };
    if (entry.endedAt !== undefined) {
      // Uploaded again after its jobs ended: held anew, for a job still to come.
      entry.jobs = {};
      entry.endedAt = undefined;
    }
    if (!entry.submitters.includes(submitter.id)) entry.submitters.push(submitter.id);
    if (Object.keys(entry.jobs).length === 0) entry.since = this.height;
    this.data.set(key, entry);
    this.remember(key, job.value);
    this.save();
    return job;
  }

  /**
   * Keeps data already committed to (fetched from a peer and checked against the job's roots by
   * commitJob), without committing again; `jobId` and `owner` (account id hex) name its job.
   */
  putJob(job: JobData, owner?: { jobId: string; owner: string }): StoreResult<JobData> {
    const key = toHex(jobHeaderHash(job.header));
    const { m, n, k } = job.header;
    const held = this.data.get(key);
    if (!held) {
      const full = this.fullError(dataBytes(job.header));
      if (full) return full;
      const b = transpose({ rows: n, cols: k, data: job.bColumns });
      // B first: `has` looks for A, so a crash between the writes leaves the job fetchable again.
      this.write(`${key}.b.fxm`, encodeFxm({ type: 'int8', ...b }));
      this.write(`${key}.a.fxm`, encodeFxm({ type: 'int8', rows: m, cols: k, data: job.a }));
    }
    const entry: HeldData = held ?? {
      bytes: dataBytes(job.header),
      since: this.height,
      submitters: [],
      jobs: {},
    };
    if (owner) {
      entry.jobs[owner.jobId] = { owner: owner.owner, ended: false };
      entry.endedAt = undefined;
    }
    this.data.set(key, entry);
    this.remember(key, job);
    this.save();
    return { ok: true, value: job };
  }

  /** Records that job `jobId` of `owner` (account id hex) names this data, when it is held here. */
  attach(header: JobHeader, jobId: string, owner: string): boolean {
    const entry = this.data.get(toHex(jobHeaderHash(header)));
    if (!entry) return false;
    if (entry.jobs[jobId]?.ended === false && entry.endedAt === undefined) return true;
    entry.jobs[jobId] = { owner, ended: false };
    entry.endedAt = undefined;
    this.save();
    return true;
  }

  /** The job's data when this node holds matrices with exactly these roots and dimensions. */
  get(header: JobHeader): JobData | undefined {
    const key = toHex(jobHeaderHash(header));
    const cached = this.cache.get(key);
    if (cached) return cached;
    if (!this.data.has(key)) return undefined;
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
    return this.data.has(toHex(jobHeaderHash(header)));
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
    this.products.set(jobId, {});
    this.save();
  }

  product(jobId: string): Int32Matrix | undefined {
    if (!this.hasProduct(jobId)) return undefined;
    const bytes = this.read(`${jobId}.c.fxm`);
    if (!bytes) return undefined;
    const m = decodeMatrix(bytes);
    return m.type === 'int32' ? m : undefined;
  }

  hasProduct(jobId: string): boolean {
    return this.products.has(jobId);
  }

  /** Bytes of A and B held for a submitter (account id hex, '' for nobody): its quota's use. */
  usage(submitter: string): number {
    let used = 0;
    for (const entry of this.data.values())
      if (entry.endedAt === undefined && countsFor(entry, submitter)) used += entry.bytes;
    return used;
  }

  /** Bytes of A and B held in all. */
  heldBytes(): number {
    let held = 0;
    for (const entry of this.data.values()) held += entry.bytes;
    return held;
  }

  /** The jobs that name data held here, and those of held products: what the keeper asks the chain about. */
  jobIds(): Set<string> {
    const ids = new Set<string>(this.products.keys());
    for (const entry of this.data.values()) for (const id of Object.keys(entry.jobs)) ids.add(id);
    return ids;
  }

  /** Whether some held data is named by no job yet (the keeper then looks for its job in the pool). */
  hasUnnamed(): boolean {
    for (const entry of this.data.values()) if (Object.keys(entry.jobs).length === 0) return true;
    return false;
  }

  /**
   * At `height`, given where each job stands: deletes the matrices whose jobs all ended
   * `keepBlocks` ago or that no job named for `pendingBlocks`, and the products of jobs that ended
   * `keepBlocks` ago. Returns what was deleted (data keys and product job ids).
   */
  settle(height: number, phaseOf: (jobId: string) => JobPhase, policy: RetentionPolicy): string[] {
    this.height = height;
    const deleted: string[] = [];
    let changed = false;
    for (const [key, entry] of this.data) {
      if (entry.since === undefined) {
        entry.since = height;
        changed = true;
      }
      let live = false;
      for (const [id, job] of Object.entries(entry.jobs)) {
        const phase = phaseOf(id);
        if (phase === 'missing') {
          // Reorged away (a new block naming it attaches it again).
          delete entry.jobs[id];
          changed = true;
        } else if ((phase === 'ended') !== job.ended) {
          job.ended = phase === 'ended';
          changed = true;
        }
        if (phase === 'live') live = true;
      }
      const named = Object.keys(entry.jobs).length > 0;
      if (live) {
        if (entry.endedAt !== undefined) {
          entry.endedAt = undefined;
          changed = true;
        }
        continue;
      }
      if (!named) {
        if (entry.endedAt !== undefined) {
          // Its job was reorged away after it ended: held as an upload again.
          entry.endedAt = undefined;
          entry.since = height;
          changed = true;
        }
        if (height >= entry.since + policy.pendingBlocks) {
          this.dropData(key);
          deleted.push(key);
          changed = true;
        }
        continue;
      }
      if (entry.endedAt === undefined) {
        entry.endedAt = height;
        changed = true;
      }
      if (height >= entry.endedAt + policy.keepBlocks) {
        this.dropData(key);
        deleted.push(key);
        changed = true;
      }
    }
    for (const [id, product] of this.products) {
      const phase = phaseOf(id);
      if (phase === 'live') {
        if (product.endedAt !== undefined) {
          product.endedAt = undefined;
          changed = true;
        }
        continue;
      }
      if (product.endedAt === undefined) {
        product.endedAt = height;
        changed = true;
      }
      if (height >= product.endedAt + policy.keepBlocks) {
        this.products.delete(id);
        rmSync(join(this.dir, `${id}.c.fxm`), { force: true });
        deleted.push(id);
        changed = true;
      }
    }
    if (changed) this.save();
    return deleted;
  }

  private fullError(bytes: number): { ok: false; error: StoreError } | undefined {
    const held = this.heldBytes();
    if (held + bytes <= this.totalBytes) return undefined;
    return {
      ok: false,
      error: {
        code: 'STORE_FULL',
        message: `this node holds ${fmt(held)} bytes of job data; ${fmt(bytes)} more would pass its limit of ${fmt(this.totalBytes)} bytes (try again after some jobs end, or another node)`,
      },
    };
  }

  private dropData(key: string): void {
    this.data.delete(key);
    this.cache.delete(key);
    rmSync(join(this.dir, `${key}.a.fxm`), { force: true });
    rmSync(join(this.dir, `${key}.b.fxm`), { force: true });
  }

  /** Reads the index and reconciles it with the files (a crash can leave either behind the other). */
  private load(): void {
    let index: IndexFile = { data: {}, products: {} };
    try {
      index = JSON.parse(readFileSync(join(this.dir, INDEX), 'utf8')) as IndexFile;
    } catch {
      // No index yet (a new store, or one written before there was one): the files say what is held.
    }
    const names = new Set(readdirSync(this.dir));
    for (const name of names) if (name.endsWith('.tmp')) rmSync(join(this.dir, name), { force: true });
    for (const [key, entry] of Object.entries(index.data ?? {}))
      if (names.has(`${key}.a.fxm`) && names.has(`${key}.b.fxm`)) this.data.set(key, entry);
    for (const [id, product] of Object.entries(index.products ?? {}))
      if (names.has(`${id}.c.fxm`)) this.products.set(id, product);
    for (const name of names) {
      const key = /^([0-9a-f]{64})\.a\.fxm$/.exec(name)?.[1];
      if (key && !this.data.has(key) && names.has(`${key}.b.fxm`)) {
        const bytes = fileBytes(join(this.dir, name)) + fileBytes(join(this.dir, `${key}.b.fxm`));
        this.data.set(key, { bytes, submitters: [''], jobs: {} });
      }
      const id = /^([0-9a-f]{64})\.c\.fxm$/.exec(name)?.[1];
      if (id && !this.products.has(id)) this.products.set(id, {});
    }
  }

  private save(): void {
    this.changes++;
    const index: IndexFile = {
      data: Object.fromEntries(this.data),
      products: Object.fromEntries(this.products),
    };
    this.write(INDEX, new TextEncoder().encode(JSON.stringify(index)));
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

/** m·k + k·n: what a job's A and B take. */
export function dataBytes(header: Pick<JobHeader, 'm' | 'n' | 'k'>): number {
  return header.m * header.k + header.k * header.n;
}

/** An upload counts for its submitters until a job names it, then for the owners of its open jobs. */
function countsFor(entry: HeldData, submitter: string): boolean {
  const jobs = Object.values(entry.jobs);
  if (jobs.length === 0) return entry.submitters.includes(submitter);
  return jobs.some((j) => !j.ended && j.owner === submitter);
}

function fileBytes(path: string): number {
  // The .fxm header is 13 bytes; the rest is one byte per entry.
  try {
    return Math.max(0, statSync(path).size - 13);
  } catch {
    return 0;
  }
}
