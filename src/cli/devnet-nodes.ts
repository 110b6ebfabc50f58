// `flux devnet up` registers every devnet node as a FluxNode: it makes each node's operator key
// before writing the genesis (which confirms them at height 0), and measures this machine once
// so every node starts with the same benchmark report instead of each measuring on its own.
// Node i declares region DEVNET_REGIONS[i mod 4], so apps with a geolocation can be placed on a
// devnet (with 3 nodes: two in EU, one in EU-DE, one in NA).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type ChainParams, createParams } from '../core/params/index.ts';
import { runBenchmark } from '../node/fluxnode/benchmark.ts';
import { withDevnetFluxNodes } from '../node/fluxnode/devnet.ts';
import { loadOrCreateOperatorKey, operatorKeyFile, saveReport } from '../node/fluxnode/operator.ts';
import { devnetParams } from '../node/genesis.ts';
import type { CommandContext } from './context.ts';

export async function devnetGenesisWithNodes(
  ctx: CommandContext,
  dir: string,
  count: number,
  /** Node i's API as `host:port`: its FluxNode endpoint. */
  endpoint: (i: number) => string,
): Promise<ChainParams> {
  const datadirs = Array.from({ length: count }, (_, i) => join(dir, `node-${i}`));
  for (const d of datadirs) await mkdir(d, { recursive: true });
  const report = await runBenchmark({ dir, cpuMs: 300, diskBytes: 16 * 2 ** 20 });
  for (const d of datadirs) await saveReport(d, report);
  ctx.note(
    `benchmark: ${report.cores} cores, ${report.eventsPerSec} events/s, ${report.diskWriteMBps} MB/s write (saved in each node's datadir)`,
  );
  const nodes = datadirs.map((d, i) => ({
    operator: loadOrCreateOperatorKey(operatorKeyFile(d)).publicKey,
    endpoint: endpoint(i),
  }));
  return withDevnetRegions(withDevnetFluxNodes(devnetParams(Date.now()), nodes));
}

/** The regions devnet genesis nodes declare, by node index mod 4. */
export const DEVNET_REGIONS = ['EU-DE', 'NA-US', 'EU-FR', 'AS-JP'] as const;

/** Gives genesis node i the region DEVNET_REGIONS[i mod 4] (deterministic). */
export function withDevnetRegions(params: ChainParams): ChainParams {
  const nodes = params.genesis.nodes ?? [];
  return createParams(params, {
    genesis: {
      ...params.genesis,
      nodes: nodes.map((n, i) => ({ ...n, region: DEVNET_REGIONS[i % DEVNET_REGIONS.length] })),
    },
  });
}
