import { Account, Supply } from '../codec/types.ts';
import { sha256, toHex } from '../crypto/hash.ts';

/** Read access to committed state: key -> encoded value. The node backs it with SQLite. */
export interface StateReader {
  get(key: string): Uint8Array | undefined;
  /**
   * Up to `limit` entries whose key starts with `prefix`, in key order (byte order of the
   * UTF-8 keys, which is JS string order for the ASCII keys the state uses). Sorted indexes
   * (payout queues, deadlines) are read with it; a reader without it holds no such entries.
   */
  scan?(prefix: string, limit: number): Array<[string, Uint8Array]>;
}

/** A typed family of state entries sharing a key prefix. */
export interface Table<T> {
  prefix: string;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

export const accounts: Table<Account> = {
  prefix: 'acct/',
  encode: (v) => Account.serialize(v),
  decode: (b) => Account.deserialize(b),
};

export const supply: Table<Supply> = {
  prefix: 'supply/',
  encode: (v) => Supply.serialize(v),
  decode: (b) => Supply.deserialize(b),
};

export const EMPTY_ACCOUNT: Account = Object.freeze({ balance: 0n, locked: 0n, nonce: 0 });
export const EMPTY_SUPPLY: Supply = Object.freeze({ minted: 0n, locked: 0n });

/** Adds `amount` to an account's balance; a zero amount writes nothing (so the state root is unchanged). */
export function credit(state: StateOverlay, id: string, amount: bigint): void {
  if (amount === 0n) return;
  const account = state.read(accounts, id) ?? EMPTY_ACCOUNT;
  state.write(accounts, id, { ...account, balance: account.balance + amount });
}

interface Entry {
  table: Table<unknown>;
  value: unknown;
}

/**
 * Pending writes over a StateReader. Values are decoded once and treated as immutable; a
 * journal lets one transaction's writes be undone without touching the rest of the block.
 */
export class StateOverlay implements StateReader {
  readonly base: StateReader;
  private readonly entries = new Map<string, Entry>();
  private readonly journal: Array<[string, Entry | undefined]> = [];

  constructor(base: StateReader) {
    this.base = base;
  }

  read<T>(table: Table<T>, id: string): T | undefined {
    const key = table.prefix + id;
    const entry = this.entries.get(key);
    if (entry) return entry.value as T | undefined;
    const bytes = this.base.get(key);
    return bytes === undefined ? undefined : table.decode(bytes);
  }

  write<T>(table: Table<T>, id: string, value: T | undefined): void {
    const key = table.prefix + id;
    this.journal.push([key, this.entries.get(key)]);
    this.entries.set(key, { table: table as Table<unknown>, value });
  }

  /** A mark to roll back to with `revert`. */
  checkpoint(): number {
    return this.journal.length;
  }

  revert(mark: number): void {
    while (this.journal.length > mark) {
      const [key, previous] = this.journal.pop()!;
      if (previous) this.entries.set(key, previous);
      else this.entries.delete(key);
    }
  }

  /** Raw get through the overlay, so overlays can stack. */
  get(key: string): Uint8Array | undefined {
    const entry = this.entries.get(key);
    if (!entry) return this.base.get(key);
    return entry.value === undefined ? undefined : entry.table.encode(entry.value);
  }

  /** Ordered prefix scan: the base's entries merged with this overlay's writes and deletions. */
  scan(prefix: string, limit: number): Array<[string, Uint8Array]> {
    if (limit <= 0) return [];
    const mine: Array<[string, Entry]> = [];
    for (const [key, entry] of this.entries) if (key.startsWith(prefix)) mine.push([key, entry]);
    mine.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    // Every key written here may hide a base entry, so ask the base for that many more.
    const base = this.base.scan?.(prefix, limit + mine.length) ?? [];
    const out: Array<[string, Uint8Array]> = [];
    let i = 0;
    let j = 0;
    while (out.length < limit && (i < base.length || j < mine.length)) {
      const b = base[i];
      const m = mine[j];
      if (m === undefined || (b !== undefined && b[0] < m[0])) {
        out.push(b);
        i++;
        continue;
      }
      if (b !== undefined && b[0] === m[0]) i++;
      j++;
      if (m[1].value !== undefined) out.push([m[0], m[1].table.encode(m[1].value)]);
    }
    return out;
  }

  /** The encoded writes, sorted by key: undefined means deleted. */
  changes(): Array<[string, Uint8Array | undefined]> {
    const out: Array<[string, Uint8Array | undefined]> = [];
    for (const [key, entry] of this.entries) {
      out.push([key, entry.value === undefined ? undefined : entry.table.encode(entry.value)]);
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

/**
 * The state root after a block: sha256(previous root || digest of the block's sorted writes).
 * It is cheap (proportional to what the block changed) and equal on every node that applied
 * the same blocks; it does not give inclusion proofs (see ARCHITECTURE.md, "State root").
 * Each write is laid out as: u32 BE key length, u32 BE value length, the key's UTF-8 bytes,
 * 1 (present) or 0 (deleted), the value's bytes; all of them in one buffer, hashed once.
 */
export function nextStateRoot(
  previousRoot: Uint8Array,
  changes: Array<[string, Uint8Array | undefined]>,
): Uint8Array {
  let size = previousRoot.length;
  const keyBytes = new Array<number>(changes.length);
  for (let i = 0; i < changes.length; i++) {
    const [key, value] = changes[i];
    keyBytes[i] = Buffer.byteLength(key, 'utf8');
    size += 9 + keyBytes[i] + (value ? value.length : 0);
  }
  const all = Buffer.allocUnsafe(size);
  all.set(previousRoot, 0);
  let at = previousRoot.length;
  for (let i = 0; i < changes.length; i++) {
    const [key, value] = changes[i];
    all.writeUInt32BE(keyBytes[i], at);
    all.writeUInt32BE(value ? value.length : 0, at + 4);
    at += 8;
    at += all.write(key, at, 'utf8');
    all[at++] = value ? 1 : 0;
    if (value) {
      all.set(value, at);
      at += value.length;
    }
  }
  return sha256(all);
}

export function accountId(address: Uint8Array): string {
  return toHex(address);
}
