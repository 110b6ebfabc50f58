import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { devnet, mainnet } from '../../../src/core/params/index.ts';
import { progressBar, qualify, runBenchmark } from '../../../src/node/fluxnode/benchmark.ts';

describe('benchmark', () => {
  it('measures this machine with progress, and the report is plausible and qualifies on devnet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openflux-bench-'));
    try {
      const phases: string[] = [];
      const report = await runBenchmark({
        dir,
        cpuMs: 150,
        diskBytes: 2 ** 22,
        progress: (p) => phases.push(p),
      });
      assert.ok(report.cores >= 1 && report.ramMb > 0 && report.eventsPerSec > 0 && report.diskWriteMBps > 0);
      assert.deepEqual([...new Set(phases)], ['system', 'cpu', 'disk', 'done']);
      const q = qualify(report, devnet);
      assert.equal(q.implausible, undefined);
      assert.notEqual(q.tier, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which tier a report meets and why not the next', () => {
    const report = {
      cores: 4,
      ramMb: 40_000,
      ssdGb: 500,
      eventsPerSec: 300_000,
      diskWriteMBps: 200,
      measuredAt: 0,
    };
    const q = qualify(report, mainnet);
    assert.equal(q.tier, 'nimbus');
    assert.equal(q.missed.stratus, '4 cores, needs 8');
    assert.equal(qualify({ ...report, eventsPerSec: 10 }, mainnet).implausible !== undefined, true);
    assert.match(progressBar('cpu', 0.5, 10), /^\[#####\.\.\.\.\.\] {2}50% cpu$/);
  });
});
