import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import type { AppSpec } from '../../../src/core/apps/spec.ts';
import { LABELS } from '../../../src/node/fluxos/options.ts';
import { type AssignedApp, createReconciler, type Reconciler } from '../../../src/node/fluxos/reconciler.ts';
import { createDockerRuntime } from '../../../src/node/fluxos/runtime.ts';
import { testAppSpec } from '../../support/apps.ts';
import { httpText } from '../../support/http.ts';
import { until } from '../../support/wait.ts';
import { exampleImage, removeContainersOf, removeNetworksOf, testDocker } from './docker.ts';

const env = await testDocker();
const NODE = randomBytes(32).toString('hex');
const PORT = 32_000 + Math.floor(Math.random() * 2000);

function spec(name: string, image: string, port: number, greeting: string): AppSpec {
  return testAppSpec(name, [
    { name: 'web', image, ports: [{ container: 8080, host: port }], env: { GREETING: greeting } },
  ]);
}

describe('fluxos reconciler (real Docker)', { skip: env.skip }, () => {
  const docker = env.docker as Docker;
  let assigned: AssignedApp[] = [];
  let rec: Reconciler;
  let image: string;

  before(async () => {
    image = await exampleImage(docker);
    rec = createReconciler({
      runtime: createDockerRuntime(docker),
      network: 'test00000000',
      nodeId: () => NODE,
      hostAddress: '127.0.0.1',
      assigned: () => assigned,
      intervalMs: 60_000,
      backoff: { baseMs: 200, maxMs: 1_000 },
    });
  });
  after(async () => {
    await rec?.close();
    if (docker) {
      await removeContainersOf(docker, NODE);
      await removeNetworksOf(docker, NODE);
    }
  });

  it('starts what is assigned, with labels, and it answers HTTP on the node address', async () => {
    assigned = [{ spec: spec('rec-one', image, PORT, 'first'), revision: 1 }];
    await rec.reconcile();
    const [s] = rec.status('rec-one');
    assert.equal(s.state, 'running', s.reason);
    assert.deepEqual(s.endpoints, [`127.0.0.1:${PORT}`]);
    const list = await docker.listContainers({ filters: { label: [`${LABELS.node}=${NODE}`] } });
    assert.equal(list.length, 1);
    assert.equal(list[0].Labels[LABELS.app], 'rec-one');
    assert.equal(list[0].Labels[LABELS.revision], '1');
    await until(
      'HTTP answer',
      async () => (await httpText(`http://127.0.0.1:${PORT}/`)) === 'first from rec-one',
      10_000,
      100,
    );
    // idempotent: another pass changes nothing
    await rec.reconcile();
    const again = await docker.listContainers({ filters: { label: [`${LABELS.node}=${NODE}`] } });
    assert.equal(again[0].Id, list[0].Id);
  });

  it('restarts a crashed container after a backoff and counts the restart', async () => {
    const [c] = await docker.listContainers({
      filters: { label: [`${LABELS.app}=rec-one`, `${LABELS.node}=${NODE}`] },
    });
    await docker.getContainer(c.Id).kill();
    await rec.reconcile();
    const [s] = rec.status('rec-one');
    assert.equal(s.state, 'restarting');
    assert.match(s.reason ?? '', /exited with code/);
    await until(
      'restart',
      async () => {
        await rec.reconcile();
        return rec.status('rec-one')[0].state === 'running';
      },
      10_000,
      100,
    );
    assert.equal(rec.status('rec-one')[0].restarts, 1);
  });

  it('re-creates on a new revision, reports a bad image without blocking other apps, removes what is unassigned', async () => {
    assigned = [
      { spec: spec('rec-one', image, PORT, 'second'), revision: 2 },
      { spec: spec('rec-bad', 'openflux/does-not-exist:1', PORT + 1, 'x'), revision: 1 },
    ];
    await rec.reconcile();
    const bad = rec.status('rec-bad')[0];
    assert.equal(bad.state, 'failed');
    assert.match(
      bad.reason ?? '',
      /image openflux\/does-not-exist:1 is not on this node and could not be pulled/,
    );
    assert.equal(rec.status('rec-one')[0].state, 'running');
    await until(
      'new env',
      async () => (await httpText(`http://127.0.0.1:${PORT}/`)) === 'second from rec-one',
      10_000,
      100,
    );
    const [c] = await docker.listContainers({
      filters: { label: [`${LABELS.app}=rec-one`, `${LABELS.node}=${NODE}`] },
    });
    assert.equal(c.Labels[LABELS.revision], '2');

    assigned = [];
    await rec.reconcile();
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABELS.node}=${NODE}`] } });
    assert.equal(left.length, 0);
    assert.deepEqual(rec.status(), []);
  });

  it('starts a component only once those it depends on run, and runs its entrypoint', async () => {
    // `web` is listed first but depends on `db`; `db` runs a shell entrypoint instead of the image's.
    const bb = '/bin/busybox';
    const components = (dbImage: string) => [
      { name: 'web', image, ports: [{ container: 8080, host: PORT + 2 }], dependsOn: ['db'] },
      { name: 'db', image: dbImage, entrypoint: [bb, 'sh', '-c'], command: [`${bb} sleep 3600`] },
    ];
    assigned = [{ spec: testAppSpec('rec-deps', components('openflux/does-not-exist:1')), revision: 1 }];
    await rec.reconcile();
    await rec.reconcile();
    const waiting = rec.status('rec-deps')[0].components.find((c) => c.name === 'web');
    assert.equal(waiting?.state, 'starting');
    assert.equal(waiting?.reason, 'waiting for db to run');
    const none = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.app}=rec-deps`, `${LABELS.component}=web`] },
    });
    assert.equal(none.length, 0, 'web is not created while db cannot run');

    assigned = [{ spec: testAppSpec('rec-deps', components(image)), revision: 2 }];
    await rec.reconcile();
    const s = rec.status('rec-deps')[0];
    assert.equal(s.state, 'running', s.reason);
    const started = async (component: string) => {
      const [c] = await docker.listContainers({
        filters: { label: [`${LABELS.app}=rec-deps`, `${LABELS.component}=${component}`] },
      });
      return (await docker.getContainer(c.Id).inspect()) as Docker.ContainerInspectInfo;
    };
    const [web, db] = [await started('web'), await started('db')];
    assert.ok(Date.parse(db.State.StartedAt) <= Date.parse(web.State.StartedAt), 'db started before web');
    assert.deepEqual(db.Config.Entrypoint, [bb, 'sh', '-c']);
    assert.deepEqual(db.Config.Cmd, [`${bb} sleep 3600`]);
    assigned = [];
    await rec.reconcile();
  });
});
