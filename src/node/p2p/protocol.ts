// The request/response side of the sync protocol: one request per stream, a length-prefixed
// frame each way (a blocks response is a count frame followed by one frame per block).
import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils';
import { blockHash, encodeBlock } from '../../core/codec/ids.ts';
import type { Block, Header } from '../../core/codec/types.ts';
import { bytesEqual } from '../../core/crypto/hash.ts';
import type { Chain } from '../chain/types.ts';
import type { Offence } from './peers.ts';
import {
  type BlocksRequest,
  decodeMessage,
  encodeMessage,
  type HeadersRequest,
  type HeadersResponse,
  MAX_BLOCKS_PER_REQUEST,
  MAX_HEADERS_PER_REQUEST,
  MAX_LOCATOR,
  MAX_PUSHED_TXS,
  type Status,
  SYNC_PROTOCOL,
  type WireMessage,
} from './wire.ts';

/** A failed exchange with a peer; `offence` says whether (and how) the peer is to blame. */
export class PeerError extends Error {
  readonly offence: Offence | undefined;
  constructor(offence: Offence | undefined, message: string) {
    super(message);
    this.name = 'PeerError';
    this.offence = offence;
  }
}

/** Request frames are small: a locator of 64 hashes, or one pushed transaction. */
function maxRequestFrame(chain: Chain): number {
  return Math.max(4_096, chain.params.limits.maxTxBytes + 64);
}

/** Turns a stream failure into a PeerError that says whether the peer is to blame. */
export function errorOffence(e: unknown): PeerError {
  if (e instanceof PeerError) return e;
  const err = e as Error & { code?: string };
  if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError') {
    return new PeerError('oversized', `frame too large: ${err.message}`);
  }
  if (err?.name === 'InvalidMessageLengthError') return new PeerError('malformed', err.message);
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
    return new PeerError('timeout', 'request timed out');
  }
  return new PeerError('timeout', `stream failed: ${err?.message ?? String(e)}`);
}

async function readMessage(lp: LengthPrefixedStream<Stream>, signal: AbortSignal): Promise<WireMessage> {
  const buf = await lp.read({ signal });
  const decoded = decodeMessage(buf.subarray());
  if (!decoded.ok) throw new PeerError('malformed', decoded.error);
  return decoded.message;
}

function expect<T extends WireMessage['type']>(
  message: WireMessage,
  type: T,
): Extract<WireMessage, { type: T }> {
  if (message.type === 'error') throw new PeerError(undefined, `peer refused: ${message.message}`);
  if (message.type !== type) throw new PeerError('badResponse', `expected ${type}, got ${message.type}`);
  return message as Extract<WireMessage, { type: T }>;
}

export interface ClientOptions {
  timeoutMs: number;
  /** Largest frame accepted in a response (a block at the size limit, plus framing). */
  maxFrameBytes: number;
}

/** Opens a stream, sends one request, reads the response with `read`; every step has a deadline. */
async function exchange<T>(
  node: Libp2p,
  peer: PeerId,
  request: WireMessage,
  opts: ClientOptions,
  read: (lp: LengthPrefixedStream<Stream>, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let stream: Stream;
  try {
    stream = await node.dialProtocol(peer, SYNC_PROTOCOL, { signal });
  } catch (e) {
    throw new PeerError('timeout', `cannot open a sync stream: ${(e as Error).message}`);
  }
  try {
    const lp = lpStream(stream, { maxDataLength: opts.maxFrameBytes });
    await lp.write(encodeMessage(request), { signal });
    const out = await read(lp, signal);
    await stream.close({ signal });
    return out;
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)));
    throw errorOffence(e);
  }
}

export function requestStatus(
  node: Libp2p,
  peer: PeerId,
  ours: Status,
  opts: ClientOptions,
): Promise<Status> {
  return exchange(
    node,
    peer,
    { type: 'statusRequest', value: ours },
    opts,
    async (lp, signal) => expect(await readMessage(lp, signal), 'status').value,
  );
}

export function requestHeaders(
  node: Libp2p,
  peer: PeerId,
  request: HeadersRequest,
  opts: ClientOptions,
): Promise<HeadersResponse> {
  return exchange(node, peer, { type: 'headersRequest', value: request }, opts, async (lp, signal) => {
    const res = expect(await readMessage(lp, signal), 'headers').value;
    if (res.headers.length > request.max) {
      throw new PeerError('badResponse', `sent ${res.headers.length} headers, asked for ${request.max}`);
    }
    return res;
  });
}

/** Blocks from `start`, checked against the hashes of the headers we expect (same order). */
export function requestBlocks(
  node: Libp2p,
  peer: PeerId,
  expected: Array<{ header: Header; hash: Uint8Array }>,
  opts: ClientOptions,
): Promise<Block[]> {
  const request: BlocksRequest = { start: expected[0].header.height, count: expected.length };
  return exchange(node, peer, { type: 'blocksRequest', value: request }, opts, async (lp, signal) => {
    const { count } = expect(await readMessage(lp, signal), 'blocks').value;
    if (count === 0 || count > expected.length) {
      throw new PeerError('badResponse', `announced ${count} blocks, asked for ${expected.length}`);
    }
    const blocks: Block[] = [];
    for (let i = 0; i < count; i++) {
      const block = expect(await readMessage(lp, signal), 'block').value;
      // A mismatch may be an honest reorg between our two requests: cheap offence, then retry.
      if (!bytesEqual(blockHash(block.header), expected[i].hash)) {
        throw new PeerError(
          'timeout',
          `block at height ${expected[i].header.height} is not the header it announced`,
        );
      }
      blocks.push(block);
    }
    return blocks;
  });
}

/** Pushes transactions (our mempool) to a peer; resolves when the peer has taken them. */
export function pushTxs(node: Libp2p, peer: PeerId, txs: Uint8Array[], opts: ClientOptions): Promise<void> {
  return exchange(node, peer, { type: 'txs', value: { count: txs.length } }, opts, async (lp, signal) => {
    for (const bytes of txs) await lp.write(encodeMessage({ type: 'tx', bytes }), { signal });
    expect(await readMessage(lp, signal), 'ack');
  });
}

export interface ServeContext {
  chain: Chain;
  status(): Status;
  /** Called with the status a peer sent in its request. */
  onPeerStatus(peer: PeerId, status: Status): void;
  /** Returns false when the peer is over its request rate (the request is then refused). */
  allow(peer: PeerId): boolean;
  penalise(peer: PeerId, offence: Offence, why: string): void;
  /** Judges one pushed transaction like a gossiped one. */
  onPushedTx(peer: PeerId, bytes: Uint8Array): void;
  timeoutMs: number;
  headersPerRequest: number;
  maxResponseBytes: number;
}

/** Serves one inbound sync stream: read a request, answer it, close. */
export async function serveSyncStream(ctx: ServeContext, stream: Stream, peer: PeerId): Promise<void> {
  const signal = AbortSignal.timeout(ctx.timeoutMs);
  const lp = lpStream(stream, { maxDataLength: maxRequestFrame(ctx.chain) });
  try {
    const request = await readMessage(lp, signal);
    if (!ctx.allow(peer)) {
      await lp.write(encodeMessage({ type: 'error', message: 'rate limited: too many sync requests' }), {
        signal,
      });
      await stream.close({ signal });
      return;
    }
    if (request.type === 'txs') {
      if (request.value.count > MAX_PUSHED_TXS) {
        throw new PeerError(
          'oversized',
          `pushed ${request.value.count} transactions, the limit is ${MAX_PUSHED_TXS}`,
        );
      }
      for (let i = 0; i < request.value.count; i++) {
        const message = await readMessage(lp, signal);
        if (message.type !== 'tx')
          throw new PeerError('malformed', `expected a tx frame, got ${message.type}`);
        ctx.onPushedTx(peer, message.bytes);
      }
      await lp.write(encodeMessage({ type: 'ack' }), { signal });
      await stream.close({ signal });
      return;
    }
    for (const frame of answer(ctx, peer, request)) await lp.write(frame, { signal });
    await stream.close({ signal });
  } catch (e) {
    const err = errorOffence(e);
    if (err.offence !== undefined && err.offence !== 'timeout') ctx.penalise(peer, err.offence, err.message);
    stream.abort(err);
  }
}

function answer(ctx: ServeContext, peer: PeerId, request: WireMessage): Uint8Array[] {
  switch (request.type) {
    case 'statusRequest':
      ctx.onPeerStatus(peer, request.value);
      return [encodeMessage({ type: 'status', value: ctx.status() })];
    case 'headersRequest':
      return [encodeMessage({ type: 'headers', value: headersAfterLocator(ctx, request.value) })];
    case 'blocksRequest':
      return blocksByRange(ctx, request.value);
    default:
      throw new PeerError('malformed', `${request.type} is not a request`);
  }
}

/** The newest locator hash on our best chain, and our best chain's headers after it. */
export function headersAfterLocator(
  ctx: Pick<ServeContext, 'chain' | 'headersPerRequest'>,
  request: HeadersRequest,
): HeadersResponse {
  const { chain } = ctx;
  if (request.locator.length > MAX_LOCATOR) throw new PeerError('malformed', 'locator too long');
  let forkHeight = -1;
  for (const hash of request.locator) {
    const block = chain.blockByHash(hash);
    if (block === undefined) continue;
    const main = chain.blockByHeight(block.header.height);
    if (main !== undefined && bytesEqual(blockHash(main.header), hash)) {
      forkHeight = block.header.height;
      break;
    }
  }
  if (forkHeight < 0)
    throw new PeerError('badResponse', 'no locator hash is on our chain (another network?)');
  const max = Math.min(request.max, ctx.headersPerRequest, MAX_HEADERS_PER_REQUEST);
  const tip = chain.tip().height;
  const headers: Header[] = [];
  for (let h = forkHeight + 1; h <= tip && headers.length < max; h++) {
    const block = chain.blockByHeight(h);
    if (block === undefined) break;
    headers.push(block.header);
  }
  return { forkHeight, headers };
}

function blocksByRange(ctx: ServeContext, request: BlocksRequest): Uint8Array[] {
  const count = Math.min(request.count, MAX_BLOCKS_PER_REQUEST);
  const frames: Uint8Array[] = [];
  let bytes = 0;
  for (let h = request.start; h < request.start + count; h++) {
    const block = ctx.chain.blockByHeight(h);
    if (block === undefined) break;
    const frame = encodeMessage({ type: 'block', value: block, bytes: encodeBlock(block) });
    if (frames.length > 0 && bytes + frame.length > ctx.maxResponseBytes) break;
    bytes += frame.length;
    frames.push(frame);
  }
  if (frames.length === 0)
    return [encodeMessage({ type: 'error', message: `no block at height ${request.start}` })];
  return [encodeMessage({ type: 'blocks', value: { count: frames.length } }), ...frames];
}
