// libp2p's datastore for a node: the peer store (peers, their addresses, tags) in one SQLite
// file in the datadir, so a restarted node knows whom to dial without its bootstrap list.
// DHT records, which any peer may ask a DHT server to keep, stay in a bounded map in memory.
import { DatabaseSync } from 'node:sqlite';
import { NotFoundError } from '@libp2p/interface';
import { type Batch, type Datastore, Key, type KeyQuery, type Pair, type Query } from 'interface-datastore';

/** Key prefixes kept on disk: libp2p's peer store. */
const PERSISTED_PREFIXES = ['/peers/'];
/** Entries of other prefixes kept in memory; beyond this the oldest are dropped. */
const DEFAULT_MEMORY_CAPACITY = 10_000;

const SCHEMA =
  'CREATE TABLE IF NOT EXISTS datastore (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID';

export class PeerDatastore implements Datastore {
  private readonly db: DatabaseSync;
  private readonly memory = new Map<string, Uint8Array>();
  private readonly memoryCapacity: number;

  /** `path` is a SQLite file (created if missing), or `:memory:`. */
  constructor(path: string, opts: { memoryCapacity?: number } = {}) {
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.memoryCapacity = opts.memoryCapacity ?? DEFAULT_MEMORY_CAPACITY;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  put(key: Key, value: Uint8Array): Key {
    const k = key.toString();
    if (persisted(k)) {
      this.db.prepare('INSERT OR REPLACE INTO datastore (key, value) VALUES (?, ?)').run(k, value);
    } else {
      this.memory.delete(k);
      this.memory.set(k, value);
      if (this.memory.size > this.memoryCapacity)
        this.memory.delete(this.memory.keys().next().value as string);
    }
    return key;
  }

  get(key: Key): Uint8Array {
    const value = this.read(key.toString());
    if (value === undefined) throw new NotFoundError(`no datastore entry ${key.toString()}`);
    return value;
  }

  has(key: Key): boolean {
    return this.read(key.toString()) !== undefined;
  }

  delete(key: Key): void {
    const k = key.toString();
    if (persisted(k)) this.db.prepare('DELETE FROM datastore WHERE key = ?').run(k);
    else this.memory.delete(k);
  }

  *putMany(source: Iterable<Pair>): Generator<Key> {
    for (const { key, value } of source) yield this.put(key, value);
  }

  *getMany(source: Iterable<Key>): Generator<Pair> {
    for (const key of source) yield { key, value: this.get(key) };
  }

  *deleteMany(source: Iterable<Key>): Generator<Key> {
    for (const key of source) {
      this.delete(key);
      yield key;
    }
  }

  batch(): Batch {
    const ops: Array<{ key: Key; value?: Uint8Array }> = [];
    return {
      put: (key, value) => {
        ops.push({ key, value });
      },
      delete: (key) => {
        ops.push({ key });
      },
      commit: () => {
        this.db.exec('BEGIN IMMEDIATE');
        try {
          for (const op of ops) {
            if (op.value === undefined) this.delete(op.key);
            else this.put(op.key, op.value);
          }
        } catch (e) {
          this.db.exec('ROLLBACK');
          throw e;
        }
        this.db.exec('COMMIT');
        ops.length = 0;
      },
    };
  }

  *query(q: Query): Generator<Pair> {
    let pairs = this.entries(q.prefix);
    for (const filter of q.filters ?? []) pairs = pairs.filter(filter);
    for (const order of q.orders ?? []) pairs.sort(order);
    yield* window(pairs, q.offset, q.limit);
  }

  *queryKeys(q: KeyQuery): Generator<Key> {
    let keys = this.entries(q.prefix).map((p) => p.key);
    for (const filter of q.filters ?? []) keys = keys.filter(filter);
    for (const order of q.orders ?? []) keys.sort(order);
    yield* window(keys, q.offset, q.limit);
  }

  private read(k: string): Uint8Array | undefined {
    if (!persisted(k)) return this.memory.get(k);
    const row = this.db.prepare('SELECT value FROM datastore WHERE key = ?').get(k) as
      | { value: Uint8Array }
      | undefined;
    return row === undefined ? undefined : new Uint8Array(row.value);
  }

  /** Every entry whose key starts with `prefix`, disk first, each part in key order. */
  private entries(prefix = ''): Pair[] {
    const rows = this.db
      .prepare('SELECT key, value FROM datastore WHERE substr(key, 1, ?) = ? ORDER BY key')
      .all(prefix.length, prefix) as Array<{ key: string; value: Uint8Array }>;
    const out: Pair[] = rows.map((r) => ({ key: new Key(r.key), value: new Uint8Array(r.value) }));
    const inMemory = [...this.memory]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [k, value] of inMemory) out.push({ key: new Key(k), value });
    return out;
  }
}

function persisted(key: string): boolean {
  return PERSISTED_PREFIXES.some((p) => key.startsWith(p));
}

function window<T>(items: T[], offset = 0, limit?: number): T[] {
  return items.slice(offset, limit === undefined ? undefined : offset + limit);
}
