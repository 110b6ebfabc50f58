// The job store's quota per submitter and what it deletes when, given where each job stands (the
// keeper asks the chain; here the test says).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { jobHeaderHash } from '../../../src/core/consensus/pouw.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { devnet } from '../../../src/core/params/index.ts';
import { type Int8Matrix, int8Matrix } from '../../../src/core/pouw/index.ts';
import { JobDataStore, type JobPhase, NO_SUBMITTER } from '../../../src/node/jobs/store.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-jobstore-'));
  dirs.push(dir);
  return dir;
}

/** A 16 x 256 times 256 x 16 job: 8,192 bytes of A and B; `seed` makes it distinct. */
function pair(seed: number): [Int8Matrix, Int8Matrix] {
  const fill = (n: number, mul: number) =>
    Int8Array.from({ length: n }, (_, i) => ((i * mul + seed) % 9) - 4);
  return [int8Matrix(16, 256, fill(16 * 256, 7)), int8Matrix(256, 16, fill(256 * 16, 5))];
}
const JOB_BYTES = 2 * 16 * 256;
const alice = { id: 'aa'.repeat(20), name: 'owner alice' };
const bob = { id: 'bb'.repeat(20), name: 'owner bob' };
const policy = { keepBlocks: 2, pendingBlocks: 3 };

function keyOf(put: ReturnType<JobDataStore['put']>): string {
  assert.ok(put.ok, put.ok ? '' : put.error.message);
  return toHex(jobHeaderHash(put.value.header));
}

describe('job data store', () => {
  it('refuses an upload over the submitter’s quota, naming the limit; other submitters have their own', () => {
    const store = new JobDataStore(newDir(), devnet.pouw, { quotaBytes: 2 * JOB_BYTES + 100 });
    keyOf(store.put(...pair(1), alice));
    keyOf(store.put(...pair(2), alice));
    assert.equal(store.usage(alice.id), 2 * JOB_BYTES);
    const refused = store.put(...pair(3), alice);
    assert.equal(refused.ok, false);
    assert.equal(refused.ok ? '' : refused.error.code, 'QUOTA_EXCEEDED');
    assert.match(
      refused.ok ? '' : refused.error.message,
      /owner alice: .* quota of 16,484 bytes per submitter/,
    );
    keyOf(store.put(...pair(3), bob));
    // The same data again costs nothing more.
    keyOf(store.put(...pair(1), alice));
    // Uploads that name nobody share one quota.
    keyOf(store.put(...pair(4)));
    keyOf(store.put(...pair(5), NO_SUBMITTER));
    const anonymous = store.put(...pair(6));
    assert.match(anonymous.ok ? '' : anonymous.error.message, /uploads that name no owner/);
  });

  it('refuses past its total, whoever the data is for', () => {
    const store = new JobDataStore(newDir(), devnet.pouw, { totalBytes: JOB_BYTES });
    keyOf(store.put(...pair(1), alice));
    const full = store.put(...pair(2), bob);
    assert.equal(full.ok ? '' : full.error.code, 'STORE_FULL');
    assert.match(full.ok ? '' : full.error.message, /limit of 8,192 bytes/);
  });

  it('deletes an upload no job names after pendingBlocks', () => {
    const dir = newDir();
    const store = new JobDataStore(dir, devnet.pouw);
    store.settle(10, () => 'missing', policy);
    const key = keyOf(store.put(...pair(1), alice));
    assert.deepEqual(
      store.settle(12, () => 'missing', policy),
      [],
    );
    assert.ok(existsSync(join(dir, `${key}.a.fxm`)));
    assert.deepEqual(
      store.settle(13, () => 'missing', policy),
      [key],
    );
    assert.ok(!existsSync(join(dir, `${key}.a.fxm`)) && !existsSync(join(dir, `${key}.b.fxm`)));
    assert.equal(store.usage(alice.id), 0);
  });

  it('counts data against its job’s owner while the job runs, deletes it and the product keepBlocks after it ends', () => {
    const dir = newDir();
    const store = new JobDataStore(dir, devnet.pouw);
    const put = store.put(...pair(1), NO_SUBMITTER);
    const key = keyOf(put);
    const jobId = 'cc'.repeat(32);
    assert.ok(put.ok);
    store.attach(put.value.header, jobId, alice.id);
    assert.equal(store.usage(alice.id), JOB_BYTES, 'the job owner’s quota');
    assert.equal(store.usage(''), 0, 'no longer an unnamed upload');
    store.putProduct(jobId, { rows: 16, cols: 16, data: new Int32Array(256) });
    const phase: { now: JobPhase } = { now: 'live' };
    for (let h = 1; h <= 20; h++)
      assert.deepEqual(
        store.settle(h, () => phase.now, policy),
        [],
      );
    phase.now = 'ended'; // paid (or refuted, or lapsed) at height 21
    assert.deepEqual(
      store.settle(21, () => phase.now, policy),
      [],
    );
    assert.equal(store.usage(alice.id), 0, 'an ended job holds no quota');
    assert.ok(store.product(jobId), 'the miner still serves the product');
    assert.deepEqual(
      store.settle(22, () => phase.now, policy),
      [],
    );
    assert.deepEqual(store.settle(23, () => phase.now, policy).sort(), [jobId, key].sort());
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.fxm')),
      [],
      'the matrices and the product are gone',
    );
    assert.equal(store.has(put.value.header), false);
    assert.equal(store.hasProduct(jobId), false);
  });

  it('keeps what it holds, and for whom, across a restart', () => {
    const dir = newDir();
    const first = new JobDataStore(dir, devnet.pouw, { quotaBytes: JOB_BYTES });
    const put = first.put(...pair(1), alice);
    keyOf(put);
    const again = new JobDataStore(dir, devnet.pouw, { quotaBytes: JOB_BYTES });
    assert.ok(put.ok && again.has(put.value.header));
    assert.equal(again.usage(alice.id), JOB_BYTES);
    assert.equal(again.put(...pair(2), alice).ok, false, 'the quota still counts it');
    assert.deepEqual(again.get(put.value.header)?.a, put.ok ? put.value.a : undefined);
  });
});
