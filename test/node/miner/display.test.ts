import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { minerLine } from '../../../src/node/miner/display.ts';

describe('the miner line', () => {
  it('shows MAC/s, tickets and jobs under PoUW, hashes under PoW', () => {
    const zero = {
      consensus: 'pouw' as const,
      blocks: 0,
      hashes: 0,
      macs: 0,
      tickets: 0,
      passes: 0,
      jobsClaimed: 0,
      jobsDelivered: 0,
    };
    const line = minerLine(
      { ...zero, macs: 12e9, tickets: 4000, blocks: 3, jobsClaimed: 1, jobsDelivered: 1, currentJob: 'zero' },
      zero,
      2,
    );
    assert.equal(
      line,
      'mining pouw: 6.00 GMAC/s, 2.00 ktickets/s (4000 tried), 3 blocks, jobs 1 claimed / 1 delivered, on zero job',
    );
    assert.match(
      minerLine({ ...zero, consensus: 'pow', hashes: 5e6 }, { ...zero, consensus: 'pow' }, 1),
      /5.00 MH\/s/,
    );
  });
});
