// One repository per table, each with typed keys and values over prepared statements.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { Header } from '../../core/codec/types.ts';
import type { StateReader } from '../../core/ledger/state.ts';

type Row = Record<string, unknown>;

/** Rows per multi-row INSERT: fewer statements per block, far below SQLite's parameter limit. */
const BATCH = 64;

function placeholders(columns: number): string {
  const row = `(${new Array(columns).fill('?').join(', ')})`;
  return new Array(BATCH).fill(row).join(', ');
}

function bytes(value: unknown): Uint8Array {
  return value as Uint8Array;
}

/** Where a block stands: stored with a valid header, connected at least once, or refused. */
export const BlockStatus = { side: 0, valid: 1, invalid: 2 } as const;
export type BlockStatus = (typeof BlockStatus)[keyof typeof BlockStatus];

export interface HeaderRecord {
  hash: Uint8Array;
  height: number;
  header: Header;
  /** Cumulative work from genesis up to and including this block. */
  work: bigint;
  status: BlockStatus;
}

/** headers: every stored block's header, its cumulative work and its status, by hash. */
export class HeaderRepository {
  private readonly getStmt: StatementSync;
  private readonly putStmt: StatementSync;
  private readonly statusStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.getStmt = db.prepare('SELECT height, header, work, status FROM headers WHERE hash = ?');
    this.putStmt = db.prepare(
      'INSERT OR REPLACE INTO headers (hash, height, parent, header, work, status) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.statusStmt = db.prepare('UPDATE headers SET status = ? WHERE hash = ?');
  }

  get(hash: Uint8Array): HeaderRecord | undefined {
    const row = this.getStmt.get(hash) as Row | undefined;
    if (!row) return undefined;
    return {
      hash,
      height: row.height as number,
      header: Header.deserialize(bytes(row.header)),
      work: BigInt(row.work as string),
      status: row.status as BlockStatus,
    };
  }

  put(record: HeaderRecord): void {
    const { hash, height, header, work, status } = record;
    this.putStmt.run(hash, height, header.parent, Header.serialize(header), `0x${work.toString(16)}`, status);
  }

  setStatus(hash: Uint8Array, status: BlockStatus): void {
    this.statusStmt.run(status, hash);
  }
}

/** blocks: the encoded block by hash (side branches included). */
export class BlockRepository {
  private readonly getStmt: StatementSync;
  private readonly sliceStmt: StatementSync;
  private readonly putStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.getStmt = db.prepare('SELECT bytes FROM blocks WHERE hash = ?');
    this.sliceStmt = db.prepare('SELECT substr(bytes, ?, ?) AS part FROM blocks WHERE hash = ?');
    this.putStmt = db.prepare('INSERT OR IGNORE INTO blocks (hash, bytes) VALUES (?, ?)');
  }

  get(hash: Uint8Array): Uint8Array | undefined {
    const row = this.getStmt.get(hash) as Row | undefined;
    return row ? bytes(row.bytes) : undefined;
  }

  /** `length` bytes of the encoded block from `offset` (e.g. one transaction). */
  slice(hash: Uint8Array, offset: number, length: number): Uint8Array | undefined {
    const row = this.sliceStmt.get(offset + 1, length, hash) as Row | undefined;
    return row ? bytes(row.part) : undefined;
  }

  put(hash: Uint8Array, encoded: Uint8Array): void {
    this.putStmt.run(hash, encoded);
  }
}

/** best_chain: height -> hash of the block at that height on the best chain. */
export class BestChainRepository {
  private readonly getStmt: StatementSync;
  private readonly putStmt: StatementSync;
  private readonly deleteStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.getStmt = db.prepare('SELECT hash FROM best_chain WHERE height = ?');
    this.putStmt = db.prepare('INSERT OR REPLACE INTO best_chain (height, hash) VALUES (?, ?)');
    this.deleteStmt = db.prepare('DELETE FROM best_chain WHERE height = ?');
  }

  get(height: number): Uint8Array | undefined {
    const row = this.getStmt.get(height) as Row | undefined;
    return row ? bytes(row.hash) : undefined;
  }

  put(height: number, hash: Uint8Array): void {
    this.putStmt.run(height, hash);
  }

  delete(height: number): void {
    this.deleteStmt.run(height);
  }
}

/**
 * state: key -> encoded value, the committed ledger state (a `StateReader` for core). Reads go
 * through a cache of committed values; writes made inside an open transaction are kept aside
 * until it commits, so a rollback leaves the cache exact.
 */
export class StateRepository implements StateReader {
  private readonly getStmt: StatementSync;
  private readonly putStmt: StatementSync;
  private readonly deleteStmt: StatementSync;
  private readonly cache = new Map<string, Uint8Array | null>();
  private pending: Map<string, Uint8Array | null> | undefined;
  private readonly capacity: number;

  private readonly db: DatabaseSync;

  constructor(db: DatabaseSync, capacity = 200_000) {
    this.db = db;
    this.getStmt = db.prepare('SELECT value FROM state WHERE key = ?');
    this.putStmt = db.prepare('INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)');
    this.deleteStmt = db.prepare('DELETE FROM state WHERE key = ?');
    this.capacity = capacity;
  }

  get(key: string): Uint8Array | undefined {
    const staged = this.pending?.get(key);
    if (staged !== undefined) return staged ?? undefined;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const row = this.getStmt.get(key) as Row | undefined;
    const value = row ? bytes(row.value) : undefined;
    // Own writes are all in `pending`, so what the table returns here is committed state.
    this.remember(key, value ?? null);
    return value;
  }

  /** Writes (or, for undefined, deletes) each key. Only inside a transaction. */
  write(entries: Array<[string, Uint8Array | undefined]>): void {
    const pending = this.pending;
    if (!pending) throw new Error('state writes need an open transaction');
    for (const [key, value] of entries) {
      if (value === undefined) this.deleteStmt.run(key);
      else this.putStmt.run(key, value);
      pending.set(key, value ?? null);
    }
  }

  begin(): void {
    this.pending = new Map();
  }

  commit(): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) for (const [key, value] of pending) this.remember(key, value);
  }

  rollback(): void {
    this.pending = undefined;
  }

  private scanStmt: StatementSync | undefined;

  /**
   * Entries under `prefix` in key order, read from the table itself: writes of an open
   * transaction are already there, so the scan sees them (and its deletions) like `get` does.
   */
  scan(prefix: string, limit: number): Array<[string, Uint8Array]> {
    if (limit <= 0) return [];
    this.scanStmt ??= this.db.prepare(
      'SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key LIMIT ?',
    );
    const rows = this.scanStmt.all(prefix, prefixEnd(prefix), limit) as Row[];
    return rows.map((r) => [r.key as string, bytes(r.value)]);
  }

  private remember(key: string, value: Uint8Array | null): void {
    if (this.cache.size >= this.capacity && !this.cache.has(key)) this.cache.clear();
    this.cache.set(key, value);
  }
}

/** The smallest key above every key starting with `prefix` (state keys are ASCII). */
function prefixEnd(prefix: string): string {
  if (prefix === '') return '\u{10FFFF}';
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

export type UndoEntries = Array<[string, Uint8Array | undefined]>;

const utf8 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** Binary form of undo data: count, then per entry key length, key (utf-8), value length + 1 (0 = absent), value. */
export function encodeUndo(entries: UndoEntries): Uint8Array {
  let size = 4;
  for (const [key, value] of entries) size += 2 + Buffer.byteLength(key) + 4 + (value ? value.length : 0);
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt32LE(entries.length, 0);
  for (const [key, value] of entries) {
    at = out.writeUInt16LE(Buffer.byteLength(key), at);
    at += out.write(key, at, 'utf8');
    at = out.writeUInt32LE(value ? value.length + 1 : 0, at);
    if (value) {
      out.set(value, at);
      at += value.length;
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function decodeUndo(encoded: Uint8Array): UndoEntries {
  const buf = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const count = buf.readUInt32LE(0);
  let at = 4;
  const out: UndoEntries = [];
  for (let i = 0; i < count; i++) {
    const keyLength = buf.readUInt16LE(at);
    at += 2;
    const key = utf8(encoded.subarray(at, at + keyLength));
    at += keyLength;
    const valueLength = buf.readUInt32LE(at);
    at += 4;
    if (valueLength === 0) out.push([key, undefined]);
    else {
      out.push([key, encoded.slice(at, at + valueLength - 1)]);
      at += valueLength - 1;
    }
  }
  return out;
}

/** undo: per connected block, the previous values of every state key it wrote. */
export class UndoRepository {
  private readonly getStmt: StatementSync;
  private readonly putStmt: StatementSync;
  private readonly deleteStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.getStmt = db.prepare('SELECT bytes FROM undo WHERE hash = ?');
    this.putStmt = db.prepare('INSERT OR REPLACE INTO undo (hash, bytes) VALUES (?, ?)');
    this.deleteStmt = db.prepare('DELETE FROM undo WHERE hash = ?');
  }

  get(hash: Uint8Array): UndoEntries | undefined {
    const row = this.getStmt.get(hash) as Row | undefined;
    return row ? decodeUndo(bytes(row.bytes)) : undefined;
  }

  put(hash: Uint8Array, entries: UndoEntries): void {
    this.putStmt.run(hash, encodeUndo(entries));
  }

  delete(hash: Uint8Array): void {
    this.deleteStmt.run(hash);
  }
}

export interface TxLocation {
  blockHash: Uint8Array;
  height: number;
  index: number;
  /** Byte range of the encoded transaction inside the encoded block. */
  offset: number;
  length: number;
}

/** tx_index: transaction id -> where it sits on the best chain. */
export class TxIndexRepository {
  private readonly getStmt: StatementSync;
  private readonly putStmt: StatementSync;
  private readonly putBatchStmt: StatementSync;
  private readonly deleteStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.getStmt = db.prepare('SELECT block_hash, height, idx, offset, length FROM tx_index WHERE id = ?');
    this.putStmt = db.prepare(
      'INSERT OR REPLACE INTO tx_index (id, block_hash, height, idx, offset, length) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.putBatchStmt = db.prepare(
      `INSERT OR REPLACE INTO tx_index (id, block_hash, height, idx, offset, length) VALUES ${placeholders(6)}`,
    );
    this.deleteStmt = db.prepare('DELETE FROM tx_index WHERE id = ?');
  }

  get(id: Uint8Array): TxLocation | undefined {
    const row = this.getStmt.get(id) as Row | undefined;
    if (!row) return undefined;
    return {
      blockHash: bytes(row.block_hash),
      height: row.height as number,
      index: row.idx as number,
      offset: row.offset as number,
      length: row.length as number,
    };
  }

  put(id: Uint8Array, at: TxLocation): void {
    this.putStmt.run(id, at.blockHash, at.height, at.index, at.offset, at.length);
  }

  /** Many rows with few statements (a block's worth). */
  putMany(rows: Array<[Uint8Array, TxLocation]>): void {
    let i = 0;
    for (; i + BATCH <= rows.length; i += BATCH) {
      const args: Array<Uint8Array | number> = [];
      for (let j = i; j < i + BATCH; j++) {
        const [id, at] = rows[j];
        args.push(id, at.blockHash, at.height, at.index, at.offset, at.length);
      }
      this.putBatchStmt.run(...args);
    }
    for (; i < rows.length; i++) this.put(rows[i][0], rows[i][1]);
  }

  delete(id: Uint8Array): void {
    this.deleteStmt.run(id);
  }
}

/** address_txs: address -> ids of the best-chain transactions that touch it, newest first. */
export class AddressIndexRepository {
  private readonly listStmt: StatementSync;
  private readonly putStmt: StatementSync;
  private readonly putBatchStmt: StatementSync;
  private readonly deleteStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.listStmt = db.prepare(
      'SELECT tx_id FROM address_txs WHERE address = ? ORDER BY height DESC, idx DESC LIMIT ?',
    );
    this.putStmt = db.prepare(
      'INSERT OR IGNORE INTO address_txs (address, height, idx, tx_id) VALUES (?, ?, ?, ?)',
    );
    this.putBatchStmt = db.prepare(
      `INSERT OR IGNORE INTO address_txs (address, height, idx, tx_id) VALUES ${placeholders(4)}`,
    );
    this.deleteStmt = db.prepare('DELETE FROM address_txs WHERE address = ? AND height = ? AND idx = ?');
  }

  list(address: Uint8Array, limit: number): Uint8Array[] {
    return (this.listStmt.all(address, limit) as Row[]).map((r) => bytes(r.tx_id));
  }

  put(address: Uint8Array, height: number, index: number, id: Uint8Array): void {
    this.putStmt.run(address, height, index, id);
  }

  /** Rows of [address, index in block, tx id] at one height, with few statements. */
  putMany(height: number, rows: Array<[Uint8Array, number, Uint8Array]>): void {
    let i = 0;
    for (; i + BATCH <= rows.length; i += BATCH) {
      const args: Array<Uint8Array | number> = [];
      for (let j = i; j < i + BATCH; j++) args.push(rows[j][0], height, rows[j][1], rows[j][2]);
      this.putBatchStmt.run(...args);
    }
    for (; i < rows.length; i++) this.put(rows[i][0], height, rows[i][1], rows[i][2]);
  }

  delete(address: Uint8Array, height: number, index: number): void {
    this.deleteStmt.run(address, height, index);
  }
}

export interface SupplySnapshot {
  minted: bigint;
  locked: bigint;
}

/** supply: the chain's totals after each best-chain height. */
export class SupplyRepository {
  private readonly getStmt: StatementSync;
  private readonly putStmt: StatementSync;
  private readonly deleteStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.getStmt = db.prepare('SELECT minted, locked FROM supply WHERE height = ?');
    this.putStmt = db.prepare('INSERT OR REPLACE INTO supply (height, minted, locked) VALUES (?, ?, ?)');
    this.deleteStmt = db.prepare('DELETE FROM supply WHERE height = ?');
  }

  get(height: number): SupplySnapshot | undefined {
    const row = this.getStmt.get(height) as Row | undefined;
    if (!row) return undefined;
    return { minted: BigInt(row.minted as string), locked: BigInt(row.locked as string) };
  }

  put(height: number, snapshot: SupplySnapshot): void {
    this.putStmt.run(height, snapshot.minted.toString(), snapshot.locked.toString());
  }

  delete(height: number): void {
    this.deleteStmt.run(height);
  }
}

/** meta: chain-wide values (the tip hash, the genesis hash). */
export class MetaRepository {
  private readonly getStmt: StatementSync;
  private readonly putStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.getStmt = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.putStmt = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
  }

  get(key: 'tip' | 'genesis'): Uint8Array | undefined {
    const row = this.getStmt.get(key) as Row | undefined;
    return row ? bytes(row.value) : undefined;
  }

  put(key: 'tip' | 'genesis', value: Uint8Array): void {
    this.putStmt.run(key, value);
  }
}
