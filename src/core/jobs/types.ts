// Job state: records, the open-job pool index, deadlines, and the PoUW tally.
import { JobRecord, type JobRecord as JobRecordValue, PouwTally } from '../codec/types.ts';
import { concatBytes, sha256, toHex } from '../crypto/hash.ts';
import type { Table } from '../ledger/state.ts';

/** Where a job stands. Numbers are what the state stores. */
export const JobStatus = {
  /** Fee in escrow; any miner may claim it by mining one of its tiles. */
  open: 0,
  /** A block carried a winning tile; its miner must post the product root by `dueHeight`. */
  claimed: 1,
  /** Product root on chain; the fee is paid at `dueHeight` unless a fraud proof comes first. */
  delivered: 2,
  /** Fee paid to the miner. */
  paid: 3,
  /** A fraud proof showed a wrong entry: fee refunded to the owner. */
  refuted: 4,
  /** The miner missed the delivery deadline: fee refunded to the owner. */
  lapsed: 5,
} as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];
export const JOB_STATUS_NAMES = ['open', 'claimed', 'delivered', 'paid', 'refuted', 'lapsed'] as const;
export type JobStatusName = (typeof JOB_STATUS_NAMES)[number];

const MARK = new Uint8Array([1]);
function markerTable(prefix: string): Table<true> {
  return { prefix, encode: () => MARK, decode: () => true };
}

/** `job/<id hex>` -> the job. */
export const jobs: Table<JobRecordValue> = {
  prefix: 'job/',
  encode: (v) => JobRecord.serialize(v),
  decode: (b) => JobRecord.deserialize(b),
};

/** `jobopen/<submit height>/<id>`: the pool of open jobs, oldest first. */
export const openJobs = markerTable('jobopen/');
/** `jobdue/<height>/<id>`: a job whose delivery deadline or payment falls at that height. */
export const jobsDue = markerTable('jobdue/');

/** `pouw/` -> counts of PoUW blocks and of blocks that carried a paid job, and the last job named. */
export const pouwTally: Table<PouwTally> = {
  prefix: 'pouw/',
  encode: (v) => PouwTally.serialize(v),
  decode: (b) => PouwTally.deserialize(b),
};

export function heightKey(height: number): string {
  return height.toString().padStart(16, '0');
}

export function openKey(job: JobRecordValue, id: string): string {
  return `${heightKey(job.submitHeight)}/${id}`;
}

export function dueKey(height: number, id: string): string {
  return `${heightKey(height)}/${id}`;
}

const JOB_ID_DOMAIN = new TextEncoder().encode('openflux/job/v1');

/** A job's id: sha256 of a domain tag, its owner's account id and the submitting nonce. */
export function jobIdOf(owner: Uint8Array, nonce: number): string {
  const n = new Uint8Array(8);
  new DataView(n.buffer).setBigUint64(0, BigInt(nonce));
  return toHex(sha256(concatBytes(JOB_ID_DOMAIN, owner, n)));
}
