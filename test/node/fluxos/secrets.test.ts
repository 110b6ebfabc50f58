// A hosting node's app secrets without Docker or a network: what the owner may set, what the
// containers get, and what a holder hands to a node that placement newly assigns the app.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_SECRETS_PER_APP, secretAd } from '../../../src/core/apps/secrets.ts';
import type { KeyPair } from '../../../src/core/crypto/keys.ts';
import { open, seal } from '../../../src/core/crypto/seal.ts';
import type { Chain } from '../../../src/node/chain/types.ts';
import type { PlacementView } from '../../../src/node/fluxos/placement.ts';
import { type AppSecrets, openAppSecrets } from '../../../src/node/fluxos/secrets.ts';
import { testKey } from '../../support/keys.ts';

const HERE = 'aa'.repeat(32);
const NEW = 'bb'.repeat(32);
const ELSEWHERE = 'cc'.repeat(32);
const operators: Record<string, KeyPair> = {
  [HERE]: testKey(11),
  [NEW]: testKey(12),
  [ELSEWHERE]: testKey(13),
};
const text = (s: string) => new TextEncoder().encode(s);

describe("a hosting node's app secrets", () => {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-secrets-unit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let placed = new Map([['web', [HERE]]]);
  /** Apps that run, by registration height (none: the store's checks of registration are off). */
  let registered = new Map<string, number>();
  let clock = 1_000_000;
  const view = (): PlacementView => ({
    height: 1,
    apps: new Map([...registered].map(([name, at]) => [name, { registeredAt: at }])) as PlacementView['apps'],
    placement: new Map([...placed].map(([name, nodes]) => [name, { name, wanted: nodes.length, nodes }])),
  });
  const chain = {
    fluxNode: (id: string) =>
      operators[id] ? { operator: operators[id].publicKey, endpoint: new Uint8Array() } : undefined,
  } as unknown as Chain;
  const changes: string[] = [];
  const secrets: AppSecrets = openAppSecrets({
    path: join(dir, 'secrets.db'),
    chain,
    operator: operators[HERE],
    nodeId: () => HERE,
    placement: { view, consensus: view },
    handOversPerMinute: 4,
    pruneAfterMs: 60_000,
    now: () => clock,
  });
  secrets.onChange((app) => changes.push(app));
  after(() => secrets.close());
  const sealFor = (node: string, app: string, key: string, version: number, value: string) =>
    seal(
      text(value),
      operators[node].publicKey,
      secretAd(app, key, version, node),
      new Uint8Array(randomBytes(32)),
    );

  it('stores a value sealed for this node and gives it to the containers, newest version only', () => {
    assert.equal(
      secrets.set('web', 'DB_PASSWORD', 10, sealFor(HERE, 'web', 'DB_PASSWORD', 10, 'one')),
      undefined,
    );
    assert.deepEqual(changes, ['web']);
    const first = secrets.forContainers('web', false);
    assert.deepEqual(first.env, { DB_PASSWORD: 'one' });
    assert.equal(first.waiting, false);
    assert.match(first.digest, /^[0-9a-f]{16}$/);
    assert.equal(
      secrets.set('web', 'DB_PASSWORD', 10, sealFor(HERE, 'web', 'DB_PASSWORD', 10, 'two'))?.code,
      'OLDER_VERSION',
    );
    assert.equal(
      secrets.set('web', 'DB_PASSWORD', 9, sealFor(HERE, 'web', 'DB_PASSWORD', 9, 'two'))?.code,
      'OLDER_VERSION',
    );
    assert.equal(
      secrets.set('web', 'DB_PASSWORD', 11, sealFor(HERE, 'web', 'DB_PASSWORD', 11, 'two')),
      undefined,
    );
    const second = secrets.forContainers('web', true);
    assert.deepEqual(second.env, { DB_PASSWORD: 'two' });
    assert.notEqual(second.digest, first.digest, 'a new version recreates the containers');
    assert.deepEqual(secrets.list('web'), [{ key: 'DB_PASSWORD', version: 11 }]);
  });

  it('refuses a value sealed for another node, name or version, a bad name, and an app not placed here', () => {
    assert.equal(secrets.set('web', 'K', 5, sealFor(ELSEWHERE, 'web', 'K', 5, 'x'))?.code, 'BAD_SECRET');
    assert.equal(secrets.set('web', 'K', 5, sealFor(HERE, 'web', 'OTHER', 5, 'x'))?.code, 'BAD_SECRET');
    assert.equal(secrets.set('web', 'K', 5, sealFor(HERE, 'web', 'K', 6, 'x'))?.code, 'BAD_SECRET');
    assert.equal(
      secrets.set('web', '1BAD', 5, sealFor(HERE, 'web', '1BAD', 5, 'x'))?.code,
      'BAD_SECRET_NAME',
    );
    assert.equal(secrets.set('api', 'K', 5, sealFor(HERE, 'api', 'K', 5, 'x'))?.code, 'NOT_ASSIGNED');
    assert.equal(secrets.set('web', 'K', 5, sealFor(HERE, 'web', 'K', 5, 'a\0b'))?.code, 'BAD_SECRET');
  });

  it(`holds at most ${MAX_SECRETS_PER_APP} secrets per app`, () => {
    for (let i = 0; i < MAX_SECRETS_PER_APP - 1; i++)
      assert.equal(secrets.set('web', `K${i}`, 1, sealFor(HERE, 'web', `K${i}`, 1, 'v')), undefined);
    assert.equal(
      secrets.set('web', 'ONE_MORE', 1, sealFor(HERE, 'web', 'ONE_MORE', 1, 'v'))?.code,
      'TOO_MANY_SECRETS',
    );
    for (let i = 0; i < MAX_SECRETS_PER_APP - 1; i++)
      assert.equal(secrets.unset('web', `K${i}`, 2), undefined);
  });

  it('an unset removes the value for good: an older set does not bring it back', () => {
    assert.equal(secrets.unset('web', 'DB_PASSWORD', 12), undefined);
    assert.deepEqual(secrets.forContainers('web', true).env, {});
    assert.equal(secrets.forContainers('web', true).digest, '');
    assert.equal(
      secrets.set('web', 'DB_PASSWORD', 12, sealFor(HERE, 'web', 'DB_PASSWORD', 12, 'old'))?.code,
      'OLDER_VERSION',
    );
    assert.equal(
      secrets.set('web', 'DB_PASSWORD', 13, sealFor(HERE, 'web', 'DB_PASSWORD', 13, 'three')),
      undefined,
    );
  });

  it('hands the secrets over re-sealed to a node that placement assigns the app, and to no other', () => {
    assert.equal((secrets.handOver('web', NEW) as { code: string }).code, 'NOT_ASSIGNED');
    placed = new Map([['web', [HERE, NEW]]]);
    const handed = secrets.handOver('web', NEW);
    assert.ok(Array.isArray(handed));
    const live = handed.find((h) => h.key === 'DB_PASSWORD')!;
    assert.equal(live.version, 13);
    const sealed = new Uint8Array(Buffer.from(live.sealed!, 'base64'));
    assert.deepEqual(
      open(sealed, operators[NEW].secretKey, secretAd('web', 'DB_PASSWORD', 13, NEW)),
      text('three'),
    );
    assert.equal(open(sealed, operators[HERE].secretKey, secretAd('web', 'DB_PASSWORD', 13, NEW)), undefined);
    assert.ok(
      handed.some((h) => h.key === 'K0' && h.sealed === undefined),
      'unsets travel too',
    );
    assert.equal((secrets.handOver('api', NEW) as { code: string }).code, 'NOT_ASSIGNED');
    placed.set('api', [HERE, NEW]);
    assert.equal((secrets.handOver('api', NEW) as { code: string }).code, 'NOT_SETTLED');
    assert.equal((secrets.handOver('web', NEW) as { code: string }).code, 'RATE_LIMITED');
  });

  it('deletes what it holds of an app that has stopped running for a while', () => {
    secrets.prune(new Set(['web']));
    secrets.prune(new Set(['api']));
    clock += 59_000;
    secrets.prune(new Set(['api']));
    assert.deepEqual(
      secrets.list('web'),
      [{ key: 'DB_PASSWORD', version: 13 }],
      'a reorg that drops it for a moment keeps them',
    );
    clock += 2_000;
    secrets.prune(new Set(['api']));
    assert.deepEqual(secrets.list('web'), []);
    assert.deepEqual(secrets.forContainers('web', true).env, {});
  });

  it('never gives the secrets of an earlier registration to a later app of the same name', () => {
    registered = new Map([['web', 5]]);
    assert.equal(secrets.set('web', 'K', 100, sealFor(HERE, 'web', 'K', 100, 'first owner')), undefined);
    assert.deepEqual(secrets.forContainers('web', true).env, { K: 'first owner' });
    registered = new Map([['web', 9]]);
    assert.deepEqual(secrets.forContainers('web', true).env, {});
    assert.deepEqual(secrets.list('web'), []);
  });
});
