import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAppSpec } from '../../../src/core/apps/spec.ts';
import type { PlacementView } from '../../../src/node/fluxos/service.ts';
import { hostOfEndpoint, placementResolver } from '../../../src/node/ingress/resolve.ts';
import { createNode, devnetParams } from '../../../src/node/node.ts';

const params = devnetParams(Date.now());
const EXAMPLE = readFileSync(join(import.meta.dirname, '../../../examples/hello-web/app.yaml'), 'utf8');

describe('ingress resolver', () => {
  it('takes the hosting nodes’ addresses and the published TCP port from placement', () => {
    const parsed = parseAppSpec(EXAMPLE, params);
    assert.ok(parsed.ok);
    const spec = parsed.spec;
    const app = {
      name: spec.name,
      spec,
      revision: 1,
      registeredAt: 1,
      expiresAt: 1000,
      owner: new Uint8Array(20),
    };
    const view: PlacementView = {
      height: 5,
      apps: new Map([[spec.name, app]]),
      placement: new Map([[spec.name, { name: spec.name, wanted: 2, nodes: ['n1', 'n2', 'n3'] }]]),
    };
    const endpoints: Record<string, string> = { n1: '127.0.0.2:16127', n2: '[::1]:16127' };
    const resolve = placementResolver(
      () => view,
      (id) => endpoints[id],
    );
    assert.deepEqual(resolve('hello-web'), {
      found: true,
      instances: [
        { host: '127.0.0.2', port: 31080 },
        { host: '::1', port: 31080 },
      ],
    });
    assert.deepEqual(resolve('other'), { found: false });
    view.placement.set(spec.name, { name: spec.name, wanted: 2, nodes: [], reason: 'no eligible node' });
    const none = resolve('hello-web');
    assert.ok(none.found);
    assert.equal(none.instances.length, 0);
    assert.match(none.why ?? '', /no running instance: no eligible node/);
    assert.equal(hostOfEndpoint('example.org:80'), 'example.org');
  });

  it('passes the health check of the component whose port it routes to', () => {
    const parsed = parseAppSpec(
      `${EXAMPLE}\n  - name: side\n    image: busybox\n    cpu: 0.1\n    ram: 32\n    hdd: 1\n    ports: [{ container: 81, host: 31081 }]\n    healthCheck: { protocol: tcp }\n`,
      params,
    );
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
    const spec = parsed.spec;
    spec.components[0].healthCheck = { protocol: 'http', path: '/healthz' };
    const app = {
      name: spec.name,
      spec,
      revision: 1,
      registeredAt: 1,
      expiresAt: 1000,
      owner: new Uint8Array(20),
    };
    const view: PlacementView = {
      height: 5,
      apps: new Map([[spec.name, app]]),
      placement: new Map([[spec.name, { name: spec.name, wanted: 1, nodes: ['n1'] }]]),
    };
    const resolve = placementResolver(
      () => view,
      () => '127.0.0.2:16127',
    );
    assert.deepEqual(resolve('hello-web'), {
      found: true,
      instances: [{ host: '127.0.0.2', port: 31080, check: { protocol: 'http', path: '/healthz' } }],
    });
  });

  it('runs in a node when asked and answers for the chain’s apps', async () => {
    const datadir = mkdtempSync(join(tmpdir(), 'openflux-ingress-'));
    const node = await createNode({
      network: 'devnet',
      datadir,
      params,
      api: false,
      p2p: false,
      fluxnode: false,
      ingress: { host: '127.0.0.1', port: 0 },
    });
    try {
      assert.ok(node.ingress);
      const r = await fetch(`${node.ingress.url}/apps/hello-web/`);
      assert.equal(r.status, 404);
      assert.match(await r.text(), /no app named hello-web/);
    } finally {
      await node.close();
      rmSync(datadir, { recursive: true, force: true });
    }
  });
});
