// Benchmark reports: what a confirmation claims about the machine, checked for plausibility
// (no state needed) and against the tier's minimums.
import type { BenchReport } from '../codec/types.ts';
import type { Tier } from '../ledger/emission.ts';
import { fail, type Result } from '../ledger/errors.ts';
import type { ChainParams, TierParams } from '../params/index.ts';

/** Refuses reports no real machine produces: out-of-range values, or a CPU rate the cores cannot explain. */
export function checkReportPlausible(report: BenchReport, params: ChainParams): Result<object> {
  const b = params.nodes.report;
  if (report.cores < 1 || report.cores > b.maxCores)
    return fail('BAD_REPORT', `report.cores ${report.cores} is outside 1..${b.maxCores}`);
  if (report.ramMb < 1 || report.ramMb > b.maxRamGb * 1024)
    return fail('BAD_REPORT', `report.ramMb ${report.ramMb} is outside 1..${b.maxRamGb * 1024}`);
  if (report.ssdGb > b.maxSsdGb)
    return fail('BAD_REPORT', `report.ssdGb ${report.ssdGb} is above ${b.maxSsdGb}`);
  if (report.diskWriteMBps < 1 || report.diskWriteMBps > b.maxDiskWriteMBps)
    return fail(
      'BAD_REPORT',
      `report.diskWriteMBps ${report.diskWriteMBps} is outside 1..${b.maxDiskWriteMBps}`,
    );
  const ceiling = report.cores * b.maxEventsPerCore;
  if (report.eventsPerSec > ceiling)
    return fail(
      'BAD_REPORT',
      `report.eventsPerSec ${report.eventsPerSec} is more than ${report.cores} core(s) can do (at most ${b.maxEventsPerCore} per core)`,
    );
  // A claimed core must show up in the measured rate: fewer events than the cores' floor means
  // the report claims more cores than its own measurement supports.
  const supported = Math.floor(report.eventsPerSec / b.minEventsPerCore);
  if (report.cores > supported)
    return fail(
      'BAD_REPORT',
      `report.cores ${report.cores} is more than its eventsPerSec ${report.eventsPerSec} supports (${supported} at ${b.minEventsPerCore} per core)`,
    );
  return { ok: true };
}

/** The first minimum of the tier the report does not meet, as a sentence; undefined if it meets all. */
export function missedMinimum(report: BenchReport, tier: TierParams): string | undefined {
  const m = tier.minimums;
  if (report.cores < m.cores) return `${report.cores} cores, needs ${m.cores}`;
  if (report.ramMb < m.ramGb * 1000)
    return `${report.ramMb} MiB RAM, needs ${m.ramGb} GB (${m.ramGb * 1000} MiB)`;
  if (report.ssdGb < m.ssdGb) return `${report.ssdGb} GB free disk, needs ${m.ssdGb} GB`;
  if (report.eventsPerSec < m.eventsPerSec)
    return `${report.eventsPerSec} CPU events/s, needs ${m.eventsPerSec}`;
  if (report.diskWriteMBps < m.diskWriteMBps)
    return `${report.diskWriteMBps} MB/s disk write, needs ${m.diskWriteMBps}`;
  return undefined;
}

/** A plausible report that meets the tier's minimums. */
export function checkReportForTier(report: BenchReport, tier: Tier, params: ChainParams): Result<object> {
  const plausible = checkReportPlausible(report, params);
  if (!plausible.ok) return plausible;
  const missed = missedMinimum(report, params.nodes.tiers[tier]);
  if (missed) return fail('BAD_REPORT', `report is below the ${tier} minimums: ${missed}`);
  return { ok: true };
}
