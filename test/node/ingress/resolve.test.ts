import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hostOfEndpoint } from '../../../src/api/ingress.ts';
import { type AppSpec, parseAppSpec } from '../../../src/core/apps/spec.ts';
import type { PlacementView } from '../../../src/node/fluxos/placement.ts';
import { devnetParams } from '../../../src/node/genesis.ts';
import { placementResolver } from '../../../src/node/ingress/resolve.ts';
import { LivenessView } from '../../../src/node/liveness/view.ts';
import { createNode } from '../../../src/node/node.ts';

const params = devnetParams(Date.now());
const EXAMPLE = readFileSync(join(import.meta.dirname, '../../../examples/hello-web/app.yaml'), 'utf8');

/** A view in which `spec` is placed on `nodes`. */
function viewOf(spec: AppSpec, nodes: string[], wanted = nodes.length): PlacementView {
  const app = {
    name: spec.name,
    spec,
    revision: 1,
    registeredAt: 1,
    expiresAt: 1000,
    owner: new Uint8Array(20),
  };
  return {
    height: 5,
    apps: new Map([[spec.name, app]]),
    placement: new Map([[spec.name, { name: spec.name, wanted, nodes }]]),
  };
}

describe('ingress resolver', () => {
  it('takes the hosting nodes’ addresses and the published TCP port from placement', () => {
    const parsed = parseAppSpec(EXAMPLE, params);
    assert.ok(parsed.ok);
    const spec = parsed.spec;
    const view = viewOf(spec, ['n1', 'n2', 'n3'], 2);
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
    const view = viewOf(spec, ['n1']);
    const resolve = placementResolver(
      () => view,
      () => '127.0.0.2:16127',
    );
    assert.deepEqual(resolve('hello-web'), {
      found: true,
      instances: [{ host: '127.0.0.2', port: 31080, check: { protocol: 'http', path: '/healthz' } }],
    });
  });

  it('also routes to nodes whose heartbeats say they run the app, not to those it has down', () => {
    const parsed = parseAppSpec(EXAMPLE, params);
    assert.ok(parsed.ok);
    let t = 0;
    const liveness = new LivenessView({ timeoutMs: 1_000, holdDownMs: 5_000, now: () => t });
    liveness.track(['n1', 'n2', 'n3']);
    liveness.heard('n2', 1, 5, ['hello-web']); // a stand-in that still runs it
    liveness.heard('n3', 1, 5, ['other']);
    const endpoints: Record<string, string> = { n1: '127.0.0.2:1', n2: '127.0.0.3:1', n3: '127.0.0.4:1' };
    const resolve = placementResolver(
      () => viewOf(parsed.spec, ['n1']),
      (id) => endpoints[id],
      { view: liveness },
    );
    const hosts = () => {
      const r = resolve('hello-web');
      return r.found ? r.instances.map((i) => i.host) : [];
    };
    assert.deepEqual(hosts(), ['127.0.0.2', '127.0.0.3']);
    t = 1_001; // n2 falls silent
    liveness.refresh();
    assert.deepEqual(hosts(), ['127.0.0.2']);
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
