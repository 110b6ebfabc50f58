import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { columnOfB, commitProduct, openProductEntry, rowOfA } from '../../../src/core/pouw/commitment.ts';
import { denoise } from '../../../src/core/pouw/denoise.ts';
import { verifyFraudProof } from '../../../src/core/pouw/fraud.ts';
import { mineJob } from '../../../src/core/pouw/mine.ts';
import type { FraudProof } from '../../../src/core/pouw/types.ts';
import { headerHash, randomJob, TEST_PARAMS } from './helpers.ts';

const params = TEST_PARAMS;
const job = randomJob(21, 24, 37, 64);
const mined = mineJob(job, headerHash(1), params);
const product = denoise(job, mined.seed, mined.noisyProduct, params);

function proofFor(committed: ReturnType<typeof commitProduct>, row: number, col: number): FraudProof {
  const a = rowOfA(job, row);
  const b = columnOfB(job, col);
  return {
    row,
    col,
    rowA: a.row,
    pathA: a.path,
    colB: b.column,
    pathB: b.path,
    ...openProductEntry(committed, row, col),
  };
}

describe('pouw fraud proofs', () => {
  it('refuses a fraud proof against a correct entry', () => {
    const honest = commitProduct(product, 24, 37);
    for (const [row, col] of [
      [0, 0],
      [23, 36],
      [7, 33],
    ]) {
      const result = verifyFraudProof(job.header, honest.root, proofFor(honest, row, col), params);
      assert.equal(!result.ok && result.error.code, 'entry-correct');
    }
  });

  it('accepts a fraud proof against a wrong entry', () => {
    const wrong = product.slice();
    wrong[5 * 37 + 34] += 1;
    const cheat = commitProduct(wrong, 24, 37);
    const result = verifyFraudProof(job.header, cheat.root, proofFor(cheat, 5, 34), params);
    assert.ok(result.ok);
    assert.equal(result.value.claimed, result.value.expected + 1);
  });

  it('refuses a proof whose chunk is not the committed one', () => {
    const honest = commitProduct(product, 24, 37);
    const proof = proofFor(honest, 5, 34);
    proof.chunkC[34 % 16] += 1;
    const result = verifyFraudProof(job.header, honest.root, proof, params);
    assert.equal(!result.ok && result.error.code, 'bad-path');
  });

  it('refuses a proof whose row of A is not the job', () => {
    const wrong = product.slice();
    wrong[3 * 37 + 3] -= 1;
    const cheat = commitProduct(wrong, 24, 37);
    const proof = proofFor(cheat, 3, 3);
    proof.rowA[0] = proof.rowA[0] === 0 ? 1 : 0;
    const result = verifyFraudProof(job.header, cheat.root, proof, params);
    assert.equal(!result.ok && result.error.code, 'bad-path');
  });

  it('refuses an entry outside the product', () => {
    const honest = commitProduct(product, 24, 37);
    const proof = { ...proofFor(honest, 0, 0), row: 24 };
    const result = verifyFraudProof(job.header, honest.root, proof, params);
    assert.equal(!result.ok && result.error.code, 'tile-outside-job');
  });
});
