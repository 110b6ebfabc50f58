// FluxNode routes: the node list, one node, payout queues and a node's rewards and app earnings.

import { ApiError } from '../../api/route.ts';
import type { NodeJson, NodeRewardsJson, PayoutQueuesJson } from '../../api/routes.ts';
import type { FluxNodeRecord } from '../../core/codec/types.ts';
import { toHex } from '../../core/crypto/hash.ts';
import { addressBytes, encodeAddress } from '../../core/crypto/keys.ts';
import { splitSubsidy, TIERS, type Tier } from '../../core/ledger/emission.ts';
import { confirmFrom } from '../../core/nodes/lifecycle.ts';
import { regionOf } from '../../core/nodes/region.ts';
import { isNodeDown, NODE_STATUS_NAMES, NodeStatus, tierIndex, tierOf } from '../../core/nodes/types.ts';
import type { ChainParams } from '../../core/params/index.ts';
import type { Chain } from '../chain/types.ts';
import type { Liveness } from '../liveness/service.ts';
import { perTip, perTipBy } from './tip-cache.ts';

export function nodeJson(
  id: string,
  node: FluxNodeRecord,
  params: ChainParams,
  queuePosition?: number,
): NodeJson {
  const prefix = params.addressPrefix;
  const running = node.status === NodeStatus.started || node.status === NodeStatus.confirmed;
  const unlocking = node.status === NodeStatus.expired || node.status === NodeStatus.unlocking;
  return {
    id,
    tier: tierOf(node.tier) ?? 'cumulus',
    status: NODE_STATUS_NAMES[node.status] ?? 'closed',
    owner: encodeAddress(prefix, node.owner),
    operator: toHex(node.operator),
    operatorAddress: encodeAddress(prefix, addressBytes(node.operator)),
    endpoint: Buffer.from(node.endpoint).toString('utf8'),
    ...(node.region.length ? { region: regionOf(node.region) } : {}),
    collateral: node.collateral.toString(),
    startHeight: node.startHeight,
    confirmations: node.confirmations,
    ...(node.confirmations > 0 ? { lastConfirmHeight: node.lastConfirmHeight } : {}),
    // A down node's confirmation is accepted at any height (it brings the node back).
    ...(running
      ? {
          confirmFrom: isNodeDown(node) ? node.downSince : confirmFrom(node, params),
          expiresAt: node.expiresAt,
        }
      : {}),
    ...(unlocking ? { unlockAt: node.unlockAt } : {}),
    ...(node.payouts > 0 ? { lastPaidHeight: node.lastPaidHeight } : {}),
    ...(queuePosition !== undefined ? { queuePosition } : {}),
    down: isNodeDown(node),
    ...(isNodeDown(node) ? { downSince: node.downSince } : {}),
    payouts: node.payouts,
    rewards: node.rewards.toString(),
    appEarned: node.appEarned.toString(),
    report: { ...node.report },
  };
}

/** The heartbeat view of a node, for the API (confirmed nodes this node tracks). */
function livenessJson(liveness: Liveness | undefined, id: string): Pick<NodeJson, 'liveness'> {
  const seen = liveness?.get(id);
  if (!seen) return {};
  return {
    liveness: {
      state: seen.state,
      since: seen.since,
      ...(seen.lastHeard !== undefined ? { lastHeard: seen.lastHeard } : {}),
    },
  };
}

export function createNodeHandlers(chain: Chain, liveness?: Liveness) {
  const params = chain.params;
  // Polled (flux node status, flux devnet status): the queues and lists are read once per tip.
  const queues = perTip(
    chain,
    () =>
      new Map(
        TIERS.map((tier) => {
          const ids = chain.payoutQueue(tier);
          return [tier, { ids, position: new Map(ids.map((id, i) => [id, i])) }] as const;
        }),
      ),
  );
  const queueOf = (node: FluxNodeRecord) => queues().get(tierOf(node.tier) ?? 'cumulus')!;
  const lists = perTipBy(chain, (key) => {
    const { tier, status, limit } = JSON.parse(key) as { tier?: number; status?: number; limit: number };
    const list = chain.fluxNodes(
      (n) => (tier === undefined || n.tier === tier) && (status === undefined || n.status === status),
      limit,
    );
    return list.map(({ id, node }) => nodeJson(id, node, params, queueOf(node).position.get(id)));
  });
  const load = (id: string): FluxNodeRecord => {
    const node = chain.fluxNode(id);
    if (!node) throw new ApiError(404, 'NOT_FOUND', `no FluxNode ${id}`);
    return node;
  };
  const payoutQueues = perTipBy(chain, (key, tip): PayoutQueuesJson => {
    const limit = Number(key);
    const supply = chain.supply();
    const split = splitSubsidy(supply?.nextSubsidy ?? 0n, params);
    return {
      height: tip.height,
      tiers: TIERS.map((tier) => {
        const { ids } = queues().get(tier)!;
        return {
          tier,
          length: ids.length,
          share: split.tiers[tier].toString(),
          next: ids.slice(0, limit).map((id) => {
            const node = chain.fluxNode(id)!;
            return {
              id,
              owner: encodeAddress(params.addressPrefix, node.owner),
              lastPaidHeight: node.lastPaidHeight,
            };
          }),
        };
      }),
    };
  });

  return {
    nodes({ query }: { query: { tier?: Tier; status?: NodeJson['status']; limit?: number } }) {
      const limit = Math.min(query.limit ?? 1000, 10_000);
      const tier = query.tier === undefined ? undefined : tierIndex(query.tier);
      const status = query.status === undefined ? undefined : NodeStatus[query.status];
      const list = lists(JSON.stringify({ tier, status, limit }));
      return {
        height: chain.tip().height,
        count: list.length,
        nodes: liveness ? list.map((n) => ({ ...n, ...livenessJson(liveness, n.id) })) : list,
      };
    },

    node({ params: { id } }: { params: { id: string } }) {
      const node = load(id);
      return {
        ...nodeJson(id, node, params, queueOf(node).position.get(id)),
        ...livenessJson(liveness, id),
      };
    },

    payoutQueues({ query }: { query: { limit?: number } }): PayoutQueuesJson {
      return payoutQueues(String(Math.min(query.limit ?? 20, 1000)));
    },

    nodeRewards({ params: { id } }: { params: { id: string } }): NodeRewardsJson {
      const node = load(id);
      const queue = queueOf(node);
      const at = queue.position.get(id) ?? -1;
      return {
        id,
        owner: encodeAddress(params.addressPrefix, node.owner),
        payouts: node.payouts,
        rewards: node.rewards.toString(),
        ...(node.payouts > 0 ? { lastPaidHeight: node.lastPaidHeight } : {}),
        appEarned: node.appEarned.toString(),
        ...(node.lastAppPaidHeight > 0 ? { lastAppPaidHeight: node.lastAppPaidHeight } : {}),
        down: isNodeDown(node),
        ...(isNodeDown(node) ? { downSince: node.downSince } : {}),
        ...(at >= 0 ? { queuePosition: at, nextPayoutIn: at + 1 } : {}),
        queueLength: queue.ids.length,
      };
    },
  };
}
