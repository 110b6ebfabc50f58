import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Block } from '../../../src/core/codec/types.ts';
import { OrphanBlocks } from '../../../src/node/p2p/orphans.ts';

const peer = peerIdFromString('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN');
const block = (n: number) => ({ header: { height: n } }) as unknown as Block;

describe('orphan blocks', () => {
  it('gives back the blocks kept for a parent, once', () => {
    const o = new OrphanBlocks({ maxBlocks: 8, maxBytes: 1_000 });
    o.add('c1', 'p', block(1), 10, peer);
    o.add('c2', 'p', block(2), 10, peer);
    o.add('c1', 'p', block(1), 10, peer); // a repeat
    o.add('d', 'c1', block(3), 10, peer);
    assert.equal(o.size, 3);
    assert.deepEqual(
      o.take('p').map((x) => x.block.header.height),
      [1, 2],
    );
    assert.deepEqual(o.take('p'), []);
    assert.deepEqual(
      o.take('c1').map((x) => x.block.header.height),
      [3],
    );
    assert.equal(o.size, 0);
  });

  it('stays within its count and bytes, dropping the oldest first', () => {
    const o = new OrphanBlocks({ maxBlocks: 3, maxBytes: 100 });
    for (let i = 0; i < 5; i++) o.add(`b${i}`, `p${i}`, block(i), 10, peer);
    assert.equal(o.size, 3);
    assert.deepEqual(o.take('p0'), []);
    assert.equal(o.take('p4').length, 1);
    o.add('big', 'q', block(9), 95, peer); // evicts until it fits
    assert.equal(o.size, 1);
    o.add('huge', 'q', block(10), 101, peer); // larger than the whole pool: not kept
    assert.equal(o.take('q').length, 1);
  });
});
