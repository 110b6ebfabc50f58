// The app agent's count of what it cannot run, over an engine faked in memory (no Docker): an
// engine that never answers, an image that cannot be pulled, a container that will not start.
// Each marks the app for the hold-down after the last failure, and the node tells liveness.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppSpec } from '../../../src/core/apps/spec.ts';
import { CannotRun } from '../../../src/node/fluxos/cannot-run.ts';
import { type AssignedApp, createReconciler } from '../../../src/node/fluxos/reconciler.ts';
import type { ContainerSummary, Runtime } from '../../../src/node/fluxos/runtime.ts';
import { testAppSpec } from '../../support/apps.ts';

const NODE = 'ab'.repeat(32);

function spec(name: string): AppSpec {
  return testAppSpec(name, [{ name: 'web', image: 'example/web:1' }]);
}

/** An engine in memory: `silent` never answers; `images` are present; `starts` decides a start. */
function fakeEngine() {
  const e = {
    silent: false,
    images: new Set(['example/web:1']),
    startsRun: true,
    containers: new Map<string, ContainerSummary>(),
  };
  let n = 0;
  const hang = <T>(v: () => T): Promise<T> =>
    e.silent ? new Promise<T>(() => {}) : Promise.resolve().then(v);
  const runtime: Runtime = {
    list: () => hang(() => [...e.containers.values()]),
    inspect: (id) => hang(() => ({ ...e.containers.get(id)!, exitCode: 1 })),
    hasImage: (ref) => hang(() => e.images.has(ref)),
    pull: (ref) => hang(() => Promise.reject(new Error(`pull access denied for ${ref}`))).then(() => {}),
    create: (o) =>
      hang(() => {
        const id = `c${n++}`;
        const networks = o.HostConfig?.NetworkMode ? [o.HostConfig.NetworkMode] : [];
        e.containers.set(id, { id, name: o.name ?? id, state: 'created', labels: o.Labels ?? {}, networks });
        return id;
      }),
    start: (id) =>
      hang(() => {
        const c = e.containers.get(id)!;
        c.state = e.startsRun ? 'running' : 'exited';
      }),
    remove: (id) => hang(() => void e.containers.delete(id)),
    listNetworks: () => hang(() => []),
    createNetwork: () => hang(() => 'net'),
    removeNetwork: () => hang(() => {}),
    stats: () =>
      hang((): never => {
        throw new Error('no stats in this fake engine');
      }),
    restart: () => hang(() => {}),
    stop: () => hang(() => {}),
    pause: () => hang(() => {}),
    unpause: () => hang(() => {}),
    logs: () => hang(() => ''),
    ensureVolume: () => hang(() => {}),
    removeVolume: () => hang(() => {}),
    exec: () =>
      hang((): never => {
        throw new Error('no exec in this fake engine');
      }),
  };
  return { e, runtime };
}

function agent(runtime: Runtime, assigned: () => AssignedApp[], clock: { t: number }) {
  const told: Array<Map<string, string>> = [];
  const rec = createReconciler({
    runtime,
    network: 'test00000000',
    nodeId: () => NODE,
    hostAddress: '127.0.0.1',
    assigned,
    intervalMs: 3_600_000,
    backoff: { baseMs: 0, maxMs: 0 },
    engineTimeoutMs: 50,
    maxStartFailures: 3,
    holdDownMs: 10_000,
    onCannotRun: (m) => told.push(m),
    now: () => clock.t,
  });
  return { rec, told };
}

describe('what the app agent cannot run', () => {
  it('holds a mark for the hold-down after the last failure, then lets it go', () => {
    const clock = { t: 1_000 };
    const marks = new CannotRun({ holdDownMs: 10_000, now: () => clock.t });
    marks.mark('web', 'engine silent');
    clock.t += 9_999;
    assert.deepEqual([...marks.current()], [['web', 'engine silent']]);
    marks.mark('web', 'engine silent'); // still failing: held again from now
    clock.t += 9_999;
    assert.equal(marks.has('web'), true);
    clock.t += 1;
    assert.equal(marks.has('web'), false);
    assert.equal(marks.current().size, 0);
  });

  it('marks every assigned app when the engine does not answer within the deadline, keeps them while it is silent, and frees them a hold-down after it answers', async () => {
    const { e, runtime } = fakeEngine();
    const clock = { t: 1_000 };
    let assigned: AssignedApp[] = [
      { spec: spec('one'), revision: 1 },
      { spec: spec('two'), revision: 1 },
    ];
    const { rec, told } = agent(runtime, () => assigned, clock);
    try {
      e.silent = true;
      await rec.reconcile();
      const marked = rec.cannotRun();
      assert.deepEqual([...marked.keys()].sort(), ['one', 'two']);
      assert.match(marked.get('one')!, /Docker engine on this node does not answer: .*within 50 ms/);
      assert.deepEqual([...told.at(-1)!.keys()].sort(), ['one', 'two'], 'liveness is told');
      // Placement leaves this node out, so nothing is assigned here; the engine is still silent.
      assigned = [];
      clock.t += 9_000;
      await rec.reconcile();
      clock.t += 9_000;
      await rec.reconcile();
      assert.deepEqual([...rec.cannotRun().keys()].sort(), ['one', 'two'], 'held while silent');
      e.silent = false;
      await rec.reconcile();
      clock.t += 9_999;
      await rec.reconcile();
      assert.equal(rec.cannotRun().size, 2, 'held for the hold-down after the engine answers');
      clock.t += 1;
      await rec.reconcile();
      assert.equal(rec.cannotRun().size, 0);
      assert.equal(told.at(-1)!.size, 0, 'liveness is told it may run them again');
    } finally {
      await rec.close();
    }
  });

  it('marks an app whose image is not here and cannot be pulled at once, and only that app', async () => {
    const { e, runtime } = fakeEngine();
    const clock = { t: 1_000 };
    const missing = spec('missing');
    missing.components[0].image = 'example/gone:1';
    const assigned = [
      { spec: missing, revision: 1 },
      { spec: spec('fine'), revision: 1 },
    ];
    const { rec } = agent(runtime, () => assigned, clock);
    try {
      await rec.reconcile();
      assert.deepEqual([...rec.cannotRun().keys()], ['missing']);
      assert.match(rec.cannotRun().get('missing')!, /web: image example\/gone:1 is not on this node/);
      assert.equal(rec.status('fine')[0].state, 'running');
      assert.equal(e.containers.size, 1);
    } finally {
      await rec.close();
    }
  });

  it('marks an app only after its component failed to start 3 times in a row', async () => {
    const { e, runtime } = fakeEngine();
    e.startsRun = false;
    const clock = { t: 1_000 };
    const assigned = [{ spec: spec('crashy'), revision: 1 }];
    const { rec } = agent(runtime, () => assigned, clock);
    try {
      await rec.reconcile();
      await rec.reconcile();
      assert.equal(rec.cannotRun().size, 0, 'two failed starts are not enough');
      await rec.reconcile();
      assert.match(
        rec.cannotRun().get('crashy') ?? '',
        /web: exited at once with code 1 \(3 failed starts in a row\)/,
      );
    } finally {
      await rec.close();
    }
  });
});
