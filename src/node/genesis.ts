// A devnet's genesis and its accounts: the funded DEVNET_MNEMONIC accounts, the genesis file a
// devnet datadir keeps (time + allocations + FluxNodes) so ASERT starts at the initial target and
// a restart reuses it, and the devnet keys a miner on devnet signs with.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { toHex } from '../core/crypto/hash.ts';
import { deriveKeyPair } from '../core/crypto/hd.ts';
import { addressBytes, type KeyPair } from '../core/crypto/keys.ts';
import {
  type ChainParams,
  COIN,
  createParams,
  DEVNET_MNEMONIC,
  devnet,
  type GenesisAllocation,
  type GenesisNode,
} from '../core/params/index.ts';

export const GENESIS_FILE = 'genesis.json';
/** Each of the first DEVNET_FUNDED_ACCOUNTS accounts of DEVNET_MNEMONIC gets this at genesis. */
export const DEVNET_ALLOCATION = 1_000_000n * COIN;
export const DEVNET_FUNDED_ACCOUNTS = 4;

/** Devnet's funded accounts: indexes 0..3 (account 0) of DEVNET_MNEMONIC, 1,000,000 FLUX each. */
export function devnetAllocations(): GenesisAllocation[] {
  return Array.from({ length: DEVNET_FUNDED_ACCOUNTS }, (_, index) => ({
    address: toHex(addressBytes(deriveKeyPair(DEVNET_MNEMONIC, 0, index).publicKey)),
    amount: DEVNET_ALLOCATION,
  }));
}

/** Devnet params with genesis at `time` and the funded devnet accounts. */
export function devnetParams(time: number): ChainParams {
  return createParams(devnet, { genesis: { time, allocations: devnetAllocations() } });
}

interface GenesisFileJson {
  network: 'devnet';
  time: number;
  allocations: Array<{ address: string; amount: string }>;
  nodes?: GenesisNode[];
  /**
   * Blocks between a FluxNode's confirmations, and blocks before its expiry from which it may
   * confirm, when not the devnet's 8 and 4: a node confirms as the window opens, so a partition
   * shorter than the window expires nobody. The chaos suite's 60 s partition needs a wider
   * window than the devnet's 8 s, as mainnet's is 1 h.
   */
  confirmPeriod?: number;
  confirmWindow?: number;
}

/** Reads a devnet genesis file; undefined when it does not exist. */
export async function readDevnetGenesis(file: string): Promise<ChainParams | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let saved: GenesisFileJson;
  try {
    saved = JSON.parse(text) as GenesisFileJson;
  } catch (e) {
    throw new Error(`${file} is not JSON: ${(e as Error).message}`);
  }
  if (
    saved === null ||
    typeof saved !== 'object' ||
    saved.network !== 'devnet' ||
    !Number.isSafeInteger(saved.time) ||
    !Array.isArray(saved.allocations)
  ) {
    throw new Error(`${file} is not a devnet genesis file`);
  }
  const blocks = (name: 'confirmPeriod' | 'confirmWindow'): number => {
    const v = saved[name] ?? devnet.nodes[name];
    if (!(Number.isSafeInteger(v) && v >= 1 && v <= 1_000_000))
      throw new Error(`${file}: ${name} must be a whole number of blocks from 1 to 1,000,000, not ${v}`);
    return v;
  };
  const [period, window] = [blocks('confirmPeriod'), blocks('confirmWindow')];
  if (window >= period)
    throw new Error(`${file}: confirmWindow (${window}) must be shorter than confirmPeriod (${period})`);
  return createParams(devnet, {
    genesis: {
      time: saved.time,
      allocations: saved.allocations.map((a) => ({ address: a.address, amount: BigInt(a.amount) })),
      ...(Array.isArray(saved.nodes) ? { nodes: saved.nodes } : {}),
    },
    nodes: { ...devnet.nodes, confirmPeriod: period, confirmWindow: window },
  });
}

/** Writes the genesis of `params` (time + allocations) to `file`, atomically. */
export async function writeDevnetGenesis(file: string, params: ChainParams): Promise<void> {
  const json: GenesisFileJson = {
    network: 'devnet',
    time: params.genesis.time,
    allocations: params.genesis.allocations.map((a) => ({ address: a.address, amount: a.amount.toString() })),
    ...(params.genesis.nodes?.length ? { nodes: params.genesis.nodes } : {}),
    ...(params.nodes.confirmPeriod === devnet.nodes.confirmPeriod
      ? {}
      : { confirmPeriod: params.nodes.confirmPeriod }),
    ...(params.nodes.confirmWindow === devnet.nodes.confirmWindow
      ? {}
      : { confirmWindow: params.nodes.confirmWindow }),
  };
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(json, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

function sameGenesis(a: ChainParams, b: ChainParams): boolean {
  return (
    a.genesis.time === b.genesis.time &&
    a.genesis.allocations.length === b.genesis.allocations.length &&
    a.genesis.allocations.every(
      (x, i) =>
        x.address === b.genesis.allocations[i].address && x.amount === b.genesis.allocations[i].amount,
    ) &&
    JSON.stringify(a.genesis.nodes ?? []) === JSON.stringify(b.genesis.nodes ?? []) &&
    a.nodes.confirmPeriod === b.nodes.confirmPeriod &&
    a.nodes.confirmWindow === b.nodes.confirmWindow
  );
}

/**
 * A devnet datadir keeps its own genesis (time + allocations): a new datadir picks `now` (or
 * the shared `genesisFile` of a multi-node devnet), so ASERT starts at the initial target; a
 * restart reuses the saved one.
 */
export async function loadOrCreateDevnetGenesis(
  datadir: string,
  now: number,
  genesisFile?: string,
): Promise<ChainParams> {
  const file = join(datadir, GENESIS_FILE);
  const saved = await readDevnetGenesis(file);
  const shared = genesisFile === undefined ? undefined : await readDevnetGenesis(genesisFile);
  if (genesisFile !== undefined && shared === undefined) throw new Error(`no genesis file at ${genesisFile}`);
  if (saved !== undefined) {
    if (shared !== undefined && !sameGenesis(saved, shared)) {
      throw new Error(
        `${file} holds a different devnet genesis than ${genesisFile}; use a new datadir to join that devnet`,
      );
    }
    return saved;
  }
  const params = shared ?? devnetParams(now);
  await writeDevnetGenesis(file, params);
  return params;
}

/** On devnet, the key of a DEVNET_MNEMONIC account (indexes 0..9) with this address, if any. */
export function devnetKeyOf(params: ChainParams, address: Uint8Array): KeyPair | undefined {
  if (params.network !== 'devnet') return undefined;
  for (let i = 0; i < 10; i++) {
    const key = deriveKeyPair(DEVNET_MNEMONIC, 0, i);
    if (toHex(addressBytes(key.publicKey)) === toHex(address)) return key;
  }
  return undefined;
}

/** Devnet's default miner: account 0 of DEVNET_MNEMONIC, so rewards land in the imported wallet. */
export function devnetMinerAddress(): Uint8Array {
  return addressBytes(deriveKeyPair(DEVNET_MNEMONIC, 0, 0).publicKey);
}
