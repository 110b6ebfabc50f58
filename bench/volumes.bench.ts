// Replicated volumes. In process: one replication round of 64 MB of new files (scan with hashes,
// delta, checked decode, whole-file apply) against a plain local copy of the same files. On a real
// 3-node devnet with Docker (root: loop-mounted volumes): a stateful app that appends a number
// every 100 ms and writes 1 MB/s of new data; the standby's lag is sampled from the primary's
// status for 10 s, then the primary's node is killed as a machine dies and the failover time and
// the writes lost are measured (the dead primary's last number against where the copy ended).

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { devnet } from '../src/core/params/index.ts';
import { buildExampleImage } from '../src/node/fluxos/example-image.ts';
import { LABELS } from '../src/node/fluxos/options.ts';
import {
  applyDelta,
  decodeDelta,
  diffManifests,
  encodeDelta,
  scanTree,
} from '../src/node/fluxos/volume-sync.ts';
import {
  devnetLogLines,
  devnetUp,
  mountsUnder,
  flux as runFlux,
  tearDownDevnet,
} from '../test/support/devnet.ts';
import { httpText } from '../test/support/http.ts';
import { until } from '../test/support/wait.ts';
import { type BenchRow, median } from './table.ts';

const flux = (args: string[], env: Record<string, string>) => runFlux(args, env, '', 180_000);

function replicationThroughput(): BenchRow {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-volsync-'));
  try {
    const primary = join(dir, 'primary');
    mkdirSync(primary);
    const MB = 64;
    for (let i = 0; i < MB; i++) writeFileSync(join(primary, `f${i}`), Buffer.alloc(2 ** 20, i));
    const runs = (f: () => void) => {
      const ms: number[] = [];
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        f();
        ms.push(performance.now() - t0);
      }
      return median(ms);
    };
    let n = 0;
    const plain = runs(() => cpSync(primary, join(dir, `cp${n++}`), { recursive: true }));
    const replicated = runs(() => {
      const scan = scanTree(primary, new Map(), new Map());
      const { entries, deletes } = diffManifests(scan.manifest, new Map());
      const bytes = encodeDelta(
        { app: 'b', volume: 'v', generation: 1, seq: 1, entries, deletes },
        entries.filter((e) => e.type === 'f').map((e) => scan.read.get(e.path) as Buffer),
      );
      const { header, files } = decodeDelta(bytes);
      const copy = join(dir, `rep${n++}`);
      applyDelta(copy, `${copy}.tmp`, header, files);
    });
    return {
      name: 'volume replication round, 64 MB of new files (hash, delta, check, apply; no network)',
      value: `${Math.round((MB / replicated) * 1000)} MB/s`,
      ratio: `${(plain / replicated).toFixed(2)}x of a plain local copy (${Math.round((MB / plain) * 1000)} MB/s)`,
      goal: '>= 0.5x',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The counter of the e2e test, plus 100 KB of new random data every 100 ms (1 MB/s).
const SCRIPT = [
  'B=/bin/busybox',
  'mkdir -p /tmp/www /data/blobs',
  'n=$($B tail -n 1 /data/seq 2>/dev/null || echo 0)',
  'echo "start at $n"',
  '$B httpd -p 8080 -h /tmp/www',
  'while true; do n=$((n+1)); echo $n >> /data/seq; echo $n > /tmp/www/n.tmp; $B mv /tmp/www/n.tmp /tmp/www/index.html; $B dd if=/dev/urandom of=/data/blobs/b$((n % 300)) bs=100k count=1 2>/dev/null; $B sleep 0.1; done',
].join('; ');

interface Instance {
  node: string;
  state: string;
  endpoints: string[];
  extra?: boolean;
  volumes?: Array<{
    generation: number;
    standbys: Array<{ node: string; seq: number; behindMs: number; behindBytes: number }>;
  }>;
}

async function statefulFailover(): Promise<BenchRow[]> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch {
    return [{ name: 'stateful failover (3-node devnet)', value: 'skipped: no Docker engine' }];
  }
  if (process.getuid?.() !== 0)
    return [{ name: 'stateful failover (3-node devnet)', value: 'skipped: loop-mounted volumes need root' }];
  await buildExampleImage(docker);
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-stateful-'));
  const devnetDir = join(dir, 'devnet');
  const env = { FLUX_WALLET_DIR: join(dir, 'wallet'), FLUX_PASSWORD: 'pw', HOME: dir };
  const name = `stb-${process.pid}`;
  const port = 34_900;
  let nodes: Array<{ index: number; api: string; pid: number; ingress: string }> = [];
  const json = async (args: string[], api: string) => {
    const r = await flux([...args, '--json', '--api', api], env);
    if (r.code !== 0) throw new Error(`flux ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const read = async (endpoint: string) => {
    const t = await httpText(`http://${endpoint}/`, 1_000);
    return t && /^\d+$/.test(t) ? Number(t) : undefined;
  };
  try {
    const spec = join(dir, 'app.json');
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
            cpu: 0.5,
            ram: 64,
            hdd: 1,
            volumes: [{ name: 'data', mount: '/data', size: 1 }],
          },
        ],
      }),
    );
    const up = await devnetUp(devnetDir, env, 3, ['--app', spec], 180_000);
    nodes = up.nodes;
    const primaryOf = async (api: string) =>
      ((await json(['app', 'status', name], api)).instances as Instance[]).find(
        (i) => i.state === 'running' && !i.extra,
      );
    const primary = await until(
      'the standby to take rounds',
      async () => {
        const i = await primaryOf(nodes[0].api);
        return i?.volumes?.[0]?.standbys[0]?.seq !== undefined && i.volumes[0].standbys[0].seq > 2
          ? i
          : undefined;
      },
      90_000,
      500,
    );
    // The standby's lag under the steady 1 MB/s, sampled from the primary's status.
    const lags: number[] = [];
    const lagBytes: number[] = [];
    for (let s = 0; s < 20; s++) {
      const i = await primaryOf(nodes[0].api);
      const b = i?.volumes?.[0]?.standbys[0];
      if (b) {
        lags.push(b.behindMs);
        lagBytes.push(b.behindBytes);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const victim = nodes.find((n) => n.api.includes(`//${primary.endpoints[0].split(':')[0]}:`))!;
    const standby = primary.volumes![0].standbys[0].node;
    const doomed = await docker.listContainers({ filters: { label: [`${LABELS.node}=${primary.node}`] } });
    const t0 = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    // Not awaited before polling: the engine may take seconds to answer while it starts the new one.
    const killing = Promise.all(
      doomed.map((c) =>
        docker
          .getContainer(c.Id)
          .kill()
          .catch(() => {}),
      ),
    );
    const survivors = nodes.filter((n) => n !== victim).map((n) => `${new URL(n.api).hostname}:${port}`);
    await until(
      'a survivor to serve the counter',
      async () => {
        for (const e of survivors) if ((await read(e)) !== undefined) return true;
        return undefined;
      },
      60_000,
      50,
    );
    const failoverMs = performance.now() - t0;
    await killing;
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
        const m = c
          ? /start at (\d+)/.exec(String(await docker.getContainer(c.Id).logs({ stdout: true })))
          : null;
        return m ? Number(m[1]) : undefined;
      },
      20_000,
      200,
    );
    const rpo = 2 * devnet.apps.volumeSyncMs;
    return [
      {
        name: 'stateful failover: the primary killed until the standby serves (3-node devnet)',
        value: `${(failoverMs / 1000).toFixed(1)} s`,
        goal: '<= 10 s',
      },
      {
        name: 'stateful failover: writes lost (every 100 ms, with 1 MB/s of other writes)',
        value: `${(lastWritten - started) * 100} ms of writes`,
        goal: `<= the recovery point (${rpo} ms on a devnet)`,
      },
      {
        name: 'standby lag under a steady 1 MB/s (median / worst of 20 samples)',
        value: `${median(lags)} / ${Math.max(...lags)} ms, ${median(lagBytes)} / ${Math.max(...lagBytes)} bytes`,
        goal: `<= the recovery point (${rpo} ms)`,
      },
    ];
  } finally {
    await tearDownDevnet({ dir, devnetDir, env, nodes, docker, app: name });
  }
}

export async function run(): Promise<BenchRow[]> {
  return [replicationThroughput(), ...(await statefulFailover())];
}
