// Jobs for Proof-of-Useful-Work: transaction kinds, lifecycle and state.
export { fraudProofOf, jobChallengeHandler, jobResultHandler, jobSubmitHandler } from './handlers.ts';
export {
  applyPouwBlock,
  deliverJob,
  getJob,
  listOpenJobs,
  processDueJobs,
  refuteJob,
  registerJob,
} from './lifecycle.ts';
export * from './types.ts';
