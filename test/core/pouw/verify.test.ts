import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { commitJob, type JobData, zeroJob } from '../../../src/core/pouw/commitment.ts';
import { createTypeScriptKernel, type PouwKernel } from '../../../src/core/pouw/kernel.ts';
import { mineJob, openTile, winningTiles } from '../../../src/core/pouw/mine.ts';
import { expectedMacs, tileWork } from '../../../src/core/pouw/transcript.ts';
import type { JobHeader, TileProof } from '../../../src/core/pouw/types.ts';
import { verifyTile } from '../../../src/core/pouw/verify.ts';
import { EASY_TARGET, flipBit, headerHash, randomJob, randomMatrix, TEST_PARAMS } from './helpers.ts';

const params = TEST_PARAMS;
const job = randomJob(11, 40, 36, 64); // 3 x 3 tiles, the last row and column of tiles are partial
const header = headerHash(5);
const mined = mineJob(job, header, params);

function cloneProof(p: TileProof): TileProof {
  return {
    tile: { ...p.tile },
    rowsA: p.rowsA.map((r) => r.slice()),
    pathsA: p.pathsA.map((path) => path.map((h) => h.slice())),
    colsB: p.colsB.map((c) => c.slice()),
    pathsB: p.pathsB.map((path) => path.map((h) => h.slice())),
    transcript: p.transcript.slice(),
    ticket: p.ticket.slice(),
  };
}

function cloneHeader(h: JobHeader): JobHeader {
  return { ...h, rootA: h.rootA.slice(), rootB: h.rootB.slice() };
}

describe('pouw tile verification', () => {
  it('accepts every honestly mined tile, edge tiles included, with work h*w*k', () => {
    for (let row = 0; row < mined.tileRows; row++) {
      for (let col = 0; col < mined.tileCols; col++) {
        const result = verifyTile(
          job.header,
          header,
          openTile(job, mined, { row, col }),
          EASY_TARGET,
          params,
        );
        assert.ok(result.ok, result.ok ? '' : result.error.message);
        const h = row === 2 ? 8 : 16;
        const w = col === 2 ? 4 : 16;
        assert.equal(result.value.work, tileWork(h, w, 64));
      }
    }
  });

  it('gives the same verdict with the TypeScript kernel', () => {
    const result = verifyTile(
      job.header,
      header,
      openTile(job, mined, { row: 1, col: 2 }),
      EASY_TARGET,
      params,
      createTypeScriptKernel(),
    );
    assert.ok(result.ok);
  });

  it('accepts the winners of a real target and refuses the others with target-not-met', () => {
    const target = (3n << 254n) / tileWork(16, 16, 64); // three in four full tiles win
    const wins = new Set(winningTiles(job, mined, target).map((t) => `${t.row},${t.col}`));
    assert.ok(wins.size > 0 && wins.size < 9);
    for (let row = 0; row < 3; row++) {
      for (let col = 0; col < 3; col++) {
        const result = verifyTile(job.header, header, openTile(job, mined, { row, col }), target, params);
        if (wins.has(`${row},${col}`)) assert.ok(result.ok);
        else assert.equal(!result.ok && result.error.code, 'target-not-met');
      }
    }
  });

  it('refuses any single-bit change in rows, paths, transcript, ticket, tile, dims, roots or seed', () => {
    const proof = openTile(job, mined, { row: 1, col: 2 });
    assert.ok(verifyTile(job.header, header, proof, EASY_TARGET, params).ok);
    const fields = [
      'rowsA',
      'pathsA',
      'colsB',
      'pathsB',
      'transcript',
      'ticket',
      'tile',
      'dims',
      'roots',
      'seed',
    ] as const;
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.nat(), fc.nat(), fc.nat(), (field, which, depth, bit) => {
        const p = cloneProof(proof);
        const h = cloneHeader(job.header);
        const prefix = header.slice();
        switch (field) {
          case 'rowsA':
          case 'colsB': {
            const rows = p[field];
            const row = rows[which % rows.length];
            flipBit(row, bit % (row.length * 8));
            break;
          }
          case 'pathsA':
          case 'pathsB': {
            const path = p[field][which % p[field].length];
            flipBit(path[depth % path.length], bit % 256);
            break;
          }
          case 'transcript':
            flipBit(p.transcript, bit % 512);
            break;
          case 'ticket':
            flipBit(p.ticket, bit % 256);
            break;
          case 'tile':
            if (which % 2) p.tile.row ^= 1 << (bit % 31);
            else p.tile.col ^= 1 << (bit % 31);
            break;
          case 'dims': {
            const dim = (['m', 'n', 'k'] as const)[which % 3];
            h[dim] ^= 1 << (bit % 31);
            break;
          }
          case 'roots':
            flipBit(which % 2 ? h.rootA : h.rootB, bit % 256);
            break;
          case 'seed':
            flipBit(prefix, bit % 256);
            break;
        }
        const result = verifyTile(h, prefix, p, EASY_TARGET, params);
        assert.equal(result.ok, false, `${field} ${which} ${depth} ${bit}`);
      }),
      { numRuns: 300 },
    );
  });

  it('replays only the opened tile, whatever the size of the job', () => {
    const macs: number[] = [];
    const inner = createTypeScriptKernel();
    const counting: PouwKernel = {
      name: 'typescript',
      multiply(input) {
        macs.push(input.m * input.n * input.k);
        return inner.multiply(input);
      },
    };
    const big = randomJob(3, 200, 180, 64);
    for (const j of [job, big]) {
      const proof = openTile(j, mineJob(j, header, params), { row: 1, col: 1 });
      assert.ok(verifyTile(j.header, header, proof, EASY_TARGET, params, counting).ok);
    }
    assert.deepEqual(macs, [16 * 16 * 64, 16 * 16 * 64]);
  });

  it('refuses a ticket on a tile outside the job', () => {
    const proof = openTile(job, mined, { row: 2, col: 2 });
    proof.tile = { row: 3, col: 2 };
    const result = verifyTile(job.header, header, proof, EASY_TARGET, params);
    assert.equal(!result.ok && result.error.code, 'tile-outside-job');
    proof.tile = { row: -1, col: 0 };
    const negative = verifyTile(job.header, header, proof, EASY_TARGET, params);
    assert.equal(!negative.ok && negative.error.code, 'tile-outside-job');
  });

  it('refuses a tile opened with the path of another row', () => {
    const proof = openTile(job, mined, { row: 0, col: 0 });
    [proof.pathsA[0], proof.pathsA[1]] = [proof.pathsA[1], proof.pathsA[0]];
    const result = verifyTile(job.header, header, proof, EASY_TARGET, params);
    assert.equal(!result.ok && result.error.code, 'bad-path');
  });

  it('refuses rows from another job even with their own valid paths', () => {
    const other = randomJob(99, 40, 36, 64);
    const forged = openTile(other, mineJob(other, header, params), { row: 0, col: 0 });
    const result = verifyTile(job.header, header, forged, EASY_TARGET, params);
    assert.equal(!result.ok && result.error.code, 'bad-path');
  });

  it('refuses tiles whose noise was not bound to this header (precomputed or stale)', () => {
    const stale = mineJob(job, headerHash(6), params);
    const result = verifyTile(
      job.header,
      header,
      openTile(job, stale, { row: 0, col: 1 }),
      EASY_TARGET,
      params,
    );
    assert.equal(!result.ok && result.error.code, 'transcript-mismatch');
  });

  it('refuses tiles mined with dimensions that differ from the job', () => {
    const a = randomMatrix(11, 40, 64);
    const shortK = commitJob(
      { rows: 40, cols: 32, data: a.data.slice(0, 40 * 32) },
      randomMatrix(3, 32, 36),
      params,
    );
    assert.ok(shortK.ok);
    const cheap = openTile(shortK.value, mineJob(shortK.value, header, params), { row: 0, col: 0 });
    const result = verifyTile(job.header, header, cheap, EASY_TARGET, params);
    assert.equal(result.ok, false);
    const claimedK = verifyTile(
      { ...job.header, k: 32 },
      header,
      openTile(job, mined, { row: 0, col: 0 }),
      EASY_TARGET,
      params,
    );
    assert.equal(claimedK.ok, false);
  });

  it('refuses a job with k below the minimum', () => {
    const small = { ...params, kMin: 128 };
    const result = verifyTile(
      job.header,
      header,
      openTile(job, mined, { row: 0, col: 0 }),
      EASY_TARGET,
      small,
    );
    assert.equal(!result.ok && result.error.code, 'k-below-min');
    const committed = commitJob(randomMatrix(1, 8, 64), randomMatrix(2, 64, 8), small);
    assert.equal(!committed.ok && committed.error.code, 'k-below-min');
  });

  it('mines the zero job as a fallback with the same work per tile and the same weight', () => {
    const zero = zeroJob(40, 36, 64, params);
    assert.ok(zero.ok);
    const z: JobData = zero.value;
    const zmined = mineJob(z, header, params);
    const proof = openTile(z, zmined, { row: 1, col: 1 });
    const result = verifyTile(z.header, header, proof, EASY_TARGET, params);
    assert.ok(result.ok);
    assert.equal(result.value.work, tileWork(16, 16, 64));
    assert.ok(zmined.noisyProduct.some((v) => v !== 0)); // the noise makes the zero job real work
    assert.equal(expectedMacs(1n << 200n), 1n << 56n);
  });
});
