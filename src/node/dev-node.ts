// A devnet node for tests and benches: a new temp dir, devnet params with genesis now, the API on
// a free loopback port and, when asked, a p2p host on a free one; several run in one process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChainParams, createParams } from '../core/params/index.ts';
import { devnetMinerAddress, devnetParams } from './genesis.ts';
import { createNode, type FluxNode, type P2PNodeOptions } from './node.ts';

export interface DevNodeOptions {
  mine?: boolean;
  minerAddress?: Uint8Array;
  /** Extra overrides on top of devnet params with genesis now. */
  params?: Partial<ChainParams>;
  /** A p2p host on a free loopback port; default none (a node on its own). */
  p2p?: P2PNodeOptions | boolean;
  log?: (line: string) => void;
  now?: () => number;
}

/** A devnet node in a new temp dir with the API on a free loopback port; close() removes the dir. */
export async function createDevNode(opts: DevNodeOptions = {}): Promise<FluxNode> {
  const datadir = mkdtempSync(join(tmpdir(), 'openflux-dev-'));
  const now = opts.now ?? Date.now;
  const params = createParams(devnetParams(now()), opts.params ?? {});
  try {
    const node = await createNode({
      network: 'devnet',
      datadir,
      params,
      api: { host: '127.0.0.1', port: 0 },
      p2p: opts.p2p === true ? {} : (opts.p2p ?? false),
      mine: opts.mine,
      minerAddress: opts.minerAddress ?? (opts.mine ? devnetMinerAddress() : undefined),
      log: opts.log,
      now,
    });
    return {
      ...node,
      async close() {
        await node.close();
        rmSync(datadir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(datadir, { recursive: true, force: true });
    throw e;
  }
}
