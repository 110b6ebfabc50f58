// FluxNode state: the node records and the sorted indexes kept beside them. Every index is a
// key whose order is the order that matters (deadline height, payout position), read with
// StateReader.scan, so per-block work is proportional to what is due, not to the node count.
import {
  DownReports,
  FluxNodeRecord,
  type FluxNodeRecord as NodeRecord,
  type DownReports as Reports,
} from '../codec/types.ts';
import type { Tier } from '../ledger/emission.ts';
import { TIERS } from '../ledger/emission.ts';
import type { Table } from '../ledger/state.ts';

/** Where a node stands. Numbers are what the state stores. */
export const NodeStatus = {
  /** Collateral locked; waiting for the first confirmation (lapses at `expiresAt`). */
  started: 0,
  /** Confirmed; in its tier's payout queue; expires at `expiresAt` without a new confirmation. */
  confirmed: 1,
  /** Missed a confirmation; collateral returns at `unlockAt`. */
  expired: 2,
  /** Stopped by its owner; collateral returns at `unlockAt`. */
  unlocking: 3,
  /** Collateral returned to the owner. */
  closed: 4,
  /** Never confirmed in its window; collateral returned, the owner's starts cool down. */
  lapsed: 5,
} as const;
export type NodeStatus = (typeof NodeStatus)[keyof typeof NodeStatus];
export type NodeStatusName = keyof typeof NodeStatus;

export const NODE_STATUS_NAMES: readonly NodeStatusName[] = [
  'started',
  'confirmed',
  'expired',
  'unlocking',
  'closed',
  'lapsed',
];

export function tierIndex(tier: Tier): number {
  return TIERS.indexOf(tier);
}

export function tierOf(index: number): Tier | undefined {
  return TIERS[index];
}

const MARK = new Uint8Array([1]);

/** An index entry: the key is the information, the value a single byte. */
function markerTable(prefix: string): Table<true> {
  return { prefix, encode: () => MARK, decode: () => true };
}

/** `node/<id hex>` -> the node's record. */
export const nodes: Table<NodeRecord> = {
  prefix: 'node/',
  encode: (v) => FluxNodeRecord.serialize(v),
  decode: (b) => FluxNodeRecord.deserialize(b),
};

/** `payq/<tier>/<last paid>/<start>/<id>`: each tier's payout queue, front first. */
export const payoutQueue = markerTable('payq/');
/** `due/<height>/<id>`: a node whose lapse, expiry or unlock falls at that height. */
export const dueAt = markerTable('due/');
/** `nodeop/<operator key hex>/<id>`: the nodes an operator key signs for. */
export const byOperator = markerTable('nodeop/');

/**
 * `downrep/<target id>` -> pending down reports against the target: at most one per reporter node,
 * fewer than the quorum (a quorum marks the target down and the entry is deleted).
 */
export const downReports: Table<Reports> = {
  prefix: 'downrep/',
  encode: (v) => DownReports.serialize(v),
  decode: (b) => DownReports.deserialize(b),
};

/** A confirmed node that a quorum of other nodes reported down: placed nowhere, paid nothing. */
export function isNodeDown(node: NodeRecord): boolean {
  return node.status === NodeStatus.confirmed && node.downSince > 0;
}

/** `cool/<owner account id>` -> the height from which the owner may start nodes again. */
export const cooldowns: Table<number> = {
  prefix: 'cool/',
  encode: (v) => {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(v));
    return out;
  },
  decode: (b) => Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0)),
};

/** Heights in keys: fixed width, so string order is numeric order. */
export function padHeight(height: number): string {
  return String(height).padStart(16, '0');
}

export function queueKey(tier: number, lastPaid: number, start: number, id: string): string {
  return `${tier}/${padHeight(lastPaid)}/${padHeight(start)}/${id}`;
}

export function queuePrefix(tier: number): string {
  return `${payoutQueue.prefix}${tier}/`;
}

export function dueKey(height: number, id: string): string {
  return `${padHeight(height)}/${id}`;
}

/** The node id at the end of an index key. */
export function idFromKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
