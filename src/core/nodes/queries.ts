// Read-only views of FluxNode state for the node's API and its confirmation service.
import type { FluxNodeRecord } from '../codec/types.ts';
import { toHex } from '../crypto/hash.ts';
import type { Tier } from '../ledger/emission.ts';
import type { StateReader } from '../ledger/state.ts';
import { byOperator, downReports, idFromKey, nodes, queuePrefix, tierIndex } from './types.ts';

export interface NodeEntry {
  id: string;
  node: FluxNodeRecord;
}

export function getNode(state: StateReader, id: string): FluxNodeRecord | undefined {
  const bytes = state.get(nodes.prefix + id);
  return bytes === undefined ? undefined : nodes.decode(bytes);
}

/** Every node, in id order (the deterministic node list); `filter` is applied while reading. */
export function listNodes(
  state: StateReader,
  filter: (n: FluxNodeRecord) => boolean = () => true,
  limit = Number.MAX_SAFE_INTEGER,
): NodeEntry[] {
  const out: NodeEntry[] = [];
  for (const [key, value] of state.scan?.(nodes.prefix, Number.MAX_SAFE_INTEGER) ?? []) {
    const node = nodes.decode(value);
    if (filter(node)) out.push({ id: key.slice(nodes.prefix.length), node });
    if (out.length >= limit) break;
  }
  return out;
}

/** The tier's payout queue, front (next paid) first: node ids. */
export function payoutQueueIds(state: StateReader, tier: Tier, limit = Number.MAX_SAFE_INTEGER): string[] {
  return (state.scan?.(queuePrefix(tierIndex(tier)), limit) ?? []).map(([key]) => idFromKey(key));
}

/** The nodes whose confirmations this operator key signs. */
export function nodesOfOperator(state: StateReader, operator: Uint8Array): NodeEntry[] {
  const out: NodeEntry[] = [];
  for (const [key] of state.scan?.(`${byOperator.prefix}${toHex(operator)}/`, 1000) ?? []) {
    const id = idFromKey(key);
    const node = getNode(state, id);
    if (node) out.push({ id, node });
  }
  return out;
}

/** Pending down reports against a node (reporter node id, height), oldest kept first. */
export function downReportsOf(state: StateReader, id: string): Array<{ reporter: string; height: number }> {
  const bytes = state.get(downReports.prefix + id);
  if (bytes === undefined) return [];
  return downReports.decode(bytes).map((r) => ({ reporter: toHex(r.reporter), height: r.height }));
}
