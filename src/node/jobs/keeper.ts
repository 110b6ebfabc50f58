// Keeps the job store in step with the chain: a block's job submissions name the data they use
// (so uploads count against the job owner's quota), and at every block the store deletes the
// matrices of jobs that ended (paid, refuted, lapsed) `keepBlocks` ago, uploads no job named
// within `pendingBlocks`, and products of jobs that ended `keepBlocks` ago (until then a miner
// still serves its product to the owner).
import { JobSubmitPayload, TxKind } from '../../core/codec/types.ts';
import { toHex } from '../../core/crypto/hash.ts';
import { addressBytes } from '../../core/crypto/keys.ts';
import { getJob, JobStatus, jobIdOf, listOpenJobs } from '../../core/jobs/index.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import type { Chain, ChainEvents } from '../chain/types.ts';
import type { JobDataStore, JobPhase, RetentionPolicy } from './store.ts';

/** Ended jobs' data and unnamed uploads are kept about this long by default. */
const KEEP_MS = 10 * 60_000;
/** Open jobs looked at, once at start, for the jobs of data the index names no job for. */
const START_SCAN = 10_000;

export interface JobDataKeeperOptions {
  chain: Pick<Chain, 'on' | 'off' | 'tip' | 'params'>;
  /** Committed state at the tip. */
  state: StateReader;
  store: JobDataStore;
  /** Blocks an ended job's data and product stay (default: about 10 minutes of blocks). */
  keepBlocks?: number;
  /** Blocks an upload stays while no job names it (default: about 10 minutes of blocks). */
  pendingBlocks?: number;
  log?: (line: string) => void;
}

export interface JobDataKeeper {
  readonly policy: RetentionPolicy;
  /** Applies the policy at the tip now (it also runs at every block). */
  settle(): void;
  close(): void;
}

export function defaultRetention(blockTimeMs: number): RetentionPolicy {
  const blocks = Math.max(1, Math.ceil(KEEP_MS / blockTimeMs));
  return { keepBlocks: blocks, pendingBlocks: blocks };
}

export function startJobDataKeeper(opts: JobDataKeeperOptions): JobDataKeeper {
  const { chain, state, store } = opts;
  const log = opts.log ?? (() => {});
  const defaults = defaultRetention(chain.params.blockTimeMs);
  const policy: RetentionPolicy = {
    keepBlocks: opts.keepBlocks ?? defaults.keepBlocks,
    pendingBlocks: opts.pendingBlocks ?? defaults.pendingBlocks,
  };

  const phaseOf = (id: string): JobPhase => {
    const job = getJob(state, id);
    if (!job) return 'missing';
    return job.status === JobStatus.open ||
      job.status === JobStatus.claimed ||
      job.status === JobStatus.delivered
      ? 'live'
      : 'ended';
  };

  const settle = (): void => {
    const deleted = store.settle(chain.tip().height, phaseOf, policy);
    if (deleted.length) log(`jobs: deleted the data of ${deleted.length} ended or unclaimed job(s)`);
  };

  const onBlock: ChainEvents['block'] = (block) => {
    for (const tx of block.txs) {
      if (tx.body.kind !== TxKind.jobSubmit) continue;
      let submitted: ReturnType<typeof JobSubmitPayload.deserialize>;
      try {
        submitted = JobSubmitPayload.deserialize(tx.body.payload);
      } catch {
        continue; // a mined submission always decodes
      }
      const owner = addressBytes(tx.body.sender);
      store.attach(submitted, jobIdOf(owner, tx.body.nonce), toHex(owner));
    }
    settle();
  };

  // Data stored before a restart whose job was submitted meanwhile (or before the index existed).
  if (store.hasUnnamed())
    for (const { id, job } of listOpenJobs(state, START_SCAN)) store.attach(job, id, toHex(job.owner));
  settle();
  chain.on('block', onBlock);

  return {
    policy,
    settle,
    close: () => chain.off('block', onBlock),
  };
}
