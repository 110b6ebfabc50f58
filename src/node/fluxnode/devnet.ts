// Devnet genesis with FluxNodes: node i of a devnet is registered at genesis (tier by i mod 3,
// collateral from devnet funded account i mod 4, confirmed at height 0) and its operator key is
// funded for confirmation fees, so a devnet starts with confirmed nodes of each tier.
import { toHex } from '../../core/crypto/hash.ts';
import { addressBytes } from '../../core/crypto/keys.ts';
import { TIERS } from '../../core/ledger/emission.ts';
import { type ChainParams, COIN, createParams } from '../../core/params/index.ts';

/** Each operator key's account gets this at genesis, for its confirmations' fees. */
export const DEVNET_OPERATOR_FUNDS = 1_000n * COIN;

export function withDevnetFluxNodes(
  params: ChainParams,
  nodes: Array<{ operator: Uint8Array; endpoint: string }>,
): ChainParams {
  const owners = params.genesis.allocations;
  if (owners.length === 0) throw new Error('devnet FluxNodes need funded accounts to own their collateral');
  return createParams(params, {
    genesis: {
      ...params.genesis,
      allocations: [
        ...owners,
        ...nodes.map((n) => ({ address: toHex(addressBytes(n.operator)), amount: DEVNET_OPERATOR_FUNDS })),
      ],
      nodes: nodes.map((n, i) => ({
        owner: owners[i % owners.length].address,
        operator: toHex(n.operator),
        tier: TIERS[i % TIERS.length],
        endpoint: n.endpoint,
      })),
    },
  });
}
