import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ApiError } from '../../../src/api/client.ts';
import { appPrice } from '../../../src/core/apps/price.ts';
import { parseAppSpec } from '../../../src/core/apps/spec.ts';
import { devnetParams } from '../../../src/node/genesis.ts';
import { apiFixture } from './fixture.ts';

const params = devnetParams(Date.now());
const EXAMPLE = readFileSync(join(import.meta.dirname, '../../../examples/hello-web/app.yaml'), 'utf8');

describe('REST API: apps', () => {
  const api = apiFixture(params, 'api-apps', (chain) => ({ apps: { state: chain.state } }));

  it('prices the example spec, itemised, as the core does', async () => {
    const r = await api.client.appPrice({ body: { spec: EXAMPLE } });
    const parsed = parseAppSpec(EXAMPLE, params);
    assert.ok(parsed.ok);
    const p = appPrice(parsed.spec, params.apps);
    assert.equal(r.price.total, p.total.toString());
    assert.equal(r.price.items.ram, p.items.ram.toString());
    assert.equal(r.spec.name, 'hello-web');
  });

  it('refuses a bad spec with a 400 naming the field and the rule', async () => {
    const bad = EXAMPLE.replace('host: 31080', 'host: 80');
    await assert.rejects(api.client.appPrice({ body: { spec: bad } }), (e: ApiError) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'BAD_SPEC');
      assert.match(e.message, /components\[0\]\.ports\[0\]\.host: host port must be in 1024\.\.65535/);
      return true;
    });
  });

  it('lists no apps at genesis and answers 404 for an unknown one', async () => {
    assert.deepEqual((await api.client.apps()).apps, []);
    await assert.rejects(api.client.app({ params: { name: 'nope-app' } }), (e: ApiError) => e.status === 404);
    await assert.rejects(
      api.client.appStatus({ params: { name: 'nope-app' } }),
      (e: ApiError) => e.status === 404,
    );
    assert.deepEqual((await api.client.appLocal({ params: { name: 'nope-app' } })).instances, []);
    await assert.rejects(api.client.app({ params: { name: 'Bad_Name' } }), (e: ApiError) => e.status === 400);
  });
});
