// Chains for tests: temp sqlite chains, blocks built on schedule, headers resealed, snapshots to compare.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockHash, headerPrefixRoot } from '../../src/core/codec/ids.ts';
import type { Block, Header, Tx } from '../../src/core/codec/types.ts';
import { powHash } from '../../src/core/consensus/pow.ts';
import { bytesToBigint, toHex } from '../../src/core/crypto/hash.ts';
import type { KeyPair } from '../../src/core/crypto/keys.ts';
import type { ChainParams } from '../../src/core/params/index.ts';
import { type ChainOptions, type LocalChain, openChain } from '../../src/node/chain/chain.ts';
import { buildBlock, type TemplateOptions } from '../../src/node/miner/template.ts';
import { addressOf } from './keys.ts';

export const MINER = new Uint8Array(20).fill(0xee);

export interface TempChains {
  dir: string;
  open(name: string, extra?: Partial<ChainOptions>): LocalChain;
  cleanup(): void;
}

export function tempChains(params: ChainParams): TempChains {
  const dir = mkdtempSync(join(tmpdir(), 'openflux-chain-'));
  const opened: LocalChain[] = [];
  return {
    dir,
    open(name, extra = {}) {
      const chain = openChain({ params, dbPath: join(dir, `${name}.db`), ...extra });
      opened.push(chain);
      return chain;
    },
    cleanup() {
      for (const c of opened) c.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The next block on `chain`'s tip at the scheduled time (parent time + blockTimeMs). */
export function nextBlock(
  chain: LocalChain,
  txs: Tx[] = [],
  opts: TemplateOptions & { miner?: Uint8Array } = {},
): Block {
  const parent = chain.tip().header;
  return buildBlock(chain, txs, opts.miner ?? MINER, parent.time + chain.params.blockTimeMs, opts);
}

/** Builds and imports `n` blocks on `chain`, returning them. */
export async function extend(
  chain: LocalChain,
  n: number,
  txsFor: (i: number) => Tx[] = () => [],
): Promise<Block[]> {
  const out: Block[] = [];
  for (let i = 0; i < n; i++) {
    const block = nextBlock(chain, txsFor(i));
    const r = await chain.importBlock(block, Date.now());
    if (!r.ok) throw new Error(`import failed: ${r.error.message}`);
    out.push(block);
  }
  return out;
}

/** Re-searches the nonce after a header field was changed, so the block still meets its target. */
export function reseal(header: Header, change: Partial<Header> = {}): Header {
  const h = { ...header, ...change };
  const root = headerPrefixRoot(h);
  const target = bytesToBigint(h.target);
  for (let nonce = 0; ; nonce++) if (bytesToBigint(powHash(root, nonce)) <= target) return { ...h, nonce };
}

/** A nonce for which the header misses its target. */
export function badNonce(header: Header): Header {
  const root = headerPrefixRoot(header);
  const target = bytesToBigint(header.target);
  for (let nonce = 0; ; nonce++)
    if (bytesToBigint(powHash(root, nonce)) > target) return { ...header, nonce };
}

/** Everything a refused block must leave unchanged. */
export function snapshot(chain: LocalChain, keys: KeyPair[]) {
  const tip = chain.tip();
  return {
    height: tip.height,
    tip: toHex(tip.hash),
    stateRoot: toHex(tip.header.stateRoot),
    work: tip.cumulativeWork,
    supply: chain.supply(),
    balances: [...keys.map(addressOf), MINER].map((a) => chain.account(a)),
  };
}

export const hashHex = (block: Block) => toHex(blockHash(block.header));
