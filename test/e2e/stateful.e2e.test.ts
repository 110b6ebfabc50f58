// End to end with real Docker and real loop-mounted volumes (root): a 3-node devnet runs an app
// whose container appends a sequence number to a file in its replicated volume every 100 ms and
// serves the last one over HTTP. Its primary's node dies as a machine would (process and
// containers killed). The standby, which placement ranks next, starts it with its copy: the first
// number it serves is at most the recovery point behind the last one served before the kill, and
// from then on the numbers never go down.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { devnet } from '../../src/core/params/index.ts';
import { LABELS } from '../../src/node/fluxos/options.ts';
import { exampleImage, testDocker } from '../node/fluxos/docker.ts';
import { devnetLogLines, devnetUp, flux as runFlux, tearDownDevnet } from '../support/devnet.ts';
import { httpText } from '../support/http.ts';
import { until } from '../support/wait.ts';

const flux = (args: string[], env: Record<string, string>, stdin = '') => runFlux(args, env, stdin, 120_000);
const env = await testDocker();
const root = process.getuid?.() === 0;
if (!env.skip && !root) console.log('# SKIPPED stateful failover: loop-mounted volumes need root');
const skip = env.skip ?? (root ? undefined : 'loop-mounted volumes need root');

interface Volume {
  name: string;
  role: string;
  generation: number;
  seq: number;
  standbys: Array<{ node: string; seq: number; behindBytes: number; behindMs: number; error?: string }>;
}
interface Instance {
  node: string;
  state: string;
  endpoints: string[];
  extra?: boolean;
  volumes?: Volume[];
}

// Appends n+1 to /data/seq every 100 ms, continuing from the last line, and serves the last one.
const SCRIPT = [
  'B=/bin/busybox',
  'mkdir -p /tmp/www',
  'n=$($B tail -n 1 /data/seq 2>/dev/null || echo 0)',
  'echo "start at $n"',
  '$B httpd -p 8080 -h /tmp/www',
  'while true; do n=$((n+1)); echo $n >> /data/seq; echo $n > /tmp/www/n.tmp; $B mv /tmp/www/n.tmp /tmp/www/index.html; $B sleep 0.1; done',
].join('; ');

describe('a stateful app fails over with its data (real Docker, 3 nodes)', { skip, timeout: 300_000 }, () => {
  const docker = env.docker as Docker;
  const dir = mkdtempSync(join(tmpdir(), 'openflux-stateful-'));
  const devnetDir = join(dir, 'devnet');
  const fluxEnv = { FLUX_WALLET_DIR: join(dir, 'wallet'), FLUX_PASSWORD: 'pw', HOME: dir };
  const name = `st-${process.pid}`;
  const port = 33_000 + (process.pid % 800);
  let nodes: Array<{ index: number; api: string; pid: number; ingress: string }> = [];

  const json = async (args: string[], api: string) => {
    const r = await flux([...args, '--json', '--api', api], fluxEnv);
    assert.equal(r.code, 0, `flux ${args.join(' ')}:\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const logs = () => devnetLogLines(devnetDir, nodes, /fluxos|liveness/, 20);
  after(() => tearDownDevnet({ dir, devnetDir, env: fluxEnv, nodes, docker, app: name }));

  it('serves, after its primary dies, a number within the recovery point of the last one served, and never lower after', async () => {
    await exampleImage(docker);
    const spec = join(dir, 'app.yaml');
    writeFileSync(
      spec,
      JSON.stringify({
        version: 1,
        name,
        instances: 1,
        expiryBlocks: 1000,
        components: [
          {
            name: 'counter',
            image: 'openflux/hello-web:1',
            entrypoint: ['/bin/busybox', 'sh', '-c'],
            command: [SCRIPT],
            ports: [{ container: 8080, host: port }],
            cpu: 0.1,
            ram: 32,
            hdd: 1,
            volumes: [{ name: 'data', mount: '/data', size: 1 }],
          },
        ],
      }),
    );
    const up = await devnetUp(devnetDir, fluxEnv, 3, ['--app', spec]);
    nodes = up.nodes;
    assert.deepEqual(up.app, { file: spec, running: true }, `${up.stderr}\n${logs()}`);
    const api0 = nodes[0].api;

    // The standby takes rounds: status shows it at most a round behind.
    let last: unknown;
    const primary = await until(
      () => `the standby to take rounds; last status:\n${JSON.stringify(last, null, 1)}\n${logs()}`,
      async () => {
        const s = await json(['app', 'status', name], api0);
        last = s;
        const i = (s.instances as Instance[]).find((x) => x.state === 'running' && !x.extra);
        const v = i?.volumes?.[0];
        return v?.role === 'primary' && v.standbys.length === 1 && v.standbys[0].seq >= 3 ? i : undefined;
      },
      60_000,
      250,
    );
    const standby = primary.volumes![0].standbys[0].node;
    const text = await (await flux(['app', 'status', name, '--api', api0], fluxEnv)).stdout;
    assert.match(text, /volume data \(replicated\): primary on [0-9a-f]{16}, generation \d+, round \d+/);
    assert.match(text, new RegExp(`standby ${standby.slice(0, 16)}: round \\d+, behind \\d+ bytes`));

    // Read the counter through the primary's port until the kill.
    const read = async (endpoint: string) => {
      const t = await httpText(`http://${endpoint}/`, 2_000);
      return t && /^\d+\n?$/.test(t) ? Number(t) : undefined;
    };
    let served = 0;
    for (let i = 0; i < 20; i++) {
      served = Math.max(served, (await read(primary.endpoints[0])) ?? 0);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(served > 0, 'the primary serves its counter');

    const victim = nodes.find((n) => n.api.includes(`//${primary.endpoints[0].split(':')[0]}:`))!;
    assert.ok(victim, `the primary's node among ${JSON.stringify(nodes)}`);
    const api = nodes.find((n) => n !== victim)!.api;
    const doomed = await docker.listContainers({ filters: { label: [`${LABELS.node}=${primary.node}`] } });
    served = Math.max(served, (await read(primary.endpoints[0])) ?? 0);
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    const killing = Promise.all(
      doomed.map((c) =>
        docker
          .getContainer(c.Id)
          .kill()
          .catch(() => {}),
      ),
    );

    // The standby starts it with its copy: the survivors' own addresses, asked every 100 ms.
    const survivors = nodes.filter((n) => n !== victim).map((n) => `${new URL(n.api).hostname}:${port}`);
    const first = await until(
      () => `a survivor to serve the counter\n${logs()}`,
      async () => {
        for (const endpoint of survivors) {
          const n = await read(endpoint);
          if (n !== undefined) return { endpoint, n };
        }
        return undefined;
      },
      60_000,
      100,
    );
    const failoverMs = Date.now() - killedAt;
    await killing;
    const taken = await until(
      () =>
        `status to show the standby running it; last status:\n${JSON.stringify(last, null, 1)}\n${logs()}`,
      async () => {
        const s = await json(['app', 'status', name], api);
        last = s;
        const i = (s.instances as Instance[]).find((x) => x.state === 'running' && x.node === standby);
        return i ? { i, first: first.n } : undefined;
      },
      30_000,
      250,
    );
    assert.equal(taken.i.endpoints[0].split(':')[1], first.endpoint.split(':')[1]);
    // What the dead primary had written last (its volume stays mounted on this machine), and
    // where the new primary's copy ended (its first write says): the writes the failover lost.
    const oldSeq = readFileSync(
      join(devnetDir, `node-${victim.index}`, 'volumes', name, 'data', 'data', 'seq'),
      'utf8',
    ).trim();
    const lastWritten = Number(oldSeq.slice(oldSeq.lastIndexOf('\n') + 1));
    const started = await until(
      'the new container to say where it starts',
      async () => {
        const [c] = await docker.listContainers({
          filters: { label: [`${LABELS.app}=${name}`, `${LABELS.node}=${standby}`] },
        });
        if (!c) return undefined;
        const text = String(await docker.getContainer(c.Id).logs({ stdout: true, stderr: true }));
        const m = /start at (\d+)/.exec(text);
        return m ? Number(m[1]) : undefined;
      },
      10_000,
      200,
    );
    console.log(
      `stateful failover: lost ${lastWritten - started} writes (${(lastWritten - started) * 100} ms of writes; the primary wrote up to ${lastWritten}, the copy held ${started})`,
    );
    // At most the recovery point of writes (two sync intervals at 10 writes a second) lost.
    const rpoWrites = Math.ceil((2 * devnet.apps.volumeSyncMs) / 100);
    console.log(
      `stateful failover: the standby served ${taken.first} ${failoverMs} ms after the kill; the last number served before was ${served} (recovery point ${rpoWrites} writes)`,
    );
    assert.ok(lastWritten - started <= rpoWrites, `lost ${lastWritten - started} writes`);
    assert.ok(failoverMs < 30_000, `failover took ${failoverMs} ms`);
    assert.ok(
      taken.first >= served - rpoWrites,
      `served ${taken.first}, ${served - taken.first} writes behind ${served}`,
    );
    assert.ok(taken.i.volumes![0].generation > primary.volumes![0].generation, 'a new generation');

    // From then on the counter only goes up.
    let prev = taken.first;
    for (let i = 0; i < 15; i++) {
      const n = await read(taken.i.endpoints[0]);
      if (n !== undefined) {
        assert.ok(n >= prev, `served ${n} after ${prev}`);
        prev = n;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(prev > taken.first, 'it goes on counting');
  });
});
