// The sync protocol's pieces without a network: frames, peer scores and rate limits, and the
// locator / headers exchange against real chains.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { blockHash } from '../../../src/core/codec/ids.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { type LocalChain, openChain } from '../../../src/node/chain/chain.ts';
import { buildBlock } from '../../../src/node/miner/miner.ts';
import { loadOrCreatePeerKey, peerIdOf } from '../../../src/node/p2p/index.ts';
import { PeerBook, RateLimiter, RebroadcastSchedule, RecentSet } from '../../../src/node/p2p/peers.ts';
import { headersAfterLocator, PeerError } from '../../../src/node/p2p/protocol.ts';
import { buildLocator, checkHeaders } from '../../../src/node/p2p/sync.ts';
import { decodeMessage, encodeMessage, type WireMessage } from '../../../src/node/p2p/wire.ts';
import { extendOnSchedule } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';

const dirs: string[] = [];
const chains: LocalChain[] = [];
after(() => {
  for (const c of chains) c.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempChain(params: ReturnType<typeof liveParams>): LocalChain {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-p2p-unit-'));
  dirs.push(dir);
  const chain = openChain({ params, dbPath: join(dir, 'chain.db') });
  chains.push(chain);
  return chain;
}

describe('sync wire format', () => {
  it('round-trips every message', () => {
    const status = {
      chainId: 3,
      genesis: new Uint8Array(32).fill(1),
      height: 42,
      tip: new Uint8Array(32).fill(2),
      cumulativeWork: (1n << 200n) + 5n,
    };
    const messages: WireMessage[] = [
      { type: 'statusRequest', value: status },
      { type: 'status', value: status },
      { type: 'headersRequest', value: { locator: [new Uint8Array(32).fill(3)], max: 10 } },
      { type: 'blocksRequest', value: { start: 7, count: 3 } },
      { type: 'blocks', value: { count: 3 } },
      { type: 'txs', value: { count: 2 } },
      { type: 'ack' },
      { type: 'error', message: 'no block at height 9' },
    ];
    for (const m of messages) {
      const decoded = decodeMessage(encodeMessage(m));
      assert.ok(decoded.ok);
      assert.deepEqual(decoded.message, m);
    }
  });

  it('turns any garbage into an error value, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const decoded = decodeMessage(bytes);
        assert.equal(typeof decoded.ok, 'boolean');
      }),
      { numRuns: 2_000 },
    );
    assert.deepEqual(decodeMessage(new Uint8Array()), { ok: false, error: 'empty frame' });
    const r = decodeMessage(Uint8Array.of(4, 1, 2));
    assert.ok(!r.ok && r.error.startsWith('malformed message of type 4'));
  });
});

describe('peer book', () => {
  it('bans a peer whose score falls to the threshold, for the ban period only', () => {
    const book = new PeerBook({ banThreshold: -100, banMs: 1_000, recoveryPerSecond: 1, capacity: 10 });
    assert.equal(book.penalise('p', 'invalidBlock', 0), false);
    assert.equal(book.score('p', 0), -60);
    assert.equal(book.penalise('p', 'invalidBlock', 0), true);
    assert.ok(book.isBanned('p', 999));
    assert.ok(!book.isBanned('p', 1_000));
    assert.equal(book.score('p', 1_000), 0, 'an expired ban starts afresh');
  });

  it('lets scores recover with time, never above zero', () => {
    const book = new PeerBook({ banThreshold: -100, banMs: 1_000, recoveryPerSecond: 2, capacity: 10 });
    book.penalise('p', 'malformed', 0);
    assert.equal(book.score('p', 10_000), -20);
    assert.equal(book.score('p', 60_000), 0);
    assert.equal(book.penalise('p', 'malformed', 20_000), false, 'recovered score absorbs a new penalty');
  });

  it('keeps at most its capacity of scores', () => {
    const book = new PeerBook({ banThreshold: -1_000, banMs: 1_000, recoveryPerSecond: 0, capacity: 3 });
    for (const p of ['a', 'b', 'c', 'd']) book.penalise(p, 'timeout', 0);
    assert.equal(book.score('a', 0), 0);
    assert.equal(book.score('d', 0), -5);
  });

  it('rate-limits with a refilling bucket', () => {
    const limiter = new RateLimiter(10, 3);
    assert.deepEqual(
      [0, 0, 0, 0].map(() => limiter.take('p', 0)),
      [true, true, true, false],
    );
    assert.ok(limiter.take('p', 100), 'one token back after 100 ms at 10/s');
    assert.ok(!limiter.take('p', 100));
    assert.ok(limiter.take('q', 0), 'peers have their own buckets');
  });

  it('remembers only the most recent entries', () => {
    const set = new RecentSet(2);
    set.add('a');
    set.add('b');
    set.add('a');
    set.add('c');
    assert.ok(set.has('a') && set.has('c') && !set.has('b'));
  });

  it('announces a pending transaction again after 2, 4, 8 blocks, capped, until it leaves', () => {
    const schedule = new RebroadcastSchedule({ firstAfter: 2, maxInterval: 4, capacity: 2 });
    const pending = new Set(['t']);
    schedule.track('t', 10);
    const dueAt = (h: number) => schedule.take(h, (id) => pending.has(id));
    assert.deepEqual(dueAt(11), []);
    assert.deepEqual(dueAt(12), ['t']);
    assert.deepEqual(dueAt(15), []);
    assert.deepEqual(dueAt(16), ['t']);
    assert.deepEqual(dueAt(19), []);
    assert.deepEqual(dueAt(20), ['t'], 'the gap stops growing at the maximum');
    pending.delete('t');
    assert.deepEqual(dueAt(30), []);
    assert.equal(schedule.size, 0, 'a mined or dropped transaction is forgotten');
    for (const id of ['a', 'b', 'c']) schedule.track(id, 0);
    assert.equal(schedule.size, 2, 'keeps at most its capacity');
  });
});

describe('locator and headers', () => {
  const params = liveParams();

  it('finds the fork point of two branches and returns the other branch’s headers', async () => {
    const ours = tempChain(params);
    const theirs = tempChain(params);
    await extendOnSchedule(ours, 30);
    for (let h = 1; h <= 20; h++) {
      const block = ours.blockByHeight(h);
      assert.ok(block);
      assert.ok((await theirs.importBlock(block, Date.now())).ok);
    }
    // Both branch off at 20: ours with 10 more blocks, theirs with 15 of its own.
    const tip20 = theirs.tip();
    for (let i = 0; i < 15; i++) {
      const block = buildBlock(theirs, [], new Uint8Array(20).fill(9), theirs.tip().header.time + 2_100);
      assert.ok((await theirs.importBlock(block, Date.now())).ok);
    }
    assert.equal(tip20.height, 20);
    const locator = buildLocator(ours);
    assert.equal(toHex(locator[0]), toHex(ours.tip().hash));
    assert.equal(
      toHex(locator.at(-1) ?? new Uint8Array()),
      toHex(blockHash(ours.blockByHeight(0)?.header ?? ours.tip().header)),
    );
    assert.ok(locator.length <= 64);

    const res = headersAfterLocator({ chain: theirs, headersPerRequest: 1_000 }, { locator, max: 100 });
    // The locator holds heights 30..21, then 19, 15, 7, 0: the newest shared one is 19.
    assert.equal(res.forkHeight, 19);
    assert.equal(res.headers.length, 16);
    const items = checkHeaders(ours, res);
    assert.equal(toHex(items.at(-1)?.hash ?? new Uint8Array()), toHex(theirs.tip().hash));

    const capped = headersAfterLocator({ chain: theirs, headersPerRequest: 4 }, { locator, max: 100 });
    assert.equal(capped.headers.length, 4);
  });

  it('refuses headers that do not link, and a locator from another chain', async () => {
    const ours = tempChain(params);
    await extendOnSchedule(ours, 5);
    const res = headersAfterLocator(
      { chain: ours, headersPerRequest: 1_000 },
      { locator: buildLocator(ours).slice(-1), max: 10 },
    );
    assert.equal(res.forkHeight, 0);
    const fresh = tempChain(params);
    assert.equal(checkHeaders(fresh, res).length, 5);
    const swapped = { ...res, headers: [res.headers[0], res.headers[2]] };
    assert.throws(() => checkHeaders(fresh, swapped), PeerError);
    const skewed = { ...res, forkHeight: 1 };
    assert.throws(() => checkHeaders(fresh, skewed), /fork height/);
    const other = tempChain(liveParams(30 * 60 * 1000));
    assert.throws(
      () =>
        headersAfterLocator(
          { chain: other, headersPerRequest: 10 },
          { locator: buildLocator(ours), max: 10 },
        ),
      /no locator hash/,
    );
  });
});

describe('peer key', () => {
  it('is created once and then read back, giving a stable peer id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openflux-p2p-key-'));
    dirs.push(dir);
    const file = join(dir, 'keys', 'peer.key');
    const first = loadOrCreatePeerKey(file);
    const again = loadOrCreatePeerKey(file);
    assert.deepEqual(again, first);
    assert.match(await peerIdOf(first), /^12D3Koo/);
    assert.equal(await peerIdOf(again), await peerIdOf(first));
  });
});
