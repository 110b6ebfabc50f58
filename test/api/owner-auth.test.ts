import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createReplayCache,
  OWNER_BODY_HASH_HEADER,
  OWNER_HEADERS,
  signOwnerRequest,
  verifyOwnerRequest,
} from '../../src/api/owner-auth.ts';
import { sha256 } from '../../src/core/crypto/hash.ts';
import { ALICE, addressOf, BOB } from '../support/keys.ts';

const NODE = 'ab'.repeat(32);
const REQ = { method: 'GET', pathAndQuery: '/apps/web/logs?tail=10', nodeId: NODE };
const check = (
  headers: Record<string, string>,
  o: { now?: number; replay?: ReturnType<typeof createReplayCache> } = {},
) =>
  verifyOwnerRequest(headers, REQ, {
    nodeId: NODE,
    owner: addressOf(ALICE),
    replay: o.replay ?? createReplayCache(),
    now: o.now,
  });
const code = (r: ReturnType<typeof check>) => (r.ok ? 'OK' : `${r.status} ${r.code}`);

describe('owner request signatures', () => {
  it("accepts the owner's signature once, and refuses the same request again as REPLAYED", () => {
    const replay = createReplayCache();
    const headers = signOwnerRequest(ALICE, REQ);
    assert.equal(code(check(headers, { replay })), 'OK');
    assert.equal(code(check(headers, { replay })), '401 REPLAYED');
    assert.equal(code(check(signOwnerRequest(ALICE, REQ), { replay })), 'OK', 'a fresh nonce passes');
  });

  it('refuses another key (NOT_OWNER), another node (WRONG_NODE), an old time (STALE_REQUEST)', () => {
    assert.equal(code(check(signOwnerRequest(BOB, REQ))), '403 NOT_OWNER');
    assert.equal(code(check(signOwnerRequest(ALICE, { ...REQ, nodeId: 'cd'.repeat(32) }))), '401 WRONG_NODE');
    const now = Date.now();
    assert.equal(
      code(check(signOwnerRequest(ALICE, REQ, { time: now - 61_000 }), { now })),
      '401 STALE_REQUEST',
    );
    assert.equal(
      code(check(signOwnerRequest(ALICE, REQ, { time: now + 61_000 }), { now })),
      '401 STALE_REQUEST',
    );
    assert.equal(code(check(signOwnerRequest(ALICE, REQ, { time: now - 59_000 }), { now })), 'OK');
  });

  it('refuses a signature over another path, method or body, and a request without headers', () => {
    assert.equal(
      code(check(signOwnerRequest(ALICE, { ...REQ, pathAndQuery: '/apps/web/logs?tail=11' }))),
      '401 BAD_SIGNATURE',
    );
    assert.equal(code(check(signOwnerRequest(ALICE, { ...REQ, method: 'POST' }))), '401 BAD_SIGNATURE');
    assert.equal(
      code(check(signOwnerRequest(ALICE, { ...REQ, body: new Uint8Array([1]) }))),
      '401 BAD_SIGNATURE',
    );
    const forged = {
      ...signOwnerRequest(ALICE, REQ),
      [OWNER_HEADERS.key]: Buffer.from(BOB.publicKey).toString('hex'),
    };
    assert.equal(code(check(forged)), '401 BAD_SIGNATURE');
    assert.equal(code(check({})), '401 OWNER_SIGNATURE_REQUIRED');
    assert.equal(
      code(check({ ...signOwnerRequest(ALICE, REQ), [OWNER_HEADERS.nonce]: 'zz' })),
      '401 BAD_SIGNATURE',
    );
  });

  it("signs a streamed body by its sha256, sent ahead of it: the same digest as the body's", () => {
    const body = new TextEncoder().encode('a tar archive');
    const put = { method: 'PUT', pathAndQuery: '/apps/web/restore', nodeId: NODE };
    const headers = signOwnerRequest(ALICE, { ...put, bodySha256: sha256(body) });
    assert.equal(headers[OWNER_BODY_HASH_HEADER], Buffer.from(sha256(body)).toString('hex'));
    const o = { nodeId: NODE, owner: addressOf(ALICE), replay: createReplayCache() };
    assert.equal(verifyOwnerRequest(headers, { ...put, body }, o).ok, true, 'verified over the body itself');
    const other = verifyOwnerRequest(headers, { ...put, bodySha256: sha256(new Uint8Array([1])) }, o);
    assert.equal(other.ok ? 'OK' : other.code, 'BAD_SIGNATURE');
  });

  it('keeps at most its bound of live nonces and forgets those past the window', () => {
    const replay = createReplayCache(2, 1_000);
    assert.equal(replay.add('a', 0, 0), 'added');
    assert.equal(replay.add('b', 0, 0), 'added');
    assert.equal(replay.add('c', 0, 500), 'full');
    assert.equal(replay.add('a', 0, 500), 'seen');
    assert.equal(replay.add('c', 1_500, 1_500), 'added', 'a and b left the window');
    assert.equal(replay.size(), 1);
  });
});
