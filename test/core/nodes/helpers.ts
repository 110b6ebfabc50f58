// A small in-memory chain for FluxNode tests: a sorted state map, blocks applied in order.
import assert from 'node:assert/strict';
import type { BenchReport, Tx } from '../../../src/core/codec/types.ts';
import { TxKind } from '../../../src/core/codec/types.ts';
import { chainZeroJob, ZERO_JOB_ID } from '../../../src/core/consensus/pouw.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { addressBytes, type KeyPair } from '../../../src/core/crypto/keys.ts';
import type { Tier } from '../../../src/core/ledger/emission.ts';
import { StateOverlay, type StateReader } from '../../../src/core/ledger/state.ts';
import { signTx } from '../../../src/core/ledger/tx.ts';
import type { BlockEffects } from '../../../src/core/ledger/types.ts';
import { genesisNodeId } from '../../../src/core/nodes/lifecycle.ts';
import {
  encodeNodeConfirm,
  encodeNodeDown,
  encodeNodeStart,
  encodeNodeStop,
} from '../../../src/core/nodes/payloads.ts';
import { type ChainParams, COIN, createParams, isActive } from '../../../src/core/params/index.ts';
import { BlockBuilder } from '../../../src/core/transition/block.ts';
import { ZERO_HASH } from '../../../src/core/transition/genesis.ts';
import { applyTx } from '../../../src/core/transition/tx.ts';
import { idOf } from '../../support/keys.ts';
import { testParams } from '../../support/params.ts';
import { genesisState, type MemoryState } from '../../support/state.ts';

export const MINER = new Uint8Array(20).fill(0xee);

/** Devnet node rules with these owners funded (100,000 FLUX each). */
export function nodeParams(owners: KeyPair[], overrides: Partial<ChainParams> = {}): ChainParams {
  return createParams(
    testParams(owners, { genesisTime: 0, pow: 'preset', amount: 100_000n * COIN }),
    overrides,
  );
}

/**
 * `owners` funded as by nodeParams, plus one confirmed cumulus FluxNode at genesis per operator
 * key (node i owned by owners[i mod owners], operator account funded for fees); ids are
 * `genesisNodeId(i)`.
 * Confirmations are due only every `confirmPeriod` blocks (default 1000), so tests choose when.
 */
export function paramsWithNodes(
  owners: KeyPair[],
  operators: KeyPair[],
  opts: { confirmPeriod?: number; payoutInterval?: number } = {},
): ChainParams {
  const base = nodeParams(owners);
  return createParams(base, {
    genesis: {
      ...base.genesis,
      allocations: [
        ...base.genesis.allocations,
        ...operators.map((k) => ({ address: idOf(k), amount: 100n * COIN })),
      ],
      nodes: operators.map((k, i) => ({
        owner: idOf(owners[i % owners.length]),
        operator: toHex(k.publicKey),
        tier: 'cumulus' as const,
        endpoint: '127.0.0.1:16127',
      })),
    },
    nodes: { ...base.nodes, confirmPeriod: opts.confirmPeriod ?? 1000 },
    apps: { ...base.apps, payoutInterval: opts.payoutInterval ?? base.apps.payoutInterval },
  });
}

export const genesisIds = (n: number): string[] => Array.from({ length: n }, (_, i) => genesisNodeId(i));

export const GOOD_REPORT: BenchReport = {
  cores: 4,
  ramMb: 16_384,
  ssdGb: 500,
  eventsPerSec: 200_000,
  diskWriteMBps: 300,
  measuredAt: 1,
};

const FEE = 100_000n;

/** Applies blocks one at a time over a memory state. */
export class TestChain {
  readonly state: MemoryState;
  readonly params: ChainParams;
  height = 0;
  private readonly nonces = new Map<string, number>();

  constructor(params: ChainParams) {
    this.params = params;
    this.state = genesisState(params);
  }

  nonce(k: KeyPair): number {
    const n = this.nonces.get(idOf(k)) ?? 0;
    this.nonces.set(idOf(k), n + 1);
    return n;
  }

  tx(k: KeyPair, kind: number, payload: Uint8Array): Tx {
    return signTx({ nonce: this.nonce(k), fee: FEE, kind, payload }, k, this.params);
  }

  start(owner: KeyPair, operator: KeyPair, tier: Tier, deposit = COIN): Tx {
    return this.tx(
      owner,
      TxKind.nodeStart,
      encodeNodeStart({ tier, operator: operator.publicKey, endpoint: '127.0.0.1:16127', deposit }),
    );
  }

  confirm(operator: KeyPair, nodeId: string, report = GOOD_REPORT): Tx {
    return this.tx(operator, TxKind.nodeConfirm, encodeNodeConfirm(nodeId, report));
  }

  /** A down report against `target` by node `reporter`, signed by `operator`. */
  down(operator: KeyPair, target: string, reporter: string): Tx {
    return this.tx(operator, TxKind.nodeDown, encodeNodeDown(target, reporter));
  }

  stop(owner: KeyPair, nodeId: string): Tx {
    return this.tx(owner, TxKind.nodeStop, encodeNodeStop(nodeId));
  }

  /** Applies the next block with these transactions (all must apply). */
  block(txs: Tx[] = []): BlockEffects {
    const height = this.height + 1;
    // From the PoUW activation height on (devnet: 20) a block names a job: the zero job here.
    const pouw = isActive(this.params, 'pouw', height)
      ? { job: ZERO_JOB_ID, jobHeader: chainZeroJob(this.params).header }
      : undefined;
    const started = BlockBuilder.start(this.state, {
      params: this.params,
      height,
      miner: MINER,
      parentStateRoot: ZERO_HASH,
      pouw,
    });
    assert.ok(started.ok, started.ok ? '' : started.error.message);
    for (const tx of txs) {
      const r = started.builder.addTx(tx);
      assert.ok(r.ok, r.ok ? '' : r.error.message);
    }
    const effects = started.builder.finish();
    this.state.apply(effects.changes);
    this.height = height;
    return effects;
  }

  /** Blocks until `height` (inclusive). */
  until(height: number): void {
    while (this.height < height) this.block();
  }

  /** Applies one transaction on top of the state at the next height without keeping it. */
  try(tx: Tx) {
    const r = tryApply(this.state, tx, this.params, this.height + 1);
    if (!r.ok) this.nonces.set(toHex(addressBytes(tx.body.sender)), tx.body.nonce);
    return r;
  }
}

export function tryApply(state: StateReader, tx: Tx, params: ChainParams, height: number) {
  const view = new StateOverlay(state);
  return applyTx(view, tx, { params, height });
}
