// Placement at scale: 100,000 app instances (50,000 apps of 1 to 3 instances) over 10,000 nodes
// of mixed sizes, placed from scratch as every node does for each new tip. And deploy latency on a
// real 3-node devnet with Docker: from `flux app deploy` to every instance answering HTTP.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { createClient } from '../src/api/client.ts';
import { type PlacementApp, type PlacementNode, placeApps } from '../src/core/apps/placement.ts';
import { sha256, toHex } from '../src/core/crypto/hash.ts';
import { TIERS } from '../src/core/ledger/emission.ts';
import { DEVNET_MNEMONIC } from '../src/core/params/index.ts';
import { buildExampleImage } from '../src/node/fluxos/example-image.ts';
import { LABELS } from '../src/node/fluxos/options.ts';
import { devnetUp, EXAMPLE, flux as runFlux } from '../test/support/devnet.ts';
import { httpText } from '../test/support/http.ts';
import { type BenchRow, formatRate, median } from './table.ts';

/** `flux` with the benches' 180 s timeout. */
const flux = (args: string[], env: Record<string, string>, stdin = '') => runFlux(args, env, stdin, 180_000);

const NODES = 10_000;
const INSTANCES = 100_000;

export function placementInput(): { nodes: PlacementNode[]; apps: PlacementApp[] } {
  const nodes: PlacementNode[] = Array.from({ length: NODES }, (_, i) => {
    const tier = TIERS[i % 3];
    const scale = 1 << (i % 3);
    const seed = new Uint8Array(4);
    new DataView(seed.buffer).setUint32(0, i);
    return {
      id: toHex(sha256(seed)),
      tier,
      capacity: { cpuTenths: 40 * scale, ramMb: 16_000 * scale, hddGb: 400 * scale, gpu: 0 },
    };
  });
  const apps: PlacementApp[] = [];
  let instances = 0;
  for (let i = 0; instances < INSTANCES; i++) {
    const n = Math.min(1 + (i % 3), INSTANCES - instances);
    instances += n;
    apps.push({
      name: `app-${i}`,
      registeredAt: i >> 4,
      instances: n,
      needs: { cpuTenths: 1 + (i % 5), ramMb: 128 << (i % 4), hddGb: 1 + (i % 10), gpu: 0, ports: 1 },
      hostPorts: [`${30_000 + (i % 2000)}/tcp`],
      ...(i % 10 === 0 ? { tiers: [TIERS[2]] } : {}),
    });
  }
  return { nodes, apps };
}

export async function run(): Promise<BenchRow[]> {
  const { nodes, apps } = placementInput();
  placeApps(nodes, apps); // warm up
  const times: number[] = [];
  let placed = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const result = placeApps(nodes, apps);
    times.push(performance.now() - t0);
    placed = 0;
    for (const p of result.values()) placed += p.nodes.length;
  }
  times.sort((a, b) => a - b);
  const ms = times[2];
  const rows: BenchRow[] = [
    {
      name: `app placement: ${INSTANCES.toLocaleString('en-US')} instances over ${NODES.toLocaleString('en-US')} nodes (1 core)`,
      value: formatRate((placed / ms) * 1000, 'placements/s'),
      ratio: `${ms.toFixed(0)} ms, ${placed.toLocaleString('en-US')} placed`,
      goal: '>= 100,000 /s',
    },
  ];
  return [...rows, ...(await deployLatency())];
}

const DEPLOYS = 3;

/** `flux app deploy` on a 3-node devnet until every instance answers HTTP (median of DEPLOYS). */
async function deployLatency(): Promise<BenchRow[]> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch {
    return [{ name: 'app deploy latency (3-node devnet)', value: 'skipped: no Docker engine' }];
  }
  await buildExampleImage(docker);
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-apps-'));
  const env = { FLUX_WALLET_DIR: join(dir, 'wallet'), FLUX_PASSWORD: 'pw', HOME: dir };
  const devnet = join(dir, 'devnet');
  const names: string[] = [];
  try {
    const nodes = (await devnetUp(devnet, env, 3, [], 180_000)).nodes;
    const api = nodes[0].api;
    await flux(['wallet', 'import', '--accounts', '4', '--api', api], env, `${DEVNET_MNEMONIC}\n`);
    const client = createClient({ baseUrl: api });
    const seconds: number[] = [];
    const blocks: number[] = [];
    for (let i = 0; i < DEPLOYS; i++) {
      const name = `bench-${process.pid}-${i}`;
      names.push(name);
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        readFileSync(EXAMPLE, 'utf8')
          .replace('name: hello-web', `name: ${name}`)
          .replace('host: 31080', `host: ${31_900 + i}`),
      );
      const h0 = (await client.chainInfo()).height;
      const t0 = performance.now();
      const r = await flux(['app', 'deploy', file, '--from', '3', '--json', '--api', api], env);
      if (r.code !== 0) throw new Error(`deploy: ${r.stderr}`);
      const endpoints = (JSON.parse(r.stdout).instances as Array<{ endpoints: string[] }>).map(
        (x) => x.endpoints[0],
      );
      while (
        !(await Promise.all(endpoints.map((e) => httpText(`http://${e}/`, 1_000)))).every(
          (t) => t !== undefined,
        )
      )
        await new Promise((res) => setTimeout(res, 50));
      seconds.push((performance.now() - t0) / 1000);
      blocks.push((await client.chainInfo()).height - h0);
    }
    return [
      {
        name: `app deploy -> every instance answers HTTP (3-node devnet, 2 instances, median of ${DEPLOYS})`,
        value: `${median(seconds).toFixed(1)} s`,
        ratio: `${median(blocks)} blocks (block time 2 s; includes the CLI's own start and signing)`,
        goal: '<= 2 blocks + 1 s',
      },
    ];
  } finally {
    await flux(['devnet', 'down', '--dir', devnet, '--timeout', '5'], env);
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=1`] } }))
      if (names.includes(c.Labels[LABELS.app]))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
