// Job data through the API on a real chain: an upload counts against its owner's quota (a 429
// names the limit); when the job ends (paid, or lapsed after a missed deadline) the node deletes
// its matrices and the miner's product some blocks later; an upload no job names goes too. A
// product asked for before its job is delivered, or after it lapsed, is refused with a 409 that
// names the job's status.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ApiError } from '../../../src/api/client.ts';
import { encodeFxm } from '../../../src/api/matrix-file.ts';
import { JobSubmitPayload, TxKind } from '../../../src/core/codec/types.ts';
import { jobHeaderHash } from '../../../src/core/consensus/pouw.ts';
import { fromHex, toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes, encodeAddress, type KeyPair } from '../../../src/core/crypto/keys.ts';
import { getJob, JobStatus, jobIdOf } from '../../../src/core/jobs/index.ts';
import { minimumFee, signTx, txSize } from '../../../src/core/ledger/tx.ts';
import { COIN, createParams, devnet } from '../../../src/core/params/index.ts';
import { commitJob, type Int8Matrix, int8Matrix } from '../../../src/core/pouw/index.ts';
import { type JobDataKeeper, startJobDataKeeper } from '../../../src/node/jobs/keeper.ts';
import { JobDataStore } from '../../../src/node/jobs/store.ts';
import { buildBlock, createMiner } from '../../../src/node/miner/miner.ts';
import { ALICE, BOB } from '../../support/keys.ts';
import { extendOnSchedule, MINER_ADDRESS } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';
import { apiFixture } from './fixture.ts';

// PoUW from height 4, with an easy per-MAC target so a small job wins in a pass or two.
const params = createParams(liveParams(), {
  activations: { pouw: 4 },
  pouw: { ...devnet.pouw, initialTargetPerMac: 1n << 236n },
});
const KEEP = 2;
const PENDING = 3;
const JOB_BYTES = 2 * 16 * 256;
const jobsDir = mkdtempSync(join(tmpdir(), 'openflux-api-jobs-'));
after(() => rmSync(jobsDir, { recursive: true, force: true }));

function pair(seed: number): [Int8Matrix, Int8Matrix] {
  const fill = (n: number, mul: number) =>
    Int8Array.from({ length: n }, (_, i) => ((i * mul + seed) % 9) - 4);
  return [int8Matrix(16, 256, fill(16 * 256, 7)), int8Matrix(256, 16, fill(256 * 16, 5))];
}
const b64 = (m: Int8Matrix) => Buffer.from(encodeFxm({ type: 'int8', ...m })).toString('base64');
const addressOf = (k: KeyPair) => encodeAddress(params.addressPrefix, addressBytes(k.publicKey));
const fxmFiles = () => readdirSync(jobsDir).filter((f) => f.endsWith('.fxm'));

describe('job data in the API', () => {
  const store = new JobDataStore(jobsDir, params.pouw, { quotaBytes: 2 * JOB_BYTES });
  // The node runs the keeper beside its API (node/node.ts); here the test does.
  let keeper: JobDataKeeper | undefined;
  const api = apiFixture(params, 'jobs', (chain) => {
    keeper = startJobDataKeeper({
      chain,
      state: chain.state,
      store,
      keepBlocks: KEEP,
      pendingBlocks: PENDING,
    });
    return { jobs: { state: chain.state, data: store } };
  });
  after(() => keeper?.close());
  let nonce = 0;

  const upload = (seed: number, owner?: KeyPair) => {
    const [a, b] = pair(seed);
    return api.client.putJobData({
      body: { a: b64(a), b: b64(b), ...(owner ? { owner: addressOf(owner) } : {}) },
    });
  };
  const submit = async (seed: number): Promise<string> => {
    const [a, b] = pair(seed);
    const committed = commitJob(a, b, params.pouw);
    assert.ok(committed.ok);
    const unsigned = {
      nonce,
      fee: 0n,
      kind: TxKind.jobSubmit,
      payload: JobSubmitPayload.serialize({ ...committed.value.header, fee: COIN }),
    };
    const fee = minimumFee(txSize(signTx(unsigned, ALICE, params)), params) * 2n;
    await extendOnSchedule(api.chain, 1, [signTx({ ...unsigned, fee }, ALICE, params)]);
    return jobIdOf(addressBytes(ALICE.publicKey), nonce++);
  };
  const status = (id: string) => getJob(api.chain.state, id)?.status;

  it('counts an upload against its owner and refuses one past the quota with a 429 naming the limit', async () => {
    await extendOnSchedule(api.chain, 4); // PoUW from here on
    const first = await upload(1, ALICE);
    assert.deepEqual(first.quota, { used: JOB_BYTES, limit: 2 * JOB_BYTES });
    await upload(2, ALICE);
    await assert.rejects(upload(3, ALICE), (e: ApiError) => {
      assert.equal(e.status, 429);
      assert.equal(e.code, 'QUOTA_EXCEEDED');
      assert.match(e.message, new RegExp(`owner ${addressOf(ALICE)}: .*quota of 16,384 bytes per submitter`));
      return true;
    });
    assert.equal((await upload(3, BOB)).quota.used, JOB_BYTES, 'bob has a quota of his own');
    await assert.rejects(
      api.client.putJobData({ body: { a: 'x', b: 'y', owner: 'tflux1nope' } }),
      (e: ApiError) => e.status === 400 && /owner: /.test(e.message),
    );
  });

  it('deletes a paid job’s matrices and the miner’s product KEEP blocks after the payment', async () => {
    const committed = commitJob(...pair(1), params.pouw);
    assert.ok(committed.ok);
    const key = toHex(jobHeaderHash(committed.value.header));
    const id = await submit(1);
    assert.equal(status(id), JobStatus.open);
    await assert.rejects(api.client.jobResult({ params: { id } }), (e: ApiError) => {
      assert.equal(e.status, 409);
      assert.equal(e.code, 'NOT_DELIVERED');
      assert.match(e.message, new RegExp(`job ${id} is open: no miner has claimed it yet`));
      return true;
    });
    const miner = createMiner({
      chain: api.chain,
      minerAddress: addressBytes(BOB.publicKey),
      jobData: store,
      resultKey: BOB,
      now: () => api.chain.tip().header.time + params.blockTimeMs, // on schedule, as extendOnSchedule
    });
    await miner.mineBlock(); // claims the job (the oldest open one whose data it holds) and posts the result
    assert.equal(status(id), JobStatus.claimed);
    await miner.mineBlock(); // carries the result
    assert.equal(status(id), JobStatus.delivered);
    const during = await api.client.job({ params: { id } });
    assert.equal(during.dataHere && during.resultHere, true);
    await extendOnSchedule(api.chain, params.pouw.challengeWindow);
    assert.equal(status(id), JobStatus.paid);
    await extendOnSchedule(api.chain, KEEP - 1);
    assert.ok(existsSync(join(jobsDir, `${id}.c.fxm`)), 'the product is still served after the payment');
    assert.ok((await api.client.jobResult({ params: { id } })).file.length > 0);
    await extendOnSchedule(api.chain, 1);
    assert.ok(!existsSync(join(jobsDir, `${key}.a.fxm`)), 'A is gone');
    assert.ok(!existsSync(join(jobsDir, `${key}.b.fxm`)), 'B is gone');
    assert.ok(!existsSync(join(jobsDir, `${id}.c.fxm`)), 'the product is gone');
    const after = await api.client.job({ params: { id } });
    assert.equal(after.dataHere || after.resultHere, false);
  });

  it('deletes a lapsed job’s matrices, and an upload no job named in time', async () => {
    const id = await submit(2);
    const [a, b] = pair(2);
    const data = commitJob(a, b, params.pouw);
    assert.ok(data.ok);
    // A miner claims the job and never delivers: the owner is refunded at the deadline.
    const tip = api.chain.tip();
    const claim = buildBlock(api.chain, [], MINER_ADDRESS, tip.header.time + params.blockTimeMs, {
      pouw: { job: fromHex(id), data: data.value },
    });
    const imported = await api.chain.importBlock(claim, Date.now());
    assert.ok(imported.ok, imported.ok ? '' : imported.error.message);
    assert.equal(status(id), JobStatus.claimed);
    await assert.rejects(
      api.client.jobResult({ params: { id } }),
      (e: ApiError) =>
        e.status === 409 && new RegExp(`job ${id} is claimed: .*due by height \\d+`).test(e.message),
    );
    await extendOnSchedule(api.chain, params.pouw.deliveryWindow);
    assert.equal(status(id), JobStatus.lapsed);
    await assert.rejects(
      api.client.jobResult({ params: { id } }),
      (e: ApiError) => e.status === 409 && /lapsed: its miner never posted a product/.test(e.message),
    );
    const key = toHex(jobHeaderHash(data.value.header));
    await extendOnSchedule(api.chain, KEEP);
    assert.ok(!existsSync(join(jobsDir, `${key}.a.fxm`)), 'a lapsed job’s data is gone');
    // Bob's upload (seed 3) was never named by a job: gone PENDING blocks after it came.
    assert.deepEqual(fxmFiles(), [], `left: ${fxmFiles().join(', ')}`);
    assert.equal((await upload(4, BOB)).quota.used, JOB_BYTES, 'bob’s quota is free again');
  });
});
