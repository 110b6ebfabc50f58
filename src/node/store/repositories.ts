// One repository per table, each a typed SqlTable (table.ts) with its domain's keys and values;
// hand-written SQL only where a query is special (a status update, a byte slice, a key-range scan).
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { Header } from '../../core/codec/types.ts';
import type { StateReader } from '../../core/ledger/state.ts';
import {
  blob,
  type Column,
  decimal,
  encoded,
  hex,
  integer,
  SqlTable,
  type TableSpec,
  text,
} from './table.ts';

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

interface HeaderRow {
  hash: Uint8Array;
  height: number;
  parent: Uint8Array;
  header: Header;
  work: bigint;
  status: BlockStatus;
}

const headersTable: TableSpec<HeaderRow, 'hash'> = {
  name: 'headers',
  columns: {
    hash: blob,
    height: integer,
    parent: blob,
    header: encoded(
      (h: Header) => Header.serialize(h),
      (b) => Header.deserialize(b),
    ),
    work: hex,
    status: integer as Column<BlockStatus>,
  },
  key: ['hash'],
};

/** headers: every stored block's header, its cumulative work and its status, by hash. */
export class HeaderRepository {
  private readonly table: SqlTable<HeaderRow, 'hash'>;
  private readonly statusStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.table = new SqlTable(db, headersTable);
    this.statusStmt = db.prepare('UPDATE headers SET status = ? WHERE hash = ?');
  }

  get(hash: Uint8Array): HeaderRecord | undefined {
    const row = this.table.get({ hash });
    if (!row) return undefined;
    return { hash, height: row.height, header: row.header, work: row.work, status: row.status };
  }

  put(record: HeaderRecord): void {
    this.table.put({ ...record, parent: record.header.parent });
  }

  setStatus(hash: Uint8Array, status: BlockStatus): void {
    this.statusStmt.run(status, hash);
  }
}

interface BlockRow {
  hash: Uint8Array;
  bytes: Uint8Array;
}

const blocksTable: TableSpec<BlockRow, 'hash'> = {
  name: 'blocks',
  columns: { hash: blob, bytes: blob },
  key: ['hash'],
  onConflict: 'ignore',
};

/** blocks: the encoded block by hash (side branches included). */
export class BlockRepository {
  private readonly table: SqlTable<BlockRow, 'hash'>;
  private readonly sliceStmt: StatementSync;

  constructor(db: DatabaseSync) {
    this.table = new SqlTable(db, blocksTable);
    this.sliceStmt = db.prepare('SELECT substr(bytes, ?, ?) AS part FROM blocks WHERE hash = ?');
  }

  get(hash: Uint8Array): Uint8Array | undefined {
    return this.table.get({ hash })?.bytes;
  }

  /** `length` bytes of the encoded block from `offset` (e.g. one transaction). */
  slice(hash: Uint8Array, offset: number, length: number): Uint8Array | undefined {
    const row = this.sliceStmt.get(offset + 1, length, hash);
    return row ? (row.part as Uint8Array) : undefined;
  }

  put(hash: Uint8Array, bytes: Uint8Array): void {
    this.table.put({ hash, bytes });
  }
}

interface BestChainRow {
  height: number;
  hash: Uint8Array;
}

const bestChainTable: TableSpec<BestChainRow, 'height'> = {
  name: 'best_chain',
  columns: { height: integer, hash: blob },
  key: ['height'],
};

/** best_chain: height -> hash of the block at that height on the best chain. */
export class BestChainRepository {
  private readonly table: SqlTable<BestChainRow, 'height'>;

  constructor(db: DatabaseSync) {
    this.table = new SqlTable(db, bestChainTable);
  }

  get(height: number): Uint8Array | undefined {
    return this.table.get({ height })?.hash;
  }

  put(height: number, hash: Uint8Array): void {
    this.table.put({ height, hash });
  }

  delete(height: number): void {
    this.table.delete({ height });
  }
}

interface StateRow {
  key: string;
  value: Uint8Array;
}

const stateTable: TableSpec<StateRow, 'key'> = {
  name: 'state',
  columns: { key: text, value: blob },
  key: ['key'],
};

/**
 * state: key -> encoded value, the committed ledger state (a `StateReader` for core). Reads go
 * through a cache of committed values; writes made inside an open transaction are kept aside
 * until it commits, so a rollback leaves the cache exact.
 */
export class StateRepository implements StateReader {
  private readonly table: SqlTable<StateRow, 'key'>;
  private readonly cache = new Map<string, Uint8Array | null>();
  private pending: Map<string, Uint8Array | null> | undefined;
  private readonly capacity: number;

  private readonly db: DatabaseSync;

  constructor(db: DatabaseSync, capacity = 200_000) {
    this.db = db;
    this.table = new SqlTable(db, stateTable);
    this.capacity = capacity;
  }

  get(key: string): Uint8Array | undefined {
    const staged = this.pending?.get(key);
    if (staged !== undefined) return staged ?? undefined;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const value = this.table.get({ key })?.value;
    // Own writes are all in `pending`, so what the table returns here is committed state.
    this.remember(key, value ?? null);
    return value;
  }

  /** Writes (or, for undefined, deletes) each key. Only inside a transaction. */
  write(entries: Array<[string, Uint8Array | undefined]>): void {
    const pending = this.pending;
    if (!pending) throw new Error('state writes need an open transaction');
    for (const [key, value] of entries) {
      if (value === undefined) this.table.delete({ key });
      else this.table.put({ key, value });
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
    const rows = this.scanStmt.all(prefix, prefixEnd(prefix), limit);
    return rows.map((r) => [r.key as string, r.value as Uint8Array]);
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

interface UndoRow {
  hash: Uint8Array;
  bytes: UndoEntries;
}

const undoTable: TableSpec<UndoRow, 'hash'> = {
  name: 'undo',
  columns: { hash: blob, bytes: encoded(encodeUndo, decodeUndo) },
  key: ['hash'],
};

/** undo: per connected block, the previous values of every state key it wrote. */
export class UndoRepository {
  private readonly table: SqlTable<UndoRow, 'hash'>;

  constructor(db: DatabaseSync) {
    this.table = new SqlTable(db, undoTable);
  }

  get(hash: Uint8Array): UndoEntries | undefined {
    return this.table.get({ hash })?.bytes;
  }

  put(hash: Uint8Array, entries: UndoEntries): void {
    this.table.put({ hash, bytes: entries });
  }

  delete(hash: Uint8Array): void {
    this.table.delete({ hash });
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

interface TxIndexRow {
  id: Uint8Array;
  block_hash: Uint8Array;
  height: number;
  idx: number;
  offset: number;
  length: number;
}

const txIndexTable: TableSpec<TxIndexRow, 'id'> = {
  name: 'tx_index',
  columns: { id: blob, block_hash: blob, height: integer, idx: integer, offset: integer, length: integer },
  key: ['id'],
};

function txIndexRow(id: Uint8Array, at: TxLocation): TxIndexRow {
  return {
    id,
    block_hash: at.blockHash,
    height: at.height,
    idx: at.index,
    offset: at.offset,
    length: at.length,
  };
}

/** tx_index: transaction id -> where it sits on the best chain. */
export class TxIndexRepository {
  private readonly table: SqlTable<TxIndexRow, 'id'>;

  constructor(db: DatabaseSync) {
    this.table = new SqlTable(db, txIndexTable);
  }

  get(id: Uint8Array): TxLocation | undefined {
    const row = this.table.get({ id });
    if (!row) return undefined;
    return {
      blockHash: row.block_hash,
      height: row.height,
      index: row.idx,
      offset: row.offset,
      length: row.length,
    };
  }

  put(id: Uint8Array, at: TxLocation): void {
    this.table.put(txIndexRow(id, at));
  }

  /** Many rows with few statements (a block's worth). */
  putMany(rows: Array<[Uint8Array, TxLocation]>): void {
    this.table.putMany(rows.map(([id, at]) => txIndexRow(id, at)));
  }

  delete(id: Uint8Array): void {
    this.table.delete({ id });
  }
}

interface AddressTxRow {
  address: Uint8Array;
  height: number;
  idx: number;
  tx_id: Uint8Array;
}

const addressTxsTable: TableSpec<AddressTxRow, 'address' | 'height' | 'idx'> = {
  name: 'address_txs',
  columns: { address: blob, height: integer, idx: integer, tx_id: blob },
  key: ['address', 'height', 'idx'],
  onConflict: 'ignore',
};

/** address_txs: address -> ids of the best-chain transactions that touch it, newest first. */
export class AddressIndexRepository {
  private readonly table: SqlTable<AddressTxRow, 'address' | 'height' | 'idx'>;

  constructor(db: DatabaseSync) {
    this.table = new SqlTable(db, addressTxsTable);
  }

  list(address: Uint8Array, limit: number): Uint8Array[] {
    return this.table.list({ address }, { limit, reverse: true }).map((row) => row.tx_id);
  }

  put(address: Uint8Array, height: number, idx: number, id: Uint8Array): void {
    this.table.put({ address, height, idx, tx_id: id });
  }

  /** Rows of [address, index in block, tx id] at one height, with few statements. */
  putMany(height: number, rows: Array<[Uint8Array, number, Uint8Array]>): void {
    this.table.putMany(rows.map(([address, idx, id]) => ({ address, height, idx, tx_id: id })));
  }

  delete(address: Uint8Array, height: number, idx: number): void {
    this.table.delete({ address, height, idx });
  }
}

export interface SupplySnapshot {
  minted: bigint;
  locked: bigint;
}

interface SupplyRow extends SupplySnapshot {
  height: number;
}

const supplyTable: TableSpec<SupplyRow, 'height'> = {
  name: 'supply',
  columns: { height: integer, minted: decimal, locked: decimal },
  key: ['height'],
};

/** supply: the chain's totals after each best-chain height. */
export class SupplyRepository {
  private readonly table: SqlTable<SupplyRow, 'height'>;

  constructor(db: DatabaseSync) {
    this.table = new SqlTable(db, supplyTable);
  }

  get(height: number): SupplySnapshot | undefined {
    const row = this.table.get({ height });
    return row && { minted: row.minted, locked: row.locked };
  }

  put(height: number, snapshot: SupplySnapshot): void {
    this.table.put({ height, minted: snapshot.minted, locked: snapshot.locked });
  }

  delete(height: number): void {
    this.table.delete({ height });
  }
}

type MetaKey = 'tip' | 'genesis';

interface MetaRow {
  key: MetaKey;
  value: Uint8Array;
}

const metaTable: TableSpec<MetaRow, 'key'> = {
  name: 'meta',
  columns: { key: text as Column<MetaKey>, value: blob },
  key: ['key'],
};

/** meta: chain-wide values (the tip hash, the genesis hash). */
export class MetaRepository {
  private readonly table: SqlTable<MetaRow, 'key'>;

  constructor(db: DatabaseSync) {
    this.table = new SqlTable(db, metaTable);
  }

  get(key: MetaKey): Uint8Array | undefined {
    return this.table.get({ key })?.value;
  }

  put(key: MetaKey, value: Uint8Array): void {
    this.table.put({ key, value });
  }
}

/** Every table's spec, for the test that holds them to db.ts's schema. */
export const tableSpecs = [
  headersTable,
  blocksTable,
  bestChainTable,
  stateTable,
  undoTable,
  txIndexTable,
  addressTxsTable,
  supplyTable,
  metaTable,
] as const;
