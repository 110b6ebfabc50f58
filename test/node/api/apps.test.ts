import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiError, createClient, type FluxClient } from '../../../src/client/client.ts';
import { appPrice } from '../../../src/core/apps/price.ts';
import { parseAppSpec } from '../../../src/core/apps/spec.ts';
import { type ApiServer, startApiServer } from '../../../src/node/api/server.ts';
import { type LocalChain, openChain } from '../../../src/node/chain/chain.ts';
import { devnetParams } from '../../../src/node/node.ts';

const params = devnetParams(Date.now());
const EXAMPLE = readFileSync(join(import.meta.dirname, '../../../examples/hello-web/app.yaml'), 'utf8');

describe('REST API: apps', () => {
  let dir: string;
  let chain: LocalChain;
  let server: ApiServer;
  let client: FluxClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openflux-api-apps-'));
    chain = openChain({ params, dbPath: join(dir, 'chain.db') });
    server = await startApiServer({ chain, port: 0, apps: { state: chain.state } });
    client = createClient({ baseUrl: server.url });
  });
  after(async () => {
    await server.close();
    chain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prices the example spec, itemised, as the core does', async () => {
    const r = await client.appPrice({ body: { spec: EXAMPLE } });
    const parsed = parseAppSpec(EXAMPLE, params);
    assert.ok(parsed.ok);
    const p = appPrice(parsed.spec, params.apps);
    assert.equal(r.price.total, p.total.toString());
    assert.equal(r.price.items.ram, p.items.ram.toString());
    assert.equal(r.spec.name, 'hello-web');
  });

  it('refuses a bad spec with a 400 naming the field and the rule', async () => {
    const bad = EXAMPLE.replace('host: 31080', 'host: 80');
    await assert.rejects(client.appPrice({ body: { spec: bad } }), (e: ApiError) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'BAD_SPEC');
      assert.match(e.message, /components\[0\]\.ports\[0\]\.host: host port must be in 1024\.\.65535/);
      return true;
    });
  });

  it('lists no apps at genesis and answers 404 for an unknown one', async () => {
    assert.deepEqual((await client.apps()).apps, []);
    await assert.rejects(client.app({ params: { name: 'nope-app' } }), (e: ApiError) => e.status === 404);
    await assert.rejects(
      client.appStatus({ params: { name: 'nope-app' } }),
      (e: ApiError) => e.status === 404,
    );
    assert.deepEqual((await client.appLocal({ params: { name: 'nope-app' } })).instances, []);
    await assert.rejects(client.app({ params: { name: 'Bad_Name' } }), (e: ApiError) => e.status === 400);
  });
});
