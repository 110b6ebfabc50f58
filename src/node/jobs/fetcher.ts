// The job-data fetcher of a mining node: when open jobs whose data this node lacks are on chain
// (checked at each new block and on a timer), it asks connected peers for their A and B one peer
// at a time, keeps data whose roots match (checked by the p2p layer with commitJob) in the jobs
// store, and so lets the miner take those jobs. Claimed jobs (out of the pool) and jobs over the
// byte limit are never fetched; a job no peer could serve is retried with exponential backoff.
import { toHex } from '../../core/crypto/hash.ts';
import { getJob, JobStatus, listOpenJobs } from '../../core/jobs/index.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import type { JobHeader } from '../../core/pouw/index.ts';
import type { ChainEvents } from '../chain/types.ts';
import type { JobDataFetch } from '../p2p/index.ts';
import type { JobDataStore } from './store.ts';

/** The open jobs looked at per scan: the miner also only picks among the oldest 64. */
const OPEN_SCAN = 64;

export interface JobDataNetwork {
  peers(): Array<{ id: string }>;
  fetchJobData(peerId: string, header: JobHeader): Promise<JobDataFetch>;
}

export interface JobFetcherOptions {
  /** The chain's state at the tip (the open-job pool). */
  state: StateReader;
  /** The chain's events: a new block triggers a scan. */
  events: {
    on(event: 'block', listener: ChainEvents['block']): void;
    off(event: 'block', listener: ChainEvents['block']): void;
  };
  store: JobDataStore;
  net: JobDataNetwork;
  /** Jobs with more bytes of A and B than this are skipped (default 64 MiB). */
  maxJobBytes?: number;
  /** Jobs fetched at once (default 1); memory is about 3x maxJobBytes per fetch. */
  concurrency?: number;
  /** Peers asked per attempt (default 8). */
  peersPerAttempt?: number;
  /** After an attempt where no peer served the job, wait this long, doubling up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Scans also run this often, so peers that connect later are asked (default 5 s). */
  scanIntervalMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

export interface JobFetcherStats {
  fetched: number;
  /** Attempts in which no peer served a job. */
  failedAttempts: number;
  /** Answers refused because their roots did not match the job. */
  badData: number;
  inFlight: number;
}

export interface JobFetcher {
  /** Looks at the open-job pool now and starts fetches for jobs whose data is missing. */
  scan(): void;
  stats(): JobFetcherStats;
  /** Stops scanning and waits for fetches under way. */
  close(): Promise<void>;
}

export function createJobFetcher(opts: JobFetcherOptions): JobFetcher {
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => {});
  const maxJobBytes = opts.maxJobBytes ?? 64 * 2 ** 20;
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const peersPerAttempt = Math.max(1, opts.peersPerAttempt ?? 8);
  const retryMs = opts.retryMs ?? 2_000;
  const maxRetryMs = opts.maxRetryMs ?? 60_000;
  const stats: JobFetcherStats = { fetched: 0, failedAttempts: 0, badData: 0, inFlight: 0 };
  const running = new Map<string, Promise<void>>();
  /** Per job: failed attempts so far and when the next may start. */
  const backoff = new Map<string, { attempts: number; next: number }>();
  const skipped = new Set<string>();
  /** Peers asked first next time: rotated so one slow peer is not always first. */
  let rotation = 0;
  let closed = false;

  const stillOpen = (id: string): boolean => getJob(opts.state, id)?.status === JobStatus.open;

  async function fetchOne(id: string, header: JobHeader, owner: string): Promise<void> {
    const peers = opts.net.peers().map((p) => p.id);
    const start = peers.length === 0 ? 0 : rotation++ % peers.length;
    const order = [...peers.slice(start), ...peers.slice(0, start)].slice(0, peersPerAttempt);
    for (const peer of order) {
      if (closed || !stillOpen(id) || opts.store.has(header)) {
        backoff.delete(id);
        return;
      }
      const got = await opts.net.fetchJobData(peer, header);
      if (got.ok) {
        if (closed) return;
        const kept = opts.store.putJob(got.data, { jobId: id, owner });
        if (!kept.ok) {
          log(`job ${id.slice(0, 16)}… data fetched from ${peer} but not kept: ${kept.error.message}`);
          break;
        }
        backoff.delete(id);
        stats.fetched++;
        log(`job ${id.slice(0, 16)}… data fetched from ${peer}`);
        return;
      }
      if (got.error.code === 'BAD_DATA') {
        stats.badData++;
        log(`job ${id.slice(0, 16)}… data from ${peer} refused: ${got.error.message}`);
      }
      if (got.error.code === 'TOO_LARGE') break;
    }
    stats.failedAttempts++;
    const attempts = (backoff.get(id)?.attempts ?? 0) + 1;
    backoff.set(id, { attempts, next: now() + Math.min(maxRetryMs, retryMs * 2 ** (attempts - 1)) });
  }

  function scan(): void {
    if (closed) return;
    const open = listOpenJobs(opts.state, OPEN_SCAN);
    const ids = new Set(open.map((j) => j.id));
    // Forget jobs that left the pool (claimed, or reorged away), so the maps stay bounded.
    for (const id of backoff.keys()) if (!ids.has(id)) backoff.delete(id);
    for (const id of skipped) if (!ids.has(id)) skipped.delete(id);
    const t = now();
    for (const { id, job } of open) {
      if (running.size >= concurrency) return;
      if (running.has(id) || (backoff.get(id)?.next ?? 0) > t) continue;
      const header: JobHeader = { rootA: job.rootA, rootB: job.rootB, m: job.m, n: job.n, k: job.k };
      const bytes = job.m * job.k + job.k * job.n;
      if (bytes > maxJobBytes) {
        if (!skipped.has(id))
          log(`job ${id.slice(0, 16)}… not fetched: ${bytes} bytes is over ${maxJobBytes}`);
        skipped.add(id);
        continue;
      }
      if (opts.store.has(header)) continue;
      stats.inFlight++;
      const task = fetchOne(id, header, toHex(job.owner))
        .catch((e) => log(`job ${id.slice(0, 16)}… fetch failed: ${(e as Error).message}`))
        .finally(() => {
          stats.inFlight--;
          running.delete(id);
          // A slot came free: the next missing job may start.
          if (!closed) setImmediate(scan);
        });
      running.set(id, task);
    }
  }

  const onBlock = (): void => scan();
  opts.events.on('block', onBlock);
  const timer = setInterval(scan, opts.scanIntervalMs ?? 5_000);
  timer.unref();
  setImmediate(scan);

  return {
    scan,
    stats: () => ({ ...stats }),
    async close() {
      closed = true;
      clearInterval(timer);
      opts.events.off('block', onBlock);
      await Promise.all(running.values());
    },
  };
}
