// The contract between the chain (store, import, reorgs, mempool, miner) and its users (API,
// CLI, p2p). The chain owns consensus state; everything else asks it through this interface.
import type { Account, Block, FluxNodeRecord, Header, Tx } from '../../core/codec/types.ts';
import type { Tier } from '../../core/ledger/emission.ts';
import type { LedgerError } from '../../core/ledger/errors.ts';
import type { ChainParams } from '../../core/params/index.ts';

export interface ChainTip {
  height: number;
  hash: Uint8Array;
  header: Header;
  /** Sum of the work of every block from genesis to the tip. */
  cumulativeWork: bigint;
}

export interface StoredTx {
  tx: Tx;
  id: Uint8Array;
  blockHash: Uint8Array;
  height: number;
  index: number;
}

export interface SupplyInfo {
  height: number;
  minted: bigint;
  locked: bigint;
  maxSupply: bigint;
  /** Subsidy the next block will mint at most. */
  nextSubsidy: bigint;
}

export type ImportResult =
  | { ok: true; status: 'extended' | 'reorged' | 'side' | 'known'; tip: ChainTip }
  | { ok: false; error: LedgerError };

export type SubmitResult = { ok: true; id: Uint8Array } | { ok: false; error: LedgerError };

export interface ChainEvents {
  /** A block became part of the best chain (also during a reorg, for each new block). */
  block: (block: Block, hash: Uint8Array) => void;
  /** The tip moved back across these blocks because a heavier branch won. */
  reorg: (detached: Block[], attached: Block[]) => void;
  /** A transaction entered the mempool. */
  tx: (tx: Tx, id: Uint8Array) => void;
}

export interface Chain {
  readonly params: ChainParams;
  tip(): ChainTip;
  blockByHeight(height: number): Block | undefined;
  blockByHash(hash: Uint8Array): Block | undefined;
  /** The hash of the best chain's block at a height (one index read, nothing decoded). */
  hashAtHeight(height: number): Uint8Array | undefined;
  /** A stored block's proof bytes, read without decoding its transactions (cheap whatever its size). */
  blockProof(hash: Uint8Array): Uint8Array | undefined;
  /** A mined transaction by id, or undefined (see also mempool). */
  tx(id: Uint8Array): StoredTx | undefined;
  /** Newest first; `limit` at most 1000. */
  txsByAddress(address: Uint8Array, limit: number): StoredTx[];
  account(address: Uint8Array): Account;
  supply(atHeight?: number): SupplyInfo | undefined;
  /** Validates a transaction (signature, nonce, balance, fee) and adds it to the mempool. */
  submitTx(tx: Tx): SubmitResult;
  /** Pending transactions, best fee rate first. */
  mempool(limit: number): Array<{ tx: Tx; id: Uint8Array; feePerByte: bigint }>;
  mempoolTx(id: Uint8Array): Tx | undefined;
  /** How many transactions are pending (without listing them). */
  mempoolSize(): number;
  /** Validates and imports a block from a peer or the local miner; a bad block changes nothing. */
  importBlock(block: Block, now: number): Promise<ImportResult>;
  /** FluxNodes at the tip in id order (the deterministic node list), filtered while reading. */
  fluxNodes(
    filter?: (node: FluxNodeRecord) => boolean,
    limit?: number,
  ): Array<{ id: string; node: FluxNodeRecord }>;
  fluxNode(id: string): FluxNodeRecord | undefined;
  /** The tier's payout queue at the tip, next paid first (node ids). */
  payoutQueue(tier: Tier, limit?: number): string[];
  /** The nodes whose confirmations this operator public key signs. */
  fluxNodesOfOperator(operator: Uint8Array): Array<{ id: string; node: FluxNodeRecord }>;
  on<E extends keyof ChainEvents>(event: E, listener: ChainEvents[E]): void;
  off<E extends keyof ChainEvents>(event: E, listener: ChainEvents[E]): void;
  close(): void;
}
