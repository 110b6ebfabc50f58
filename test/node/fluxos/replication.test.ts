// The standby's side of volume replication, on real directories (a plain directory stands in
// for the loop-mounted volume): a primary's round is applied whole; an older copy, a sender or
// a receiver that placement does not make a holder, and any data while the app runs here are
// refused, and refused data changes nothing.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ApiError } from '../../../src/api/route.ts';
import { keyPairFromSecret } from '../../../src/core/crypto/keys.ts';
import { devnet } from '../../../src/core/params/index.ts';
import type { Chain } from '../../../src/node/chain/types.ts';
import type { PlacementView } from '../../../src/node/fluxos/placement.ts';
import { createReplication } from '../../../src/node/fluxos/replication.ts';
import { diffManifests, encodeDelta, scanTree } from '../../../src/node/fluxos/volume-sync.ts';
import type { VolumeInfo, VolumeStore } from '../../../src/node/fluxos/volumes.ts';
import { testAppSpec } from '../../support/apps.ts';

const root = mkdtempSync(join(tmpdir(), 'openflux-replication-'));
after(() => rmSync(root, { recursive: true, force: true }));

const [PRIMARY, ME, STRANGER] = ['aa', 'bb', 'cc'].map((c) => c.repeat(32));

/** Volumes as plain directories under `root`: what the loop store gives, without mounts. */
function dirVolumes(): VolumeStore {
  const made = new Map<string, VolumeInfo>();
  return {
    async ensure(v) {
      const path = join(root, 'volumes', v.app, v.name, 'data');
      mkdirSync(path, { recursive: true });
      made.set(`${v.app}/${v.name}`, { ...v, path, mounted: true });
      return path;
    },
    list: () => [...made.values()],
    async remove() {},
    async unmountAll() {},
  };
}

describe('a standby takes rounds (real directories)', () => {
  const spec = testAppSpec('pgdb', [
    { name: 'pg', image: 'postgres:16', volumes: [{ name: 'data', mount: '/data', size: 1 }] },
  ]);
  const view: PlacementView = {
    height: 1,
    apps: new Map([
      [
        'pgdb',
        { name: 'pgdb', spec, revision: 1, registeredAt: 0, expiresAt: 100, owner: new Uint8Array(20) },
      ],
    ]),
    placement: new Map([['pgdb', { name: 'pgdb', wanted: 1, nodes: [PRIMARY], standbys: [ME] }]]),
  };
  let running: string[] = [];
  const rep = createReplication({
    chain: { params: devnet, fluxNode: () => undefined } as unknown as Chain,
    view: () => view,
    volumes: dirVolumes(),
    operator: keyPairFromSecret(new Uint8Array(32).fill(9)),
    nodeId: () => ME,
    running: () => running,
    pause: async () => async () => {},
  });
  after(() => rep.close());

  const primaryDir = join(root, 'primary');
  mkdirSync(primaryDir);
  const round = (generation: number, seq: number, have = new Map()) => {
    const scan = scanTree(primaryDir, new Map(), new Map());
    const { entries, deletes } = diffManifests(scan.manifest, have);
    return encodeDelta(
      { app: 'pgdb', volume: 'data', generation, seq, entries, deletes },
      entries.filter((e) => e.type === 'f').map((e) => scan.read.get(e.path) as Buffer),
    );
  };
  const copy = () => readFileSync(join(root, 'volumes', 'pgdb', 'data', 'data', 'seq'), 'utf8');
  const refusal = async (p: Promise<unknown>) =>
    p.then(
      () => 'applied',
      (e: ApiError) => `${e.status} ${e.code}`,
    );

  it('applies a round, then refuses an older copy, strangers and data while the app runs here', async () => {
    writeFileSync(join(primaryDir, 'seq'), '1\n2\n3\n');
    assert.deepEqual(await rep.receive('pgdb', 'data', PRIMARY, round(2, 5)), { generation: 2, seq: 5 });
    assert.equal(copy(), '1\n2\n3\n');
    assert.deepEqual(await rep.state('pgdb', 'data', PRIMARY, false), { generation: 2, seq: 5 });

    // A node coming back with an older generation (more rounds, or not) never overwrites it.
    writeFileSync(join(primaryDir, 'seq'), '1\n');
    assert.match(await refusal(rep.receive('pgdb', 'data', PRIMARY, round(1, 900))), /^409 OLDER_COPY/);
    assert.match(await refusal(rep.receive('pgdb', 'data', PRIMARY, round(2, 4))), /^409 OLDER_COPY/);
    assert.equal(copy(), '1\n2\n3\n', 'a refused round changes nothing');

    // Only holders: a sender placement does not name, or a node that is no holder itself.
    assert.match(await refusal(rep.receive('pgdb', 'data', STRANGER, round(3, 1))), /^403 NOT_A_HOLDER/);
    assert.match(await refusal(rep.state('pgdb', 'data', STRANGER, true)), /^403 NOT_A_HOLDER/);

    // A bad delta is refused whole.
    const bad = round(3, 1);
    bad[bad.length - 1] ^= 1;
    assert.match(await refusal(rep.receive('pgdb', 'data', PRIMARY, bad)), /^400 BAD_DELTA/);
    assert.equal(copy(), '1\n2\n3\n');

    // Once the app runs here, this copy is the primary's: it takes no data.
    writeFileSync(join(primaryDir, 'seq'), '1\n2\n3\n4\n');
    running = ['pgdb'];
    await rep.round();
    assert.match(await refusal(rep.receive('pgdb', 'data', PRIMARY, round(9, 1))), /^409 PRIMARY_HERE/);
    assert.equal(copy(), '1\n2\n3\n');
  });
});
