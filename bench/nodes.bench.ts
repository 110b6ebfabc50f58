// FluxNodes at scale: 10,000 confirmed nodes in a real SQLite state. Per block: the due-deadline
// scan plus one payout per tier (front of each queue to the back); and the full views the API
// serves: the three payout queues and the deterministic node list.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../src/core/crypto/hash.ts';
import { keyPairFromSecret } from '../src/core/crypto/keys.ts';
import { TIERS } from '../src/core/ledger/emission.ts';
import { StateOverlay } from '../src/core/ledger/state.ts';
import { payNodeOfTier, processDueNodes } from '../src/core/nodes/lifecycle.ts';
import { listNodes, payoutQueueIds } from '../src/core/nodes/queries.ts';
import { COIN, createParams, devnet } from '../src/core/params/index.ts';
import { genesisEffects } from '../src/core/transition/genesis.ts';
import { ChainStore } from '../src/node/store/store.ts';
import type { BenchRow } from './table.ts';

const NODES = 10_000;
const BLOCKS = 300;

export async function run(): Promise<BenchRow[]> {
  const operators = Array.from({ length: NODES }, (_, i) => {
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(0, i + 1);
    return keyPairFromSecret(seed).publicKey;
  });
  const owner = '11'.repeat(20);
  const params = createParams(devnet, {
    genesis: {
      time: 0,
      allocations: [{ address: owner, amount: 100_000_000n * COIN }],
      nodes: operators.map((op, i) => ({
        owner,
        operator: toHex(op),
        tier: TIERS[i % 3],
        endpoint: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:16127`,
      })),
    },
    // Nothing expires during the run: this measures the steady state of payouts.
    nodes: { ...devnet.nodes, confirmPeriod: 1_000_000 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-nodes-'));
  const store = new ChainStore(join(dir, 'chain.db'));
  try {
    const genesis = genesisEffects(params);
    store.transaction(() => store.state.write(genesis.changes));

    let hookMs = 0;
    let totalMs = 0;
    for (let h = 1; h <= BLOCKS; h++) {
      const t0 = performance.now();
      const state = new StateOverlay(store.state);
      store.readTransaction(() => {
        processDueNodes(state, h, params);
        for (const tier of TIERS) payNodeOfTier(state, tier, { height: h, amount: COIN });
      });
      const t1 = performance.now();
      store.transaction(() => store.state.write(state.changes()));
      const t2 = performance.now();
      hookMs += t1 - t0;
      totalMs += t2 - t0;
    }
    const q0 = performance.now();
    const queues = store.readTransaction(() => TIERS.map((t) => payoutQueueIds(store.state, t)));
    const q1 = performance.now();
    const list = store.readTransaction(() => listNodes(store.state));
    const q2 = performance.now();
    if (queues.reduce((s, q) => s + q.length, 0) !== NODES || list.length !== NODES)
      throw new Error('the bench state lost nodes');
    const perBlock = hookMs / BLOCKS;
    return [
      {
        name: `FluxNode block work, ${NODES.toLocaleString('en-US')} nodes (due scan + 3 payouts)`,
        value: `${perBlock.toFixed(3)} ms/block`,
        ratio: `${(totalMs / BLOCKS).toFixed(3)} ms with the SQLite write`,
        goal: '< 5 ms',
      },
      {
        name: `payout queues, all 3 tiers, ${NODES.toLocaleString('en-US')} nodes`,
        value: `${(q1 - q0).toFixed(1)} ms`,
      },
      {
        name: `deterministic node list, ${NODES.toLocaleString('en-US')} nodes (decoded)`,
        value: `${(q2 - q1).toFixed(1)} ms`,
      },
    ];
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
