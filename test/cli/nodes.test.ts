import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toHex } from '../../src/core/crypto/hash.ts';
import { DEVNET_MNEMONIC } from '../../src/core/params/index.ts';
import type { LocalChain } from '../../src/node/chain/chain.ts';
import { createDevNode } from '../../src/node/dev-node.ts';
import { createMiner } from '../../src/node/miner/miner.ts';
import type { FluxNode } from '../../src/node/node.ts';
import { fluxInProcess } from '../support/io.ts';
import { filledKey } from '../support/keys.ts';

describe('flux node start --region', () => {
  let node: FluxNode;
  let dir: string;
  let env: Record<string, string>;
  const operator = toHex(filledKey(9).publicKey);

  const flux = (args: string[], stdin?: string) => fluxInProcess(args, env, stdin);

  before(async () => {
    node = await createDevNode();
    dir = mkdtempSync(join(tmpdir(), 'openflux-cli-nodes-'));
    env = { FLUX_API: node.url!, FLUX_WALLET_DIR: join(dir, 'w'), FLUX_PASSWORD: 'pw', HOME: dir };
    const imported = await flux(['wallet', 'import', '--accounts', '1'], `${DEVNET_MNEMONIC}\n`);
    assert.equal(imported.code, 0, imported.stderr);
  });
  after(async () => {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = [
    'node',
    'start',
    '--tier',
    'cumulus',
    '--endpoint',
    '127.0.0.9:16127',
    '--operator',
    operator,
  ];

  it('refuses a region that is not CONTINENT[-COUNTRY], naming the option and the rule', async () => {
    const r = await flux([...start, '--region', 'DE']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--region: "DE" is not a region: a region is a continent .* like EU or EU-DE/);
  });

  it('declares the region, and node list/status show it', async () => {
    const r = await flux([...start, '--region', 'EU-DE', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const sent = JSON.parse(r.stdout);
    assert.equal(sent.region, 'EU-DE');
    await createMiner({ chain: node.chain as LocalChain, minerAddress: new Uint8Array(20) }).mineBlock();
    const list = JSON.parse((await flux(['node', 'list', '--json'])).stdout);
    assert.deepEqual(
      list.nodes.map((n: { id: string; region?: string }) => [n.id, n.region]),
      [[sent.id, 'EU-DE']],
    );
    const text = await flux(['node', 'list']);
    assert.match(text.stdout, /region[\s\S]*EU-DE/);
    const status = await flux(['node', 'status', sent.id]);
    assert.match(status.stdout, /region\s+EU-DE/);
  });
});
