// The node's chain: block import (core's consensus checks in the order they can run, around the
// state transition; one SQL transaction per block), side branches and reorgs by cumulative work,
// the mempool, and the queries of `Chain`.
import {
  BLOCK_FIXED_BYTES,
  blockHash,
  decodeBlock,
  decodeTx,
  encodeBlock,
  txId,
  txSigningMessage,
  txSigningMessageFromBytes,
} from '../../core/codec/ids.ts';
import type { Account, Block, FluxNodeRecord, Header, Tx } from '../../core/codec/types.ts';
import type { AsertAnchor } from '../../core/consensus/asert.ts';
import { expectedTarget } from '../../core/consensus/pouw.ts';
import {
  type CheckedBody,
  headerWork,
  isBetterChain,
  MEDIAN_TIME_SPAN,
  medianTime,
  tieWinner,
  validateBlockPostExecution,
  validateBlockPreExecution,
  validateHeader,
  validateHeaderAgainstParent,
} from '../../core/consensus/validate.ts';
import { bytesEqual, toHex } from '../../core/crypto/hash.ts';
import { addressBytes, SignatureVerifier } from '../../core/crypto/keys.ts';
import { blockSubsidy, type Tier } from '../../core/ledger/emission.ts';
import { fail, type LedgerError, type Result } from '../../core/ledger/errors.ts';
import { accountId, accounts, EMPTY_ACCOUNT, type StateReader } from '../../core/ledger/state.ts';
import type { BlockEffects } from '../../core/ledger/types.ts';
import { getNode, listNodes, nodesOfOperator, payoutQueueIds } from '../../core/nodes/queries.ts';
import type { ChainParams } from '../../core/params/index.ts';
import { executeBlock } from '../../core/transition/block.ts';
import { genesisBlock, genesisEffects } from '../../core/transition/genesis.ts';
import { txParties } from '../../core/transition/tx.ts';
import { BlockStatus, type HeaderRecord } from '../store/repositories.ts';
import { ChainStore } from '../store/store.ts';
import { Mempool } from './mempool.ts';
import type {
  Chain,
  ChainEvents,
  ChainTip,
  ImportResult,
  StoredTx,
  SubmitResult,
  SupplyInfo,
} from './types.ts';

export interface ChainOptions {
  params: ChainParams;
  dbPath: string;
  /** Checks the signatures of many transactions at once (e.g. a worker pool); true = valid. */
  /** Checks many signatures at once (e.g. on worker threads); gets each tx's SSZ bytes too when known. */
  signatureVerifier?: (txs: Tx[], txBytes?: Uint8Array[]) => Promise<boolean[]>;
  mempoolMaxTxs?: number;
}

/** What a block template on top of the tip needs. */
export interface BlockContext {
  parent: Header;
  parentHash: Uint8Array;
  height: number;
  medianTimePast: number;
  /** The target the next block must carry. */
  target: bigint;
}

/** The node-local chain: `Chain` plus what the miner (and tests) need to build blocks. */
export interface LocalChain extends Chain {
  /** Committed state at the tip. */
  readonly state: StateReader;
  nextBlockContext(): BlockContext;
  /** Mempool transactions for a block template, in valid order. */
  selectTxs(maxTxs: number, maxBytes: number): Tx[];
}

/** Thrown inside a reorg's SQL transaction to roll it back when a branch block is invalid. */
class InvalidBranchBlock extends Error {
  readonly index: number;
  readonly error: LedgerError;
  constructor(index: number, error: LedgerError) {
    super(error.message);
    this.index = index;
    this.error = error;
  }
}

interface Loaded {
  record: HeaderRecord;
  block: Block;
  encoded: Uint8Array;
}

/** A block whose body passed validateBlockPreExecution (its encoding, txs' bytes and ids). */
interface Checked extends Loaded {
  body: CheckedBody;
}

/** At most this many tips of equal work are weighed against each other (see settleTie). */
const MAX_TIED_TIPS = 64;

/** SQLite's largest blob: a slice this long reaches the end of any stored block. */
const MAX_BLOB_BYTES = 1_000_000_000;

type Listeners = { [E in keyof ChainEvents]: Set<ChainEvents[E]> };

export function openChain(opts: ChainOptions): LocalChain {
  return new NodeChain(opts);
}

class NodeChain implements LocalChain {
  readonly params: ChainParams;
  private readonly store: ChainStore;
  private readonly verifier = new SignatureVerifier();
  private readonly batchVerifier: NonNullable<ChainOptions['signatureVerifier']>;
  private readonly pool: Mempool;
  private readonly anchor: AsertAnchor;
  private readonly listeners: Listeners = { block: new Set(), reorg: new Set(), tx: new Set() };
  /** Hashes refused by the state transition that were never stored (so peers cannot make us redo them). */
  private readonly invalid = new Set<string>();
  private current: ChainTip;
  /**
   * The tips of the best chain's cumulative work seen since it was reached (the best tip among
   * them), by hash: what `tieWinner` settles. In memory only: after a restart a tie is settled
   * among the tips seen since.
   */
  private ties = new Map<string, HeaderRecord>();
  private tiesWork = -1n;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: ChainOptions) {
    this.params = opts.params;
    // Without a worker pool, signatures are checked on this thread, from the transactions' bytes.
    this.batchVerifier =
      opts.signatureVerifier ?? ((txs, txBytes) => Promise.resolve(this.verifyInline(txs, txBytes)));
    this.anchor = { height: 0, time: opts.params.genesis.time, target: opts.params.pow.initialTarget };
    this.store = new ChainStore(opts.dbPath);
    this.pool = new Mempool({
      params: this.params,
      state: this.store.state,
      verifier: this.verifier,
      maxTxs: opts.mempoolMaxTxs,
      nextHeight: () => this.current.height + 1,
    });
    try {
      this.current = this.openTip();
    } catch (e) {
      this.store.close();
      throw e;
    }
  }

  private verifyInline(txs: Tx[], txBytes?: Uint8Array[]): boolean[] {
    return txs.map((tx, i) =>
      this.verifier.verify(
        txBytes ? txSigningMessageFromBytes(txBytes[i]) : txSigningMessage(tx.body),
        tx.body.sender,
        tx.signature,
      ),
    );
  }

  get state(): StateReader {
    return this.store.state;
  }

  private openTip(): ChainTip {
    const genesis = genesisBlock(this.params);
    const genesisHash = blockHash(genesis.header);
    const storedGenesis = this.store.meta.get('genesis');
    if (!storedGenesis) {
      const effects = genesisEffects(this.params);
      const encoded = encodeBlock(genesis);
      this.store.transaction(() => {
        this.store.headers.put({
          hash: genesisHash,
          height: 0,
          header: genesis.header,
          work: headerWork(genesis.header),
          status: BlockStatus.valid,
        });
        this.store.blocks.put(genesisHash, encoded);
        this.store.connectBlock({ hash: genesisHash, height: 0, block: genesis, encoded, ids: [], effects });
        this.store.meta.put('genesis', genesisHash);
        this.store.meta.put('tip', genesisHash);
      });
    } else if (!bytesEqual(storedGenesis, genesisHash)) {
      throw new Error(
        `the database holds a chain with genesis ${toHex(storedGenesis)}, but ${this.params.network} ` +
          `params give genesis ${toHex(genesisHash)}: use another data directory`,
      );
    }
    const tipHash = this.store.meta.get('tip');
    const record = tipHash && this.store.headers.get(tipHash);
    if (!record) throw new Error('the database has no tip record: it is damaged');
    return tipOf(record);
  }

  tip(): ChainTip {
    return this.current;
  }

  blockByHeight(height: number): Block | undefined {
    if (!Number.isSafeInteger(height) || height < 0) return undefined;
    const hash = this.store.best.get(height);
    return hash && this.blockByHash(hash);
  }

  blockByHash(hash: Uint8Array): Block | undefined {
    const encoded = this.store.blocks.get(hash);
    return encoded && decodeBlock(encoded);
  }

  hashAtHeight(height: number): Uint8Array | undefined {
    if (!Number.isSafeInteger(height) || height < 0) return undefined;
    return this.store.best.get(height);
  }

  blockProof(hash: Uint8Array): Uint8Array | undefined {
    // The proof is the block's last field: its offset sits at the end of the block's fixed part.
    const fixed = this.store.blocks.slice(hash, 0, BLOCK_FIXED_BYTES);
    if (!fixed || fixed.length < BLOCK_FIXED_BYTES) return undefined;
    const at = new DataView(fixed.buffer, fixed.byteOffset, fixed.byteLength).getUint32(
      BLOCK_FIXED_BYTES - 4,
      true,
    );
    return this.store.blocks.slice(hash, at, MAX_BLOB_BYTES);
  }

  tx(id: Uint8Array): StoredTx | undefined {
    const at = this.store.txIndex.get(id);
    if (!at) return undefined;
    const encoded = this.store.blocks.slice(at.blockHash, at.offset, at.length);
    if (!encoded) return undefined;
    return { tx: decodeTx(encoded), id, blockHash: at.blockHash, height: at.height, index: at.index };
  }

  txsByAddress(address: Uint8Array, limit: number): StoredTx[] {
    const n = Math.max(0, Math.min(1000, Math.floor(limit)));
    const out: StoredTx[] = [];
    for (const id of this.store.addressIndex.list(address, n)) {
      const stored = this.tx(id);
      if (stored) out.push(stored);
    }
    return out;
  }

  account(address: Uint8Array): Account {
    const bytes = this.store.state.get(accounts.prefix + accountId(address));
    return bytes === undefined ? EMPTY_ACCOUNT : accounts.decode(bytes);
  }

  supply(atHeight?: number): SupplyInfo | undefined {
    const height = atHeight ?? this.current.height;
    if (!Number.isSafeInteger(height) || height < 0 || height > this.current.height) return undefined;
    const snapshot = this.store.supply.get(height);
    if (!snapshot) return undefined;
    return {
      height,
      minted: snapshot.minted,
      locked: snapshot.locked,
      maxSupply: this.params.maxSupply,
      nextSubsidy: blockSubsidy(height + 1, snapshot.minted, this.params),
    };
  }

  submitTx(tx: Tx): SubmitResult {
    const added = this.pool.add(tx);
    if (!added.ok) return added;
    this.emit('tx', tx, added.entry.id);
    return { ok: true, id: added.entry.id };
  }

  mempool(limit: number): Array<{ tx: Tx; id: Uint8Array; feePerByte: bigint }> {
    return this.pool.list(limit).map((e) => ({ tx: e.tx, id: e.id, feePerByte: e.fee / BigInt(e.size) }));
  }

  mempoolTx(id: Uint8Array): Tx | undefined {
    return this.pool.get(id);
  }

  mempoolSize(): number {
    return this.pool.size;
  }

  selectTxs(maxTxs: number, maxBytes: number): Tx[] {
    return this.pool.select(maxTxs, maxBytes);
  }

  nextBlockContext(): BlockContext {
    const tip = this.current;
    return {
      parent: tip.header,
      parentHash: tip.hash,
      height: tip.height + 1,
      medianTimePast: this.medianTimePast(tip.header),
      target: expectedTarget(this.anchor, tip.header, this.params),
    };
  }

  importBlock(block: Block, now: number): Promise<ImportResult> {
    // One import at a time: the signature check awaits, and the tip must not move meanwhile.
    const run = this.queue.then(() => this.importNow(block, now));
    this.queue = run.catch(() => undefined);
    return run;
  }

  fluxNodes(filter?: (node: FluxNodeRecord) => boolean, limit?: number) {
    return listNodes(this.store.state, filter, limit);
  }

  fluxNode(id: string): FluxNodeRecord | undefined {
    return /^[0-9a-f]{64}$/.test(id) ? getNode(this.store.state, id) : undefined;
  }

  payoutQueue(tier: Tier, limit?: number): string[] {
    return payoutQueueIds(this.store.state, tier, limit);
  }

  fluxNodesOfOperator(operator: Uint8Array) {
    return nodesOfOperator(this.store.state, operator);
  }

  on<E extends keyof ChainEvents>(event: E, listener: ChainEvents[E]): void {
    (this.listeners[event] as Set<ChainEvents[E]>).add(listener);
  }

  off<E extends keyof ChainEvents>(event: E, listener: ChainEvents[E]): void {
    (this.listeners[event] as Set<ChainEvents[E]>).delete(listener);
  }

  close(): void {
    this.store.close();
  }

  private emit<E extends keyof ChainEvents>(event: E, ...args: Parameters<ChainEvents[E]>): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...a: Parameters<ChainEvents[E]>) => void)(...args);
      } catch (e) {
        console.error(`chain ${event} listener failed:`, e);
      }
    }
  }

  /** Median time of the last MEDIAN_TIME_SPAN blocks ending at `header` (walking parents). */
  private medianTimePast(header: Header): number {
    const times = [header.time];
    let h = header;
    while (times.length < MEDIAN_TIME_SPAN && h.height > 0) {
      const parent = this.store.headers.get(h.parent);
      if (!parent) break;
      h = parent.header;
      times.push(h.time);
    }
    return medianTime(times);
  }

  private async importNow(block: Block, now: number): Promise<ImportResult> {
    const { params, store } = this;
    // Consensus rules in the order they can run (core/consensus/validate.ts); between them, what
    // this node already knows about the block and its parent.
    const alone = validateHeader(block?.header, params, now);
    if (!alone.ok) return alone;
    const header = block.header;
    const hash = blockHash(header);
    const hashHex = toHex(hash);
    const label = `block ${hashHex.slice(0, 16)} at height ${header.height}`;
    const checkedBody = validateBlockPreExecution(block, params);
    if (!checkedBody.ok) return fail(checkedBody.error.code, `${label}: ${checkedBody.error.message}`);
    const { body } = checkedBody;
    if (this.invalid.has(hashHex)) return fail('BAD_BLOCK', `${label} was already found invalid`);
    const known = store.headers.get(hash);
    if (known) {
      if (known.status === BlockStatus.invalid)
        return fail('BAD_BLOCK', `${label} was already found invalid`);
      return { ok: true, status: 'known', tip: this.current };
    }
    const parent = store.headers.get(header.parent);
    if (!parent) {
      return fail(
        'BAD_BLOCK',
        `${label}: parent ${toHex(header.parent).slice(0, 16)} is unknown (the node must sync it first)`,
      );
    }
    if (parent.status === BlockStatus.invalid) {
      this.rememberInvalid(hash);
      return fail('BAD_BLOCK', `${label} builds on invalid block ${toHex(parent.hash).slice(0, 16)}`);
    }
    const checked = validateHeaderAgainstParent(header, {
      params,
      parent: parent.header,
      anchor: this.anchor,
      medianTimePast: this.medianTimePast(parent.header),
      proof: block.proof,
    });
    if (!checked.ok) return fail('BAD_BLOCK', `${label}: ${checked.error.message}`);
    const record: HeaderRecord = {
      hash,
      height: header.height,
      header,
      work: parent.work + headerWork(header, params),
      status: BlockStatus.side,
    };
    const incoming: Checked = { record, block, encoded: body.encoded, body };
    if (bytesEqual(parent.hash, this.current.hash)) return this.extend(incoming, label);
    if (!isBetterChain(record.work, this.current.cumulativeWork)) {
      const winner = record.work === this.current.cumulativeWork ? this.settleTie(record) : undefined;
      if (winner !== undefined && bytesEqual(winner.hash, hash)) return this.tieReorg(incoming, parent);
      store.transaction(() => {
        store.headers.put(record);
        store.blocks.put(hash, body.encoded);
      });
      // The new block tipped the tie to another stored tip (three or more of equal work).
      if (winner !== undefined && !bytesEqual(winner.hash, this.current.hash))
        await this.reorgToStored(winner);
      return { ok: true, status: 'side', tip: this.current };
    }
    return this.reorg(incoming, parent);
  }

  /** Adds a tip of the best chain's work to the tie and returns the tie's winner (core/consensus). */
  private settleTie(record: HeaderRecord): HeaderRecord | undefined {
    if (this.tiesWork !== this.current.cumulativeWork) {
      const tip = this.store.headers.get(this.current.hash);
      if (tip === undefined) return undefined;
      this.ties = new Map([[toHex(tip.hash), tip]]);
      this.tiesWork = this.current.cumulativeWork;
    }
    // Each tip costs a block's work; the bound only keeps memory flat under a flood of them.
    if (this.ties.size >= MAX_TIED_TIPS) return undefined;
    this.ties.set(toHex(record.hash), record);
    return this.ties.get(toHex(tieWinner([...this.ties.values()].map((r) => r.hash))));
  }

  /** A reorg to the winner of a tie; a winner that turns out invalid leaves the tie. */
  private async tieReorg(incoming: Checked, parent: HeaderRecord): Promise<ImportResult> {
    const result = await this.reorg(incoming, parent);
    if (!result.ok) this.ties.delete(toHex(incoming.record.hash));
    return result;
  }

  /** Switches to a stored side tip (the winner of a tie), checking its body as an import would. */
  private async reorgToStored(record: HeaderRecord): Promise<void> {
    const parent = this.store.headers.get(record.header.parent);
    const loaded = this.load(record);
    const checked = validateBlockPreExecution(loaded.block, this.params);
    if (parent === undefined || !checked.ok) {
      this.ties.delete(toHex(record.hash));
      return;
    }
    await this.tieReorg({ ...loaded, body: checked.body }, parent);
  }

  /** Signature check of a block's transactions by the batch verifier, when there is one. */
  private async checkSignatures(block: Block, txBytes?: Uint8Array[]): Promise<LedgerError | undefined> {
    if (block.txs.length === 0) return undefined;
    const valid = await this.batchVerifier(block.txs, txBytes);
    const bad = valid.findIndex((v) => !v);
    if (bad >= 0 || valid.length !== block.txs.length) {
      return {
        code: 'BAD_BLOCK',
        message: `transaction ${bad}: BAD_SIGNATURE: signature does not match the sender key and transaction body`,
      };
    }
    return undefined;
  }

  /** Executes a checked block on the tip's state, then checks the state root it computed. */
  private execute(block: Block, parent: Header): Result<{ effects: BlockEffects }> {
    const executed = executeBlock(this.store.state, block, {
      params: this.params,
      parentStateRoot: parent.stateRoot,
      signaturesChecked: true,
      verifier: this.verifier,
    });
    if (!executed.ok) return executed;
    const post = validateBlockPostExecution(block.header, executed.effects);
    return post.ok ? executed : post;
  }

  private async extend(incoming: Checked, label: string): Promise<ImportResult> {
    const { store } = this;
    const { record, block, encoded } = incoming;
    const ids = incoming.body.txIds;
    // Worker threads check the signatures while this thread applies the block; the state cannot
    // change meanwhile (imports run one at a time), so the effects stay valid until written.
    const signatures = this.checkSignatures(block, incoming.body.txBytes);
    // Inside a read transaction: SQLite reads are several times faster within one.
    const applied = store.readTransaction(() => this.execute(block, this.current.header));
    const sigError = await signatures;
    if (sigError) return this.refuse(record.hash, `${label}: ${sigError.message}`);
    if (!applied.ok) return this.refuse(record.hash, `${label}: ${applied.error.message}`);
    store.transaction(() => {
      store.headers.put(record);
      store.blocks.put(record.hash, encoded);
      store.connectBlock({
        hash: record.hash,
        height: record.height,
        block,
        encoded,
        ids,
        effects: applied.effects,
      });
      store.meta.put('tip', record.hash);
    });
    this.current = tipOf({ ...record, status: BlockStatus.valid });
    if (this.pool.size > 0 || this.pool.heldSize > 0) {
      this.pool.revalidateSenders(sendersOf(block));
      this.pool.dropInapplicable(record.height + 1);
    }
    this.emit('block', block, record.hash);
    return { ok: true, status: 'extended', tip: this.current };
  }

  private refuse(hash: Uint8Array, message: string): ImportResult {
    this.rememberInvalid(hash);
    return fail('BAD_BLOCK', message);
  }

  private rememberInvalid(hash: Uint8Array): void {
    if (this.invalid.size >= 10_000) this.invalid.clear(); // bounded: a forgotten one is just checked again
    this.invalid.add(toHex(hash));
  }

  private load(record: HeaderRecord): Loaded {
    const encoded = this.store.blocks.get(record.hash);
    if (!encoded)
      throw new Error(`block ${toHex(record.hash)} has a header but no body: the database is damaged`);
    return { record, block: decodeBlock(encoded), encoded };
  }

  /** Switches the best chain to the branch ending in `incoming`, or changes nothing. */
  private async reorg(incoming: Checked, parent: HeaderRecord): Promise<ImportResult> {
    const { store } = this;
    // The branch below the new block: from just after the fork point up to its parent.
    const stored: Loaded[] = [];
    let cursor = parent;
    while (!isOnBest(store, cursor)) {
      if (cursor.status === BlockStatus.invalid)
        return this.refuse(incoming.record.hash, 'branch holds an invalid block');
      stored.unshift(this.load(cursor));
      const up = store.headers.get(cursor.header.parent);
      if (!up)
        throw new Error(`side block ${toHex(cursor.hash)} has no parent record: the database is damaged`);
      cursor = up;
    }
    const fork = cursor;
    // Side blocks are stored only after these checks, but a database written before that may
    // hold one that was never checked.
    const branch: Checked[] = [];
    for (let i = 0; i < stored.length; i++) {
      const checked = validateBlockPreExecution(stored[i].block, this.params);
      if (!checked.ok) return this.refuseBranch([...stored, incoming], i, checked.error);
      branch.push({ ...stored[i], body: checked.body });
    }
    branch.push(incoming);
    for (let i = 0; i < branch.length; i++) {
      const sigError = await this.checkSignatures(branch[i].block, branch[i].body.txBytes);
      if (sigError) return this.refuseBranch(branch, i, sigError);
    }
    // The blocks leaving the best chain, tip first.
    const detached: Loaded[] = [];
    for (let h = this.current.height; h > fork.height; h--) {
      const hash = store.best.get(h);
      const rec = hash && store.headers.get(hash);
      if (!rec) throw new Error(`best chain has no block at height ${h}: the database is damaged`);
      detached.push(this.load(rec));
    }
    const attachedEffects: BlockEffects[] = [];
    try {
      store.transaction(() => {
        for (const d of detached)
          store.disconnectBlock(
            d.record.hash,
            d.record.height,
            d.block,
            d.block.txs.map(txId),
            d.block.txs.map((tx) => txParties(tx, this.params)),
          );
        let parentHeader = fork.header;
        for (let i = 0; i < branch.length; i++) {
          const b = branch[i];
          const applied = this.execute(b.block, parentHeader);
          if (!applied.ok) throw new InvalidBranchBlock(i, applied.error);
          if (i === branch.length - 1) {
            store.headers.put(b.record);
            store.blocks.put(b.record.hash, b.encoded);
          }
          store.connectBlock({
            hash: b.record.hash,
            height: b.record.height,
            block: b.block,
            encoded: b.encoded,
            ids: b.body.txIds,
            effects: applied.effects,
          });
          attachedEffects.push(applied.effects);
          parentHeader = b.block.header;
        }
        store.meta.put('tip', incoming.record.hash);
      });
    } catch (e) {
      if (e instanceof InvalidBranchBlock) return this.refuseBranch(branch, e.index, e.error);
      throw e;
    }
    this.current = tipOf({ ...incoming.record, status: BlockStatus.valid });
    const detachedBlocks = detached.map((d) => d.block);
    const attachedBlocks = branch.map((b) => b.block);
    const returning: Tx[] = [];
    for (let i = detachedBlocks.length - 1; i >= 0; i--) returning.push(...detachedBlocks[i].txs);
    this.pool.rebuild(returning);
    this.emit('reorg', detachedBlocks, attachedBlocks);
    for (const b of branch) this.emit('block', b.block, b.record.hash);
    return { ok: true, status: 'reorged', tip: this.current };
  }

  /** Marks branch[index] (and so everything above it) invalid; the best chain stays as it was. */
  private refuseBranch(branch: Loaded[], index: number, error: LedgerError): ImportResult {
    const bad = branch[index];
    const last = branch[branch.length - 1];
    if (index < branch.length - 1) {
      this.store.transaction(() => this.store.headers.setStatus(bad.record.hash, BlockStatus.invalid));
    }
    this.rememberInvalid(bad.record.hash);
    this.rememberInvalid(last.record.hash);
    const label = `block ${toHex(bad.record.hash).slice(0, 16)} at height ${bad.record.height}`;
    return fail('BAD_BLOCK', `${label} of the heavier branch is invalid: ${error.message}`);
  }
}

function tipOf(record: HeaderRecord): ChainTip {
  return { height: record.height, hash: record.hash, header: record.header, cumulativeWork: record.work };
}

function isOnBest(store: ChainStore, record: HeaderRecord): boolean {
  const hash = store.best.get(record.height);
  return hash !== undefined && bytesEqual(hash, record.hash);
}

function sendersOf(block: Block): Set<string> {
  const out = new Set<string>();
  for (const tx of block.txs) out.add(accountId(addressBytes(tx.body.sender)));
  return out;
}
