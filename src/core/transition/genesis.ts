// Block 0: the allocations and FluxNodes that params give the network, chained from a zero root.
import { txRoot } from '../codec/ids.ts';
import type { Block, Header } from '../codec/types.ts';
import { bigintToBytes32 } from '../crypto/hash.ts';
import { credit, nextStateRoot, StateOverlay, supply } from '../ledger/state.ts';
import type { BlockEffects } from '../ledger/types.ts';
import { registerGenesisNodes } from '../nodes/lifecycle.ts';
import type { ChainParams } from '../params/index.ts';

export const ZERO_HASH = new Uint8Array(32);
export const ZERO_ADDRESS = new Uint8Array(20);

/** The genesis state: allocations from params, recorded as minted. */
export function genesisEffects(params: ChainParams): BlockEffects {
  const state = new StateOverlay({ get: () => undefined });
  let total = 0n;
  for (const a of params.genesis.allocations) {
    credit(state, a.address, a.amount);
    total += a.amount;
  }
  if (total > params.maxSupply) throw new Error('genesis allocations exceed the supply cap');
  state.write(supply, '', { minted: total, locked: 0n });
  registerGenesisNodes(state, params);
  const changes = state.changes();
  return {
    changes,
    undo: changes.map(([key]) => [key, undefined]),
    stateRoot: nextStateRoot(ZERO_HASH, changes),
    subsidy: 0n,
    fees: 0n,
    minted: total,
  };
}

export function genesisBlock(params: ChainParams): Block {
  const header: Header = {
    version: 1,
    height: 0,
    parent: ZERO_HASH,
    time: params.genesis.time,
    stateRoot: genesisEffects(params).stateRoot,
    txRoot: txRoot([]),
    target: bigintToBytes32(params.pow.initialTarget),
    miner: ZERO_ADDRESS,
    nonce: 0,
  };
  return { header, txs: [], proof: new Uint8Array() };
}
