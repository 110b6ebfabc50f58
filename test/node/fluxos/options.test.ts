import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateAppSpec } from '../../../src/core/apps/spec.ts';
import { mainnet } from '../../../src/core/params/index.ts';
import {
  APP_BRIDGE_PREFIX,
  appNetworkName,
  containerName,
  containerOptions,
  LABELS,
  networkOptions,
  PIDS_LIMIT,
} from '../../../src/node/fluxos/options.ts';
import { GOOD } from '../../core/apps/fixtures.ts';

const NODE = 'ab'.repeat(32);

function target() {
  const r = validateAppSpec(GOOD, mainnet);
  assert.ok(r.ok);
  return {
    network: 'c0ffee000001',
    nodeId: NODE,
    hostAddress: '127.0.0.3',
    app: r.spec,
    revision: 4,
    component: r.spec.components[0],
  };
}

describe('container options', () => {
  it('limits cpu, memory and pids, and grants no privileges', () => {
    const o = containerOptions(target());
    const h = o.HostConfig!;
    assert.equal(h.NanoCpus, 100_000_000); // 0.1 core
    assert.equal(h.Memory, 64 * 1024 * 1024);
    assert.equal(h.MemorySwap, h.Memory);
    assert.equal(h.PidsLimit, PIDS_LIMIT);
    assert.equal(h.Privileged, false);
    assert.deepEqual(h.SecurityOpt, ['no-new-privileges']);
    assert.deepEqual(h.CapDrop, ['ALL']);
    assert.ok(!h.CapAdd?.includes('SYS_ADMIN'));
    assert.deepEqual(h.RestartPolicy, { Name: 'no' });
  });

  it('labels the container with chain, node, app, component and revision, and names it after the node', () => {
    const o = containerOptions(target());
    assert.deepEqual(o.Labels, {
      [LABELS.managed]: '1',
      [LABELS.network]: 'c0ffee000001',
      [LABELS.node]: NODE,
      [LABELS.app]: 'hello-web',
      [LABELS.component]: 'web',
      [LABELS.revision]: '4',
    });
    assert.equal(o.name, `flux-c0ffee000001-${NODE.slice(0, 12)}-hello-web-web`);
    assert.equal(containerName('n', NODE, 'a', 'b'), `flux-n-${NODE.slice(0, 12)}-a-b`);
  });

  it("publishes ports on the node's own address only, with image, command and environment", () => {
    const o = containerOptions(target());
    assert.deepEqual(o.HostConfig!.PortBindings, {
      '8080/tcp': [{ HostIp: '127.0.0.3', HostPort: '31000' }],
    });
    assert.deepEqual(o.ExposedPorts, { '8080/tcp': {} });
    assert.equal(o.Image, 'openflux/hello:1');
    assert.deepEqual(o.Cmd, ['httpd', '-f']);
    assert.deepEqual(o.Env, ['GREETING=hi', 'FLUX_APP=hello-web', 'FLUX_COMPONENT=web']);
  });

  it("adds the app's secrets to the environment, over the spec's env of the same name, and labels only their digest", () => {
    const o = containerOptions({
      ...target(),
      secrets: { env: { GREETING: 'from a secret', DB_PASSWORD: 'hunter2' }, digest: '0123456789abcdef' },
    });
    assert.deepEqual(o.Env, [
      'GREETING=from a secret',
      'DB_PASSWORD=hunter2',
      'FLUX_APP=hello-web',
      'FLUX_COMPONENT=web',
    ]);
    assert.equal(o.Labels![LABELS.secrets], '0123456789abcdef');
    assert.ok(!JSON.stringify(o.Labels).includes('hunter2'));
  });
});

describe('app network options', () => {
  it('attaches each component to its app network under its own name, never to the default bridge', () => {
    const t = target();
    const o = containerOptions(t);
    const net = appNetworkName(t.network, NODE, t.app.name);
    assert.equal(net, `ofx-c0ffee000001-${NODE.slice(0, 12)}-${t.app.name}`);
    assert.equal(o.HostConfig?.NetworkMode, net);
    assert.deepEqual(o.NetworkingConfig?.EndpointsConfig?.[net]?.Aliases, [t.component.name]);
  });

  it('is internal only when no component publishes a port, on a bridge the host firewall matches', () => {
    const t = target();
    const published = networkOptions(t);
    assert.equal(published.Internal, false);
    const quiet = networkOptions({
      ...t,
      app: { ...t.app, components: t.app.components.map((c) => ({ ...c, ports: [] })) },
    });
    assert.equal(quiet.Internal, true);
    const bridge = published.Options?.['com.docker.network.bridge.name'] ?? '';
    assert.ok(bridge.startsWith(APP_BRIDGE_PREFIX) && bridge.length <= 15, bridge);
    assert.deepEqual(published.Labels, {
      [LABELS.managed]: '1',
      [LABELS.network]: 'c0ffee000001',
      [LABELS.node]: NODE,
      [LABELS.app]: t.app.name,
    });
  });
});
