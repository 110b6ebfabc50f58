// Pending transactions: each checked against the tip state plus the sender's earlier pending
// transactions, ordered by fee per byte, bounded in number.
import { txId } from '../../core/codec/ids.ts';
import { type Tx, TxKind } from '../../core/codec/types.ts';
import { txShapeError } from '../../core/consensus/shape.ts';
import { toHex } from '../../core/crypto/hash.ts';
import { addressBytes, type SignatureVerifier } from '../../core/crypto/keys.ts';
import { fail, type LedgerError } from '../../core/ledger/errors.ts';
import {
  accountId,
  accounts,
  EMPTY_ACCOUNT,
  StateOverlay,
  type StateReader,
} from '../../core/ledger/state.ts';
import { checkTxSignature, txSize } from '../../core/ledger/tx.ts';
import type { ChainParams } from '../../core/params/index.ts';
import { applyTx, checkTxStateless } from '../../core/transition/tx.ts';

export interface MempoolEntry {
  tx: Tx;
  id: Uint8Array;
  idHex: string;
  sender: string;
  nonce: number;
  size: number;
  fee: bigint;
  /** Amount + fee: what the sender's balance must cover. */
  spend: bigint;
  /** Arrival order, to break fee-rate ties (first come first served). */
  seq: number;
}

export interface MempoolOptions {
  params: ChainParams;
  /** The committed state of the tip. */
  state: StateReader;
  verifier: SignatureVerifier;
  maxTxs?: number;
  /** Height of the next block, for kinds whose validity depends on it (a confirmation window). */
  nextHeight?: () => number;
}

/** `held`: the nonce is ahead of the sender's next one; it waits for the gap to fill. */
export type AddResult = { ok: true; entry: MempoolEntry; held?: boolean } | { ok: false; error: LedgerError };

/**
 * How far ahead of a sender's next nonce a transaction is held rather than refused: gossip and
 * concurrent clients deliver a sender's transactions out of order, and refusing the later ones
 * lost them until their sender announced them again.
 */
export const MAX_NONCE_GAP = 64;

interface Held {
  tx: Tx;
  id: Uint8Array;
  idHex: string;
  sender: string;
  nonce: number;
}

/** a pays a strictly higher fee per byte than b (compared exactly, without rounding). */
function higherRate(a: MempoolEntry, b: MempoolEntry): boolean {
  const lhs = a.fee * BigInt(b.size);
  const rhs = b.fee * BigInt(a.size);
  return lhs > rhs || (lhs === rhs && a.seq < b.seq);
}

export class Mempool {
  private readonly params: ChainParams;
  private readonly state: StateReader;
  private readonly verifier: SignatureVerifier;
  readonly maxTxs: number;
  private readonly nextHeight?: () => number;
  private readonly byId = new Map<string, MempoolEntry>();
  /** Per sender, pending transactions in nonce order, contiguous from the account's nonce. */
  private readonly bySender = new Map<string, MempoolEntry[]>();
  /** Transactions whose nonce leaves a gap, per sender by nonce, until the gap fills. */
  private readonly held = new Map<string, Map<number, Held>>();
  private readonly heldById = new Map<string, Held>();
  /** Held transactions at most (a tenth of the pool): they cost a signature check, no state. */
  readonly maxHeld: number;
  private seq = 0;

  constructor(opts: MempoolOptions) {
    this.params = opts.params;
    this.state = opts.state;
    this.verifier = opts.verifier;
    this.maxTxs = opts.maxTxs ?? 50_000;
    this.maxHeld = Math.max(MAX_NONCE_GAP, Math.floor(this.maxTxs / 10));
    this.nextHeight = opts.nextHeight;
  }

  /** Transactions ready for a block (held ones not counted). */
  get size(): number {
    return this.byId.size;
  }

  /** Transactions waiting for an earlier nonce of their sender. */
  get heldSize(): number {
    return this.heldById.size;
  }

  /** A pending or held transaction. */
  get(id: Uint8Array): Tx | undefined {
    const key = toHex(id);
    return (this.byId.get(key) ?? this.heldById.get(key))?.tx;
  }

  has(id: Uint8Array): boolean {
    const key = toHex(id);
    return this.byId.has(key) || this.heldById.has(key);
  }

  /** Validates a transaction against the tip state and the sender's pending ones, then keeps it. */
  add(tx: Tx, opts: { signatureChecked?: boolean; id?: Uint8Array } = {}): AddResult {
    const shape = txShapeError(tx);
    if (shape) return fail('MALFORMED', `malformed transaction: ${shape}`);
    const id = opts.id ?? txId(tx);
    const idHex = toHex(id);
    if (this.byId.has(idHex) || this.heldById.has(idHex))
      return fail('DUPLICATE', `transaction ${idHex} is already in the mempool`);
    const size = txSize(tx);
    const checked = checkTxStateless(tx, this.params, size);
    if (!checked.ok) return checked;
    if (!opts.signatureChecked) {
      const sig = checkTxSignature(tx, this.verifier);
      if (!sig.ok) return sig;
    }
    const sender = accountId(addressBytes(tx.body.sender));
    const account = this.account(sender);
    const pending = this.bySender.get(sender) ?? [];
    const expected = account.nonce + pending.length;
    const nonce = tx.body.nonce;
    if (nonce !== expected) {
      if (nonce < account.nonce)
        return fail(
          'BAD_NONCE',
          `nonce ${nonce} was already used: the sender's next nonce is ${account.nonce}`,
        );
      if (nonce < expected) {
        const taken = pending[nonce - account.nonce];
        return fail('BAD_NONCE', `nonce ${nonce} is already taken by pending transaction ${taken.idHex}`);
      }
      const gap = `the sender's next nonce is ${expected}${pending.length ? ` (${account.nonce} on chain + ${pending.length} pending)` : ''}`;
      if (nonce > expected + MAX_NONCE_GAP)
        return fail(
          'BAD_NONCE',
          `nonce ${nonce} is too far ahead: ${gap}, and at most ${MAX_NONCE_GAP} ahead are held`,
        );
      return this.hold({ tx, id, idHex, sender, nonce }, gap);
    }
    const payload = checked.payload;
    const spend = tx.body.fee + payload.spend;
    let pendingSpend = 0n;
    for (const e of pending) pendingSpend += e.spend;
    if (pendingSpend + spend > account.balance) {
      return fail(
        'INSUFFICIENT_FUNDS',
        `sender ${sender} has ${account.balance}, pending transactions spend ${pendingSpend}, ` +
          `this one needs ${spend} (amount + fee)`,
      );
    }
    if (tx.body.kind !== TxKind.transfer && this.nextHeight) {
      // Kinds with state rules beyond nonce and balance: apply after the sender's pending ones.
      const view = new StateOverlay(this.state);
      const height = this.nextHeight();
      for (const e of pending) applyTx(view, e.tx, { params: this.params, height, signatureChecked: true });
      const trial = applyTx(view, tx, { params: this.params, height, signatureChecked: true });
      if (!trial.ok) return trial;
    }
    const entry: MempoolEntry = {
      tx,
      id,
      idHex,
      sender,
      nonce,
      size,
      fee: tx.body.fee,
      spend,
      seq: this.seq++,
    };
    if (this.byId.size >= this.maxTxs) {
      const victim = this.lowestLeaf();
      if (victim && (victim.sender === sender || !higherRate(entry, victim))) {
        return fail(
          'FEE_TOO_LOW',
          `the mempool is full (${this.byId.size} transactions) and fee rate ${entry.fee / BigInt(size)}` +
            `/byte does not beat the lowest evictable ${victim.fee / BigInt(victim.size)}/byte`,
        );
      }
      if (victim) this.removeLast(victim);
    }
    this.byId.set(idHex, entry);
    pending.push(entry);
    this.bySender.set(sender, pending);
    this.promote(sender);
    return { ok: true, entry };
  }

  /** Keeps a transaction whose nonce leaves a gap until the gap fills (or a block makes it stale). */
  private hold(h: Held, gap: string): AddResult {
    const mine = this.held.get(h.sender) ?? new Map<number, Held>();
    if (mine.has(h.nonce))
      return fail(
        'BAD_NONCE',
        `nonce ${h.nonce} is already taken by held transaction ${mine.get(h.nonce)!.idHex}`,
      );
    if (this.heldById.size >= this.maxHeld)
      return fail(
        'BAD_NONCE',
        `nonce ${h.nonce} leaves a gap (${gap}), and ${this.heldById.size} transactions already wait for theirs`,
      );
    mine.set(h.nonce, h);
    this.held.set(h.sender, mine);
    this.heldById.set(h.idHex, h);
    const entry: MempoolEntry = {
      tx: h.tx,
      id: h.id,
      idHex: h.idHex,
      sender: h.sender,
      nonce: h.nonce,
      size: txSize(h.tx),
      fee: h.tx.body.fee,
      spend: 0n,
      seq: this.seq++,
    };
    return { ok: true, entry, held: true };
  }

  /** Moves a sender's held transactions that no longer leave a gap into the pool, in nonce order. */
  private promote(sender: string): void {
    const mine = this.held.get(sender);
    if (mine === undefined) return;
    const account = this.account(sender);
    const drop = (h: Held): void => {
      mine.delete(h.nonce);
      this.heldById.delete(h.idHex);
    };
    for (const h of mine.values()) if (h.nonce < account.nonce) drop(h);
    const next = mine.get(account.nonce + (this.bySender.get(sender)?.length ?? 0));
    if (next !== undefined) drop(next);
    if (mine.size === 0) this.held.delete(sender);
    if (next === undefined) return;
    // Its signature was checked when it was held; add() promotes the one after it in turn.
    this.add(next.tx, { signatureChecked: true, id: next.id });
  }

  /** Pending transactions, best fee rate first. */
  list(limit: number): MempoolEntry[] {
    return [...this.byId.values()].sort((a, b) => (higherRate(a, b) ? -1 : 1)).slice(0, Math.max(0, limit));
  }

  /**
   * Transactions for a block template: highest fee rate first among each sender's next
   * transaction, so every sender's transactions stay in nonce order. `maxBytes` counts each
   * transaction's encoded size plus its 4-byte list offset.
   */
  select(maxTxs: number, maxBytes: number): Tx[] {
    const heap = new EntryHeap();
    const cursor = new Map<string, number>();
    for (const [sender, list] of this.bySender) {
      cursor.set(sender, 0);
      heap.push(list[0]);
    }
    const out: Tx[] = [];
    let bytes = 0;
    while (out.length < maxTxs) {
      const top = heap.pop();
      if (!top) break;
      if (bytes + top.size + 4 > maxBytes) continue; // drops this sender's later ones too
      out.push(top.tx);
      bytes += top.size + 4;
      const list = this.bySender.get(top.sender)!;
      const next = cursor.get(top.sender)! + 1;
      cursor.set(top.sender, next);
      if (next < list.length) heap.push(list[next]);
    }
    return out;
  }

  /**
   * After a block joined the tip: drops the senders' included transactions and any of theirs the
   * new state makes invalid (nonce already used, balance no longer covering them).
   */
  revalidateSenders(blockSenders: Iterable<string>): void {
    const senders = [...blockSenders];
    for (const sender of senders) {
      const list = this.bySender.get(sender);
      if (!list) continue;
      const account = this.account(sender);
      let keep = 0;
      let spend = 0n;
      const kept: MempoolEntry[] = [];
      for (const e of list) {
        if (e.nonce < account.nonce) {
          this.byId.delete(e.idHex);
          continue;
        }
        if (e.nonce === account.nonce + keep && spend + e.spend <= account.balance) {
          kept.push(e);
          spend += e.spend;
          keep++;
        } else this.byId.delete(e.idHex);
      }
      if (kept.length) this.bySender.set(sender, kept);
      else this.bySender.delete(sender);
    }
    for (const sender of senders) if (this.held.has(sender)) this.promote(sender);
  }

  /** Whether a sender has held transactions (a block of theirs may fill the gap). */
  holds(sender: string): boolean {
    return this.held.has(sender);
  }

  /**
   * After a block: applies, in nonce order, the pending transactions of every sender that has a
   * kind whose validity depends on more than nonce and balance (a node confirmation's window, an
   * owner's rights), on the new tip state as of block `height`; a sender's list is cut at its
   * first transaction that no longer applies, so it cannot block that sender's later nonces.
   */
  dropInapplicable(height: number): void {
    for (const [sender, list] of this.bySender) {
      if (list.every((e) => e.tx.body.kind === TxKind.transfer)) continue;
      const state = new StateOverlay(this.state);
      const cut = list.findIndex(
        (e) => !applyTx(state, e.tx, { params: this.params, height, signatureChecked: true }).ok,
      );
      if (cut < 0) continue;
      for (const e of list.slice(cut)) this.byId.delete(e.idHex);
      if (cut === 0) this.bySender.delete(sender);
      else this.bySender.set(sender, list.slice(0, cut));
    }
  }

  /**
   * After a reorg: validates the pending transactions again, together with those of the detached
   * blocks (oldest first), against the new tip state. Returns the transactions kept.
   */
  rebuild(detached: Tx[]): number {
    const candidates: Array<{ tx: Tx; id: Uint8Array }> = [];
    for (const tx of detached) candidates.push({ tx, id: txId(tx) });
    for (const e of this.byId.values()) candidates.push({ tx: e.tx, id: e.id });
    const keyed = candidates.map((c) => ({ ...c, sender: toHex(addressBytes(c.tx.body.sender)) }));
    keyed.sort((a, b) =>
      a.sender < b.sender ? -1 : a.sender > b.sender ? 1 : a.tx.body.nonce - b.tx.body.nonce,
    );
    this.byId.clear();
    this.bySender.clear();
    for (const c of keyed) this.add(c.tx, { signatureChecked: true, id: c.id });
    for (const sender of [...this.held.keys()]) this.promote(sender);
    return this.byId.size;
  }

  private account(sender: string) {
    const bytes = this.state.get(accounts.prefix + sender);
    return bytes === undefined ? EMPTY_ACCOUNT : accounts.decode(bytes);
  }

  /** The lowest fee-rate transaction that is last of its sender's (removing it leaves no gap). */
  private lowestLeaf(): MempoolEntry | undefined {
    let worst: MempoolEntry | undefined;
    for (const list of this.bySender.values()) {
      const last = list[list.length - 1];
      if (!worst || higherRate(worst, last)) worst = last;
    }
    return worst;
  }

  private removeLast(entry: MempoolEntry): void {
    const list = this.bySender.get(entry.sender)!;
    list.pop();
    if (list.length === 0) this.bySender.delete(entry.sender);
    this.byId.delete(entry.idHex);
  }
}

/** A binary max-heap of entries by fee rate. */
class EntryHeap {
  private readonly items: MempoolEntry[] = [];

  push(e: MempoolEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!higherRate(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }

  pop(): MempoolEntry | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && higherRate(a[l], a[m])) m = l;
        if (r < a.length && higherRate(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
