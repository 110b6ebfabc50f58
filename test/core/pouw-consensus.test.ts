// PoUW in consensus: the work proof a block carries, checked against its header, and the
// attacks it must refuse; per-MAC targets and cumulative work across the switch.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blockHash, headerPrefixRoot } from '../../src/core/codec/ids.ts';
import { type Header, type HeaderPrefix, PouwProof } from '../../src/core/codec/types.ts';
import { nextTarget } from '../../src/core/consensus/asert.ts';
import {
  blockWork,
  chainZeroJob,
  checkBlockWork,
  checkPouwWork,
  encodePouwProof,
  expectedTarget,
  tileNonce,
  ZERO_JOB_ID,
} from '../../src/core/consensus/pouw.ts';
import { workOf } from '../../src/core/consensus/pow.ts';
import { type HeaderContext, validateHeaderAgainstParent } from '../../src/core/consensus/validate.ts';
import { bigintToBytes32 } from '../../src/core/crypto/hash.ts';
import { applyPouwBlock, JobStatus, jobs, registerJob } from '../../src/core/jobs/index.ts';
import { StateOverlay } from '../../src/core/ledger/state.ts';
import { type ChainParams, createParams, devnet } from '../../src/core/params/index.ts';
import {
  commitJob,
  int8Matrix,
  type JobData,
  mineJob,
  openTile,
  winningTiles,
  zeroJob,
} from '../../src/core/pouw/index.ts';
import { genesisBlock } from '../../src/core/transition/genesis.ts';

const ACTIVATION = 2;
const params: ChainParams = createParams(devnet, {
  activations: { pouw: ACTIVATION },
  // about one winning tile in four: every pass wins, so the tests stay fast
  pouw: { ...devnet.pouw, initialTargetPerMac: 1n << 236n, zeroJob: { m: 32, n: 32, k: 256 } },
});
const anchor = { height: 0, time: params.genesis.time, target: params.pow.initialTarget };
const genesis = genesisBlock(params).header;

/** A PoW parent at ACTIVATION - 1 (its work is not checked here). */
const parent: Header = {
  ...genesis,
  height: ACTIVATION - 1,
  time: genesis.time + (ACTIVATION - 1) * params.blockTimeMs,
};

/** Mines `job` on a header extending `parent`: passes at time, time + 1, ... until a tile wins. */
function minePouw(job: JobData, jobId = ZERO_JOB_ID, over: Partial<HeaderPrefix> = {}) {
  const target = expectedTarget(anchor, parent, params);
  for (let t = 0; ; t++) {
    const prefix: HeaderPrefix = {
      ...parent,
      height: parent.height + 1,
      parent: blockHash(parent),
      time: parent.time + params.blockTimeMs + t,
      target: bigintToBytes32(target),
      ...over,
    };
    const mined = mineJob(job, headerPrefixRoot(prefix), params.pouw);
    const wins = winningTiles(job, mined, target);
    if (wins.length === 0) continue;
    const tile = openTile(job, mined, wins[0]);
    const header: Header = { ...prefix, nonce: tileNonce(tile.tile) };
    return { header, tile, proof: encodePouwProof(jobId, job.header, tile) };
  }
}

function reencode(
  proof: Uint8Array,
  change: (p: ReturnType<typeof PouwProof.deserialize>) => void,
): Uint8Array {
  const p = PouwProof.deserialize(proof);
  change(p);
  return PouwProof.serialize(p);
}

function errorOf(r: { ok: boolean; error?: { message: string } }): string {
  assert.equal(r.ok, false, 'expected a refusal');
  return r.error!.message;
}

function randomJob(m: number, n: number, k: number, seed: number): JobData {
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return ((x >>> 16) % 128) - 64;
  };
  const job = commitJob(
    int8Matrix(m, k, Int8Array.from({ length: m * k }, rnd)),
    int8Matrix(k, n, Int8Array.from({ length: k * n }, rnd)),
    params.pouw,
  );
  assert.ok(job.ok);
  return job.value;
}

describe('PoUW work proofs', () => {
  const zero = chainZeroJob(params);
  const honest = minePouw(zero);
  const ctx = (over: Partial<HeaderContext> = {}): HeaderContext => ({
    params,
    parent,
    anchor,
    medianTimePast: parent.time,
    proof: honest.proof,
    ...over,
  });

  it('accepts an honestly mined zero-job tile through validateHeaderAgainstParent', () => {
    assert.deepEqual(validateHeaderAgainstParent(honest.header, ctx()), { ok: true });
  });

  it('refuses a PoUW header without its proof, and a PoW-style empty proof', () => {
    assert.match(
      errorOf(validateHeaderAgainstParent(honest.header, ctx({ proof: undefined }))),
      /needs its PoUW proof/,
    );
    assert.match(
      errorOf(validateHeaderAgainstParent(honest.header, ctx({ proof: new Uint8Array() }))),
      /does not decode/,
    );
  });

  it('refuses a PoUW proof on a block before the activation height', () => {
    const pow = { ...genesis, height: 1 };
    assert.match(errorOf(checkBlockWork(pow, honest.proof, params)), /carries no PoUW proof/);
  });

  it('refuses a ticket on a tile outside the job', () => {
    const outside = { row: 2, col: 0 }; // the 32x32 zero job has tile rows 0 and 1
    const proof = reencode(honest.proof, (p) => {
      p.tileRow = outside.row;
      p.tileCol = outside.col;
    });
    const header = { ...honest.header, nonce: tileNonce(outside) };
    assert.match(errorOf(checkPouwWork(header, proof, params)), /tile-outside-job/);
  });

  it('refuses a tile opened with a wrong path', () => {
    const proof = reencode(honest.proof, (p) => {
      p.pathsA[3][0] = p.pathsA[3][0].slice();
      p.pathsA[3][0][7] ^= 1;
    });
    assert.match(errorOf(checkPouwWork(honest.header, proof, params)), /bad-path/);
  });

  it('refuses noise seeds not bound to the header: the same tile under another header', () => {
    for (const change of [
      { time: honest.header.time + 1 },
      { stateRoot: new Uint8Array(32).fill(9) },
      { txRoot: new Uint8Array(32).fill(9) },
      { miner: new Uint8Array(20).fill(9) },
    ]) {
      const moved = { ...honest.header, ...change };
      assert.match(errorOf(checkPouwWork(moved, honest.proof, params)), /transcript-mismatch/);
    }
  });

  it('refuses a proof mined on a stale prevHash', () => {
    const stale = { ...honest.header, parent: new Uint8Array(32).fill(3) };
    assert.match(errorOf(checkPouwWork(stale, honest.proof, params)), /transcript-mismatch/);
    assert.match(errorOf(validateHeaderAgainstParent(stale, ctx())), /parent hash/);
  });

  it('refuses a zero job whose dimensions differ from the chain zero job', () => {
    const other = zeroJob(32, 48, 256, params.pouw);
    assert.ok(other.ok);
    const mined = minePouw(other.value);
    assert.match(errorOf(checkPouwWork(mined.header, mined.proof, params)), /zero job must be 32x256/);
  });

  it('refuses a job below k minimum', () => {
    const small = zeroJob(32, 32, 128, { ...params.pouw, kMin: 64 });
    assert.ok(small.ok);
    const lax = createParams(params, { pouw: { ...params.pouw, kMin: 64 } });
    const target = expectedTarget(anchor, parent, lax);
    const prefix = { ...honest.header, target: bigintToBytes32(target) };
    const mined = mineJob(small.value, headerPrefixRoot(prefix), lax.pouw);
    const tile = openTile(small.value, mined, { row: 0, col: 0 });
    const proof = encodePouwProof(new Uint8Array(32).fill(1), small.value.header, tile);
    assert.match(errorOf(checkPouwWork({ ...prefix, nonce: 0 }, proof, params)), /k-below-min/);
  });

  it('refuses a nonce that does not name the proof tile, and any flipped transcript bit', () => {
    assert.match(
      errorOf(checkPouwWork({ ...honest.header, nonce: honest.header.nonce + 1 }, honest.proof, params)),
      /nonce/,
    );
    const flipped = reencode(honest.proof, (p) => {
      p.transcript = p.transcript.slice();
      p.transcript[5] ^= 0x10;
    });
    assert.match(errorOf(checkPouwWork(honest.header, flipped, params)), /transcript-mismatch/);
  });

  it('refuses a non-canonical encoding of the proof', () => {
    const longer = new Uint8Array(honest.proof.length + 1);
    longer.set(honest.proof);
    assert.equal(checkPouwWork(honest.header, longer, params).ok, false);
  });
});

describe('jobs named by PoUW blocks', () => {
  const job = randomJob(32, 32, 256, 5);
  const id = 'ab'.repeat(32);
  const fresh = () => {
    const state = new StateOverlay({ get: () => undefined });
    registerJob(state, id, { ...job.header, owner: new Uint8Array(20).fill(1), fee: 1000n }, 1);
    return state;
  };
  const header = { height: ACTIVATION, miner: new Uint8Array(20).fill(7) };

  it('claims an open job whose roots and dimensions match', () => {
    const state = fresh();
    const r = applyPouwBlock(state, header, { job: Buffer.from(id, 'hex'), jobHeader: job.header }, params);
    assert.deepEqual(r, { ok: true });
    const rec = state.read(jobs, id)!;
    assert.equal(rec.status, JobStatus.claimed);
    assert.equal(rec.dueHeight, ACTIVATION + params.pouw.deliveryWindow);
    const again = applyPouwBlock(
      state,
      header,
      { job: Buffer.from(id, 'hex'), jobHeader: job.header },
      params,
    );
    assert.match(errorOf(again), /not open/);
  });

  it('refuses dimensions or roots that differ from the job', () => {
    const other = randomJob(32, 48, 256, 6);
    const r = applyPouwBlock(
      fresh(),
      header,
      { job: Buffer.from(id, 'hex'), jobHeader: other.header },
      params,
    );
    assert.match(errorOf(r), /differs from job/);
    const swapped = { ...job.header, rootA: job.header.rootB };
    assert.match(
      errorOf(applyPouwBlock(fresh(), header, { job: Buffer.from(id, 'hex'), jobHeader: swapped }, params)),
      /differs/,
    );
  });

  it('refuses a job that does not exist', () => {
    const r = applyPouwBlock(
      fresh(),
      header,
      { job: new Uint8Array(32).fill(5), jobHeader: job.header },
      params,
    );
    assert.match(errorOf(r), /does not exist/);
  });
});

describe('per-MAC targets and work across the switch', () => {
  it('switches the expected target at the activation height, on the same schedule', () => {
    const before = { height: ACTIVATION - 2, time: genesis.time + (ACTIVATION - 2) * params.blockTimeMs };
    assert.equal(expectedTarget(anchor, before, params), nextTarget(anchor, before, params));
    assert.equal(expectedTarget(anchor, parent, params), params.pouw.initialTargetPerMac);
    const late = { ...parent, time: parent.time + params.pow.asertHalfLifeMs };
    assert.equal(expectedTarget(anchor, late, params), params.pouw.initialTargetPerMac * 2n);
  });

  it('weighs a PoUW block at the initial per-MAC target like a PoW block at the initial target', () => {
    const pow = blockWork(
      { height: ACTIVATION - 1, target: bigintToBytes32(params.pow.initialTarget) },
      params,
    );
    const pouw = blockWork(
      { height: ACTIVATION, target: bigintToBytes32(params.pouw.initialTargetPerMac) },
      params,
    );
    assert.equal(pow, workOf(params.pow.initialTarget));
    assert.equal(pouw, pow);
    const harder = blockWork(
      { height: ACTIVATION, target: bigintToBytes32(params.pouw.initialTargetPerMac / 2n) },
      params,
    );
    assert.equal(harder, pow * 2n);
  });
});
