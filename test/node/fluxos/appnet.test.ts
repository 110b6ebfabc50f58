// App networks with real containers: components of one app find each other by name; a container
// of one app reaches neither another app's containers nor the node's own ports; the ingress still
// reaches published ports; the network goes with the app. Needs Docker and root (iptables).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { EXAMPLE_IMAGE } from '../../../src/node/fluxos/example-image.ts';
import { createIptablesFirewall } from '../../../src/node/fluxos/firewall.ts';
import { appNetworkName, LABELS } from '../../../src/node/fluxos/options.ts';
import { type AssignedApp, createReconciler, type Reconciler } from '../../../src/node/fluxos/reconciler.ts';
import { createDockerRuntime, demuxDockerLog } from '../../../src/node/fluxos/runtime.ts';
import { testAppSpec } from '../../support/apps.ts';
import { httpText } from '../../support/http.ts';
import { until } from '../../support/wait.ts';
import { exampleImage, removeContainersOf, testDocker } from './docker.ts';

const env = await testDocker();
const root = process.getuid?.() === 0;
if (!env.skip && !root) console.log('# SKIPPED app network tests: iptables needs root');
const skip = env.skip ?? (root ? undefined : 'iptables needs root');
const NODE = randomBytes(32).toString('hex');
const CHAIN = 'test0000net0';
const PORT = 34_000 + Math.floor(Math.random() * 2000);
const BB = '/bin/busybox';
const image = EXAMPLE_IMAGE;

const spec = testAppSpec;

/** Runs a command in a container: its exit code and what it wrote. */
async function execIn(docker: Docker, id: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const ex = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await ex.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  const info = await ex.inspect();
  return { code: info.ExitCode ?? -1, out: demuxDockerLog(Buffer.concat(chunks)).trim() };
}

/**
 * An HTTP GET from inside a container with busybox nc (its static wget crashes in a scratch
 * image), 2 s to connect: the body, or undefined when no answer comes.
 */
async function fetchFrom(docker: Docker, id: string, url: string): Promise<string | undefined> {
  const u = new URL(url);
  const request = `printf 'GET ${u.pathname} HTTP/1.0\r\n\r\n' | ${BB} nc -w 2 "$0" "$1"`;
  const r = await execIn(docker, id, [BB, 'sh', '-c', request, u.hostname, u.port]);
  const at = r.out.indexOf('\r\n\r\n');
  return r.code === 0 && at >= 0 ? r.out.slice(at + 4) : undefined;
}

describe('app networks (real Docker, iptables)', { skip, timeout: 120_000 }, () => {
  const docker = env.docker as Docker;
  let assigned: AssignedApp[] = [];
  let rec: Reconciler;
  let nodePort: Server;
  const idOf = async (app: string, component: string) => {
    const [c] = await docker.listContainers({
      filters: {
        label: [`${LABELS.node}=${NODE}`, `${LABELS.app}=${app}`, `${LABELS.component}=${component}`],
      },
    });
    assert.ok(c, `${app}/${component} runs`);
    return c.Id;
  };
  const ipOf = async (id: string) => {
    const nets = (await docker.getContainer(id).inspect()).NetworkSettings.Networks;
    return Object.values(nets)[0].IPAddress;
  };
  const ourNetworks = () => docker.listNetworks({ filters: { label: [`${LABELS.node}=${NODE}`] } });

  before(async () => {
    assert.equal(await exampleImage(docker), image);
    // Stands for the node's API and p2p ports: a real node listens for p2p on 0.0.0.0.
    nodePort = createServer((_, res) => res.end('node')).listen(0, '0.0.0.0');
    await new Promise((r) => nodePort.once('listening', r));
    rec = createReconciler({
      runtime: createDockerRuntime(docker),
      network: CHAIN,
      nodeId: () => NODE,
      hostAddress: '127.0.0.1',
      assigned: () => assigned,
      firewall: createIptablesFirewall(),
      intervalMs: 60_000,
      backoff: { baseMs: 200, maxMs: 1_000 },
    });
  });
  after(async () => {
    await rec?.close();
    nodePort?.close();
    if (!docker) return;
    await removeContainersOf(docker, NODE);
    for (const n of await ourNetworks())
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => {});
  });

  const pair = spec('net-pair', [
    { name: 'db', image, env: { GREETING: 'rows' } },
    { name: 'client', image, command: [BB, 'sleep', '3600'] },
  ]);
  const other = spec('net-other', [
    { name: 'web', image, env: { GREETING: 'public' }, ports: [{ container: 8080, host: PORT }] },
  ]);

  it('a component reaches its sibling by name, on an internal network of its own', async () => {
    assigned = [{ spec: pair, revision: 1 }];
    await rec.reconcile();
    assert.equal(rec.status('net-pair')[0].state, 'running', rec.status('net-pair')[0].reason);
    const client = await idOf('net-pair', 'client');
    await until(
      'the client gets the db page by name',
      async () => (await fetchFrom(docker, client, 'http://db:8080/')) === 'rows from net-pair',
      10_000,
      200,
    );
    const net = await docker.getNetwork(appNetworkName(CHAIN, NODE, 'net-pair')).inspect();
    assert.equal(net.Internal, true, 'publishes nothing: internal');
    const attached = Object.keys((await docker.getContainer(client).inspect()).NetworkSettings.Networks);
    assert.deepEqual(attached, [net.Name], 'not on Docker default bridge');
  });

  it('an app publishing a port answers the ingress, and reaches neither the other app nor the node', async () => {
    assigned = [
      { spec: pair, revision: 1 },
      { spec: other, revision: 1 },
    ];
    await rec.reconcile();
    assert.equal(rec.status('net-other')[0].state, 'running', rec.status('net-other')[0].reason);
    await until(
      'the published port answers on the node address',
      async () => (await httpText(`http://127.0.0.1:${PORT}/`)) === 'public from net-other',
      10_000,
      100,
    );
    const web = await idOf('net-other', 'web');
    const db = await idOf('net-pair', 'db');
    const client = await idOf('net-pair', 'client');
    assert.equal(await fetchFrom(docker, web, 'http://db:8080/'), undefined, "another app's name");
    assert.equal(await fetchFrom(docker, web, `http://${await ipOf(db)}:8080/`), undefined, 'by IP');
    assert.equal(await fetchFrom(docker, client, `http://${await ipOf(web)}:8080/`), undefined, 'back');

    // The node's ports at the app bridge's gateway and at the machine's own addresses.
    const port = (nodePort.address() as AddressInfo).port;
    const gateway = (await docker.getContainer(web).inspect()).NetworkSettings.Networks[
      appNetworkName(CHAIN, NODE, 'net-other')
    ].Gateway;
    const hostIps = Object.values(networkInterfaces())
      .flat()
      .flatMap((a) => (a && a.family === 'IPv4' && !a.internal ? [a.address] : []));
    for (const ip of [gateway, ...hostIps])
      assert.equal(await fetchFrom(docker, web, `http://${ip}:${port}/`), undefined, `node port at ${ip}`);
    // What the wall prevents: a container on Docker's default bridge gets there.
    const plain = await docker.createContainer({
      Image: image,
      Cmd: [BB, 'sleep', '3600'],
      Labels: { [LABELS.node]: NODE },
      HostConfig: { NetworkMode: 'bridge' },
    });
    await plain.start();
    const bridgeGateway = (await plain.inspect()).NetworkSettings.Networks.bridge.Gateway;
    assert.equal(await fetchFrom(docker, plain.id, `http://${bridgeGateway}:${port}/`), 'node');
  });

  it('removes the network with the last container of the app', async () => {
    assigned = [{ spec: other, revision: 1 }];
    await rec.reconcile();
    const names = (await ourNetworks()).map((n) => n.Name);
    assert.deepEqual(names, [appNetworkName(CHAIN, NODE, 'net-other')]);
    assigned = [];
    await rec.reconcile();
    assert.deepEqual(await ourNetworks(), []);
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.node}=${NODE}`, LABELS.app] },
    });
    assert.equal(left.length, 0);
  });
});
