// The chain's storage: the repositories over one database, and the block-level writes
// (connect / disconnect a block on the best chain) that the chain runs inside one transaction.
import type { DatabaseSync } from 'node:sqlite';
import { blockTxSpans } from '../../core/codec/ids.ts';
import { type Block, Supply } from '../../core/codec/types.ts';
import { addressBytes } from '../../core/crypto/keys.ts';
import { supply as supplyTable } from '../../core/ledger/state.ts';
import type { BlockEffects } from '../../core/ledger/types.ts';
import { inTransaction, openDatabase } from './db.ts';
import {
  AddressIndexRepository,
  BestChainRepository,
  BlockRepository,
  BlockStatus,
  HeaderRepository,
  MetaRepository,
  StateRepository,
  SupplyRepository,
  TxIndexRepository,
  UndoRepository,
} from './repositories.ts';

export interface ConnectInput {
  hash: Uint8Array;
  height: number;
  block: Block;
  /** The encoded block, as stored (its bytes give each transaction's range). */
  encoded: Uint8Array;
  /** Transaction ids, in block order. */
  ids: Uint8Array[];
  effects: Pick<BlockEffects, 'changes' | 'undo' | 'txSenders' | 'txParties'>;
}

const SUPPLY_KEY = supplyTable.prefix;
function compareBuffers(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export class ChainStore {
  readonly db: DatabaseSync;
  readonly headers: HeaderRepository;
  readonly blocks: BlockRepository;
  readonly best: BestChainRepository;
  readonly state: StateRepository;
  readonly undo: UndoRepository;
  readonly txIndex: TxIndexRepository;
  readonly addressIndex: AddressIndexRepository;
  readonly supply: SupplyRepository;
  readonly meta: MetaRepository;

  constructor(path: string) {
    this.db = openDatabase(path);
    this.headers = new HeaderRepository(this.db);
    this.blocks = new BlockRepository(this.db);
    this.best = new BestChainRepository(this.db);
    this.state = new StateRepository(this.db);
    this.undo = new UndoRepository(this.db);
    this.txIndex = new TxIndexRepository(this.db);
    this.addressIndex = new AddressIndexRepository(this.db);
    this.supply = new SupplyRepository(this.db);
    this.meta = new MetaRepository(this.db);
  }

  /** One SQL transaction (BEGIN IMMEDIATE ... COMMIT); a throw inside rolls all of it back. */
  transaction<T>(fn: () => T): T {
    this.state.begin();
    let result: T;
    try {
      result = inTransaction(this.db, fn);
    } catch (e) {
      this.state.rollback();
      throw e;
    }
    this.state.commit();
    return result;
  }

  /** Reads in one SQL read transaction (a consistent snapshot, and faster point reads). */
  readTransaction<T>(fn: () => T): T {
    this.db.exec('BEGIN');
    try {
      return fn();
    } finally {
      this.db.exec('COMMIT');
    }
  }

  /** Makes a stored block the next one of the best chain: state, undo, indexes, supply, status. */
  connectBlock(input: ConnectInput): void {
    const { hash, height, block, encoded, ids, effects } = input;
    this.state.write(effects.changes);
    this.undo.put(hash, effects.undo);
    this.best.put(height, hash);
    this.headers.setStatus(hash, BlockStatus.valid);
    const totals = effects.changes.find(([key]) => key === SUPPLY_KEY)?.[1] ?? this.state.get(SUPPLY_KEY);
    if (totals) this.supply.put(height, Supply.deserialize(totals));
    const txs = block.txs;
    const spans = blockTxSpans(encoded, txs.length);
    // Rows go in in key order: B-tree inserts then touch far fewer pages than in block order.
    const order = ids.map((_, i) => i).sort((a, b) => compareBuffers(ids[a], ids[b]));
    this.txIndex.putMany(
      order.map((i) => [
        ids[i],
        { blockHash: hash, height, index: i, offset: spans[i][0], length: spans[i][1] },
      ]),
    );
    const rows: Array<[Uint8Array, number, Uint8Array]> = [];
    for (let i = 0; i < txs.length; i++) {
      const body = txs[i].body;
      rows.push([effects.txSenders?.[i] ?? addressBytes(body.sender), i, ids[i]]);
      for (const party of effects.txParties?.[i] ?? []) rows.push([party, i, ids[i]]);
    }
    rows.sort((a, b) => compareBuffers(a[0], b[0]) || a[1] - b[1]);
    this.addressIndex.putMany(height, rows);
  }

  /** Takes the best chain's top block off: restores the state it changed and drops its indexes. */
  disconnectBlock(
    hash: Uint8Array,
    height: number,
    block: Block,
    ids: Uint8Array[],
    parties: Uint8Array[][],
  ): void {
    const undo = this.undo.get(hash);
    if (!undo) throw new Error(`no undo data for block at height ${height}: the database is damaged`);
    this.state.write(undo);
    this.undo.delete(hash);
    this.best.delete(height);
    this.supply.delete(height);
    for (let i = 0; i < block.txs.length; i++) {
      const body = block.txs[i].body;
      this.txIndex.delete(ids[i]);
      this.addressIndex.delete(addressBytes(body.sender), height, i);
      for (const party of parties[i] ?? []) this.addressIndex.delete(party, height, i);
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}
