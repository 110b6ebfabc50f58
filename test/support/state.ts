// State in memory for the core's tests: a StateReader over a map, with block writes applied to it.
import type { StateReader } from '../../src/core/ledger/state.ts';
import type { ChainParams } from '../../src/core/params/index.ts';
import { genesisEffects } from '../../src/core/transition/genesis.ts';

export class MemoryState implements StateReader {
  readonly map = new Map<string, Uint8Array>();
  get(key: string) {
    return this.map.get(key);
  }
  scan(prefix: string, limit: number): Array<[string, Uint8Array]> {
    const keys = [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
    return keys.slice(0, limit).map((k) => [k, this.map.get(k)!]);
  }
  apply(changes: Array<[string, Uint8Array | undefined]>) {
    for (const [k, v] of changes) {
      if (v) this.map.set(k, v);
      else this.map.delete(k);
    }
  }
}

/** The state right after `params`' genesis. */
export function genesisState(params: ChainParams): MemoryState {
  const state = new MemoryState();
  state.apply(genesisEffects(params).changes);
  return state;
}
