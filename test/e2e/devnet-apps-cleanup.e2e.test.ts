// A devnet leaves nothing behind: `flux devnet down` removes the app containers its nodes ran
// (unless --keep-apps), and a foreground `flux devnet up` killed with SIGKILL takes its nodes and
// their containers with it (they hold a pipe from it and stop when it closes).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { nodeAlive, readDevnetState } from '../../src/cli/devnet.ts';
import { LABELS } from '../../src/node/fluxos/options.ts';
import { exampleImage, testDocker } from '../node/fluxos/docker.ts';
import { EXAMPLE, FLUX, flux, tearDownDevnet } from '../support/devnet.ts';
import { until } from '../support/wait.ts';

const env = await testDocker();

describe('a devnet cleans up its app containers', { skip: env.skip, timeout: 300_000 }, () => {
  const docker = env.docker as Docker;
  const dir = mkdtempSync(join(tmpdir(), 'openflux-cleanup-'));
  const fluxEnv = { FLUX_WALLET_DIR: join(dir, 'wallet'), FLUX_PASSWORD: 'pw', HOME: dir };
  const name = `clean-${process.pid}`;
  const spec = join(dir, 'app.yaml');
  writeFileSync(
    spec,
    readFileSync(EXAMPLE, 'utf8')
      .replace('name: hello-web', `name: ${name}`)
      .replace('host: 31080', `host: ${32_100 + (process.pid % 800)}`),
  );
  /** `devnet up` of two nodes (one mining) that deploys the app, in `devnetDir`. */
  const upArgs = (devnetDir: string) => [
    'devnet',
    'up',
    '--nodes',
    '2',
    '--miners',
    '1',
    '--app',
    spec,
    '--free-ports',
    '--dir',
    devnetDir,
  ];
  const containers = async () =>
    (await docker.listContainers({ all: true, filters: { label: [`${LABELS.app}=${name}`] } })).length;
  const started: Array<{ devnetDir: string; nodes: Array<{ index: number; pid: number }> }> = [];

  after(async () => {
    for (const s of started)
      await tearDownDevnet({ dir, devnetDir: s.devnetDir, env: fluxEnv, nodes: s.nodes, docker, app: name });
    rmSync(dir, { recursive: true, force: true });
  });

  it('devnet down removes the app containers, and says so', async () => {
    await exampleImage(docker);
    const devnetDir = join(dir, 'detached');
    const up = await flux([...upArgs(devnetDir), '--detach', '--json'], fluxEnv, '', 150_000);
    assert.equal(up.code, 0, up.stderr);
    started.push({ devnetDir, nodes: JSON.parse(up.stdout).nodes });
    assert.equal(await containers(), 2, 'both instances run before down');
    const down = await flux(['devnet', 'down', '--dir', devnetDir, '--timeout', '5'], fluxEnv);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /2 app container\(s\) removed/);
    assert.equal(await containers(), 0);
  });

  it('a foreground devnet up killed with SIGKILL leaves no node and no container', async () => {
    const devnetDir = join(dir, 'foreground');
    const up = spawn(process.execPath, [FLUX, ...upArgs(devnetDir)], {
      env: { ...process.env, ...fluxEnv },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    up.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    await until(
      () => `the devnet to run the app (stderr so far:\n${stderr})`,
      async () => (/Ctrl-C stops the devnet/.test(stderr) ? true : undefined),
      150_000,
      250,
    );
    const state = await readDevnetState(devnetDir);
    assert.ok(state !== undefined);
    started.push({ devnetDir, nodes: state.nodes });
    assert.equal(await containers(), 2);
    up.kill('SIGKILL');
    await until(
      'the nodes to stop',
      async () => (state.nodes.some((n) => nodeAlive(n.pid, n.datadir)) ? undefined : true),
      30_000,
      250,
    );
    await until(
      'the containers to go',
      async () => ((await containers()) === 0 ? true : undefined),
      30_000,
      250,
    );
  });
});
