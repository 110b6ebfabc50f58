// What a heartbeat says a node cannot run: it survives the wire (reasons cut to whole characters),
// the liveness view keeps it per node and bumps its version when the set changes, and a node that
// goes down takes its marks with it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeHeartbeat,
  encodeHeartbeat,
  MAX_UNABLE_REASON,
  utf8Prefix,
} from '../../../src/node/liveness/heartbeat.ts';
import { LivenessView } from '../../../src/node/liveness/view.ts';
import { filledKey } from '../../support/keys.ts';

const NODE = 'cd'.repeat(32);

describe('heartbeats that say what a node cannot run', () => {
  it('carries each app it cannot run with why, and decodes to the same', () => {
    const long = `the Docker engine on this node does not answer: ${'é'.repeat(200)}`;
    const bytes = encodeHeartbeat(
      {
        chainId: 7,
        node: NODE,
        time: 1_000,
        height: 3,
        running: ['db'],
        unable: [
          { app: 'web', reason: 'web: image example/gone:1 is not on this node and could not be pulled' },
          { app: 'cache', reason: long },
        ],
      },
      filledKey(9),
    );
    const { info } = decodeHeartbeat(bytes);
    assert.deepEqual(info.running, ['db']);
    assert.equal(info.unable?.[0].app, 'web');
    assert.match(info.unable?.[0].reason ?? '', /not on this node/);
    const cut = info.unable?.[1].reason ?? '';
    assert.ok(long.startsWith(cut) && cut.length > 40, 'a long reason is cut, never inside a character');
    assert.ok(new TextEncoder().encode(cut).length <= MAX_UNABLE_REASON);
    assert.deepEqual(
      decodeHeartbeat(encodeHeartbeat({ ...info, unable: undefined }, filledKey(9))).info.unable,
      [],
    );
  });

  it('cuts text to whole characters within the byte limit', () => {
    assert.equal(new TextDecoder().decode(utf8Prefix('abc', 10)), 'abc');
    const cut = new TextDecoder('utf-8', { fatal: true }).decode(utf8Prefix('ü'.repeat(10), 5));
    assert.equal(cut, 'üü');
  });

  it('is kept per node by the view, which changes version only when the set changes and forgets it when the node is down', () => {
    let t = 1_000_000;
    const view = new LivenessView({ timeoutMs: 3_000, holdDownMs: 10_000, now: () => t });
    view.track([NODE]);
    view.heard(NODE, 1, 1, [], [{ app: 'web', reason: 'engine silent' }]);
    assert.equal(view.get(NODE)?.unable.get('web'), 'engine silent');
    const v = view.version;
    t += 1_000;
    view.heard(NODE, 2, 1, [], [{ app: 'web', reason: 'engine silent still' }]);
    assert.equal(view.version, v, 'a new reason alone does not move placement');
    t += 1_000;
    view.heard(NODE, 3, 1, [], []);
    assert.equal(view.version, v + 1);
    assert.equal(view.get(NODE)?.unable.size, 0);
    view.heard(NODE, 4, 1, [], [{ app: 'web', reason: 'engine silent' }]);
    t += 3_001;
    view.refresh();
    assert.equal(view.get(NODE)?.state, 'down');
    assert.equal(view.get(NODE)?.unable.size, 0);
  });
});
