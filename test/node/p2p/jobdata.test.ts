// Job data over the network: a job submitted with its data on a node that does not mine is
// fetched by root by a miner node, which then claims it, computes it and posts its result; a peer
// serving other data is penalised (banned) and its data refused, and the data comes from an
// honest peer instead. The delivered product reaches a node that did not mine the job the same
// way, by the job's id, checked against the product root on chain.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JobSubmitPayload, TxKind } from '../../../src/core/codec/types.ts';
import { decodePouwProof } from '../../../src/core/consensus/pouw.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { getJob, JobStatus, jobIdOf } from '../../../src/core/jobs/index.ts';
import { minimumFee, signTx, txSize } from '../../../src/core/ledger/tx.ts';
import { COIN, createParams, devnet } from '../../../src/core/params/index.ts';
import { commitProduct, type Int8Matrix, int8Matrix, type JobHeader } from '../../../src/core/pouw/index.ts';
import { createJobFetcher, type JobFetcher } from '../../../src/node/jobs/fetcher.ts';
import { createProductFetcher } from '../../../src/node/jobs/products.ts';
import { JobDataStore } from '../../../src/node/jobs/store.ts';
import { ALICE, BOB } from '../../support/keys.ts';
import { addrOf, extendOnSchedule, sameTip, type TestNode, testNet } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';
import { waitFor } from '../../support/wait.ts';

// PoUW from height 4, with an easy per-MAC target so a 32x256x32 job wins in a pass or two.
const params = createParams(liveParams(), {
  activations: { pouw: 4 },
  pouw: { ...devnet.pouw, initialTargetPerMac: 1n << 236n },
});
const M = 32;
const N = 32;
const K = 256;

const dirs: string[] = [];
const net = testNet();
const fetchers: JobFetcher[] = [];
after(async () => {
  await Promise.all(fetchers.map((f) => f.close()));
  await net.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const node = net.node;
function store(name: string): JobDataStore {
  const dir = mkdtempSync(join(tmpdir(), `openflux-jobs-${name}-`));
  dirs.push(dir);
  return new JobDataStore(dir, params.pouw);
}
function fetcherFor(n: TestNode, jobs: JobDataStore): JobFetcher {
  const f = createJobFetcher({
    state: n.chain.state,
    events: n.chain,
    store: jobs,
    net: n.p2p,
    retryMs: 100,
    maxRetryMs: 400,
    scanIntervalMs: 200,
  });
  fetchers.push(f);
  return f;
}

function randomMatrix(rows: number, cols: number, seed: number): Int8Matrix {
  let x = seed;
  return int8Matrix(
    rows,
    cols,
    Int8Array.from({ length: rows * cols }, () => {
      x = (x * 1103515245 + 12345) >>> 0;
      return ((x >>> 16) % 128) - 64;
    }),
  );
}

function product(a: Int8Matrix, b: Int8Matrix): Int32Array {
  const c = new Int32Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++)
    for (let t = 0; t < a.cols; t++) {
      const x = a.data[i * a.cols + t];
      for (let j = 0; j < b.cols; j++) c[i * b.cols + j] += x * b.data[t * b.cols + j];
    }
  return c;
}

describe('job data over p2p', () => {
  const a = randomMatrix(M, K, 1);
  const b = randomMatrix(K, N, 2);
  const ownerStore = store('owner');
  let owner: TestNode;
  let header: JobHeader;
  const jobId = jobIdOf(addressBytes(ALICE.publicKey), 0);

  before(async () => {
    const job = ownerStore.put(a, b);
    assert.ok(job.ok);
    header = job.value.header;
    // The owner's node holds the data and does not mine: it only serves the data to peers.
    owner = await node('owner', params, { jobData: ownerStore });
    await extendOnSchedule(owner.chain, 4);
    const unsigned = {
      nonce: 0,
      fee: 0n,
      kind: TxKind.jobSubmit,
      payload: JobSubmitPayload.serialize({ ...header, fee: COIN }),
    };
    const size = txSize(signTx(unsigned, ALICE, params));
    const tx = signTx({ ...unsigned, fee: minimumFee(size, params) * 2n }, ALICE, params);
    await extendOnSchedule(owner.chain, 1, [tx]);
    assert.equal(getJob(owner.chain.state, jobId)?.status, JobStatus.open);
  });

  it('refuses data whose roots do not match, bans the liar, and fetches from an honest peer', async () => {
    // The liar holds the chain but serves A with one entry changed (the header is the job's).
    const liar = await node('liar', params, {
      bootstrap: [addrOf(owner)],
      jobData: {
        get(h) {
          const real = ownerStore.get(h);
          if (real === undefined) return undefined;
          const forged = real.a.slice();
          forged[0] = forged[0] === 0 ? 1 : 0;
          return { ...real, a: forged };
        },
      },
    });
    await waitFor('the liar to sync', () => sameTip([owner, liar]));
    const jobs = store('fetch-only');
    const asker = await node('asker', params, { bootstrap: [addrOf(liar)] });
    const fetcher = fetcherFor(asker, jobs);
    await waitFor('the asker to sync from the liar', () => sameTip([owner, asker]));
    await waitFor('the liar to be banned', () => asker.p2p.banned().some((x) => x.peer === liar.p2p.peerId));
    assert.equal(jobs.has(header), false, 'the forged data was not kept');
    assert.ok(fetcher.stats().badData >= 1);
    const ban = asker.p2p.banned().find((x) => x.peer === liar.p2p.peerId);
    assert.match(ban?.reason ?? '', /badJobData/);

    await asker.p2p.connect(addrOf(owner));
    await waitFor('the data from the honest owner', () => jobs.has(header));
    const got = jobs.get(header);
    assert.ok(got);
    assert.deepEqual(got.a, a.data);
    assert.equal(fetcher.stats().fetched, 1);
  });

  it('moves a 1 MiB job in chunks, answers not found, and refuses to fetch over the byte limit', async () => {
    const big = ownerStore.put(randomMatrix(512, 1024, 3), randomMatrix(1024, 512, 4));
    assert.ok(big.ok);
    const asker = await node('chunks', params, {
      bootstrap: [addrOf(owner)],
      limits: { maxJobDataBytes: 1024 * 1024 },
    });
    await waitFor('a connection', () => asker.p2p.peers().length === 1);
    const started = Date.now();
    const got = await asker.p2p.fetchJobData(owner.p2p.peerId, big.value.header);
    const ms = Date.now() - started;
    assert.ok(got.ok, got.ok ? '' : got.error.message);
    assert.deepEqual(got.data.a, big.value.a);
    assert.deepEqual(got.data.bColumns, big.value.bColumns);
    console.log(`fetched and checked 1 MiB of job data in ${ms} ms`);

    const unknown = { ...big.value.header, rootA: new Uint8Array(32).fill(9) };
    const missing = await asker.p2p.fetchJobData(owner.p2p.peerId, unknown);
    assert.equal(missing.ok ? 'ok' : missing.error.code, 'NOT_FOUND');
    const tooBig = await asker.p2p.fetchJobData(owner.p2p.peerId, { ...big.value.header, k: 1088 });
    assert.equal(tooBig.ok ? 'ok' : tooBig.error.code, 'TOO_LARGE');
    assert.equal(
      asker.p2p.peers().find((p) => p.id === owner.p2p.peerId)?.score,
      0,
      'not found is no offence',
    );
    await asker.close();
  });

  let miner: TestNode | undefined;
  const minerJobs = store('miner');

  it('a miner fetches the job by root, claims it, and delivers its product', async () => {
    const jobs = minerJobs;
    const minerAddress = addressBytes(BOB.publicKey);
    // As in the node (node.ts), the miner's store is also what its p2p host serves.
    const m = await node('miner', params, {
      bootstrap: [addrOf(owner)],
      jobData: jobs,
      miner: { minerAddress, jobData: jobs, resultKey: BOB },
    });
    miner = m;
    await waitFor('the miner to sync', () => sameTip([owner, m]));
    const started = Date.now();
    fetcherFor(m, jobs);
    await waitFor('the miner to fetch the job data', () => jobs.has(header));
    console.log(`fetched ${M * K + K * N} bytes of job data in ${Date.now() - started} ms`);

    const claim = await m.miner.mineBlock();
    const proof = decodePouwProof(claim.proof);
    assert.ok(proof.ok);
    assert.equal(toHex(proof.proof.job), jobId, 'the block claimed the fetched job');
    assert.equal(getJob(m.chain.state, jobId)?.status, JobStatus.claimed);
    assert.deepEqual(jobs.product(jobId)?.data, product(a, b), 'the miner kept the exact product A·B');

    await m.miner.mineBlock(); // carries the result transaction posted after the claim
    await waitFor('the owner to see the result', () => sameTip([owner, m]));
    const done = getJob(owner.chain.state, jobId);
    assert.equal(done?.status, JobStatus.delivered);
    assert.deepEqual(done?.miner, minerAddress);
  });

  it('a node that did not mine the job gets its product by id from the miner, past a peer serving a corrupted one', async () => {
    const honest = miner;
    assert.ok(honest, 'the miner of the test above delivered the job');
    const expected = product(a, b);
    // The liar holds the chain and serves the miner's product with one entry changed.
    const liar = await node('product-liar', params, {
      bootstrap: [addrOf(honest)],
      jobData: {
        get: () => undefined,
        product(id) {
          const real = minerJobs.product(id);
          if (real === undefined) return undefined;
          const data = real.data.slice();
          data[0] ^= 1;
          return { ...real, data };
        },
      },
    });
    await waitFor('the liar to sync', () => sameTip([honest, liar]));

    // Only the liar to ask: its product is refused, it is banned, and the error says so.
    const alone = await node('product-alone', params, { bootstrap: [addrOf(liar)] });
    await waitFor('a node beside the liar to sync', () => sameTip([honest, alone]));
    const aloneJobs = store('product-alone');
    const refused = await createProductFetcher({
      state: alone.chain.state,
      store: aloneJobs,
      net: alone.p2p,
    }).product(jobId);
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok);
    assert.equal(refused.error.code, 'UNAVAILABLE');
    assert.match(refused.error.message, new RegExp(`job ${jobId}.*${liar.p2p.peerId}: sent a wrong product`));
    assert.equal(aloneJobs.hasProduct(jobId), false, 'the corrupted product was not kept');
    await waitFor('the liar to be banned', () => alone.p2p.banned().some((x) => x.peer === liar.p2p.peerId));
    assert.match(alone.p2p.banned().find((x) => x.peer === liar.p2p.peerId)?.reason ?? '', /badProduct/);

    // The liar first, then the miner: the liar's product is refused and the miner's kept.
    const asker = await node('product-asker', params, { bootstrap: [addrOf(liar)] });
    await waitFor('the asker to sync from the liar', () => sameTip([honest, asker]));
    await asker.p2p.connect(addrOf(honest));
    assert.deepEqual(
      asker.p2p.peers().map((p) => p.id),
      [liar.p2p.peerId, honest.p2p.peerId],
      'the liar is asked first',
    );
    assert.equal(getJob(asker.chain.state, jobId)?.status, JobStatus.delivered);
    const jobs = store('product-asker');
    const products = createProductFetcher({ state: asker.chain.state, store: jobs, net: asker.p2p });
    const got = await products.product(jobId);
    assert.ok(got.ok, got.ok ? '' : got.error.message);
    assert.deepEqual(got.from, { peer: honest.p2p.peerId });
    assert.deepEqual(got.product.data, expected, 'byte-identical to A·B');
    assert.deepEqual(
      commitProduct(got.product.data, M, N).root,
      getJob(asker.chain.state, jobId)?.productRoot,
      'matches the product root on chain',
    );
    assert.ok(asker.p2p.banned().some((x) => x.peer === liar.p2p.peerId && /badProduct/.test(x.reason)));
    assert.deepEqual(jobs.product(jobId)?.data, expected, 'kept in the store');
    const again = await products.product(jobId);
    assert.equal(again.ok && again.from, 'store', 'asked again, it answers from its store');
  });
});
