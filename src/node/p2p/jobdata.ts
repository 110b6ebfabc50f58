// The job-data protocol: a miner asks a peer for a PoUW job's matrices by the job's roots and
// dimensions. One request per stream; frames are length-prefixed, a type byte then SSZ (as on the
// sync protocol). The answer is a `jobData` frame echoing the dimensions followed by chunk frames
// carrying exactly m·k bytes of A (rows) then n·k bytes of B's columns (what rootB commits to),
// or an `error` frame (not found, rate limited, busy). The asker checks the roots before use.

import { ByteListType, ContainerType, type ValueOf } from '@chainsafe/ssz';
import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils';
import { Bytes32, Uint32 } from '../../core/codec/types.ts';
import { bytesEqual } from '../../core/crypto/hash.ts';
import {
  commitJob,
  type JobData,
  type JobHeader,
  type PouwParams,
  transpose,
  validateDims,
} from '../../core/pouw/index.ts';
import type { Offence } from './peers.ts';
import { errorOffence, PeerError } from './protocol.ts';
import { frame } from './wire.ts';

export const JOBDATA_PROTOCOL = '/openflux/jobdata/1';
/** Bytes of matrix data per chunk frame. */
export const JOB_CHUNK_BYTES = 256 * 1024;
/** A transfer may take its request timeout plus this long per MiB (a slow link still finishes). */
const MS_PER_MIB = 1_000;
const MAX_ERROR_BYTES = 256;

export const JobDataRequest = new ContainerType(
  { rootA: Bytes32, rootB: Bytes32, m: Uint32, n: Uint32, k: Uint32 },
  { typeName: 'JobDataRequest' },
);
export const JobDataResponse = new ContainerType(
  { m: Uint32, n: Uint32, k: Uint32 },
  { typeName: 'JobDataResponse' },
);
const ErrorResponse = new ContainerType(
  { message: new ByteListType(MAX_ERROR_BYTES) },
  { typeName: 'JobDataError' },
);
export type JobDataRequest = ValueOf<typeof JobDataRequest>;

export const JobDataMessageType = { request: 1, response: 2, chunk: 3, error: 0xff } as const;

export type JobDataMessage =
  | { type: 'request'; value: JobDataRequest }
  | { type: 'response'; value: { m: number; n: number; k: number } }
  | { type: 'chunk'; bytes: Uint8Array }
  | { type: 'error'; message: string };

export function encodeJobDataMessage(message: JobDataMessage): Uint8Array {
  switch (message.type) {
    case 'request':
      return frame(JobDataMessageType.request, JobDataRequest.serialize(message.value));
    case 'response':
      return frame(JobDataMessageType.response, JobDataResponse.serialize(message.value));
    case 'chunk':
      return frame(JobDataMessageType.chunk, message.bytes);
    case 'error': {
      const text = new TextEncoder().encode(message.message).subarray(0, MAX_ERROR_BYTES);
      return frame(JobDataMessageType.error, ErrorResponse.serialize({ message: text }));
    }
  }
}

/** Parses one frame; anything that is not exactly a known message is an error, never a throw. */
export function decodeJobDataMessage(
  bytes: Uint8Array,
): { ok: true; message: JobDataMessage } | { ok: false; error: string } {
  if (bytes.length === 0) return { ok: false, error: 'empty frame' };
  const body = bytes.subarray(1);
  try {
    switch (bytes[0]) {
      case JobDataMessageType.request:
        return { ok: true, message: { type: 'request', value: JobDataRequest.deserialize(body) } };
      case JobDataMessageType.response:
        return { ok: true, message: { type: 'response', value: JobDataResponse.deserialize(body) } };
      case JobDataMessageType.chunk:
        return { ok: true, message: { type: 'chunk', bytes: body } };
      case JobDataMessageType.error:
        return {
          ok: true,
          message: {
            type: 'error',
            message: new TextDecoder().decode(ErrorResponse.deserialize(body).message),
          },
        };
      default:
        return { ok: false, error: `unknown job-data message type ${bytes[0]}` };
    }
  } catch (e) {
    return { ok: false, error: `malformed job-data message of type ${bytes[0]}: ${(e as Error).message}` };
  }
}

/** Bytes of A and B of a job with these dimensions: m·k + k·n. */
export function jobDataBytes(dims: { m: number; n: number; k: number }): number {
  return dims.m * dims.k + dims.k * dims.n;
}

/** How long a transfer of this many bytes may take. */
export function jobDataTimeoutMs(requestTimeoutMs: number, bytes: number): number {
  return requestTimeoutMs + Math.ceil((bytes / 2 ** 20) * MS_PER_MIB);
}

async function readMessage(lp: LengthPrefixedStream<Stream>, signal: AbortSignal): Promise<JobDataMessage> {
  const buf = await lp.read({ signal });
  const decoded = decodeJobDataMessage(buf.subarray());
  if (!decoded.ok) throw new PeerError('malformed', decoded.error);
  return decoded.message;
}

/** Where a node's job matrices come from (the node's jobs store). */
export interface JobDataSource {
  get(header: JobHeader): JobData | undefined;
}

/** The outcome of asking one peer for a job's data; `data` has had its roots checked. */
export type JobDataFetch =
  | { ok: true; data: JobData }
  | {
      ok: false;
      error: {
        /** NOT_FOUND: the peer does not hold it; REFUSED: rate limited or busy; BAD_DATA: roots differ. */
        code: 'NOT_FOUND' | 'REFUSED' | 'BAD_DATA' | 'BAD_RESPONSE' | 'FAILED' | 'TOO_LARGE';
        message: string;
      };
    };

/**
 * Checks matrices a peer sent against the job's roots and dimensions (commitJob recomputes the
 * Merkle roots over A's rows and B's columns, and checks every entry is int7).
 */
export function verifyJobData(
  header: JobHeader,
  a: Int8Array,
  bColumns: Int8Array,
  params: PouwParams,
): { ok: true; data: JobData } | { ok: false; message: string } {
  const { m, n, k } = header;
  const b = transpose({ rows: n, cols: k, data: bColumns });
  const job = commitJob({ rows: m, cols: k, data: a }, b, params);
  if (!job.ok) return { ok: false, message: `${job.error.code}: ${job.error.message}` };
  if (!bytesEqual(job.value.header.rootA, header.rootA))
    return { ok: false, message: 'the rows of A do not match the job’s rootA' };
  if (!bytesEqual(job.value.header.rootB, header.rootB))
    return { ok: false, message: 'the columns of B do not match the job’s rootB' };
  return { ok: true, data: job.value };
}

export interface JobDataClientOptions {
  params: PouwParams;
  requestTimeoutMs: number;
  /** Jobs with more bytes than this are not asked for. */
  maxJobBytes: number;
}

/** Asks one peer for a job's A and B; throws PeerError (offence when the peer is to blame). */
async function download(
  node: Libp2p,
  peer: PeerId,
  header: JobHeader,
  opts: JobDataClientOptions,
): Promise<{ a: Int8Array; bColumns: Int8Array } | { notFound: string }> {
  const { m, n, k } = header;
  const total = jobDataBytes(header);
  const signal = AbortSignal.timeout(jobDataTimeoutMs(opts.requestTimeoutMs, total));
  let stream: Stream;
  try {
    stream = await node.dialProtocol(peer, JOBDATA_PROTOCOL, { signal });
  } catch (e) {
    throw new PeerError(undefined, `cannot open a job-data stream: ${(e as Error).message}`);
  }
  try {
    const lp = lpStream(stream, { maxDataLength: JOB_CHUNK_BYTES + 64 });
    const request = { rootA: header.rootA, rootB: header.rootB, m, n, k };
    await lp.write(encodeJobDataMessage({ type: 'request', value: request }), { signal });
    const first = await readMessage(lp, signal);
    if (first.type === 'error') {
      await stream.close({ signal });
      return { notFound: first.message };
    }
    if (first.type !== 'response') throw new PeerError('badResponse', `expected response, got ${first.type}`);
    if (first.value.m !== m || first.value.n !== n || first.value.k !== k) {
      throw new PeerError(
        'badResponse',
        `answered for ${first.value.m}x${first.value.k}x${first.value.n}, asked for ${m}x${k}x${n}`,
      );
    }
    const data = new Int8Array(total);
    let at = 0;
    while (at < total) {
      const message = await readMessage(lp, signal);
      if (message.type !== 'chunk')
        throw new PeerError('badResponse', `expected a chunk, got ${message.type}`);
      if (message.bytes.length === 0) throw new PeerError('malformed', 'empty chunk');
      if (at + message.bytes.length > total) {
        throw new PeerError('oversized', `sent more than the job's ${total} bytes of A and B`);
      }
      data.set(new Int8Array(message.bytes.buffer, message.bytes.byteOffset, message.bytes.length), at);
      at += message.bytes.length;
    }
    await stream.close({ signal });
    return { a: data.subarray(0, m * k), bColumns: data.subarray(m * k) };
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)));
    throw errorOffence(e);
  }
}

/**
 * Fetches a job's data from one peer and checks it against the job's roots; a peer whose data
 * does not match is penalised (`badJobData`) and the data dropped.
 */
export async function fetchJobData(
  node: Libp2p,
  peer: PeerId,
  header: JobHeader,
  opts: JobDataClientOptions,
  penalise: (peer: PeerId, offence: Offence, why: string) => void,
): Promise<JobDataFetch> {
  const dims = validateDims(header, opts.params);
  if (!dims.ok) return { ok: false, error: { code: 'TOO_LARGE', message: dims.error.message } };
  const bytes = jobDataBytes(header);
  if (bytes > opts.maxJobBytes) {
    return {
      ok: false,
      error: { code: 'TOO_LARGE', message: `job of ${bytes} bytes exceeds the ${opts.maxJobBytes} fetched` },
    };
  }
  let got: Awaited<ReturnType<typeof download>>;
  try {
    got = await download(node, peer, header, opts);
  } catch (e) {
    const err = errorOffence(e);
    if (err.offence !== undefined) penalise(peer, err.offence, err.message);
    const code = err.offence === undefined || err.offence === 'timeout' ? 'FAILED' : 'BAD_RESPONSE';
    return { ok: false, error: { code, message: err.message } };
  }
  if ('notFound' in got) {
    const refused = /rate limited|busy/.test(got.notFound);
    return {
      ok: false,
      error: { code: refused ? 'REFUSED' : 'NOT_FOUND', message: `peer: ${got.notFound}` },
    };
  }
  const checked = verifyJobData(header, got.a, got.bColumns, opts.params);
  if (!checked.ok) {
    penalise(peer, 'badJobData', checked.message);
    return { ok: false, error: { code: 'BAD_DATA', message: checked.message } };
  }
  return checked;
}

export interface JobDataServeContext {
  params: PouwParams;
  source: JobDataSource | undefined;
  /** Returns false when the peer is over its job-data request rate. */
  allow(peer: PeerId): boolean;
  /** Takes one of the node's serving slots; false when all are busy. */
  acquire(): boolean;
  release(): void;
  penalise(peer: PeerId, offence: Offence, why: string): void;
  requestTimeoutMs: number;
}

/** Serves one inbound job-data stream: read the request, answer from the source, close. */
export async function serveJobDataStream(
  ctx: JobDataServeContext,
  stream: Stream,
  peer: PeerId,
): Promise<void> {
  let signal = AbortSignal.timeout(ctx.requestTimeoutMs);
  const lp = lpStream(stream, { maxDataLength: 256 });
  let acquired = false;
  try {
    const request = await readMessage(lp, signal);
    if (request.type !== 'request') throw new PeerError('malformed', `${request.type} is not a request`);
    const header = request.value;
    const dims = validateDims(header, ctx.params);
    if (!dims.ok)
      throw new PeerError('malformed', `asked for a job outside the limits: ${dims.error.message}`);
    const refuse = async (message: string) => {
      await lp.write(encodeJobDataMessage({ type: 'error', message }), { signal });
      await stream.close({ signal });
    };
    if (!ctx.allow(peer)) return await refuse('rate limited: too many job-data requests');
    acquired = ctx.acquire();
    if (!acquired) return await refuse('busy: serving other job-data requests');
    const job = ctx.source?.get(header);
    if (job === undefined) return await refuse('not found: no data for that job here');
    const { m, n, k } = header;
    signal = AbortSignal.timeout(jobDataTimeoutMs(ctx.requestTimeoutMs, jobDataBytes(header)));
    await lp.write(encodeJobDataMessage({ type: 'response', value: { m, n, k } }), { signal });
    for (const part of [job.a, job.bColumns]) {
      const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
      for (let at = 0; at < bytes.length; at += JOB_CHUNK_BYTES) {
        await lp.write(
          encodeJobDataMessage({ type: 'chunk', bytes: bytes.subarray(at, at + JOB_CHUNK_BYTES) }),
          { signal },
        );
      }
    }
    await stream.close({ signal });
  } catch (e) {
    const err = errorOffence(e);
    if (err.offence !== undefined && err.offence !== 'timeout') ctx.penalise(peer, err.offence, err.message);
    stream.abort(err);
  } finally {
    if (acquired) ctx.release();
  }
}
