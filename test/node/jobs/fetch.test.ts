// The node's wiring of the job-data fetcher: two daemons (createNode), the owner's not mining and
// holding a job's data, the other mining; the miner fetches the data, claims the job and posts
// its result, which the owner's chain records; the owner's API then answers with the product,
// which it fetched from the miner.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createClient } from '../../../src/api/client.ts';
import { decodeMatrix } from '../../../src/api/matrix-file.ts';
import { JobSubmitPayload, TxKind } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes } from '../../../src/core/crypto/keys.ts';
import { getJob, JobStatus, jobIdOf } from '../../../src/core/jobs/index.ts';
import { minimumFee, signTx, txSize } from '../../../src/core/ledger/tx.ts';
import { COIN, createParams, devnet } from '../../../src/core/params/index.ts';
import { commitProduct, dotProduct, int8Matrix } from '../../../src/core/pouw/index.ts';
import type { LocalChain } from '../../../src/node/chain/chain.ts';
import { createNode, type FluxNode } from '../../../src/node/node.ts';
import { ALICE, BOB } from '../../support/keys.ts';
import { extendOnSchedule } from '../../support/p2p.ts';
import { liveParams } from '../../support/params.ts';
import { waitFor } from '../../support/wait.ts';

// Paced devnet mining (a block about every 2 s), PoUW from height 4 with an easy per-MAC target.
const params = createParams(liveParams(), {
  activations: { pouw: 4 },
  pow: { ...devnet.pow },
  pouw: { ...devnet.pouw, initialTargetPerMac: 1n << 236n },
});

const nodes: FluxNode[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function daemon(name: string, extra: Partial<Parameters<typeof createNode>[0]>): Promise<FluxNode> {
  const datadir = mkdtempSync(join(tmpdir(), `openflux-fetch-${name}-`));
  dirs.push(datadir);
  const node = await createNode({
    network: 'devnet',
    datadir,
    params,
    api: false,
    fluxnode: false,
    ...extra,
  });
  nodes.push(node);
  return node;
}

describe('job-data fetch in the node', () => {
  it('a mining node fetches a job held by the owner’s node, claims it and delivers it; the owner’s API serves the product', async () => {
    const owner = await daemon('owner', { api: { host: '127.0.0.1', port: 0 } });
    const chain = owner.chain as LocalChain;
    await extendOnSchedule(chain, 4);
    const a = int8Matrix(
      16,
      256,
      Int8Array.from({ length: 16 * 256 }, (_, i) => (i % 7) - 3),
    );
    const b = int8Matrix(
      256,
      16,
      Int8Array.from({ length: 256 * 16 }, (_, i) => (i % 5) - 2),
    );
    const job = owner.jobData.put(a, b);
    assert.ok(job.ok);
    const unsigned = {
      nonce: 0,
      fee: 0n,
      kind: TxKind.jobSubmit,
      payload: JobSubmitPayload.serialize({ ...job.value.header, fee: COIN }),
    };
    const size = txSize(signTx(unsigned, ALICE, params));
    await extendOnSchedule(chain, 1, [
      signTx({ ...unsigned, fee: minimumFee(size, params) * 2n }, ALICE, params),
    ]);
    const id = jobIdOf(addressBytes(ALICE.publicKey), 0);

    const started = Date.now();
    const miner = await daemon('miner', {
      mine: true,
      minerAddress: addressBytes(BOB.publicKey),
      minerKey: BOB,
      p2p: { bootstrap: owner.p2p!.multiaddrs(), initialSyncWaitMs: 2_000 },
    });
    await waitFor('the miner to fetch the job data', () => miner.jobData.has(job.value.header));
    await waitFor(
      'the job to be delivered on the owner’s chain',
      () => getJob((owner.chain as LocalChain).state, id)?.status === JobStatus.delivered,
      15_000,
    );
    console.log(`job fetched, claimed and delivered ${Date.now() - started} ms after the miner started`);
    assert.deepEqual(getJob(chain.state, id)?.miner, addressBytes(BOB.publicKey));
    assert.ok(miner.jobData.product(id), 'the miner keeps the product to serve');

    // The owner's node did not mine the job: GET /jobs/:id/result fetches it from the miner.
    assert.equal(owner.jobData.hasProduct(id), false);
    const client = createClient({ baseUrl: owner.url! });
    const status = await client.job({ params: { id } });
    assert.equal(status.resultHere, false);
    const c = decodeMatrix(
      new Uint8Array(Buffer.from((await client.jobResult({ params: { id } })).file, 'base64')),
    );
    assert.equal(c.type, 'int32');
    assert.deepEqual([c.rows, c.cols], [16, 16]);
    const bColumn = (j: number) => Int8Array.from({ length: 256 }, (_, t) => b.data[t * 16 + j]);
    for (let i = 0; i < 16; i++)
      for (let j = 0; j < 16; j++)
        assert.equal(c.data[i * 16 + j], dotProduct(a.data.subarray(i * 256, (i + 1) * 256), bColumn(j)));
    assert.equal(toHex(commitProduct(c.data as Int32Array, 16, 16).root), status.productRoot);
    assert.equal((await client.job({ params: { id } })).resultHere, true, 'the owner’s node keeps it');
  });
});
