// Failover on a real 6-node devnet with Docker: the example app runs 2 instances; a hosting node
// dies as a machine would (its process SIGKILLed, its containers killed), RUNS times in a row.
// Measured from the kill until 2 placed instances run on live nodes and the new one answers HTTP,
// while a client sends requests through node 0's ingress and counts the ones that fail.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DEVNET_MNEMONIC } from '../src/core/params/index.ts';
import { buildExampleImage } from '../src/node/fluxos/example-image.ts';
import { LABELS } from '../src/node/fluxos/options.ts';
import { devnetUp, EXAMPLE, flux as runFlux } from '../test/support/devnet.ts';
import { httpText } from '../test/support/http.ts';
import { type BenchRow, median } from './table.ts';

/** `flux` with the benches' 180 s timeout. */
const flux = (args: string[], env: Record<string, string>, stdin = '') => runFlux(args, env, stdin, 180_000);

const NODES = 6;
const RUNS = 3;

interface Instance {
  node: string;
  api: string;
  state: string;
  endpoints: string[];
  extra?: boolean;
}

export async function run(): Promise<BenchRow[]> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch {
    return [{ name: 'failover (6-node devnet)', value: 'skipped: no Docker engine' }];
  }
  await buildExampleImage(docker);
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-failover-'));
  const env = { FLUX_WALLET_DIR: join(dir, 'wallet'), FLUX_PASSWORD: 'pw', HOME: dir };
  const devnet = join(dir, 'devnet');
  const name = `failover-${process.pid}`;
  const json = async (args: string[], api: string) => {
    const r = await flux([...args, '--json', '--api', api], env);
    if (r.code !== 0) throw new Error(`flux ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  try {
    const nodes = (await devnetUp(devnet, env, NODES, [], 180_000)).nodes;
    const api = nodes[0].api;
    await flux(['wallet', 'import', '--accounts', '4', '--api', api], env, `${DEVNET_MNEMONIC}\n`);
    const file = join(dir, 'app.yaml');
    writeFileSync(
      file,
      readFileSync(EXAMPLE, 'utf8')
        .replace('name: hello-web', `name: ${name}`)
        .replace('host: 31080', 'host: 31990'),
    );
    const deployed = await json(['app', 'deploy', file, '--from', '3'], api);
    const url = `${nodes[0].ingress}/apps/${name}/`;
    const dead = new Set<string>();
    let hosts = (deployed.instances as Instance[]).map((i) => i.node);
    const times: number[] = [];
    let failed = 0;
    let answered = 0;
    for (let r = 0; r < RUNS; r++) {
      const status = await json(['app', 'status', name], api);
      const victim = (status.instances as Instance[]).find(
        (i) => i.state === 'running' && !i.extra && !nodes[0].api.endsWith(i.api),
      );
      if (!victim) throw new Error('no hosting node to kill other than node 0');
      const proc = nodes.find((n) => n.api.endsWith(victim.api))!;
      let stop = false;
      const load = (async () => {
        while (!stop) {
          if ((await httpText(url, 5_000)) === undefined) failed++;
          else answered++;
          await new Promise((res) => setTimeout(res, 20));
        }
      })();
      const t0 = performance.now();
      process.kill(proc.pid, 'SIGKILL');
      for (const c of await docker.listContainers({ filters: { label: [`${LABELS.node}=${victim.node}`] } }))
        await docker
          .getContainer(c.Id)
          .kill()
          .catch(() => {});
      dead.add(victim.node);
      for (;;) {
        const s = await json(['app', 'status', name], api);
        const live = (s.instances as Instance[]).filter(
          (i) => i.state === 'running' && !i.extra && !dead.has(i.node),
        );
        const fresh = live.find((i) => !hosts.includes(i.node));
        if (
          live.length >= 2 &&
          fresh &&
          (await httpText(`http://${fresh.endpoints[0]}/`, 1_000)) !== undefined
        ) {
          hosts = live.map((i) => i.node);
          break;
        }
        if (performance.now() - t0 > 120_000) throw new Error('no failover within 120 s');
        await new Promise((res) => setTimeout(res, 100));
      }
      times.push((performance.now() - t0) / 1000);
      stop = true;
      await load;
    }
    return [
      {
        name: `failover: kill a hosting node -> 2 instances serving again (6-node devnet, ${RUNS} runs)`,
        value: `median ${median(times).toFixed(1)} s, max ${Math.max(...times).toFixed(1)} s`,
        ratio: `runs ${times.map((t) => t.toFixed(1)).join(', ')} s; timeout 3.5 s, heartbeat 1 s`,
        goal: '<= 10 s (Nomad ~20 s, Kubernetes 5-6 min by default)',
      },
      {
        name: 'requests failed through a surviving ingress during the failovers',
        value: `${failed} of ${failed + answered}`,
        goal: '0',
      },
    ];
  } finally {
    await flux(['devnet', 'down', '--dir', devnet, '--timeout', '5'], env);
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABELS.app}=${name}`] } }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
