// `flux devnet up` registers every devnet node as a FluxNode: it makes each node's operator key
// before writing the genesis (which confirms them at height 0), and measures this machine once
// so every node starts with the same benchmark report instead of each measuring on its own.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChainParams } from '../core/params/index.ts';
import { runBenchmark } from '../node/fluxnode/benchmark.ts';
import { withDevnetFluxNodes } from '../node/fluxnode/devnet.ts';
import { loadOrCreateOperatorKey, operatorKeyFile, saveReport } from '../node/fluxnode/operator.ts';
import { devnetParams } from '../node/node.ts';
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
  return withDevnetFluxNodes(devnetParams(Date.now()), nodes);
}
