// Devnet FluxNodes in this process: datadirs that hold each node's operator key, devnet params that
// start one confirmed FluxNode per datadir at genesis, and a node started on them.
import { mkdirSync } from 'node:fs';
import type { KeyPair } from '../../src/core/crypto/keys.ts';
import type { ChainParams } from '../../src/core/params/index.ts';
import { withDevnetFluxNodes } from '../../src/node/fluxnode/devnet.ts';
import { loadOrCreateOperatorKey, operatorKeyFile } from '../../src/node/fluxnode/operator.ts';
import { devnetParams } from '../../src/node/genesis.ts';
import { createNode, type FluxNode } from '../../src/node/node.ts';

/**
 * Creates `dirs` with an operator key in each and returns devnet params (genesis now) with one
 * FluxNode per dir, node i announcing endpoint 127.0.0.(i+1):16127.
 */
export function devnetFluxNodes(dirs: string[]): { params: ChainParams; operators: KeyPair[] } {
  const operators = dirs.map((d) => {
    mkdirSync(d, { recursive: true });
    return loadOrCreateOperatorKey(operatorKeyFile(d));
  });
  const params = withDevnetFluxNodes(
    devnetParams(Date.now()),
    operators.map((k, i) => ({ operator: k.publicKey, endpoint: `127.0.0.${i + 1}:16127` })),
  );
  return { params, operators };
}

/** A FluxNode on 127.0.0.1 with no API, no apps and a quick benchmark, dialing `bootstrap`. */
export function startFluxNode(params: ChainParams, dir: string, bootstrap: string[] = []): Promise<FluxNode> {
  return createNode({
    network: 'devnet',
    datadir: dir,
    params,
    api: false,
    p2p: { host: '127.0.0.1', bootstrap },
    fluxnode: { cpuMs: 50, diskBytes: 2 ** 20 },
    fluxos: false,
  });
}
