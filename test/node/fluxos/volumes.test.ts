// App volumes with real Docker and real loop-mounted ext4 (root): a container that writes past
// its volume's size gets ENOSPC; the data survives a new revision, a crash and the node's agent
// starting again; only removing the app's volumes deletes it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { appVolumeName, LABELS } from '../../../src/node/fluxos/options.ts';
import { type AssignedApp, createReconciler, type Reconciler } from '../../../src/node/fluxos/reconciler.ts';
import { createDockerRuntime, demuxDockerLog } from '../../../src/node/fluxos/runtime.ts';
import { createLoopVolumes, type VolumeStore } from '../../../src/node/fluxos/volumes.ts';
import { testAppSpec } from '../../support/apps.ts';
import { until } from '../../support/wait.ts';
import { exampleImage, removeContainersOf, removeNetworksOf, testDocker } from './docker.ts';

const env = await testDocker();
const root = process.getuid?.() === 0;
if (!env.skip && !root) console.log('# SKIPPED app volume tests: loop mounts need root');
const skip = env.skip ?? (root ? undefined : 'loop mounts need root');
const NODE = randomBytes(32).toString('hex');
const CHAIN = 'test0000vol0';
const BB = '/bin/busybox';

/** A component that runs a shell script with its volume `data` at /data. */
function app(name: string, image: string, script: string, sizeGb = 1) {
  return testAppSpec(name, [
    {
      name: 'main',
      image,
      entrypoint: [BB, 'sh', '-c'],
      command: [script],
      volumes: [{ name: 'data', mount: '/data', size: sizeGb }],
    },
  ]);
}

describe('app volumes (real Docker, loop-mounted ext4)', { skip, timeout: 180_000 }, () => {
  const docker = env.docker as Docker;
  const dir = mkdtempSync(join(tmpdir(), 'openflux-volumes-'));
  let volumes: VolumeStore;
  let assigned: AssignedApp[] = [];
  let rec: Reconciler;
  let image: string;
  const start = () =>
    createReconciler({
      runtime: createDockerRuntime(docker),
      network: CHAIN,
      nodeId: () => NODE,
      hostAddress: '127.0.0.1',
      assigned: () => assigned,
      volumes,
      intervalMs: 60_000,
      backoff: { baseMs: 200, maxMs: 1_000 },
    });
  const containerOf = async (name: string) => {
    const [c] = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.app}=${name}`, `${LABELS.node}=${NODE}`] },
    });
    return c;
  };
  const logsOf = async (name: string) => {
    const c = await containerOf(name);
    const buf = (await docker.getContainer(c.Id).logs({ stdout: true, stderr: true })) as unknown as Buffer;
    return demuxDockerLog(Buffer.from(buf));
  };

  before(async () => {
    image = await exampleImage(docker);
    volumes = createLoopVolumes(join(dir, 'volumes'));
    rec = start();
  });
  after(async () => {
    await rec?.close();
    if (docker) {
      await removeContainersOf(docker, NODE);
      await removeNetworksOf(docker, NODE);
    }
    for (const v of volumes?.list() ?? []) {
      await docker
        .getVolume(appVolumeName(CHAIN, NODE, v.app, v.name))
        .remove()
        .catch(() => {});
      await volumes.remove(v.app).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses writes past the volume size with ENOSPC, and the host disk holds no more', async () => {
    const script = `${BB} dd if=/dev/zero of=/data/fill bs=1M count=1200 2>&1; echo "dd exit $?"; ${BB} sleep 3600`;
    assigned = [{ spec: app('vol-quota', image, script), revision: 1 }];
    await rec.reconcile();
    const s = rec.status('vol-quota')[0];
    assert.equal(s.state, 'running', s.reason);
    const out = await until(
      'dd to end',
      async () => {
        const text = await logsOf('vol-quota');
        return /dd exit \d+/.test(text) ? text : undefined;
      },
      60_000,
      200,
    );
    assert.match(out, /No space left on device/);
    assert.match(out, /dd exit 1/);
    const [v] = volumes.list().filter((x) => x.app === 'vol-quota');
    assert.equal(v.sizeGb, 1);
    assert.ok(v.mounted);
    assert.ok((v.usedBytes ?? 0) <= 1024 ** 3, `used ${v.usedBytes} bytes`);
    assigned = [];
    await rec.reconcile();
    await volumes.remove('vol-quota');
    assert.equal(existsSync(join(dir, 'volumes', 'vol-quota')), false, 'removing the app deletes its volume');
  });

  it('keeps the data through a new revision, a crash and a restart of the agent', async () => {
    // Each start appends its GREETING to /data/log, then serves nothing and waits.
    const script = (word: string) => `echo ${word} >> /data/log; ${BB} cat /data/log; ${BB} sleep 3600`;
    assigned = [{ spec: app('vol-keep', image, script('first')), revision: 1 }];
    await rec.reconcile();
    assert.equal(rec.status('vol-keep')[0].state, 'running', rec.status('vol-keep')[0].reason);
    const path = volumes.list().find((x) => x.app === 'vol-keep')!.path;
    await until(
      'first write',
      () => (readFileSync(join(path, 'log'), 'utf8') === 'first\n' ? true : undefined),
      10_000,
      100,
    );

    // A new revision re-creates the container over the same volume.
    assigned = [{ spec: app('vol-keep', image, script('second')), revision: 2 }];
    await rec.reconcile();
    await until(
      'second write',
      () => (readFileSync(join(path, 'log'), 'utf8') === 'first\nsecond\n' ? true : undefined),
      10_000,
      100,
    );

    // A crash: the reconciler restarts it; the data is there.
    const c = await containerOf('vol-keep');
    await docker.getContainer(c.Id).kill();
    await until(
      'restart after the crash',
      async () => {
        await rec.reconcile();
        return readFileSync(join(path, 'log'), 'utf8') === 'first\nsecond\nsecond\n' ? true : undefined;
      },
      20_000,
      300,
    );

    // The agent stops with the volume unmounted under a stopped container (a reboot), and a
    // new agent mounts it again before it starts the container: the data is back, not an empty dir.
    await rec.close();
    await docker.getContainer(c.Id).stop({ t: 0 });
    await volumes.unmountAll();
    assert.equal(existsSync(join(path, 'log')), false, 'unmounted: the bare directory is empty');
    rec = start();
    await rec.reconcile();
    await until(
      'third start sees every earlier line',
      async () => ((await logsOf('vol-keep')).includes('first\nsecond\nsecond\nsecond\n') ? true : undefined),
      20_000,
      200,
    );
    assigned = [];
    await rec.reconcile();
    assert.ok(existsSync(join(path, 'log')), 'unassigning the app keeps its data');
  });
});
