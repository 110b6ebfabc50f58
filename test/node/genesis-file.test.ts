// A devnet genesis file carries what every node of that devnet must agree on: time, allocations,
// FluxNodes and, when not the devnet's own, the confirmation period.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createParams, devnet } from '../../src/core/params/index.ts';
import { devnetParams, readDevnetGenesis, writeDevnetGenesis } from '../../src/node/genesis.ts';

const dir = mkdtempSync(join(tmpdir(), 'openflux-genesis-'));

describe('devnet genesis file', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps a confirmation period other than the devnet one, and only then', async () => {
    const base = devnetParams(1_700_000_000_000);
    const plain = join(dir, 'plain.json');
    await writeDevnetGenesis(plain, base);
    assert.equal((await readDevnetGenesis(plain))?.nodes.confirmPeriod, devnet.nodes.confirmPeriod);
    const slow = join(dir, 'slow.json');
    await writeDevnetGenesis(slow, createParams(base, { nodes: { ...base.nodes, confirmPeriod: 60 } }));
    const read = await readDevnetGenesis(slow);
    assert.equal(read?.nodes.confirmPeriod, 60);
    assert.equal(read?.nodes.confirmWindow, devnet.nodes.confirmWindow);
    const wide = join(dir, 'wide.json');
    await writeDevnetGenesis(
      wide,
      createParams(base, { nodes: { ...base.nodes, confirmPeriod: 120, confirmWindow: 60 } }),
    );
    assert.equal((await readDevnetGenesis(wide))?.nodes.confirmWindow, 60);
  });

  it('refuses a confirmation period that is not a sensible number of blocks, naming it', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ network: 'devnet', time: 1, allocations: [], confirmPeriod: 0.5 }));
    await assert.rejects(readDevnetGenesis(bad), /confirmPeriod must be a whole number of blocks/);
    writeFileSync(bad, JSON.stringify({ network: 'devnet', time: 1, allocations: [], confirmWindow: 8 }));
    await assert.rejects(
      readDevnetGenesis(bad),
      /confirmWindow \(8\) must be shorter than confirmPeriod \(8\)/,
    );
  });
});
