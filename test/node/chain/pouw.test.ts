// The switch from PoW to PoUW on a real chain: blocks on both sides, jobs claimed by mined
// blocks, results, payment after the challenge window, fraud proofs, fork choice across it.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { blockHash } from '../../../src/core/codec/ids.ts';
import {
  JobChallengePayload,
  JobResultPayload,
  JobSubmitPayload,
  type Tx,
  TxKind,
} from '../../../src/core/codec/types.ts';
import { blockWork, decodePouwProof, ZERO_JOB_ID } from '../../../src/core/consensus/pouw.ts';
import { fromHex, toHex } from '../../../src/core/crypto/hash.ts';
import type { KeyPair } from '../../../src/core/crypto/keys.ts';
import { getJob, JobStatus, jobIdOf } from '../../../src/core/jobs/index.ts';
import { StateOverlay } from '../../../src/core/ledger/state.ts';
import { minimumFee, signTx, txSize } from '../../../src/core/ledger/tx.ts';
import { type ChainParams, COIN, createParams, devnet } from '../../../src/core/params/index.ts';
import {
  columnOfB,
  commitJob,
  commitProduct,
  dotProduct,
  int8Matrix,
  type JobData,
  openProductEntry,
  rowOfA,
} from '../../../src/core/pouw/index.ts';
import { applyTx } from '../../../src/core/transition/tx.ts';
import type { LocalChain } from '../../../src/node/chain/chain.ts';
import { buildBlock, buildTemplate, sealPouw } from '../../../src/node/miner/template.ts';
import { tempChains } from '../../support/chain.ts';
import { addressOf, testKeys } from '../../support/keys.ts';
import { testParams } from '../../support/params.ts';

const ACTIVATION = 4;
const keys = testKeys(3, 71);
const [owner, minerKey, other] = keys;
const MINER = addressOf(minerKey);

function pouwParams(): ChainParams {
  const base = testParams(keys, { blocksBack: 100 });
  return createParams(base, {
    activations: { pouw: ACTIVATION },
    pouw: { ...devnet.pouw, initialTargetPerMac: 1n << 236n },
  });
}

const params = pouwParams();
const chains = tempChains(params);
after(() => chains.cleanup());

function signed(key: KeyPair, nonce: number, kind: number, payload: Uint8Array): Tx {
  const unsigned = { nonce, fee: 0n, kind, payload };
  const size = txSize(signTx(unsigned, key, params));
  return signTx({ ...unsigned, fee: minimumFee(size, params) * 2n }, key, params);
}

async function mine(chain: LocalChain, txs: Tx[] = [], job?: { id: string; data: JobData }, miner = MINER) {
  const tip = chain.tip();
  const time = tip.header.time + params.blockTimeMs;
  const template = buildTemplate(
    chain,
    txs,
    miner,
    time,
    job ? { pouw: { job: fromHex(job.id), data: job.data } } : {},
  );
  const block = template.pouw ? sealPouw(template, params).block : buildBlock(chain, txs, miner, time);
  const r = await chain.importBlock(block, time + 1000);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return block;
}

function randomJob(m: number, n: number, k: number, seed: number): JobData {
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return ((x >>> 16) % 128) - 64;
  };
  const a = int8Matrix(m, k, Int8Array.from({ length: m * k }, rnd));
  const b = int8Matrix(k, n, Int8Array.from({ length: k * n }, rnd));
  const job = commitJob(a, b, params.pouw);
  assert.ok(job.ok);
  return job.value;
}

describe('PoUW on a chain', () => {
  const chain = chains.open('a');

  it('mines PoW blocks before the activation height and PoUW blocks from it on', async () => {
    for (let h = 1; h < ACTIVATION; h++) {
      const b = await mine(chain);
      assert.equal(b.proof.length, 0);
    }
    const b = await mine(chain);
    assert.equal(b.header.height, ACTIVATION);
    const proof = decodePouwProof(b.proof);
    assert.ok(proof.ok);
    assert.deepEqual(proof.proof.job, ZERO_JOB_ID);
    assert.equal(chain.tip().height, ACTIVATION);
  });

  const submit = (data: JobData, nonce: number, fee = COIN) =>
    signed(owner, nonce, TxKind.jobSubmit, JobSubmitPayload.serialize({ ...data.header, fee }));
  const result = (id: string, root: Uint8Array, nonce: number) =>
    signed(
      minerKey,
      nonce,
      TxKind.jobResult,
      JobResultPayload.serialize({ job: fromHex(id), productRoot: root }),
    );
  const apply = (tx: Tx) => {
    const state = new StateOverlay(chain.state);
    return applyTx(state, tx, { params, height: chain.tip().height + 1, signatureChecked: true });
  };
  function challenge(
    id: string,
    data: JobData,
    product: Int32Array,
    row: number,
    col: number,
    nonce: number,
  ) {
    const { m, n } = data.header;
    const c = commitProduct(product, m, n);
    const opened = openProductEntry(c, row, col);
    const a = rowOfA(data, row);
    const b = columnOfB(data, col);
    const u8 = (x: Int8Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    return signed(
      owner,
      nonce,
      TxKind.jobChallenge,
      JobChallengePayload.serialize({
        job: fromHex(id),
        row,
        col,
        rowA: u8(a.row),
        pathA: a.path,
        colB: u8(b.column),
        pathB: b.path,
        chunkC: new Uint8Array(opened.chunkC.buffer),
        chunkPath: opened.chunkPath,
        rowPath: opened.rowPath,
      }),
    );
  }
  function product(data: JobData): Int32Array {
    const { m, n, k } = data.header;
    const out = new Int32Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++)
        out[i * n + j] = dotProduct(
          data.a.subarray(i * k, (i + 1) * k),
          data.bColumns.subarray(j * k, (j + 1) * k),
        );
    return out;
  }

  const job1 = randomJob(32, 32, 256, 1);
  const job2 = randomJob(48, 32, 256, 2);
  const id1 = jobIdOf(addressOf(owner), 0);
  const id2 = jobIdOf(addressOf(owner), 1);

  it('refuses a job below k minimum at submission', () => {
    const r = apply(
      signed(owner, 0, TxKind.jobSubmit, JobSubmitPayload.serialize({ ...job1.header, k: 128, fee: COIN })),
    );
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error.message : '', /k-below-min/);
  });

  it('escrows a submitted job, lets a mined block claim it, and pays the miner after the window', async () => {
    const before = chain.account(addressOf(owner)).balance;
    await mine(chain, [submit(job1, 0), submit(job2, 1)]);
    assert.equal(getJob(chain.state, id1)?.status, JobStatus.open);
    assert.ok(chain.account(addressOf(owner)).balance < before - 2n * COIN);
    const claim = await mine(chain, [], { id: id1, data: job1 });
    const proof = decodePouwProof(claim.proof);
    assert.ok(proof.ok && toHex(proof.proof.job) === id1);
    const claimed = getJob(chain.state, id1)!;
    assert.equal(claimed.status, JobStatus.claimed);
    assert.equal(toHex(claimed.miner), toHex(MINER));
    // only the claiming miner may post the result
    const forged = apply(
      signed(
        other,
        0,
        TxKind.jobResult,
        JobResultPayload.serialize({ job: fromHex(id1), productRoot: new Uint8Array(32) }),
      ),
    );
    assert.match(!forged.ok ? forged.error.message : '', /only the claiming miner/);
    const c = product(job1);
    await mine(chain, [result(id1, commitProduct(c, 32, 32).root, 0)]);
    assert.equal(getJob(chain.state, id1)?.status, JobStatus.delivered);
    // a fraud proof against a correct entry is refused
    const wrongful = apply(challenge(id1, job1, c, 5, 7, 2));
    assert.equal(wrongful.ok, false);
    assert.match(!wrongful.ok ? wrongful.error.message : '', /entry-correct/);
    const minerBefore = chain.account(MINER).balance;
    for (let i = 0; i < params.pouw.challengeWindow; i++) await mine(chain);
    assert.equal(getJob(chain.state, id1)?.status, JobStatus.paid);
    const subsidies = chain.account(MINER).balance - minerBefore;
    assert.ok(subsidies > COIN, 'the job fee is paid on top of the subsidies');
  });

  it('refunds the owner when a fraud proof shows a wrong entry', async () => {
    await mine(chain, [], { id: id2, data: job2 });
    const c = product(job2);
    const wrong = c.slice();
    wrong[3 * 32 + 9] += 1;
    await mine(chain, [result(id2, commitProduct(wrong, 48, 32).root, 1)]);
    const ownerBefore = chain.account(addressOf(owner)).balance;
    const tx = challenge(id2, job2, wrong, 3, 9, 2);
    await mine(chain, [tx]);
    assert.equal(getJob(chain.state, id2)?.status, JobStatus.refuted);
    assert.equal(chain.account(addressOf(owner)).balance, ownerBefore + COIN - tx.body.fee);
  });
});

describe('fork choice across the switch', () => {
  it('follows the branch with more cumulative work when it crosses the activation height', async () => {
    const a = chains.open('fork-a');
    const b = chains.open('fork-b');
    for (let h = 1; h < ACTIVATION - 1; h++) {
      const block = await mine(a);
      assert.ok((await b.importBlock(block, block.header.time + 1000)).ok);
    }
    // a: one PoW block then one PoUW block; b: a different PoW block then three PoUW blocks
    await mine(a);
    await mine(a);
    const otherMiner = addressOf(other);
    const branch = [];
    for (let i = 0; i < 4; i++) branch.push(await mine(b, [], undefined, otherMiner));
    assert.notEqual(
      toHex(blockHash(branch[0].header)),
      toHex(blockHash(a.blockByHeight(ACTIVATION - 1)!.header)),
    );
    assert.ok(b.tip().cumulativeWork > a.tip().cumulativeWork);
    const statuses = [];
    for (const block of branch) {
      const r = await a.importBlock(block, block.header.time + 1000);
      assert.ok(r.ok, r.ok ? '' : r.error.message);
      statuses.push(r.status);
    }
    assert.ok(statuses.includes('reorged'), statuses.join(','));
    assert.equal(toHex(a.tip().hash), toHex(b.tip().hash));
    assert.equal(a.tip().height, ACTIVATION + 2);
    assert.ok(blockWork(a.tip().header, params) > 0n);
  });
});
