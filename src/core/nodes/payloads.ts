// Payload builders for the FluxNode transaction kinds (CLI, node service, tests).
import {
  type BenchReport,
  NodeConfirmPayload,
  NodeDownPayload,
  NodeStartPayload,
  NodeStopPayload,
} from '../codec/types.ts';
import { fromHex } from '../crypto/hash.ts';
import type { Tier } from '../ledger/emission.ts';
import { tierIndex } from './types.ts';

export function encodeNodeStart(start: {
  tier: Tier;
  operator: Uint8Array;
  endpoint: string;
  /** `CONTINENT[-COUNTRY]` (see region.ts); left out, the node declares no region. */
  region?: string;
  deposit?: bigint;
}): Uint8Array {
  return NodeStartPayload.serialize({
    tier: tierIndex(start.tier),
    operator: start.operator,
    endpoint: new TextEncoder().encode(start.endpoint),
    region: new TextEncoder().encode(start.region ?? ''),
    deposit: start.deposit ?? 0n,
  });
}

export function encodeNodeConfirm(nodeId: string, report: BenchReport): Uint8Array {
  return NodeConfirmPayload.serialize({ node: fromHex(nodeId), report });
}

export function encodeNodeStop(nodeId: string): Uint8Array {
  return NodeStopPayload.serialize({ node: fromHex(nodeId) });
}

/**
 * Payload of kind `nodeDown`: node `target` (hex id) looks down from node `reporter` (hex id);
 * the transaction is signed by the reporter node's operator key.
 */
export function encodeNodeDown(target: string, reporter: string): Uint8Array {
  return NodeDownPayload.serialize({ target: fromHex(target), reporter: fromHex(reporter) });
}
