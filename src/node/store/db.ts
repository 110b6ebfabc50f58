// The node's database: one SQLite file in WAL mode. Every table is created here; the
// repositories in repositories.ts each own one of them, through a table spec that
// test/node/store/table.test.ts holds to this schema.
import { DatabaseSync } from 'node:sqlite';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS headers (
  hash BLOB PRIMARY KEY,
  height INTEGER NOT NULL,
  parent BLOB NOT NULL,
  header BLOB NOT NULL,
  work TEXT NOT NULL,
  status INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (hash BLOB PRIMARY KEY, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS best_chain (height INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS undo (hash BLOB PRIMARY KEY, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tx_index (
  id BLOB PRIMARY KEY,
  block_hash BLOB NOT NULL,
  height INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS address_txs (
  address BLOB NOT NULL,
  height INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  tx_id BLOB NOT NULL,
  PRIMARY KEY (address, height, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS supply (height INTEGER PRIMARY KEY, minted TEXT NOT NULL, locked TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
`;

/** Opens (or creates) the node's database file with the schema in place. */
export function openDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  // WAL + NORMAL: a killed process never loses a committed block (only a power cut could).
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA cache_size = -65536');
  db.exec('PRAGMA temp_store = MEMORY');
  db.exec(SCHEMA);
  return db;
}

/**
 * Runs `fn` inside BEGIN IMMEDIATE ... COMMIT; any throw rolls everything back and rethrows.
 * `fn` must be synchronous: nothing else may run on this connection while it is open.
 */
export function inTransaction<T>(db: DatabaseSync, fn: () => T, onRollback?: () => void): T {
  db.exec('BEGIN IMMEDIATE');
  let result: T;
  try {
    result = fn();
  } catch (e) {
    db.exec('ROLLBACK');
    onRollback?.();
    throw e;
  }
  db.exec('COMMIT');
  return result;
}
