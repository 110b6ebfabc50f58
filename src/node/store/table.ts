// A typed view of one SQLite table: a row type, a codec per column, the primary key's columns,
// and the statements every repository needs (get, put, put many, delete, list by key prefix),
// each prepared once per connection. The schema itself stays in db.ts; this only reads and writes.
import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from 'node:sqlite';

/** How one column's value is stored: to the SQLite value and back. */
export interface Column<T> {
  encode(value: T): SQLInputValue;
  decode(value: SQLOutputValue): T;
}

export const blob: Column<Uint8Array> = { encode: (v) => v, decode: (v) => v as Uint8Array };
export const integer: Column<number> = { encode: (v) => v, decode: (v) => v as number };
export const text: Column<string> = { encode: (v) => v, decode: (v) => v as string };
/** A bigint as decimal text. */
export const decimal: Column<bigint> = { encode: (v) => v.toString(), decode: (v) => BigInt(v as string) };
/** A bigint as 0x-prefixed hex text. */
export const hex: Column<bigint> = {
  encode: (v) => `0x${v.toString(16)}`,
  decode: (v) => BigInt(v as string),
};

/** A blob column holding a value in its byte encoding. */
export function encoded<T>(encode: (value: T) => Uint8Array, decode: (bytes: Uint8Array) => T): Column<T> {
  return { encode, decode: (v) => decode(v as Uint8Array) };
}

export type Columns<R> = { readonly [C in keyof R]-?: Column<R[C]> };

export interface TableSpec<R, K extends keyof R & string> {
  /** The table's name in db.ts's schema. */
  name: string;
  /** Every column, in the schema's order; a row's field names are the column names. */
  columns: Columns<R>;
  /** The primary key's columns, in its order. */
  key: readonly K[];
  /** What `put` does with a row whose key is taken: replace it (the default) or keep the stored one. */
  onConflict?: 'replace' | 'ignore';
}

/** Rows per multi-row INSERT: fewer statements per block, far below SQLite's parameter limit. */
export const BATCH = 64;

export class SqlTable<R, K extends keyof R & string> {
  readonly spec: TableSpec<R, K>;
  private readonly db: DatabaseSync;
  private readonly names: Array<keyof R & string>;
  private readonly codecs: Array<Column<unknown>>;
  private readonly keyCodecs: Array<Column<unknown>>;
  private readonly insert: string;
  private getStmt: StatementSync | undefined;
  private putStmt: StatementSync | undefined;
  private putBatchStmt: StatementSync | undefined;
  private deleteStmt: StatementSync | undefined;
  private readonly listStmts = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, spec: TableSpec<R, K>) {
    this.db = db;
    this.spec = spec;
    this.names = Object.keys(spec.columns) as Array<keyof R & string>;
    this.codecs = this.names.map((name) => spec.columns[name] as Column<unknown>);
    this.keyCodecs = spec.key.map((name) => spec.columns[name] as Column<unknown>);
    const verb = spec.onConflict === 'ignore' ? 'INSERT OR IGNORE' : 'INSERT OR REPLACE';
    this.insert = `${verb} INTO ${spec.name} (${this.names.join(', ')}) VALUES `;
  }

  get(key: Pick<R, K>): R | undefined {
    this.getStmt ??= this.db.prepare(
      `SELECT ${this.names.join(', ')} FROM ${this.spec.name} WHERE ${this.keyWhere()}`,
    );
    const raw = this.getStmt.get(...this.keyArgs(key));
    return raw ? this.decode(raw) : undefined;
  }

  put(row: R): void {
    this.putStmt ??= this.db.prepare(this.insert + this.tuple());
    const args: SQLInputValue[] = [];
    this.pushRow(args, row);
    this.putStmt.run(...args);
  }

  /** Many rows with few statements (a block's worth): BATCH rows per INSERT, the rest one by one. */
  putMany(rows: readonly R[]): void {
    let i = 0;
    if (rows.length >= BATCH) {
      this.putBatchStmt ??= this.db.prepare(this.insert + new Array(BATCH).fill(this.tuple()).join(', '));
      for (; i + BATCH <= rows.length; i += BATCH) {
        const args: SQLInputValue[] = [];
        for (let j = i; j < i + BATCH; j++) this.pushRow(args, rows[j]);
        this.putBatchStmt.run(...args);
      }
    }
    for (; i < rows.length; i++) this.put(rows[i]);
  }

  delete(key: Pick<R, K>): void {
    this.deleteStmt ??= this.db.prepare(`DELETE FROM ${this.spec.name} WHERE ${this.keyWhere()}`);
    this.deleteStmt.run(...this.keyArgs(key));
  }

  /**
   * Up to `limit` rows whose leading key columns equal `prefix`, in key order (or reversed).
   * `prefix` names the first key columns, in the key's order.
   */
  list(prefix: Partial<Pick<R, K>>, options: { limit: number; reverse?: boolean }): R[] {
    const fixed = this.spec.key.filter((name) => name in prefix);
    if (fixed.some((name, i) => name !== this.spec.key[i]))
      throw new Error(`${this.spec.name}: a prefix names leading key columns, not ${fixed.join(', ')}`);
    const reverse = options.reverse === true;
    const id = `${fixed.length}${reverse ? 'r' : ''}`;
    let stmt = this.listStmts.get(id);
    if (!stmt) {
      const where = fixed.length > 0 ? ` WHERE ${fixed.map((name) => `${name} = ?`).join(' AND ')}` : '';
      const order = this.spec.key
        .slice(fixed.length)
        .map((name) => `${name}${reverse ? ' DESC' : ''}`)
        .join(', ');
      stmt = this.db.prepare(
        `SELECT ${this.names.join(', ')} FROM ${this.spec.name}${where}${order ? ` ORDER BY ${order}` : ''} LIMIT ?`,
      );
      this.listStmts.set(id, stmt);
    }
    const args = fixed.map((name, i) => this.keyCodecs[i].encode(prefix[name]));
    return stmt.all(...args, options.limit).map((raw) => this.decode(raw));
  }

  private tuple(): string {
    return `(${this.names.map(() => '?').join(', ')})`;
  }

  private keyWhere(): string {
    return this.spec.key.map((name) => `${name} = ?`).join(' AND ');
  }

  private keyArgs(key: Pick<R, K>): SQLInputValue[] {
    const { key: names } = this.spec;
    const args: SQLInputValue[] = new Array(names.length);
    for (let i = 0; i < names.length; i++) args[i] = this.keyCodecs[i].encode(key[names[i]]);
    return args;
  }

  private pushRow(args: SQLInputValue[], row: R): void {
    for (let i = 0; i < this.names.length; i++) args.push(this.codecs[i].encode(row[this.names[i]]));
  }

  private decode(raw: Record<string, SQLOutputValue>): R {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < this.names.length; i++)
      row[this.names[i]] = this.codecs[i].decode(raw[this.names[i]]);
    return row as R;
  }
}
