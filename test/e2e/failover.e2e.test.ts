// End to end with real Docker: a 4-node devnet runs the example app with 2 instances; one hosting
// node dies as a machine would (its process and its containers killed). Requests through a
// surviving node's ingress keep being answered; the other nodes notice within seconds and start
// the lost instance on the next-ranked node; the chain marks the dead node down by reports and
// its app payments stop while the replacement's begin.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { LABELS } from '../../src/node/fluxos/options.ts';
import { exampleImage, testDocker } from '../node/fluxos/docker.ts';
import { devnetLogLines, devnetUp, EXAMPLE, flux as runFlux, tearDownDevnet } from '../support/devnet.ts';
import { httpText } from '../support/http.ts';
import { until } from '../support/wait.ts';

const flux = (args: string[], env: Record<string, string>, stdin = '') => runFlux(args, env, stdin, 120_000);
const env = await testDocker();

interface Instance {
  node: string;
  api: string;
  state: string;
  endpoints: string[];
  nodeState?: string;
  extra?: boolean;
}

describe('failover on a 4-node devnet with real Docker', { skip: env.skip, timeout: 240_000 }, () => {
  const docker = env.docker as Docker;
  const dir = mkdtempSync(join(tmpdir(), 'openflux-failover-'));
  const devnetDir = join(dir, 'devnet');
  const fluxEnv = { FLUX_WALLET_DIR: join(dir, 'wallet'), FLUX_PASSWORD: 'pw', HOME: dir };
  const name = `fo-${process.pid}`;
  const port = 32_000 + (process.pid % 800);
  let nodes: Array<{ index: number; api: string; pid: number; ingress: string }> = [];

  const json = async (args: string[], api: string, stdin?: string) => {
    const r = await flux([...args, '--json', '--api', api], fluxEnv, stdin);
    assert.equal(r.code, 0, `flux ${args.join(' ')}:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const logs = () => devnetLogLines(devnetDir, nodes, /liveness|fluxos|fluxnode .*down|ingress/, 15);

  after(() => tearDownDevnet({ dir, devnetDir, env: fluxEnv, nodes, docker, app: name }));

  it('keeps the app answering through a surviving ingress, replaces the lost instance, and stops paying the dead node', async () => {
    await exampleImage(docker);
    const spec = join(dir, 'app.yaml');
    writeFileSync(
      spec,
      readFileSync(EXAMPLE, 'utf8')
        .replace('name: hello-web', `name: ${name}`)
        .replace('host: 31080', `host: ${port}`),
    );
    // The README's main job: a devnet that deploys an app (here with its own name and port).
    const up = await devnetUp(devnetDir, fluxEnv, 4, ['--app', spec]);
    nodes = up.nodes;
    assert.deepEqual(up.app, { file: spec, running: true }, up.stderr);
    const api0 = nodes[0].api;
    const deployed = await json(['app', 'status', name], api0);
    assert.equal(deployed.running, 2);
    const hosts = (deployed.instances as Instance[]).map((i) => i.node);

    // The victim: a hosting node that is not node 0 (the miner, and the API this test asks).
    const apiOf = (i: Instance) => nodes.find((n) => n.api.endsWith(`//${i.api}`) || n.api.endsWith(i.api));
    const victimInstance = (deployed.instances as Instance[]).find((i) => apiOf(i)?.index !== 0)!;
    const victim = apiOf(victimInstance)!;
    const victimId = victimInstance.node;
    const survivor = nodes.find((n) => n.index !== victim.index && n.index !== 0) ?? nodes[0];
    const url = `${survivor.ingress}/apps/${name}/`;
    assert.equal(await httpText(url), `hello from ${name}`);

    // Requests through the surviving node's ingress, all through the failover.
    let ok = 0;
    let failed = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const text = await httpText(url, 5_000);
        if (text === `hello from ${name}`) ok++;
        else failed++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const earnedBefore = BigInt((await json(['node', 'payouts', victimId], api0)).appEarned ?? '0');
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    for (const c of await docker.listContainers({ filters: { label: [`${LABELS.node}=${victimId}`] } }))
      await docker
        .getContainer(c.Id)
        .kill()
        .catch(() => {});

    // The lost instance starts on another node and answers there.
    let last: unknown;
    const replaced = await until(
      () =>
        `the lost instance to run and answer on another node; last status:\n${JSON.stringify(last, null, 1)}\n${logs()}`,
      async () => {
        const s = await json(['app', 'status', name], api0);
        last = s;
        const running = (s.instances as Instance[]).filter(
          (i) => i.state === 'running' && i.node !== victimId && !i.extra,
        );
        if (running.length < 2) return undefined;
        const fresh = running.find((i) => !hosts.includes(i.node));
        if (!fresh) return undefined;
        return (await httpText(`http://${fresh.endpoints[0]}/`)) === `hello from ${name}`
          ? { s, fresh }
          : undefined;
      },
      60_000,
      200,
    ).finally(() => {
      stop = true;
    });
    const failoverMs = Date.now() - killedAt;
    // Until the chain marks it down, status lists the dead node, as down in this node's view.
    const dead = (replaced.s.instances as Instance[]).find((i) => i.node === victimId);
    if (dead) assert.equal(dead.nodeState, 'down', 'status shows the dead node down');
    stop = true;
    await load;
    console.log(
      `failover: replacement answered ${failoverMs} ms after the kill; through the ingress ${ok} requests answered, ${failed} failed`,
    );
    assert.ok(failoverMs < 30_000, `failover took ${failoverMs} ms`);
    assert.ok(ok > 0);
    assert.ok(failed <= 2, `${failed} requests failed during the failover`);

    // The chain marks the dead node down; it earns nothing more, the replacement earns.
    // Down reports usually mark it first; if its confirmation period ends before they are mined,
    // it expires instead (devnet periods are 8 blocks). Either way it is placed nowhere.
    const marked = await until(
      () => `the chain to mark the dead node down; the nodes' logs:\n${logs()}`,
      async () => {
        const st = await json(['node', 'status', victimId], api0);
        return st.down || st.status !== 'confirmed' ? st : undefined;
      },
      30_000,
      250,
    );
    console.log(
      marked.down
        ? `dead node marked down at height ${marked.downSince}`
        : `dead node ${marked.status} before a quorum of reports`,
    );
    const earnedAtDown = BigInt((await json(['node', 'payouts', victimId], api0)).appEarned);
    assert.ok(earnedAtDown >= earnedBefore);
    const replacementBefore = BigInt((await json(['node', 'payouts', replaced.fresh.node], api0)).appEarned);
    const height = (await json(['chain', 'info'], api0)).height as number;
    await until(
      'three more blocks',
      async () => ((await json(['chain', 'info'], api0)).height >= height + 3 ? true : undefined),
      30_000,
      250,
    );
    assert.equal(BigInt((await json(['node', 'payouts', victimId], api0)).appEarned), earnedAtDown);
    assert.ok(
      BigInt((await json(['node', 'payouts', replaced.fresh.node], api0)).appEarned) > replacementBefore,
    );
  });
});
