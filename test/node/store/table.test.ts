// The typed table under the repositories: its statements, and its specs against db.ts's schema.
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { openDatabase } from '../../../src/node/store/db.ts';
import { tableSpecs } from '../../../src/node/store/repositories.ts';
import {
  BATCH,
  blob,
  decimal,
  hex,
  integer,
  SqlTable,
  type TableSpec,
  text,
} from '../../../src/node/store/table.ts';

interface Entry {
  owner: string;
  seq: number;
  amount: bigint;
  work: bigint;
  data: Uint8Array;
}

const spec = (onConflict?: 'ignore'): TableSpec<Entry, 'owner' | 'seq'> => ({
  name: 'entries',
  columns: { owner: text, seq: integer, amount: decimal, work: hex, data: blob },
  key: ['owner', 'seq'],
  onConflict,
});

function entriesTable(onConflict?: 'ignore') {
  const db = new DatabaseSync(':memory:');
  db.exec(
    'CREATE TABLE entries (owner TEXT NOT NULL, seq INTEGER NOT NULL, amount TEXT NOT NULL, work TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (owner, seq)) WITHOUT ROWID',
  );
  return { db, table: new SqlTable(db, spec(onConflict)) };
}

const entry = (owner: string, seq: number, amount = 1n): Entry => ({
  owner,
  seq,
  amount,
  work: amount * 3n,
  data: new Uint8Array([seq & 0xff]),
});

describe('SqlTable', () => {
  it('puts, gets and deletes a row by its key, each column through its codec', () => {
    const { db, table } = entriesTable();
    const big = entry('a', 1, 2n ** 100n);
    table.put(big);
    assert.deepEqual(table.get({ owner: 'a', seq: 1 }), big);
    assert.deepEqual(
      { ...db.prepare('SELECT amount, work FROM entries').get() },
      {
        amount: (2n ** 100n).toString(),
        work: `0x${(3n * 2n ** 100n).toString(16)}`,
      },
    );
    assert.equal(table.get({ owner: 'a', seq: 2 }), undefined);
    table.delete({ owner: 'a', seq: 1 });
    assert.equal(table.get({ owner: 'a', seq: 1 }), undefined);
  });

  it('replaces a row whose key is taken, or keeps the stored one when told to ignore', () => {
    const replacing = entriesTable().table;
    replacing.put(entry('a', 1, 1n));
    replacing.put(entry('a', 1, 2n));
    assert.equal(replacing.get({ owner: 'a', seq: 1 })?.amount, 2n);
    const ignoring = entriesTable('ignore').table;
    ignoring.put(entry('a', 1, 1n));
    ignoring.put(entry('a', 1, 2n));
    assert.equal(ignoring.get({ owner: 'a', seq: 1 })?.amount, 1n);
  });

  it('puts many rows, whole batches and the rest', () => {
    const { db, table } = entriesTable();
    const rows = Array.from({ length: 2 * BATCH + 5 }, (_, i) => entry('a', i, BigInt(i)));
    table.putMany(rows);
    assert.equal(db.prepare('SELECT count(*) AS n FROM entries').get()?.n, rows.length);
    for (const row of rows) assert.deepEqual(table.get(row), row);
  });

  it('lists the rows under a key prefix in key order or reversed, up to a limit', () => {
    const { table } = entriesTable();
    table.putMany([entry('b', 2), entry('a', 3), entry('b', 1), entry('a', 1), entry('b', 3)]);
    const seqs = (rows: Entry[]) => rows.map((r) => `${r.owner}${r.seq}`);
    assert.deepEqual(seqs(table.list({ owner: 'b' }, { limit: 10 })), ['b1', 'b2', 'b3']);
    assert.deepEqual(seqs(table.list({ owner: 'b' }, { limit: 2, reverse: true })), ['b3', 'b2']);
    assert.deepEqual(seqs(table.list({}, { limit: 3 })), ['a1', 'a3', 'b1']);
    assert.throws(() => table.list({ seq: 1 }, { limit: 1 }), /leading key columns/);
  });

  it('every repository names its table, columns and primary key as db.ts creates them', () => {
    const db = openDatabase(':memory:');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    assert.deepEqual(
      tables.map((t) => t.name),
      tableSpecs.map((s) => s.name).sort(),
    );
    for (const s of tableSpecs) {
      const info = db.prepare(`PRAGMA table_info(${s.name})`).all();
      assert.deepEqual(
        info.map((c) => c.name),
        Object.keys(s.columns),
        s.name,
      );
      const key = info
        .filter((c) => (c.pk as number) > 0)
        .sort((a, b) => (a.pk as number) - (b.pk as number))
        .map((c) => c.name);
      assert.deepEqual(key, s.key, s.name);
    }
  });
});
