// The job-data protocol: a miner asks a peer for a PoUW job's matrices by the job's roots and
// dimensions, and any node asks a peer for a delivered job's product by the job's id. One request
// per stream; frames are length-prefixed, a type byte then SSZ (as on the sync protocol). The
// answer to a data request is a `jobData` frame echoing the dimensions followed by chunk frames
// carrying exactly m·k bytes of A (rows) then n·k bytes of B's columns (what rootB commits to); to
// a product request a `product` frame echoing the dimensions followed by chunk frames carrying
// exactly m·n int32 little-endian entries of C; or an `error` frame (not found, rate limited,
// busy). The asker checks the roots (commitJob, commitProduct against the chain) before use.
// Version 2 of the protocol is version 1 plus product requests: a node serves both, asks for data
// on /1 and for products on /2 (a node older than /2 refuses the protocol, which is no offence).

import { ByteListType, ContainerType, type ValueOf } from '@chainsafe/ssz';
import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils';
import { Bytes32, Uint32 } from '../../core/codec/types.ts';
import { bytesEqual, toHex } from '../../core/crypto/hash.ts';
import {
  commitJob,
  commitProduct,
  type JobData,
  type JobDims,
  type JobHeader,
  type PouwParams,
  transpose,
  validateDims,
} from '../../core/pouw/index.ts';
import type { Offence } from './peers.ts';
import { errorOffence, PeerError } from './protocol.ts';
import { frame } from './wire.ts';

export const JOBDATA_PROTOCOL = '/openflux/jobdata/1';
/** Version 1 plus product requests. */
export const JOBDATA_PROTOCOL_V2 = '/openflux/jobdata/2';
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
/** A delivered job's product, by the job's id and its dimensions on chain (k for the limits check). */
export const ProductRequest = new ContainerType(
  { job: Bytes32, m: Uint32, n: Uint32, k: Uint32 },
  { typeName: 'ProductRequest' },
);
export const ProductResponse = new ContainerType({ m: Uint32, n: Uint32 }, { typeName: 'ProductResponse' });
const ErrorResponse = new ContainerType(
  { message: new ByteListType(MAX_ERROR_BYTES) },
  { typeName: 'JobDataError' },
);
export type JobDataRequest = ValueOf<typeof JobDataRequest>;
export type ProductRequest = ValueOf<typeof ProductRequest>;

export const JobDataMessageType = {
  request: 1,
  response: 2,
  chunk: 3,
  productRequest: 4,
  productResponse: 5,
  error: 0xff,
} as const;

export type JobDataMessage =
  | { type: 'request'; value: JobDataRequest }
  | { type: 'response'; value: { m: number; n: number; k: number } }
  | { type: 'productRequest'; value: ProductRequest }
  | { type: 'productResponse'; value: { m: number; n: number } }
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
    case 'productRequest':
      return frame(JobDataMessageType.productRequest, ProductRequest.serialize(message.value));
    case 'productResponse':
      return frame(JobDataMessageType.productResponse, ProductResponse.serialize(message.value));
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
      case JobDataMessageType.productRequest:
        return { ok: true, message: { type: 'productRequest', value: ProductRequest.deserialize(body) } };
      case JobDataMessageType.productResponse:
        return { ok: true, message: { type: 'productResponse', value: ProductResponse.deserialize(body) } };
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

/** Bytes of a job's product C: m·n int32 entries. */
export function productBytes(dims: { m: number; n: number }): number {
  return dims.m * dims.n * 4;
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

/** Where a node's job matrices and products come from (the node's jobs store). */
export interface JobDataSource {
  get(header: JobHeader): JobData | undefined;
  /** The product C (m x n int32) this node holds for a job, by the job's id (hex). */
  product?(jobId: string): { rows: number; cols: number; data: Int32Array } | undefined;
}

/** Why asking one peer failed. */
export interface JobDataFailure<Code extends string = never> {
  /**
   * NOT_FOUND: the peer does not hold it; REFUSED: rate limited or busy; BAD_DATA / BAD_PRODUCT:
   * roots differ from the chain's; TOO_LARGE: over the limits, not asked.
   */
  code: 'NOT_FOUND' | 'REFUSED' | 'BAD_RESPONSE' | 'FAILED' | 'TOO_LARGE' | Code;
  message: string;
}

/** The outcome of asking one peer for a job's data; `data` has had its roots checked. */
export type JobDataFetch = { ok: true; data: JobData } | { ok: false; error: JobDataFailure<'BAD_DATA'> };

/** What the chain says about a delivered job: what a fetched product is checked against. */
export interface ProductWanted {
  /** The job's id. */
  job: Uint8Array;
  m: number;
  n: number;
  k: number;
  /** The product root the miner's result committed on chain. */
  productRoot: Uint8Array;
}

/** The outcome of asking one peer for a job's product; `product` has had its root checked. */
export type ProductFetch =
  | { ok: true; product: Int32Array }
  | { ok: false; error: JobDataFailure<'BAD_PRODUCT'> };

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

/** Checks a product a peer sent against the product root on chain (commitProduct recomputes it). */
export function verifyProduct(
  want: ProductWanted,
  product: Int32Array,
): { ok: true } | { ok: false; message: string } {
  if (product.length !== want.m * want.n)
    return { ok: false, message: `${product.length} entries, not the job's ${want.m}x${want.n}` };
  const root = commitProduct(product, want.m, want.n).root;
  if (!bytesEqual(root, want.productRoot)) {
    return {
      ok: false,
      message: `the product's root ${toHex(root).slice(0, 16)}… is not the root ${toHex(want.productRoot).slice(0, 16)}… on chain`,
    };
  }
  return { ok: true };
}

export interface JobDataClientOptions {
  params: PouwParams;
  requestTimeoutMs: number;
  /** Jobs with more bytes of A and B than this, and products of more bytes, are not asked for. */
  maxJobBytes: number;
}

/**
 * Sends one request on `protocol` and receives its answer: a first frame that `expect` checks
 * (throwing PeerError), then exactly `total` bytes in chunk frames, within the transfer's deadline.
 * Throws PeerError (with an offence when the peer is to blame).
 */
async function receive(
  node: Libp2p,
  peer: PeerId,
  protocol: string,
  request: JobDataMessage,
  total: number,
  requestTimeoutMs: number,
  expect: (first: JobDataMessage) => void,
): Promise<Uint8Array | { notFound: string }> {
  const signal = AbortSignal.timeout(jobDataTimeoutMs(requestTimeoutMs, total));
  let stream: Stream;
  try {
    stream = await node.dialProtocol(peer, protocol, { signal });
  } catch (e) {
    throw new PeerError(undefined, `cannot open a job-data stream: ${(e as Error).message}`);
  }
  try {
    const lp = lpStream(stream, { maxDataLength: JOB_CHUNK_BYTES + 64 });
    await lp.write(encodeJobDataMessage(request), { signal });
    const first = await readMessage(lp, signal);
    if (first.type === 'error') {
      await stream.close({ signal });
      return { notFound: first.message };
    }
    expect(first);
    const data = new Uint8Array(total);
    let at = 0;
    while (at < total) {
      const message = await readMessage(lp, signal);
      if (message.type !== 'chunk')
        throw new PeerError('badResponse', `expected a chunk, got ${message.type}`);
      if (message.bytes.length === 0) throw new PeerError('malformed', 'empty chunk');
      if (at + message.bytes.length > total) {
        throw new PeerError('oversized', `sent more than the ${total} bytes asked for`);
      }
      data.set(message.bytes, at);
      at += message.bytes.length;
    }
    await stream.close({ signal });
    return data;
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)));
    throw errorOffence(e);
  }
}

/** A failed transfer as a fetch outcome, the peer penalised where it is to blame. */
function transferFailure(
  e: unknown,
  peer: PeerId,
  penalise: (peer: PeerId, offence: Offence, why: string) => void,
): JobDataFailure {
  const err = errorOffence(e);
  if (err.offence !== undefined) penalise(peer, err.offence, err.message);
  const code = err.offence === undefined || err.offence === 'timeout' ? 'FAILED' : 'BAD_RESPONSE';
  return { code, message: err.message };
}

/** A peer's error frame as a fetch outcome (no offence: not holding it, or being busy, is honest). */
function refusal(message: string): JobDataFailure {
  return { code: /rate limited|busy/.test(message) ? 'REFUSED' : 'NOT_FOUND', message: `peer: ${message}` };
}

/** Over the limits: never asked for. */
function tooLarge(dims: JobDims, bytes: number, what: string, opts: JobDataClientOptions) {
  const checked = validateDims(dims, opts.params);
  if (!checked.ok) return { code: 'TOO_LARGE' as const, message: checked.error.message };
  if (bytes > opts.maxJobBytes)
    return {
      code: 'TOO_LARGE' as const,
      message: `${what} of ${bytes} bytes exceeds the ${opts.maxJobBytes} fetched`,
    };
  return undefined;
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
  const { m, n, k } = header;
  const bytes = jobDataBytes(header);
  const over = tooLarge(header, bytes, 'job', opts);
  if (over) return { ok: false, error: over };
  let got: Uint8Array | { notFound: string };
  try {
    const request = { rootA: header.rootA, rootB: header.rootB, m, n, k };
    got = await receive(
      node,
      peer,
      JOBDATA_PROTOCOL,
      { type: 'request', value: request },
      bytes,
      opts.requestTimeoutMs,
      (first) => {
        if (first.type !== 'response')
          throw new PeerError('badResponse', `expected response, got ${first.type}`);
        if (first.value.m !== m || first.value.n !== n || first.value.k !== k) {
          throw new PeerError(
            'badResponse',
            `answered for ${first.value.m}x${first.value.k}x${first.value.n}, asked for ${m}x${k}x${n}`,
          );
        }
      },
    );
  } catch (e) {
    return { ok: false, error: transferFailure(e, peer, penalise) };
  }
  if (!(got instanceof Uint8Array)) return { ok: false, error: refusal(got.notFound) };
  const data = new Int8Array(got.buffer, got.byteOffset, got.length);
  const checked = verifyJobData(header, data.subarray(0, m * k), data.subarray(m * k), opts.params);
  if (!checked.ok) {
    penalise(peer, 'badJobData', checked.message);
    return { ok: false, error: { code: 'BAD_DATA', message: checked.message } };
  }
  return checked;
}

/**
 * Fetches a delivered job's product from one peer by the job's id and checks it against the
 * product root on chain; a peer whose product does not match is penalised (`badProduct`).
 */
export async function fetchProduct(
  node: Libp2p,
  peer: PeerId,
  want: ProductWanted,
  opts: JobDataClientOptions,
  penalise: (peer: PeerId, offence: Offence, why: string) => void,
): Promise<ProductFetch> {
  const { m, n, k } = want;
  const bytes = productBytes(want);
  const over = tooLarge(want, bytes, 'product', opts);
  if (over) return { ok: false, error: over };
  let got: Uint8Array | { notFound: string };
  try {
    got = await receive(
      node,
      peer,
      JOBDATA_PROTOCOL_V2,
      { type: 'productRequest', value: { job: want.job, m, n, k } },
      bytes,
      opts.requestTimeoutMs,
      (first) => {
        if (first.type !== 'productResponse')
          throw new PeerError('badResponse', `expected a product response, got ${first.type}`);
        if (first.value.m !== m || first.value.n !== n) {
          throw new PeerError(
            'badResponse',
            `answered with a ${first.value.m}x${first.value.n} product, asked for ${m}x${n}`,
          );
        }
      },
    );
  } catch (e) {
    return { ok: false, error: transferFailure(e, peer, penalise) };
  }
  if (!(got instanceof Uint8Array)) return { ok: false, error: refusal(got.notFound) };
  // int32 little-endian on the wire, as in .fxm files and commitProduct (every target Node runs on).
  const product = new Int32Array(got.buffer, got.byteOffset, got.length / 4);
  const checked = verifyProduct(want, product);
  if (!checked.ok) {
    penalise(peer, 'badProduct', checked.message);
    return { ok: false, error: { code: 'BAD_PRODUCT', message: checked.message } };
  }
  return { ok: true, product };
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

const bytesOf = (x: Int8Array | Int32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

/**
 * Serves one inbound job-data stream: read the request (a job's data or its product), answer from
 * the source, close. Both kinds share the rate limit and the serving slots.
 */
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
    if (request.type !== 'request' && request.type !== 'productRequest')
      throw new PeerError('malformed', `${request.type} is not a request`);
    const { m, n, k } = request.value;
    const dims = validateDims(request.value, ctx.params);
    if (!dims.ok)
      throw new PeerError('malformed', `asked for a job outside the limits: ${dims.error.message}`);
    const refuse = async (message: string) => {
      await lp.write(encodeJobDataMessage({ type: 'error', message }), { signal });
      await stream.close({ signal });
    };
    if (!ctx.allow(peer)) return await refuse('rate limited: too many job-data requests');
    acquired = ctx.acquire();
    if (!acquired) return await refuse('busy: serving other job-data requests');
    let response: JobDataMessage;
    let parts: Uint8Array[];
    if (request.type === 'request') {
      const job = ctx.source?.get(request.value);
      if (job === undefined) return await refuse('not found: no data for that job here');
      response = { type: 'response', value: { m, n, k } };
      parts = [bytesOf(job.a), bytesOf(job.bColumns)];
    } else {
      const c = ctx.source?.product?.(toHex(request.value.job));
      if (c === undefined || c.rows !== m || c.cols !== n)
        return await refuse('not found: no product for that job here');
      response = { type: 'productResponse', value: { m, n } };
      parts = [bytesOf(c.data)];
    }
    const total = parts.reduce((sum, p) => sum + p.length, 0);
    signal = AbortSignal.timeout(jobDataTimeoutMs(ctx.requestTimeoutMs, total));
    await lp.write(encodeJobDataMessage(response), { signal });
    for (const bytes of parts) {
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
