// The 8-node namespace network of the chaos suite (test/chaos: 50-200 ms per pair, 1 % loss):
// sustained transfers per second accepted and mined, against the rate at which one node imports
// a block of transfers on one core (the baseline, measured in the same run), and how long the
// network takes to agree on one tip after a partition into two halves heals. Root only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Block, Tx } from '../src/core/codec/types.ts';
import type { KeyPair } from '../src/core/crypto/keys.ts';
import { openChain } from '../src/node/chain/chain.ts';
import { buildBlock } from '../src/node/miner/miner.ts';
import { Cluster } from '../test/chaos/cluster.ts';
import { ChaosNet, chaosUnavailable, logExcerpt, removeStaleNamespaces } from '../test/chaos/net.ts';
import { labelKey } from '../test/support/keys.ts';
import { transfer } from '../test/support/tx.ts';
import { sleep } from '../test/support/wait.ts';
import { workloadForProfile } from './chain.bench.ts';
import { type BenchRow, formatRate } from './table.ts';

const NODES = 8;
const MINERS = [1, 2, 5];
const SENDERS = 2_000;
const SUBMITTERS = 32;
const LOAD_MS = 30_000;
const PARTITION_MS = 20_000;
const HEAL_ROUNDS = 2;

/** One node's import rate: a block of 10,000 transfers imported on one core, no worker threads. */
async function oneNodeImportRate(): Promise<number> {
  const { params, txs } = workloadForProfile();
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-chaos-'));
  try {
    const builder = openChain({ params, dbPath: join(dir, 'build.db') });
    const block: Block = await buildBlock(
      builder,
      txs,
      new Uint8Array(20).fill(7),
      params.genesis.time + params.blockTimeMs,
    );
    builder.close();
    const rates: number[] = [];
    for (let r = 0; r < 3; r++) {
      const chain = openChain({ params, dbPath: join(dir, `import-${r}.db`) });
      const t0 = performance.now();
      const result = await chain.importBlock(block, block.header.time);
      const s = (performance.now() - t0) / 1000;
      chain.close();
      if (!result.ok) throw new Error(`import failed: ${result.error.message}`);
      rates.push(block.txs.length / s);
    }
    return rates.sort((a, b) => a - b)[1];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * As many transfers as the nodes take for LOAD_MS, from SUBMITTERS closed loops (submitter k
 * sends to node k mod 8 from its own senders, so nonces stay in order), then until every
 * accepted one is on the common chain.
 */
async function sustained(c: Cluster, keys: KeyPair[]) {
  const to = new Uint8Array(20).fill(0x5a);
  const perSubmitter = Math.floor(keys.length / SUBMITTERS);
  const nonces = new Map<KeyPair, number>();
  const ids: string[] = [];
  const offsets = c.logOffsets();
  const start = Math.min(...(await c.tips(c.live())).map((t) => t.height ?? 0));
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async (_, k) => {
      const node = k % NODES;
      const mine = keys.slice(k * perSubmitter, (k + 1) * perSubmitter);
      let i = 0;
      while (Date.now() - t0 < LOAD_MS) {
        const key = mine[i++ % mine.length];
        const nonce = nonces.get(key) ?? 0;
        const tx: Tx = transfer(c.params, key, to, 1_000n, nonce, undefined, `bench ${k}/${nonce}`);
        const r = await c.submit(node, tx);
        if (r.ok) {
          ids.push(r.id);
          nonces.set(key, nonce + 1);
        } else await sleep(50);
      }
    }),
  );
  const acceptedMs = Date.now() - t0;
  await c.waitConverged(c.live(), 60_000);
  await c.waitMined(0, ids, start - 5, 300_000);
  const minedMs = Date.now() - t0;
  const reorgs = c.nodes
    .map((n) => logExcerpt(n.log, offsets[n.index], /reorg:/, 1_000).length)
    .reduce((a, b) => a + b, 0);
  return { count: ids.length, acceptedMs, minedMs, reorgs };
}

/** After the heal: one chain past both halves' tips within a block of each node (as chaos scenario 4), then one tip. */
async function convergeAfterHeal(net: ChaosNet, c: Cluster): Promise<{ agreed: number; oneTip: number }> {
  net.partition([
    ['n0', 'n1', 'n2', 'n3'],
    ['n4', 'n5', 'n6', 'n7'],
  ]);
  await sleep(PARTITION_MS);
  const past = Math.max(...(await c.tips(c.live())).map((t) => t.height ?? 0));
  net.heal();
  const healed = Date.now();
  const agreed = (await c.waitAgreed(c.live(), past, 120_000)).ms;
  await c.waitConverged(c.live(), 120_000);
  return { agreed, oneTip: Date.now() - healed };
}

export async function run(): Promise<BenchRow[]> {
  const unavailable = chaosUnavailable();
  if (unavailable)
    return [{ name: 'chaos network (8 nodes in namespaces)', value: `skipped: ${unavailable}` }];
  const baseline = await oneNodeImportRate();
  removeStaleNamespaces();
  const root = join(tmpdir(), `ofx-chaos-${process.pid}`);
  const net = await ChaosNet.create({
    dir: root,
    nodes: NODES,
    attackers: 0,
    apiPort: 16127,
    delayMs: [50, 200],
    loss: 0.01,
    seed: 7,
    mtu: 1500,
  });
  let cluster: Cluster | undefined;
  try {
    const keys = Array.from({ length: SENDERS }, (_, i) => labelKey(`bench/${i}`));
    cluster = await Cluster.create(net, {
      dir: join(root, 'net'),
      nodes: NODES,
      miners: MINERS,
      funded: keys,
    });
    // Every FluxNode is confirmed at genesis (as in the chaos suite): a few blocks in, start-up is over.
    await cluster.waitHeight(1, 6, 120_000);
    await cluster.waitConverged(cluster.live(), 60_000);
    const load = await sustained(cluster, keys);
    const heals: Array<{ agreed: number; oneTip: number }> = [];
    for (let r = 0; r < HEAL_ROUNDS; r++) heals.push(await convergeAfterHeal(net, cluster));
    const minedRate = load.count / (load.minedMs / 1000);
    return [
      {
        name: 'import block of 10,000 transfers, 1 core (baseline: one node)',
        value: formatRate(baseline, 'tx/s'),
      },
      {
        name: `transfers accepted, 8-node namespace network, ${SUBMITTERS} clients for ${LOAD_MS / 1000} s`,
        value: formatRate(load.count / (load.acceptedMs / 1000), 'tx/s'),
        ratio: `${load.count} accepted`,
      },
      {
        name: 'transfers accepted and mined (until the last is on the common chain)',
        value: formatRate(minedRate, 'tx/s'),
        ratio: `${(minedRate / baseline).toFixed(3)}x one node's import; ${load.reorgs} reorg lines in the logs`,
        goal: '1x (the import rate of one node), no fork',
      },
      {
        name: `one chain (within a block of each tip) after a ${PARTITION_MS / 1000} s partition into halves heals (${HEAL_ROUNDS} rounds)`,
        value: heals.map((h) => `${(h.agreed / 1000).toFixed(1)} s`).join(', '),
        goal: '<= 10 s',
      },
      {
        name: 'one tip on every node after that heal',
        value: heals.map((h) => `${(h.oneTip / 1000).toFixed(1)} s`).join(', '),
      },
    ];
  } catch (e) {
    return [
      {
        name: 'import block of 10,000 transfers, 1 core (baseline: one node)',
        value: formatRate(baseline, 'tx/s'),
      },
      {
        name: 'chaos network (8 nodes in namespaces)',
        value: `failed: ${(e as Error).message.slice(0, 300)}`,
      },
    ];
  } finally {
    await cluster?.stopAll().catch(() => undefined);
    net.closeSync();
    rmSync(root, { recursive: true, force: true });
  }
}
