// The heartbeat a running FluxNode gossips every few seconds: which node, when (the sender's
// clock), its chain height, the apps it runs and those it cannot run (with why), signed by the
// node's operator key. It is not a
// consensus object (nothing on chain depends on it), so it lives here rather than in core/codec.
import { ByteListType, ContainerType, ListCompositeType, type ValueOf } from '@chainsafe/ssz';
import { Bytes32, Bytes64, Uint32, Uint64Num } from '../../core/codec/types.ts';
import { concatBytes, fromHex, sha256, toHex } from '../../core/crypto/hash.ts';
import {
  type KeyPair,
  type SignatureVerifier,
  signMessage,
  verifySignature,
} from '../../core/crypto/keys.ts';

/** An app name is at most 32 bytes (see core/apps/spec.ts); a node reports at most this many apps. */
export const MAX_HEARTBEAT_APPS = 1_024;
/** Bytes of UTF-8 kept of a reason a node cannot run an app. */
export const MAX_UNABLE_REASON = 160;

/** An app placed on the node that the node cannot run, and why (its engine, image or starts). */
export const UnableEntry = new ContainerType(
  { app: new ByteListType(64), reason: new ByteListType(MAX_UNABLE_REASON) },
  { typeName: 'UnableEntry' },
);

export const HeartbeatBody = new ContainerType(
  {
    chainId: Uint32,
    /** The FluxNode's id. */
    node: Bytes32,
    /** ms since the Unix epoch on the sender's clock; strictly increasing per node. */
    time: Uint64Num,
    height: Uint64Num,
    /** Apps whose every component runs on the node now. */
    running: new ListCompositeType(new ByteListType(64), MAX_HEARTBEAT_APPS),
    /** Apps placement gives the node that it cannot run now: others place them elsewhere. */
    unable: new ListCompositeType(UnableEntry, MAX_HEARTBEAT_APPS),
  },
  { typeName: 'HeartbeatBody' },
);
export type HeartbeatBody = ValueOf<typeof HeartbeatBody>;

export const Heartbeat = new ContainerType(
  { body: HeartbeatBody, signature: Bytes64 },
  { typeName: 'Heartbeat' },
);
export type Heartbeat = ValueOf<typeof Heartbeat>;

const DOMAIN = new TextEncoder().encode('openflux/heartbeat/v2');

function signingMessage(body: HeartbeatBody): Uint8Array {
  return sha256(concatBytes(DOMAIN, HeartbeatBody.serialize(body)));
}

export interface HeartbeatInfo {
  chainId: number;
  node: string;
  time: number;
  height: number;
  running: string[];
  /** Apps the node cannot run, with why (absent: none). */
  unable?: Array<{ app: string; reason: string }>;
}

/** `text` cut to at most `max` bytes of UTF-8, never inside a character. */
export function utf8Prefix(text: string, max: number): Uint8Array {
  const enc = new TextEncoder();
  let out = enc.encode(text);
  if (out.length <= max) return out;
  const chars = [...text];
  while (out.length > max) {
    chars.length = Math.max(0, chars.length - Math.ceil((out.length - max) / 4));
    out = enc.encode(chars.join(''));
  }
  return out;
}

export function encodeHeartbeat(info: HeartbeatInfo, operator: KeyPair): Uint8Array {
  const enc = new TextEncoder();
  const body: HeartbeatBody = {
    chainId: info.chainId,
    node: fromHex(info.node),
    time: info.time,
    height: info.height,
    running: info.running.slice(0, MAX_HEARTBEAT_APPS).map((name) => enc.encode(name)),
    unable: (info.unable ?? [])
      .slice(0, MAX_HEARTBEAT_APPS)
      .map((u) => ({ app: enc.encode(u.app), reason: utf8Prefix(u.reason, MAX_UNABLE_REASON) })),
  };
  return Heartbeat.serialize({ body, signature: signMessage(signingMessage(body), operator.secretKey) });
}

/** Decodes a heartbeat; throws on bytes that are not one. */
export function decodeHeartbeat(bytes: Uint8Array): {
  info: HeartbeatInfo;
  body: HeartbeatBody;
  signature: Uint8Array;
} {
  const { body, signature } = Heartbeat.deserialize(bytes);
  const dec = new TextDecoder('utf-8', { fatal: true });
  return {
    info: {
      chainId: body.chainId,
      node: toHex(body.node),
      time: body.time,
      height: body.height,
      running: body.running.map((b) => dec.decode(b)),
      unable: body.unable.map((u) => ({ app: dec.decode(u.app), reason: dec.decode(u.reason) })),
    },
    body,
    signature,
  };
}

/** `verifier` keeps operators' parsed keys (parsing one costs about a quarter of a check). */
export function heartbeatSignedBy(
  body: HeartbeatBody,
  signature: Uint8Array,
  operator: Uint8Array,
  verifier?: SignatureVerifier,
): boolean {
  const message = signingMessage(body);
  return verifier
    ? verifier.verify(message, operator, signature)
    : verifySignature(message, operator, signature);
}
