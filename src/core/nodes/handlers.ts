// Transaction kinds nodeStart, nodeConfirm, nodeStop and nodeDown (listed in transition/kinds.ts).
import {
  type NodeConfirmPayload as NodeConfirm,
  NodeConfirmPayload,
  type NodeDownPayload as NodeDown,
  NodeDownPayload,
  type NodeStartPayload as NodeStart,
  NodeStartPayload,
  type NodeStopPayload as NodeStop,
  NodeStopPayload,
  TxKind,
} from '../codec/types.ts';
import { bytesEqual, fromHex, toHex } from '../crypto/hash.ts';
import { TIERS } from '../ledger/emission.ts';
import { fail } from '../ledger/errors.ts';
import { accounts, EMPTY_ACCOUNT } from '../ledger/state.ts';
import type { TxKindHandler } from '../ledger/types.ts';
import {
  canReport,
  confirmFrom,
  confirmNode,
  nodeIdOf,
  operatorAccount,
  recordDownReport,
  registerNode,
  stopNode,
} from './lifecycle.ts';
import { regionError, regionOf } from './region.ts';
import { checkReportForTier, checkReportPlausible } from './report.ts';
import { byOperator, cooldowns, isNodeDown, NODE_STATUS_NAMES, NodeStatus, nodes, tierOf } from './types.ts';

const ENDPOINT = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})$/;

/** `host:port` (or `[v6]:port`) with a port from 1 to 65535; the reason it is not, otherwise. */
export function endpointError(endpoint: string): string | undefined {
  const m = ENDPOINT.exec(endpoint);
  if (!m) return `endpoint ${JSON.stringify(endpoint.slice(0, 40))} is not HOST:PORT`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `endpoint port ${port} is outside 1..65535`;
  return undefined;
}

type StartValue = NodeStart & { collateral: bigint };

export const nodeStartHandler: TxKindHandler<StartValue> = {
  kind: TxKind.nodeStart,
  name: 'nodeStart',
  decode(bytes, params) {
    let value: NodeStart;
    try {
      value = NodeStartPayload.deserialize(bytes);
    } catch (e) {
      return fail('MALFORMED', `nodeStart payload does not decode: ${(e as Error).message}`);
    }
    const tier = tierOf(value.tier);
    if (!tier) return fail('MALFORMED', `nodeStart tier ${value.tier} is not 0..${TIERS.length - 1}`);
    let endpoint: string;
    try {
      endpoint = new TextDecoder('utf-8', { fatal: true }).decode(value.endpoint);
    } catch {
      return fail('BAD_ENDPOINT', 'nodeStart endpoint is not UTF-8');
    }
    const bad = endpointError(endpoint);
    if (bad) return fail('BAD_ENDPOINT', `nodeStart ${bad}`);
    const region = regionOf(value.region);
    if (value.region.length > 0) {
      const badRegion = regionError(region);
      if (badRegion) return fail('MALFORMED', `nodeStart region: ${badRegion}`);
    }
    if (value.deposit > params.maxSupply)
      return fail('BAD_AMOUNT', `nodeStart deposit ${value.deposit} exceeds the supply cap`);
    return { ok: true, value: { ...value, collateral: params.nodes.tiers[tier].collateral } };
  },
  spend: (value) => value.collateral + value.deposit,
  apply(state, value, ctx) {
    const until = state.read(cooldowns, ctx.senderId);
    if (until !== undefined && ctx.height < until) {
      return fail(
        'COOLDOWN',
        `owner ${ctx.senderId} had a node lapse; starts are refused until height ${until} (now ${ctx.height})`,
      );
    }
    const operatorHex = toHex(value.operator);
    for (const [key] of state.scan(`${byOperator.prefix}${operatorHex}/`, 64)) {
      const other = state.read(nodes, key.slice(key.lastIndexOf('/') + 1));
      if (other && (other.status === NodeStatus.started || other.status === NodeStatus.confirmed)) {
        return fail(
          'BAD_NODE_STATE',
          `operator key ${operatorHex.slice(0, 16)}… already signs for a running node; use one key per node`,
        );
      }
    }
    const owner = fromHex(ctx.senderId);
    const id = nodeIdOf(owner, ctx.nonce);
    registerNode(state, id, { ...value, owner }, ctx.height, ctx.params);
    if (value.deposit > 0n) {
      const opId = toHex(operatorAccount(value.operator));
      const op = state.read(accounts, opId) ?? EMPTY_ACCOUNT;
      state.write(accounts, opId, { ...op, balance: op.balance + value.deposit });
    }
    return { ok: true };
  },
  parties: (value) => [operatorAccount(value.operator)],
};

export const nodeConfirmHandler: TxKindHandler<NodeConfirm> = {
  kind: TxKind.nodeConfirm,
  name: 'nodeConfirm',
  decode(bytes, params) {
    let value: NodeConfirm;
    try {
      value = NodeConfirmPayload.deserialize(bytes);
    } catch (e) {
      return fail('MALFORMED', `nodeConfirm payload does not decode: ${(e as Error).message}`);
    }
    const plausible = checkReportPlausible(value.report, params);
    if (!plausible.ok) return plausible;
    return { ok: true, value };
  },
  spend: () => 0n,
  apply(state, value, ctx) {
    const id = toHex(value.node);
    const node = state.read(nodes, id);
    if (!node) return fail('NODE_NOT_FOUND', `no FluxNode ${id}`);
    if (!bytesEqual(node.operator, ctx.senderKey)) {
      return fail(
        'NOT_AUTHORIZED',
        `node ${id.slice(0, 16)}… is confirmed by operator key ${toHex(node.operator).slice(0, 16)}…, not ${toHex(ctx.senderKey).slice(0, 16)}…`,
      );
    }
    if (node.status !== NodeStatus.started && node.status !== NodeStatus.confirmed) {
      return fail('BAD_NODE_STATE', `node ${id.slice(0, 16)}… is ${NODE_STATUS_NAMES[node.status]}`);
    }
    if (ctx.height >= node.expiresAt) {
      return fail(
        'BAD_NODE_STATE',
        `node ${id.slice(0, 16)}…: confirmation window closed at height ${node.expiresAt} (now ${ctx.height})`,
      );
    }
    // A node marked down comes back by confirming, at any height before it expires.
    const from = isNodeDown(node) ? 0 : confirmFrom(node, ctx.params);
    if (ctx.height < from) {
      return fail(
        'BAD_NODE_STATE',
        `node ${id.slice(0, 16)}…: next confirmation is accepted from height ${from} (now ${ctx.height})`,
      );
    }
    const tier = tierOf(node.tier)!;
    const meets = checkReportForTier(value.report, tier, ctx.params);
    if (!meets.ok) return meets;
    confirmNode(state, id, node, value.report, ctx.height, ctx.params);
    return { ok: true };
  },
  parties: () => [],
};

export const nodeStopHandler: TxKindHandler<NodeStop> = {
  kind: TxKind.nodeStop,
  name: 'nodeStop',
  decode(bytes) {
    try {
      return { ok: true, value: NodeStopPayload.deserialize(bytes) };
    } catch (e) {
      return fail('MALFORMED', `nodeStop payload does not decode: ${(e as Error).message}`);
    }
  },
  spend: () => 0n,
  apply(state, value, ctx) {
    const id = toHex(value.node);
    const node = state.read(nodes, id);
    if (!node) return fail('NODE_NOT_FOUND', `no FluxNode ${id}`);
    if (toHex(node.owner) !== ctx.senderId) {
      return fail(
        'NOT_AUTHORIZED',
        `node ${id.slice(0, 16)}… belongs to ${toHex(node.owner)}; only its owner can stop it`,
      );
    }
    if (node.status !== NodeStatus.started && node.status !== NodeStatus.confirmed) {
      const when = node.unlockAt > 0 ? ` (collateral unlocks at height ${node.unlockAt})` : '';
      return fail(
        'BAD_NODE_STATE',
        `node ${id.slice(0, 16)}… is already ${NODE_STATUS_NAMES[node.status]}${when}`,
      );
    }
    stopNode(state, id, node, ctx.height, ctx.params);
    return { ok: true };
  },
  parties: () => [],
};

export const nodeDownHandler: TxKindHandler<NodeDown> = {
  kind: TxKind.nodeDown,
  name: 'nodeDown',
  decode(bytes) {
    try {
      return { ok: true, value: NodeDownPayload.deserialize(bytes) };
    } catch (e) {
      return fail('MALFORMED', `nodeDown payload does not decode: ${(e as Error).message}`);
    }
  },
  spend: () => 0n,
  apply(state, value, ctx) {
    const reporterId = toHex(value.reporter);
    const targetId = toHex(value.target);
    const reporter = state.read(nodes, reporterId);
    if (!reporter) return fail('NODE_NOT_FOUND', `nodeDown: no reporter FluxNode ${reporterId}`);
    const by = `reporter ${reporterId.slice(0, 16)}…`;
    if (!bytesEqual(reporter.operator, ctx.senderKey)) {
      return fail(
        'NOT_AUTHORIZED',
        `nodeDown: ${by} reports with operator key ${toHex(reporter.operator).slice(0, 16)}…, not ${toHex(ctx.senderKey).slice(0, 16)}…`,
      );
    }
    if (!canReport(reporter, ctx.height)) {
      const why = isNodeDown(reporter)
        ? `is itself down since height ${reporter.downSince}`
        : reporter.status === NodeStatus.confirmed
          ? `expired at height ${reporter.expiresAt}`
          : `is ${NODE_STATUS_NAMES[reporter.status]}`;
      return fail('NOT_AUTHORIZED', `nodeDown: only a confirmed node that is not down reports; ${by} ${why}`);
    }
    if (targetId === reporterId) return fail('BAD_NODE_STATE', `nodeDown: ${by} cannot report itself`);
    const target = state.read(nodes, targetId);
    if (!target) return fail('NODE_NOT_FOUND', `nodeDown: no target FluxNode ${targetId}`);
    const it = `target ${targetId.slice(0, 16)}…`;
    if (target.status !== NodeStatus.confirmed)
      return fail('BAD_NODE_STATE', `nodeDown: ${it} is ${NODE_STATUS_NAMES[target.status]}, not confirmed`);
    if (ctx.height >= target.expiresAt)
      return fail('BAD_NODE_STATE', `nodeDown: ${it} expires at height ${target.expiresAt}`);
    if (isNodeDown(target))
      return fail('BAD_NODE_STATE', `nodeDown: ${it} is already down since height ${target.downSince}`);
    recordDownReport(state, targetId, target, reporterId, ctx.height, ctx.params);
    return { ok: true };
  },
  parties: () => [],
};
