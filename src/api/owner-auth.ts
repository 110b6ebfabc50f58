// Owner requests to a hosting node (logs, stats, restart, backup, restore): the one message format
// the CLI signs and the node verifies, the headers that carry it, and the node's bounded replay cache.
//
// The signed message is sha256 of: "openflux/owner-request/v1" 0x00 METHOD 0x00 PATH?QUERY 0x00
// sha256(body) node-id (32 bytes) time (u64 big-endian, ms since the Unix epoch) nonce (16 bytes);
// the signature is ed25519 by the key whose address owns the app on chain. The node id also
// travels in its own header, so a node can tell a request signed for another node (WRONG_NODE).
import { randomBytes } from 'node:crypto';
import { bytesEqual, concatBytes, fromHex, sha256, toHex } from '../core/crypto/hash.ts';
import { addressBytes, type KeyPair, signMessage, verifySignature } from '../core/crypto/keys.ts';

export const OWNER_REQUEST_DOMAIN = 'openflux/owner-request/v1';

/** The headers of a signed owner request (lowercase, as node:http gives them). */
export const OWNER_HEADERS = {
  key: 'x-flux-owner-key',
  node: 'x-flux-owner-node',
  time: 'x-flux-owner-time',
  nonce: 'x-flux-owner-nonce',
  signature: 'x-flux-owner-signature',
} as const;

/**
 * A streamed body's sha256 (hex), sent ahead of the body: the node checks the signature over it
 * before it reads a byte, and the body against it before it uses what it read (restore).
 */
export const OWNER_BODY_HASH_HEADER = 'x-flux-owner-body-sha256';

/** How far a request's time may be from the node's clock. */
export const OWNER_REQUEST_WINDOW_MS = 60_000;
export const OWNER_NONCE_BYTES = 16;

export interface OwnerRequest {
  method: string;
  /** The path and query exactly as sent, e.g. /apps/web/logs?tail=10 */
  pathAndQuery: string;
  /** The raw body; empty for a request without one. */
  body?: Uint8Array;
  /** The body's sha256 instead of the body, for a streamed one (sent in OWNER_BODY_HASH_HEADER). */
  bodySha256?: Uint8Array;
  /** The hosting node's FluxNode id (64 hex). */
  nodeId: string;
}

const text = (s: string) => new TextEncoder().encode(s);
const ZERO = new Uint8Array([0]);

/** What the owner's key signs for `req` at `time` with `nonce`. */
export function ownerRequestDigest(req: OwnerRequest, time: number, nonce: Uint8Array): Uint8Array {
  const t = new Uint8Array(8);
  new DataView(t.buffer).setBigUint64(0, BigInt(time));
  return sha256(
    concatBytes(
      text(OWNER_REQUEST_DOMAIN),
      ZERO,
      text(req.method.toUpperCase()),
      ZERO,
      text(req.pathAndQuery),
      ZERO,
      req.bodySha256 ?? sha256(req.body ?? new Uint8Array()),
      fromHex(req.nodeId),
      t,
      nonce,
    ),
  );
}

/** What a caller signs a request with: the headers to add (see call.ts). */
export type RequestSigner = (req: {
  method: string;
  pathAndQuery: string;
  body?: Uint8Array;
  bodySha256?: Uint8Array;
}) => Record<string, string>;

/** A signer of requests to node `nodeId` as the holder of `key` (fresh time and nonce each). */
export function ownerSigner(key: KeyPair, nodeId: string): RequestSigner {
  return (req) => signOwnerRequest(key, { ...req, nodeId });
}

/** The headers that authorise `req` as the holder of `key`, now, with a fresh nonce. */
export function signOwnerRequest(
  key: KeyPair,
  req: OwnerRequest,
  opts: { time?: number; nonce?: Uint8Array } = {},
): Record<string, string> {
  const time = opts.time ?? Date.now();
  const nonce = opts.nonce ?? new Uint8Array(randomBytes(OWNER_NONCE_BYTES));
  return {
    [OWNER_HEADERS.key]: toHex(key.publicKey),
    [OWNER_HEADERS.node]: req.nodeId,
    [OWNER_HEADERS.time]: String(time),
    [OWNER_HEADERS.nonce]: toHex(nonce),
    [OWNER_HEADERS.signature]: toHex(signMessage(ownerRequestDigest(req, time, nonce), key.secretKey)),
    ...(req.bodySha256 ? { [OWNER_BODY_HASH_HEADER]: toHex(req.bodySha256) } : {}),
  };
}

export type OwnerAuthCode =
  | 'OWNER_SIGNATURE_REQUIRED'
  | 'WRONG_NODE'
  | 'STALE_REQUEST'
  | 'BAD_SIGNATURE'
  | 'NOT_OWNER'
  | 'REPLAYED'
  | 'BUSY';

export type OwnerAuthResult =
  | { ok: true; publicKey: Uint8Array }
  | { ok: false; status: 401 | 403 | 503; code: OwnerAuthCode; message: string };

/** Nonces of accepted requests, each kept until its time leaves the window; at most `max`. */
export interface ReplayCache {
  /** Records a nonce unless it was seen in the window or the cache is full of live nonces. */
  add(nonce: string, time: number, now: number): 'added' | 'seen' | 'full';
  size(): number;
}

export function createReplayCache(max = 100_000, windowMs = OWNER_REQUEST_WINDOW_MS): ReplayCache {
  const seen = new Map<string, number>();
  const prune = (now: number) => {
    for (const [nonce, until] of seen) if (until < now) seen.delete(nonce);
  };
  return {
    add(nonce, time, now) {
      const until = seen.get(nonce);
      if (until !== undefined && until >= now) return 'seen';
      if (seen.size >= max) prune(now);
      if (seen.size >= max) return 'full';
      // A request this old is refused as stale, so its nonce need not be kept past then.
      seen.set(nonce, time + windowMs);
      return 'added';
    },
    size: () => seen.size,
  };
}

export interface VerifyOwnerOptions {
  /** This node's FluxNode id (64 hex). */
  nodeId: string;
  /** The app owner's address (20 bytes), as the chain records it. */
  owner: Uint8Array;
  replay: ReplayCache;
  now?: number;
  windowMs?: number;
}

const header = (headers: Record<string, string | string[] | undefined>, name: string) => {
  const v = headers[name];
  return Array.isArray(v) ? undefined : v;
};
const fail = (status: 401 | 403 | 503, code: OwnerAuthCode, message: string): OwnerAuthResult => ({
  ok: false,
  status,
  code,
  message,
});

/**
 * Checks a signed owner request in this order: headers well formed, signed for this node, time
 * within the window, signature valid, key owns the app, nonce not seen (recorded only then).
 */
export function verifyOwnerRequest(
  headers: Record<string, string | string[] | undefined>,
  req: Omit<OwnerRequest, 'nodeId'>,
  o: VerifyOwnerOptions,
): OwnerAuthResult {
  const now = o.now ?? Date.now();
  const windowMs = o.windowMs ?? OWNER_REQUEST_WINDOW_MS;
  const key = header(headers, OWNER_HEADERS.key);
  const node = header(headers, OWNER_HEADERS.node);
  const time = header(headers, OWNER_HEADERS.time);
  const nonce = header(headers, OWNER_HEADERS.nonce);
  const signature = header(headers, OWNER_HEADERS.signature);
  const required = `this route needs the app owner's signature: headers ${Object.values(OWNER_HEADERS).join(', ')}`;
  if (
    key === undefined ||
    node === undefined ||
    time === undefined ||
    nonce === undefined ||
    signature === undefined
  )
    return fail(401, 'OWNER_SIGNATURE_REQUIRED', required);
  if (
    !/^[0-9a-f]{64}$/.test(key) ||
    !/^[0-9a-f]{64}$/.test(node) ||
    !/^[0-9]{1,15}$/.test(time) ||
    !new RegExp(`^[0-9a-f]{${OWNER_NONCE_BYTES * 2}}$`).test(nonce) ||
    !/^[0-9a-f]{128}$/.test(signature)
  )
    return fail(
      401,
      'BAD_SIGNATURE',
      `malformed owner headers: ${OWNER_HEADERS.key} and ${OWNER_HEADERS.node} are 32 bytes hex, ${OWNER_HEADERS.time} ms since the Unix epoch, ${OWNER_HEADERS.nonce} ${OWNER_NONCE_BYTES} bytes hex, ${OWNER_HEADERS.signature} 64 bytes hex`,
    );
  if (node !== o.nodeId)
    return fail(401, 'WRONG_NODE', `the request is signed for node ${node}, this is node ${o.nodeId}`);
  const t = Number(time);
  if (Math.abs(now - t) > windowMs)
    return fail(
      401,
      'STALE_REQUEST',
      `the request's time ${new Date(t).toISOString()} is ${Math.round((now - t) / 1000)} s from this node's clock; at most ${windowMs / 1000} s are accepted`,
    );
  const publicKey = fromHex(key);
  if (
    !verifySignature(
      ownerRequestDigest({ ...req, nodeId: node }, t, fromHex(nonce)),
      publicKey,
      fromHex(signature),
    )
  )
    return fail(
      401,
      'BAD_SIGNATURE',
      'the signature does not verify over this method, path, body, node id, time and nonce',
    );
  if (!bytesEqual(addressBytes(publicKey), o.owner))
    return fail(403, 'NOT_OWNER', 'the signing key is not the key of the account that owns this app');
  const added = o.replay.add(nonce, t, now);
  if (added === 'seen')
    return fail(401, 'REPLAYED', 'this nonce was already used: a request is accepted once');
  if (added === 'full') return fail(503, 'BUSY', 'this node holds too many recent nonces; retry in a minute');
  return { ok: true, publicKey };
}
