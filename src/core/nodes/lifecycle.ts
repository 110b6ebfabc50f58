// FluxNode lifecycle in consensus: start (collateral locked), confirm (benchmark report by the
// operator key), stop (delayed unlock), and what each block does: lapses, expiries and unlocks
// that fall due at its height, then one payout per tier from the front of its queue.
import { type BenchReport, type FluxNodeRecord, NodeStartPayload } from '../codec/types.ts';
import { concatBytes, fromHex, sha256, toHex } from '../crypto/hash.ts';
import { addressBytes } from '../crypto/keys.ts';
import type { Tier } from '../ledger/emission.ts';
import { accounts, EMPTY_ACCOUNT, EMPTY_SUPPLY, type StateOverlay, supply } from '../ledger/state.ts';
import type { ChainParams } from '../params/index.ts';
import { regionError } from './region.ts';
import {
  byOperator,
  cooldowns,
  downReports,
  dueAt,
  dueKey,
  idFromKey,
  isNodeDown,
  NodeStatus,
  nodes,
  payoutQueue,
  queueKey,
  queuePrefix,
  tierIndex,
  tierOf,
} from './types.ts';

const encoder = new TextEncoder();
const NODE_ID_DOMAIN = encoder.encode('openflux/node/v1');
const GENESIS_NODE_DOMAIN = encoder.encode('openflux/genesis-node/v1');

export const EMPTY_REPORT: BenchReport = Object.freeze({
  cores: 0,
  ramMb: 0,
  ssdGb: 0,
  eventsPerSec: 0,
  diskWriteMBps: 0,
  measuredAt: 0,
});

/** A started node's id: sha256(domain ‖ owner account id ‖ the start transaction's nonce, u64 BE). */
export function nodeIdOf(owner: Uint8Array, nonce: number): string {
  const n = new Uint8Array(8);
  new DataView(n.buffer).setBigUint64(0, BigInt(nonce));
  return toHex(sha256(concatBytes(NODE_ID_DOMAIN, owner, n)));
}

export function genesisNodeId(index: number): string {
  const n = new Uint8Array(4);
  new DataView(n.buffer).setUint32(0, index);
  return toHex(sha256(concatBytes(GENESIS_NODE_DOMAIN, n)));
}

export function readNode(state: StateOverlay, id: string): FluxNodeRecord | undefined {
  return state.read(nodes, id);
}

function adjustLocked(state: StateOverlay, ownerId: string, lock: bigint, release: bigint): void {
  const owner = state.read(accounts, ownerId) ?? EMPTY_ACCOUNT;
  state.write(accounts, ownerId, {
    ...owner,
    balance: owner.balance - lock + release,
    locked: owner.locked + lock - release,
  });
  const totals = state.read(supply, '') ?? EMPTY_SUPPLY;
  state.write(supply, '', { ...totals, locked: totals.locked + lock - release });
}

function enqueue(state: StateOverlay, id: string, node: FluxNodeRecord): void {
  state.write(payoutQueue, queueKey(node.tier, node.lastPaidHeight, node.startHeight, id), true);
}

function dequeue(state: StateOverlay, id: string, node: FluxNodeRecord): void {
  state.write(payoutQueue, queueKey(node.tier, node.lastPaidHeight, node.startHeight, id), undefined);
}

/** Creates a started node and locks its collateral; the caller already took it from the balance. */
export function registerNode(
  state: StateOverlay,
  id: string,
  start: NodeStartPayload & { owner: Uint8Array; collateral: bigint },
  height: number,
  params: ChainParams,
): void {
  const ownerId = toHex(start.owner);
  const owner = state.read(accounts, ownerId) ?? EMPTY_ACCOUNT;
  state.write(accounts, ownerId, { ...owner, locked: owner.locked + start.collateral });
  const totals = state.read(supply, '') ?? EMPTY_SUPPLY;
  state.write(supply, '', { ...totals, locked: totals.locked + start.collateral });
  const node: FluxNodeRecord = {
    owner: start.owner,
    operator: start.operator,
    tier: start.tier,
    endpoint: start.endpoint,
    region: start.region,
    collateral: start.collateral,
    status: NodeStatus.started,
    startHeight: height,
    confirmations: 0,
    lastConfirmHeight: 0,
    expiresAt: height + params.nodes.confirmWindow,
    unlockAt: 0,
    lastPaidHeight: 0,
    payouts: 0,
    rewards: 0n,
    report: EMPTY_REPORT,
    downSince: 0,
    appEarned: 0n,
    lastAppPaidHeight: 0,
  };
  state.write(nodes, id, node);
  state.write(dueAt, dueKey(node.expiresAt, id), true);
  state.write(byOperator, `${toHex(start.operator)}/${id}`, true);
}

/**
 * Records an accepted confirmation: the first one joins the payout queue (at the back); one of a
 * down node brings it back (at its old place). A confirmation proves the node alive, so the
 * reports pending against it are dropped.
 */
export function confirmNode(
  state: StateOverlay,
  id: string,
  node: FluxNodeRecord,
  report: BenchReport,
  height: number,
  params: ChainParams,
): void {
  state.write(dueAt, dueKey(node.expiresAt, id), undefined);
  const first = node.status === NodeStatus.started;
  const next: FluxNodeRecord = {
    ...node,
    status: NodeStatus.confirmed,
    confirmations: node.confirmations + 1,
    lastConfirmHeight: height,
    expiresAt: height + params.nodes.confirmPeriod,
    // A node that was never paid waits behind those paid before its first confirmation.
    lastPaidHeight: first ? height : node.lastPaidHeight,
    report,
    downSince: 0,
  };
  state.write(nodes, id, next);
  state.write(dueAt, dueKey(next.expiresAt, id), true);
  if (first || isNodeDown(node)) enqueue(state, id, next);
  clearDownReports(state, id);
}

function clearDownReports(state: StateOverlay, id: string): void {
  if (state.read(downReports, id) !== undefined) state.write(downReports, id, undefined);
}

/** A confirmed node that is not down and has not reached its expiry: it may report others. */
export function canReport(node: FluxNodeRecord | undefined, height: number): boolean {
  return (
    node !== undefined &&
    node.status === NodeStatus.confirmed &&
    node.downSince === 0 &&
    height < node.expiresAt
  );
}

/**
 * Records `reporter`'s down report against `target` at `height` (replacing its earlier one) and
 * marks the target down when `params.nodes.down.quorum` reporters that can still report did so
 * within the last `window` blocks. Fewer than a quorum are ever kept, so the work is O(quorum).
 * Returns how many fresh reports there are and whether the target is now down.
 */
export function recordDownReport(
  state: StateOverlay,
  targetId: string,
  target: FluxNodeRecord,
  reporterId: string,
  height: number,
  params: ChainParams,
): { reports: number; down: boolean } {
  const { quorum, window } = params.nodes.down;
  const from = height - window + 1;
  const kept = (state.read(downReports, targetId) ?? []).filter((r) => {
    if (r.height < from) return false;
    const id = toHex(r.reporter);
    return id !== reporterId && canReport(state.read(nodes, id), height);
  });
  kept.push({ reporter: fromHex(reporterId), height });
  if (kept.length >= quorum) {
    markNodeDown(state, targetId, target, height);
    return { reports: kept.length, down: true };
  }
  state.write(downReports, targetId, kept);
  return { reports: kept.length, down: false };
}

/** Marks a confirmed node down: out of the payout queue and of placement until it confirms again. */
export function markNodeDown(state: StateOverlay, id: string, node: FluxNodeRecord, height: number): void {
  if (!isNodeDown(node)) dequeue(state, id, node);
  state.write(nodes, id, { ...node, downSince: height });
  clearDownReports(state, id);
}

/** The owner's stop: leaves the queue, collateral returns after the unlock delay. */
export function stopNode(
  state: StateOverlay,
  id: string,
  node: FluxNodeRecord,
  height: number,
  params: ChainParams,
): void {
  state.write(dueAt, dueKey(node.expiresAt, id), undefined);
  beginUnlock(state, id, node, height, params, NodeStatus.unlocking);
}

/**
 * A running node stops (owner's stop, or a missed period): it leaves the payout queue, its
 * pending down reports go, and its collateral returns `unlockDelay` blocks later.
 */
function beginUnlock(
  state: StateOverlay,
  id: string,
  node: FluxNodeRecord,
  height: number,
  params: ChainParams,
  status: typeof NodeStatus.unlocking | typeof NodeStatus.expired,
): void {
  if (node.status === NodeStatus.confirmed && !isNodeDown(node)) dequeue(state, id, node);
  const unlockAt = height + params.nodes.unlockDelay;
  state.write(nodes, id, { ...node, status, unlockAt, downSince: 0 });
  state.write(dueAt, dueKey(unlockAt, id), true);
  clearDownReports(state, id);
}

/** The earliest height at which a confirmation of `node` is accepted. */
export function confirmFrom(node: FluxNodeRecord, params: ChainParams): number {
  if (node.status === NodeStatus.started) return node.startHeight;
  return node.lastConfirmHeight + params.nodes.confirmPeriod - params.nodes.confirmWindow;
}

const DUE_BATCH = 256;

/**
 * Lapses, expiries and unlocks due at `height`, run once per block after its transactions.
 * Costs one range read plus the work of what is due.
 */
export function processDueNodes(state: StateOverlay, height: number, params: ChainParams): void {
  const prefix = `${dueAt.prefix}${dueKey(height, '')}`;
  for (;;) {
    const batch = state.scan(prefix, DUE_BATCH);
    if (batch.length === 0) return;
    for (const [key] of batch) {
      const id = idFromKey(key);
      state.write(dueAt, key.slice(dueAt.prefix.length), undefined);
      const node = state.read(nodes, id);
      if (node) settleDue(state, id, node, height, params);
    }
  }
}

function settleDue(
  state: StateOverlay,
  id: string,
  node: FluxNodeRecord,
  height: number,
  params: ChainParams,
): void {
  const ownerId = toHex(node.owner);
  if (node.status === NodeStatus.started && node.expiresAt === height) {
    adjustLocked(state, ownerId, 0n, node.collateral);
    state.write(nodes, id, { ...node, status: NodeStatus.lapsed });
    state.write(cooldowns, ownerId, height + params.nodes.cooldown);
  } else if (node.status === NodeStatus.confirmed && node.expiresAt === height) {
    beginUnlock(state, id, node, height, params, NodeStatus.expired);
  } else if (
    (node.status === NodeStatus.unlocking || node.status === NodeStatus.expired) &&
    node.unlockAt === height
  ) {
    adjustLocked(state, ownerId, 0n, node.collateral);
    state.write(nodes, id, { ...node, status: NodeStatus.closed });
  }
}

/**
 * Pays the front of the tier's queue: records the reward on the node, moves it to the back,
 * and returns the account to credit (the collateral owner), or undefined for an empty queue.
 */
export function payNodeOfTier(
  state: StateOverlay,
  tier: Tier,
  ctx: { height: number; amount: bigint },
): string | undefined {
  const t = tierIndex(tier);
  const front = state.scan(queuePrefix(t), 1)[0];
  if (!front) return undefined;
  const id = idFromKey(front[0]);
  const node = state.read(nodes, id);
  if (!node) throw new Error(`payout queue names node ${id}, which is not in the state`);
  dequeue(state, id, node);
  const paid: FluxNodeRecord = {
    ...node,
    lastPaidHeight: ctx.height,
    payouts: node.payouts + 1,
    rewards: node.rewards + ctx.amount,
  };
  state.write(nodes, id, paid);
  enqueue(state, id, paid);
  return toHex(node.owner);
}

/** Genesis FluxNodes: collateral locked from the owner's allocation, confirmed at height 0. */
export function registerGenesisNodes(state: StateOverlay, params: ChainParams): void {
  const list = params.genesis.nodes ?? [];
  for (let i = 0; i < list.length; i++) {
    const g = list[i];
    const tier = tierIndex(g.tier);
    if (tierOf(tier) === undefined) throw new Error(`genesis node ${i}: unknown tier ${g.tier}`);
    if (g.region !== undefined && regionError(g.region))
      throw new Error(`genesis node ${i}: region ${regionError(g.region)}`);
    const collateral = params.nodes.tiers[g.tier].collateral;
    const owner = state.read(accounts, g.owner) ?? EMPTY_ACCOUNT;
    if (owner.balance < collateral)
      throw new Error(
        `genesis node ${i}: owner ${g.owner} has ${owner.balance}, collateral is ${collateral}`,
      );
    const operator = fromHex(g.operator);
    if (operator.length !== 32) throw new Error(`genesis node ${i}: operator must be a 32-byte public key`);
    const start = {
      tier,
      operator,
      endpoint: encoder.encode(g.endpoint),
      region: encoder.encode(g.region ?? ''),
      deposit: 0n,
      owner: fromHex(g.owner),
      collateral,
    };
    NodeStartPayload.serialize(start); // checks field sizes
    state.write(accounts, g.owner, { ...owner, balance: owner.balance - collateral });
    const id = genesisNodeId(i);
    registerNode(state, id, start, 0, params);
    confirmNode(state, id, state.read(nodes, id)!, EMPTY_REPORT, 0, params);
  }
}

/** The operator key's account id: where a start's deposit goes and confirm fees come from. */
export function operatorAccount(operator: Uint8Array): Uint8Array {
  return addressBytes(operator);
}
