// The liveness view over a clock the test moves: timeout, hold-down, replays, grace period.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LivenessView } from '../../../src/node/liveness/view.ts';

function setup() {
  let t = 1_000_000;
  const view = new LivenessView({ timeoutMs: 3_000, holdDownMs: 10_000, now: () => t });
  const advance = (ms: number) => {
    t += ms;
  };
  return { view, advance, now: () => t };
}

describe('liveness view', () => {
  it('gives a node it has never heard a grace period, then calls it down', () => {
    const { view, advance } = setup();
    view.track(['a']);
    assert.equal(view.isAlive('a'), true);
    advance(3_000);
    assert.deepEqual(view.refresh(), []);
    advance(1);
    assert.deepEqual(
      view.refresh().map((x) => [x.node, x.from, x.to]),
      [['a', 'alive', 'down']],
    );
    assert.equal(view.isAlive('a'), false);
  });

  it('gives longer grace when asked (peers that start one after another), never less than the timeout', () => {
    let t = 0;
    const view = new LivenessView({ timeoutMs: 3_000, holdDownMs: 10_000, graceMs: 9_000, now: () => t });
    view.track(['a']);
    t = 9_000;
    assert.deepEqual(view.refresh(), []);
    t = 9_001;
    assert.equal(view.refresh()[0]?.to, 'down');
  });

  it('keeps a node alive while it beats, and takes it back only after a gap-free hold-down', () => {
    const { view, advance, now } = setup();
    view.track(['a']);
    let stamp = 1;
    const beat = () => assert.ok(view.heard('a', stamp++, 5, ['web']));
    for (let i = 0; i < 10; i++) {
      advance(1_000);
      beat();
      view.refresh();
    }
    assert.equal(view.isAlive('a'), true);
    assert.deepEqual(view.runningApp('web'), ['a']);
    advance(3_500);
    assert.equal(view.refresh()[0]?.to, 'down');
    assert.deepEqual(view.runningApp('web'), [], 'a down node runs nothing as far as the view knows');
    const downAt = now();

    // Heard again: returning, not alive, for the hold-down; a gap restarts the hold-down.
    advance(500);
    beat();
    assert.equal(view.refresh()[0]?.to, 'returning');
    assert.equal(view.isAlive('a'), false);
    for (let i = 0; i < 5; i++) {
      advance(1_000);
      beat();
      view.refresh();
    }
    advance(4_000); // a gap longer than the timeout
    assert.equal(view.refresh()[0]?.to, 'down');
    beat();
    view.refresh();
    for (let i = 0; i < 9; i++) {
      advance(1_000);
      beat();
      assert.deepEqual(view.refresh(), [], 'still holding down');
    }
    advance(1_000);
    beat();
    assert.equal(view.refresh()[0]?.to, 'alive');
    assert.ok(view.get('a')!.since > downAt);
  });

  it('refuses replays and nodes it does not track, and forgets nodes no longer confirmed', () => {
    const { view } = setup();
    view.track(['a']);
    assert.equal(view.heard('a', 10, 1, []), true);
    assert.equal(view.heard('a', 10, 1, []), false, 'same stamp');
    assert.equal(view.heard('a', 9, 1, []), false, 'older stamp');
    assert.equal(view.heard('b', 11, 1, []), false, 'not tracked');
    view.track(['b']);
    assert.equal(view.get('a'), undefined);
    assert.equal(view.size, 1);
  });
});
