// Mining a job: noisy sliced product, per-tile transcripts and tickets, and opening a winning tile.
import { columnOfB, type JobData, rowOfA } from './commitment.ts';
import { type PouwKernel, tileCounts } from './kernel.ts';
import { noiseFactors, noiseSeed } from './noise.ts';
import { TILE } from './params.ts';
import {
  TICKET_BYTES,
  TRANSCRIPT_BYTES,
  ticketMeetsTarget,
  ticketsOf,
  tileShape,
  tileWork,
  transcriptsFromFolds,
} from './transcript.ts';
import type { PouwParams, TileIndex, TileProof } from './types.ts';
import { defaultKernel } from './wasm-kernel.ts';

/** Everything one mining pass over a job produces for one header prefix. */
export interface MinedJob {
  seed: Uint8Array;
  /** (A + E_A)(B + E_B), m x n: denoise it to deliver A*B. */
  noisyProduct: Int32Array;
  tileRows: number;
  tileCols: number;
  /** 64 bytes per tile, row-major tile order. */
  transcripts: Uint8Array;
  /** 32 bytes per tile. */
  tickets: Uint8Array;
}

/** One pass: noise from the seed, the product in r-slices, a transcript and a ticket per tile. */
export function mineJob(
  job: JobData,
  headerPrefixHash: Uint8Array,
  params: PouwParams,
  kernel: PouwKernel = defaultKernel(),
): MinedJob {
  const { m, n, k, rootA, rootB } = job.header;
  const seed = noiseSeed(headerPrefixHash, rootA, rootB, m, n, k);
  const { product, folds } = kernel.multiply({
    a: job.a,
    bColumns: job.bColumns,
    m,
    n,
    k,
    slice: params.rank,
    noiseA: noiseFactors(seed, 'A', params.rank, k, m),
    noiseB: noiseFactors(seed, 'B', params.rank, k, n),
  });
  const tiles = tileCounts(m, n);
  const transcripts = transcriptsFromFolds(seed, tiles.cols, folds);
  return {
    seed,
    noisyProduct: product,
    tileRows: tiles.rows,
    tileCols: tiles.cols,
    transcripts,
    tickets: ticketsOf(transcripts),
  };
}

/** Tiles whose ticket meets the per-MAC target scaled by the tile's work. */
export function winningTiles(job: JobData, mined: MinedJob, targetPerMac: bigint): TileIndex[] {
  const wins: TileIndex[] = [];
  for (let t = 0; t < mined.tileRows * mined.tileCols; t++) {
    const tile = { row: Math.floor(t / mined.tileCols), col: t % mined.tileCols };
    const shape = tileShape(job.header, tile)!;
    const ticket = mined.tickets.subarray(t * TICKET_BYTES, (t + 1) * TICKET_BYTES);
    if (ticketMeetsTarget(ticket, targetPerMac, tileWork(shape.h, shape.w, job.header.k))) wins.push(tile);
  }
  return wins;
}

/** The proof a block carries for one tile: its rows, columns, paths, transcript and ticket. */
export function openTile(job: JobData, mined: MinedJob, tile: TileIndex): TileProof {
  const shape = tileShape(job.header, tile);
  if (!shape) throw new RangeError(`tile (${tile.row}, ${tile.col}) is outside the job`);
  const proof: TileProof = {
    tile: { ...tile },
    rowsA: [],
    pathsA: [],
    colsB: [],
    pathsB: [],
    transcript: new Uint8Array(0),
    ticket: new Uint8Array(0),
  };
  for (let i = 0; i < shape.h; i++) {
    const { row, path } = rowOfA(job, tile.row * TILE + i);
    proof.rowsA.push(row);
    proof.pathsA.push(path);
  }
  for (let j = 0; j < shape.w; j++) {
    const { column, path } = columnOfB(job, tile.col * TILE + j);
    proof.colsB.push(column);
    proof.pathsB.push(path);
  }
  const t = tile.row * mined.tileCols + tile.col;
  proof.transcript = mined.transcripts.slice(t * TRANSCRIPT_BYTES, (t + 1) * TRANSCRIPT_BYTES);
  proof.ticket = mined.tickets.slice(t * TICKET_BYTES, (t + 1) * TICKET_BYTES);
  return proof;
}
