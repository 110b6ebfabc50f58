// Proof-of-Useful-Work math core: see README.md for the construction.
export {
  columnOfB,
  commitJob,
  commitProduct,
  type JobData,
  openProductEntry,
  type ProductCommitment,
  rowOfA,
  zeroJob,
} from './commitment.ts';
export { denoise } from './denoise.ts';
export { dotProduct, verifyFraudProof } from './fraud.ts';
export { sha256Blocks64 } from './hash.ts';
export {
  createTypeScriptKernel,
  type PouwKernel,
  type SlicedProduct,
  type SlicedProductInput,
} from './kernel.ts';
export {
  type Int8Matrix,
  int8Matrix,
  transpose,
  validateDims,
  validateJobMatrices,
  validateParams,
} from './matrix.ts';
export { type MerkleTree, merklePath, merkleRoot, merkleTree, verifyMerklePath } from './merkle.ts';
export { type MinedJob, mineJob, openTile, winningTiles } from './mine.ts';
export { noiseFactors, noiseRow, noiseSeed, prgBytes } from './noise.ts';
export { ENTRY_MAX, ENTRY_MIN, MAX_RANK, POUW_PARAMS, TILE } from './params.ts';
export {
  expectedMacs,
  ticketMeetsTarget,
  ticketOf,
  tileShape,
  tileWork,
  transcriptFromFold,
} from './transcript.ts';
export type * from './types.ts';
export { pouwFail } from './types.ts';
export { verifyTile } from './verify.ts';
export { createWasmKernel, defaultKernel, wasmSimdSupported } from './wasm-kernel.ts';
