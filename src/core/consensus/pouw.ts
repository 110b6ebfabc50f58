// Proof-of-Useful-Work in consensus: the block's work proof (a winning tile of a job, in
// Block.proof), its check against the header, per-MAC targets and the work a block adds.
import { headerPrefixRoot } from '../codec/ids.ts';
import { type Header, PouwProof } from '../codec/types.ts';
import { bytesEqual, bytesToBigint, sha256Concat } from '../crypto/hash.ts';
import { fail, type Result } from '../ledger/errors.ts';
import { type ChainParams, isActive } from '../params/index.ts';
import { type JobData, type JobHeader, type TileProof, verifyTile, zeroJob } from '../pouw/index.ts';
import { type AsertAnchor, nextTarget } from './asert.ts';
import { checkProofOfWork, headerTarget, workOf } from './pow.ts';

export const ZERO_JOB_ID = new Uint8Array(32);

/** Under PoUW the header nonce names the winning tile: row * TILE_NONCE_BASE + col. */
export const TILE_NONCE_BASE = 65_536;

/** A decoded work proof: which job (zero id for a zero job), its header and the tile. */
export interface DecodedPouwProof {
  job: Uint8Array;
  jobHeader: JobHeader;
  tile: TileProof;
}

const int8 = (b: Uint8Array) => new Int8Array(b.buffer, b.byteOffset, b.byteLength);
const uint8 = (b: Int8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export function encodePouwProof(job: Uint8Array, jobHeader: JobHeader, tile: TileProof): Uint8Array {
  return PouwProof.serialize({
    job,
    rootA: jobHeader.rootA,
    rootB: jobHeader.rootB,
    m: jobHeader.m,
    n: jobHeader.n,
    k: jobHeader.k,
    tileRow: tile.tile.row,
    tileCol: tile.tile.col,
    rowsA: tile.rowsA.map(uint8),
    pathsA: tile.pathsA,
    colsB: tile.colsB.map(uint8),
    pathsB: tile.pathsB,
    transcript: tile.transcript,
    ticket: tile.ticket,
  });
}

/** Decodes a proof; refuses bytes that are not the canonical encoding of what they decode to. */
export function decodePouwProof(bytes: Uint8Array): Result<{ proof: DecodedPouwProof }> {
  let p: PouwProof;
  try {
    p = PouwProof.deserialize(bytes);
  } catch (e) {
    return fail('BAD_BLOCK', `PoUW proof does not decode: ${(e as Error).message}`);
  }
  if (!bytesEqual(PouwProof.serialize(p), bytes)) return fail('BAD_BLOCK', 'PoUW proof is not canonical');
  return {
    ok: true,
    proof: {
      job: p.job,
      jobHeader: { rootA: p.rootA, rootB: p.rootB, m: p.m, n: p.n, k: p.k },
      tile: {
        tile: { row: p.tileRow, col: p.tileCol },
        rowsA: p.rowsA.map(int8),
        pathsA: p.pathsA,
        colsB: p.colsB.map(int8),
        pathsB: p.pathsB,
        transcript: p.transcript,
        ticket: p.ticket,
      },
    },
  };
}

/** The value the header nonce must hold for a tile. */
export function tileNonce(tile: { row: number; col: number }): number {
  return tile.row * TILE_NONCE_BASE + tile.col;
}

/** sha256 of a job's roots and dimensions: what a PoUW block records of the job it names. */
export function jobHeaderHash(job: JobHeader): Uint8Array {
  const dims = new Uint8Array(12);
  const view = new DataView(dims.buffer);
  view.setUint32(0, job.m, true);
  view.setUint32(4, job.n, true);
  view.setUint32(8, job.k, true);
  return sha256Concat(job.rootA, job.rootB, dims);
}

const zeroJobs = new Map<string, JobData>();

/** The zero job of the chain's zero-job dimensions (cached: a pure function of the params). */
export function chainZeroJob(params: ChainParams): JobData {
  const { m, n, k } = params.pouw.zeroJob;
  const key = `${m}x${n}x${k}/${params.pouw.rank}/${params.pouw.kMin}/${params.pouw.kMax}`;
  let job = zeroJobs.get(key);
  if (!job) {
    const made = zeroJob(m, n, k, params.pouw);
    if (!made.ok) throw new Error(`params.pouw.zeroJob is not a valid job: ${made.error.message}`);
    job = made.value;
    zeroJobs.set(key, job);
  }
  return job;
}

export function isZeroJobId(job: Uint8Array): boolean {
  return bytesEqual(job, ZERO_JOB_ID);
}

/**
 * Checks a PoUW block's work: the proof decodes canonically, the nonce names its tile, a zero
 * job has the chain's zero-job roots and dimensions, and the tile verifies against the header
 * prefix (so the noise seed is bound to this header: parent, time, state and tx roots, miner)
 * under the header's per-MAC target. Whether a named job exists and is open is a state rule
 * (core/jobs); its roots and dimensions here are bound into the seed and, through the state
 * root, into the block hash.
 */
export function checkPouwWork(
  header: Header,
  proofBytes: Uint8Array,
  params: ChainParams,
): Result<{ proof: DecodedPouwProof }> {
  const decoded = decodePouwProof(proofBytes);
  if (!decoded.ok) return decoded;
  const { proof } = decoded;
  if (header.nonce !== tileNonce(proof.tile.tile)) {
    return fail('BAD_BLOCK', `header nonce ${header.nonce} does not name the proof's tile`);
  }
  if (isZeroJobId(proof.job)) {
    const zero = chainZeroJob(params).header;
    const h = proof.jobHeader;
    if (
      h.m !== zero.m ||
      h.n !== zero.n ||
      h.k !== zero.k ||
      !bytesEqual(h.rootA, zero.rootA) ||
      !bytesEqual(h.rootB, zero.rootB)
    ) {
      return fail(
        'BAD_BLOCK',
        `a zero job must be ${zero.m}x${zero.k} by ${zero.k}x${zero.n} of zeros (got m=${h.m} n=${h.n} k=${h.k})`,
      );
    }
  }
  const verified = verifyTile(
    proof.jobHeader,
    headerPrefixRoot(header),
    proof.tile,
    headerTarget(header),
    params.pouw,
  );
  if (!verified.ok)
    return fail('BAD_BLOCK', `PoUW tile refused: ${verified.error.code}: ${verified.error.message}`);
  return { ok: true, proof };
}

/**
 * The work proof of a block at its height: PoW (header nonce) before `activations.pouw`, a
 * PoUW tile after. Cheap enough for gossip checks under PoW; under PoUW it replays one tile.
 */
export function checkBlockWork(header: Header, proof: Uint8Array, params: ChainParams): Result<object> {
  if (!isActive(params, 'pouw', header.height)) {
    if (proof.length !== 0) return fail('BAD_BLOCK', 'a proof-of-work block carries no PoUW proof');
    return checkProofOfWork(header)
      ? { ok: true }
      : fail('BAD_BLOCK', 'proof of work does not meet the target');
  }
  const checked = checkPouwWork(header, proof, params);
  return checked.ok ? { ok: true } : checked;
}

/** A header-only work check (sync before bodies): PoW headers are checked, PoUW ones need the body. */
export function headerWorkPlausible(header: Header, params: ChainParams): boolean {
  return isActive(params, 'pouw', header.height) || checkProofOfWork(header);
}

/**
 * The target the block after `parent` must carry: ASERT over the same schedule (anchored at
 * genesis) in both eras, with the PoW anchor target before the switch and the per-MAC one after,
 * so a chain on schedule keeps its relative difficulty across the switch.
 */
export function expectedTarget(
  anchor: AsertAnchor,
  parent: { height: number; time: number },
  params: ChainParams,
): bigint {
  if (!isActive(params, 'pouw', parent.height + 1)) return nextTarget(anchor, parent, params);
  const pouwParams: ChainParams = {
    ...params,
    pow: { ...params.pow, powLimit: params.pouw.targetPerMacLimit },
  };
  return nextTarget({ ...anchor, target: params.pouw.initialTargetPerMac }, parent, pouwParams);
}

/**
 * The work a block adds to its chain, in PoW units: 2^256 / (target + 1) before the switch; after
 * it, the expected MACs 2^256 / targetPerMac scaled so that a PoUW block at the initial per-MAC
 * target weighs what a PoW block at the initial target weighs. ASERT moves both targets by the
 * same factor, so cumulative work stays comparable across the switch.
 */
export function blockWork(header: Pick<Header, 'height' | 'target'>, params: ChainParams): bigint {
  const target = headerTarget(header);
  if (!isActive(params, 'pouw', header.height)) return workOf(target);
  const work =
    (workOf(params.pow.initialTarget) * params.pouw.initialTargetPerMac) / (target > 0n ? target : 1n);
  return work > 0n ? work : 1n;
}

/** The 256-bit per-MAC target of a PoUW header. */
export function targetPerMac(header: Pick<Header, 'target'>): bigint {
  return bytesToBigint(header.target);
}
