// End to end: `flux devnet up` starts three real node processes on loopback sharing one genesis;
// they converge, a transfer sent through node 2 is mined into the same block on every node, a
// node started late with `--bootstrap` syncs to the tip, and `flux devnet down` leaves nothing.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nodeAlive } from '../../src/cli/devnet.ts';
import { encodeAddress } from '../../src/core/crypto/keys.ts';
import { DEVNET_MNEMONIC } from '../../src/core/params/index.ts';
import { devnetLogLines, flux, spawnFluxd } from '../support/devnet.ts';
import { until } from '../support/wait.ts';

interface NodeStatus {
  index: number;
  pid: number;
  alive: boolean;
  api: string;
  height?: number;
  tip?: string;
  peers?: number;
}

describe('flux devnet: three node processes', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-devnet-'));
  const devnetDir = join(dir, 'devnet');
  const env = {
    FLUX_WALLET_DIR: join(dir, 'wallet'),
    FLUX_PASSWORD: 'correct horse battery staple',
    HOME: dir,
  };
  let nodes: Array<{ index: number; api: string; pid: number; p2p: string[]; peerId: string }> = [];
  let late: ChildProcess | undefined;

  const json = async (args: string[], stdin?: string) => {
    const r = await flux([...args, '--json'], env, stdin);
    assert.equal(r.code, 0, `flux ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  /** What each node's log says about its FluxNode and the transactions it relayed. */
  const fluxnodeLog = (): string =>
    devnetLogLines(devnetDir, nodes, /fluxnode|rebroadcast|reorg|banned|txs=[1-9]/);
  const status = async (): Promise<NodeStatus[]> =>
    (await json(['devnet', 'status', '--dir', devnetDir])).nodes;

  after(async () => {
    if (late && late.exitCode === null) late.kill('SIGKILL');
    for (const n of nodes) {
      if (nodeAlive(n.pid, join(devnetDir, `node-${n.index}`))) process.kill(n.pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts 3 nodes that agree on a chain, and mines a transfer sent through node 2 on all of them', async () => {
    const up = await json(['devnet', 'up', '--nodes', '3', '--detach', '--dir', devnetDir]);
    nodes = up.nodes;
    assert.equal(nodes.length, 3);
    assert.equal(new Set(nodes.map((n) => n.api)).size, 3);
    assert.equal(new Set(nodes.map((n) => n.peerId)).size, 3);
    assert.ok(nodes.every((n) => n.p2p.every((a) => a.endsWith(`/p2p/${n.peerId}`))));

    await until(
      'all 3 nodes at the same height >= 2',
      async () => {
        const rows = await status();
        const heights = new Set(rows.map((r) => r.height));
        return rows.every((r) => r.alive && (r.height ?? 0) >= 2 && (r.peers ?? 0) >= 1) && heights.size === 1
          ? rows
          : undefined;
      },
      20_000,
      250,
    );

    const node2 = nodes[2].api;
    await json(['wallet', 'import', '--api', node2], `${DEVNET_MNEMONIC}\n`);
    const recipient = encodeAddress('tflux', new Uint8Array(20).fill(0x77));
    const sent = await json(['wallet', 'send', recipient, '12.5', '--api', node2]);

    const blocks = await until(
      'the transfer to be mined on every node',
      async () => {
        const seen = await Promise.all(nodes.map((n) => json(['tx', 'get', sent.id, '--api', n.api])));
        return seen.every((t) => t.status === 'mined') && new Set(seen.map((t) => t.blockHash)).size === 1
          ? seen
          : undefined;
      },
      25_000,
      250,
    );
    assert.ok(blocks[0].height >= 1);
    for (const n of nodes) {
      const balance = await json(['wallet', 'balance', recipient, '--api', n.api]);
      assert.equal(balance.balance, '1250000000');
    }
  });

  it('syncs a node started late with fluxd --bootstrap', async () => {
    const target = (await status())[0].height ?? 0;
    const node = spawnFluxd(
      [
        '--datadir',
        join(dir, 'late'),
        '--genesis',
        join(devnetDir, 'genesis.json'),
        '--host',
        '127.0.0.1',
        '--api-port',
        '0',
        '--bootstrap',
        nodes[0].p2p[0],
      ],
      'late node',
    );
    late = node.child;
    const { stderr, exited } = node;
    const ready = await node.ready;
    await until(
      () => `the late node to reach height ${target} (its log:\n${stderr.join('\n')})`,
      async () => {
        const info = await json(['chain', 'info', '--api', ready.api]);
        return info.height >= target && info.peers >= 1 ? info : undefined;
      },
      20_000,
      250,
    );
    assert.ok(
      stderr.some((l) => /sync: .*blocks/.test(l)),
      stderr.join('\n'),
    );
    late.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('starts with a FluxNode of each tier that confirms itself again and is paid', async () => {
    const api = nodes[0].api;
    interface NodeRow {
      id: string;
      tier: string;
      status: string;
      confirmations: number;
      payouts: number;
    }
    let last: NodeRow[] = [];
    const rows = await until(
      () =>
        `every devnet FluxNode to confirm again with its operator key and be paid twice; last seen:\n${JSON.stringify(last)}\n${fluxnodeLog()}`,
      async () => {
        last = (await json(['node', 'list', '--api', api])).nodes as NodeRow[];
        return last.every((n) => n.status === 'confirmed' && n.confirmations >= 2 && n.payouts >= 2)
          ? last
          : undefined;
      },
      30_000,
      250,
    );
    assert.deepEqual(rows.map((n) => n.tier).sort(), ['cumulus', 'nimbus', 'stratus']);
    const payouts = await json(['node', 'payouts', rows[0].id, '--api', api]);
    assert.ok(BigInt(payouts.rewards) > 0n);
    assert.equal(payouts.queueLength, 1);
  });

  it('locks collateral for a FluxNode started with the CLI, and stops it', async () => {
    const api = nodes[0].api;
    const owner = (await json(['wallet', 'list'])).accounts[0].address as string;
    const lockedBefore = BigInt((await json(['wallet', 'balance', owner, '--api', api])).locked);
    const started = await json([
      'node',
      'start',
      '--tier',
      'nimbus',
      '--endpoint',
      '127.0.0.9:16127',
      '--operator-key',
      '42'.repeat(32),
      '--wait',
      '--api',
      api,
    ]);
    assert.equal((await json(['node', 'status', started.id, '--api', api])).status, 'started');
    const lockedAfter = BigInt((await json(['wallet', 'balance', owner, '--api', api])).locked);
    assert.equal(lockedAfter - lockedBefore, BigInt(started.collateral));
    await json(['node', 'stop', started.id, '--wait', '--api', api]);
    assert.equal((await json(['node', 'status', started.id, '--api', api])).status, 'unlocking');
  });

  it('stops every node with flux devnet down', async () => {
    const down = await flux(['devnet', 'down', '--dir', devnetDir], env);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /is down \(3 node\(s\) stopped\)/);
    for (const n of nodes) assert.equal(nodeAlive(n.pid, join(devnetDir, `node-${n.index}`)), false);
    const rows = await status();
    assert.ok(rows.every((r) => !r.alive));
  });

  it('refuses an --app spec it cannot use before starting any node', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: 1\nname: x\n');
    const missing = await flux(
      ['devnet', 'up', '--app', join(dir, 'none.yaml'), '--dir', join(dir, 'd2')],
      env,
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--app: cannot read .*none\.yaml/);
    const invalid = await flux(['devnet', 'up', '--app', bad, '--dir', join(dir, 'd3')], env);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /--app .*bad\.yaml: .*name/);
    assert.equal(existsSync(join(dir, 'd3', 'devnet.json')), false, 'no devnet was started');
  });
});
