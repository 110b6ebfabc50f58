// The sync protocol's messages: each frame on a stream is one length-prefixed message, a type
// byte followed by the SSZ bytes of that type's container (blocks and headers use the core codec).
import { ByteListType, ContainerType, ListCompositeType, UintBigintType, type ValueOf } from '@chainsafe/ssz';
import { Block, Bytes32, Header, Uint32, Uint64Num } from '../../core/codec/types.ts';
import { compressBlock, inflateBlock } from './compress.ts';

/** Version 2: block frames are compressed (compress.ts). */
export const SYNC_PROTOCOL = '/openflux/sync/2';
/** Most bytes a block frame may inflate to: above every network's maxBlockBytes (the chain checks that). */
export const MAX_INFLATED_BLOCK_BYTES = 8 * 1024 * 1024;

/** Most hashes a locator may carry: dense near the tip, then doubling steps back to genesis. */
export const MAX_LOCATOR = 64;
/** Most headers one response carries (about 180 bytes each). */
export const MAX_HEADERS_PER_REQUEST = 2_000;
/** Most blocks one request may ask for; the responder also stops at a byte budget. */
export const MAX_BLOCKS_PER_REQUEST = 128;
/** Most transactions pushed in one mempool announcement. */
export const MAX_PUSHED_TXS = 256;
const MAX_ERROR_BYTES = 256;

export const Status = new ContainerType(
  {
    chainId: Uint32,
    genesis: Bytes32,
    height: Uint64Num,
    tip: Bytes32,
    cumulativeWork: new UintBigintType(32),
  },
  { typeName: 'SyncStatus' },
);

export const HeadersRequest = new ContainerType(
  { locator: new ListCompositeType(Bytes32, MAX_LOCATOR), max: Uint32 },
  { typeName: 'HeadersRequest' },
);

export const HeadersResponse = new ContainerType(
  {
    /** Height of the newest locator block the responder has on its best chain. */
    forkHeight: Uint64Num,
    /** The responder's best chain from forkHeight + 1, oldest first. */
    headers: new ListCompositeType(Header, MAX_HEADERS_PER_REQUEST),
  },
  { typeName: 'HeadersResponse' },
);

export const BlocksRequest = new ContainerType(
  { start: Uint64Num, count: Uint32 },
  { typeName: 'BlocksRequest' },
);

/** Precedes the block frames of a blocks response: how many follow. */
export const BlocksResponse = new ContainerType({ count: Uint32 }, { typeName: 'BlocksResponse' });

/** Precedes the transaction frames of a mempool push: how many follow. */
export const TxsPush = new ContainerType({ count: Uint32 }, { typeName: 'TxsPush' });

export const ErrorResponse = new ContainerType(
  { message: new ByteListType(MAX_ERROR_BYTES) },
  { typeName: 'ErrorResponse' },
);

export type Status = ValueOf<typeof Status>;
export type HeadersRequest = ValueOf<typeof HeadersRequest>;
export type HeadersResponse = ValueOf<typeof HeadersResponse>;
export type BlocksRequest = ValueOf<typeof BlocksRequest>;

export const MessageType = {
  statusRequest: 1,
  status: 2,
  headersRequest: 3,
  headers: 4,
  blocksRequest: 5,
  blocks: 6,
  block: 7,
  txs: 8,
  tx: 9,
  ack: 10,
  error: 0xff,
} as const;

export type WireMessage =
  /** Carries the asker's own status, so one exchange informs both sides. */
  | { type: 'statusRequest'; value: Status }
  | { type: 'status'; value: Status }
  | { type: 'headersRequest'; value: HeadersRequest }
  | { type: 'headers'; value: HeadersResponse }
  | { type: 'blocksRequest'; value: BlocksRequest }
  | { type: 'blocks'; value: { count: number } }
  | { type: 'block'; value: Block; bytes: Uint8Array }
  /** A push of our mempool to a peer that just subscribed to transactions: count, then frames. */
  | { type: 'txs'; value: { count: number } }
  /** One transaction's SSZ bytes, decoded by the receiver (so a bad one is judged, not dropped). */
  | { type: 'tx'; bytes: Uint8Array }
  | { type: 'ack' }
  | { type: 'error'; message: string };

/** A frame on the wire: one type byte, then the SSZ body. */
export function frame(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = type;
  out.set(body, 1);
  return out;
}

export function encodeMessage(message: WireMessage): Uint8Array {
  switch (message.type) {
    case 'statusRequest':
      return frame(MessageType.statusRequest, Status.serialize(message.value));
    case 'status':
      return frame(MessageType.status, Status.serialize(message.value));
    case 'headersRequest':
      return frame(MessageType.headersRequest, HeadersRequest.serialize(message.value));
    case 'headers':
      return frame(MessageType.headers, HeadersResponse.serialize(message.value));
    case 'blocksRequest':
      return frame(MessageType.blocksRequest, BlocksRequest.serialize(message.value));
    case 'blocks':
      return frame(MessageType.blocks, BlocksResponse.serialize(message.value));
    case 'block':
      return frame(MessageType.block, compressBlock(message.bytes));
    case 'txs':
      return frame(MessageType.txs, TxsPush.serialize(message.value));
    case 'tx':
      return frame(MessageType.tx, message.bytes);
    case 'ack':
      return Uint8Array.of(MessageType.ack);
    case 'error': {
      const text = new TextEncoder().encode(message.message).subarray(0, MAX_ERROR_BYTES);
      return frame(MessageType.error, ErrorResponse.serialize({ message: text }));
    }
  }
}

export type Decoded = { ok: true; message: WireMessage } | { ok: false; error: string };

/** Parses one frame; anything that is not exactly a known message is an error, never a throw. */
export function decodeMessage(bytes: Uint8Array): Decoded {
  if (bytes.length === 0) return { ok: false, error: 'empty frame' };
  const body = bytes.subarray(1);
  try {
    switch (bytes[0]) {
      case MessageType.statusRequest:
        return { ok: true, message: { type: 'statusRequest', value: Status.deserialize(body) } };
      case MessageType.status:
        return { ok: true, message: { type: 'status', value: Status.deserialize(body) } };
      case MessageType.headersRequest:
        return { ok: true, message: { type: 'headersRequest', value: HeadersRequest.deserialize(body) } };
      case MessageType.headers:
        return { ok: true, message: { type: 'headers', value: HeadersResponse.deserialize(body) } };
      case MessageType.blocksRequest:
        return { ok: true, message: { type: 'blocksRequest', value: BlocksRequest.deserialize(body) } };
      case MessageType.blocks:
        return { ok: true, message: { type: 'blocks', value: BlocksResponse.deserialize(body) } };
      case MessageType.block: {
        const ssz = inflateBlock(body, MAX_INFLATED_BLOCK_BYTES);
        return { ok: true, message: { type: 'block', value: Block.deserialize(ssz), bytes: ssz } };
      }
      case MessageType.txs:
        return { ok: true, message: { type: 'txs', value: TxsPush.deserialize(body) } };
      case MessageType.tx:
        return { ok: true, message: { type: 'tx', bytes: body } };
      case MessageType.ack:
        if (body.length !== 0) return { ok: false, error: 'ack carries a body' };
        return { ok: true, message: { type: 'ack' } };
      case MessageType.error:
        return {
          ok: true,
          message: {
            type: 'error',
            message: new TextDecoder().decode(ErrorResponse.deserialize(body).message),
          },
        };
      default:
        return { ok: false, error: `unknown message type ${bytes[0]}` };
    }
  } catch (e) {
    return { ok: false, error: `malformed message of type ${bytes[0]}: ${(e as Error).message}` };
  }
}
