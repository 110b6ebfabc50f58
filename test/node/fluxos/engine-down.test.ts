// Real nodes (SQLite, libp2p on loopback, a miner, the app agent): three FluxNodes at genesis. B,
// the node placement ranks first for an app, is pointed at a Docker engine that does not answer
// (a Unix socket this test made, which accepts and never replies); A and C use the real engine.
// B keeps heartbeating (it is alive in every view), says it cannot run the app, never claims it,
// and the next-ranked node starts it, where it answers HTTP.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { encodeAppRegister } from '../../../src/core/apps/handlers.ts';
import { appFromSpec, placeApps, placementNodesFromState } from '../../../src/core/apps/placement.ts';
import type { AppSpec } from '../../../src/core/apps/spec.ts';
import { TxKind } from '../../../src/core/codec/types.ts';
import { deriveKeyPair } from '../../../src/core/crypto/hd.ts';
import { type ChainParams, createParams, DEVNET_MNEMONIC } from '../../../src/core/params/index.ts';
import type { LocalChain } from '../../../src/node/chain/chain.ts';
import { createNode, type FluxNode } from '../../../src/node/node.ts';
import { signWithMinimumFee } from '../../../src/wallet/sign.ts';
import { testAppSpec } from '../../support/apps.ts';
import { devnetFluxNodes } from '../../support/fluxnodes.ts';
import { httpText } from '../../support/http.ts';
import { until } from '../../support/wait.ts';
import { exampleImage, removeContainersOf, testDocker } from './docker.ts';

const env = await testDocker();
const root = mkdtempSync(join(tmpdir(), 'openflux-engine-down-'));
const LIVENESS = { heartbeatMs: 200, timeoutMs: 1_000, holdDownMs: 2_000, maxSkewMs: 30_000 };
const PORT = 34_000 + (process.pid % 1000);

/** A Unix socket that accepts connections and never answers: an engine that hangs. */
async function silentEngine(path: string): Promise<{ server: Server; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, sockets };
}

function appSpec(name: string, image: string): AppSpec {
  return testAppSpec(
    name,
    [{ name: 'web', image, ports: [{ container: 8080, host: PORT }], env: { GREETING: 'hello' } }],
    { expiryBlocks: 1_000 },
  );
}

describe('a node whose Docker engine does not answer', { skip: env.skip, timeout: 180_000 }, () => {
  const docker = env.docker as Docker;
  const open: FluxNode[] = [];
  const ids: string[] = [];
  let engine: Awaited<ReturnType<typeof silentEngine>> | undefined;
  const lines: string[][] = [[], [], []];
  after(async () => {
    for (const n of open.reverse()) await n.close().catch(() => undefined);
    // B's requests still wait on the silent engine: end them, or they keep the process alive.
    for (const s of engine?.sockets ?? []) s.destroy();
    engine?.server.close();
    for (const id of ids) await removeContainersOf(docker, id);
    rmSync(root, { recursive: true, force: true });
  });

  it('stops claiming the app it is ranked first for, and the next-ranked node starts it', async () => {
    const image = await exampleImage(docker);
    const dirs = ['a', 'b', 'c'].map((n) => join(root, n));
    const { params: base } = devnetFluxNodes(dirs);
    const params: ChainParams = createParams(base, { nodes: { ...base.nodes, liveness: LIVENESS } });
    const socket = join(root, 'silent-docker.sock');
    engine = await silentEngine(socket);

    const start = async (i: number, o: { mine?: boolean; bootstrap?: string[]; socket?: string }) => {
      const node = await createNode({
        network: 'devnet',
        datadir: dirs[i],
        params,
        api: false,
        p2p: { host: '127.0.0.1', bootstrap: o.bootstrap ?? [] },
        fluxnode: { cpuMs: 50, diskBytes: 2 ** 20 },
        fluxos: {
          hostAddress: '127.0.0.1',
          intervalMs: 500,
          engineTimeoutMs: 1_000,
          firewall: { ensure: async () => {} }, // the wall has its own test (appnet.test.ts)
          removeOnClose: o.socket === undefined, // B's engine would never answer the clean-up
          ...(o.socket ? { dockerSocket: o.socket } : {}),
        },
        mine: o.mine,
        minerAddress: o.mine ? new Uint8Array(20).fill(7) : undefined,
        log: (line) => lines[i].push(line),
      });
      open.push(node);
      return node;
    };
    const a = await start(0, { mine: true });
    const hub = [a.p2p!.multiaddrs()[0]];
    const b = await start(1, { bootstrap: hub, socket });
    const c = await start(2, { bootstrap: hub });
    const nodes = [a, b, c];
    const idOf = (n: FluxNode) => n.chain.fluxNodesOfOperator(n.operatorKey!)[0].id;
    ids.push(...nodes.map(idOf));
    const [, idB] = ids;
    const logs = () => lines.map((l, i) => `node ${i}:\n  ${l.slice(-12).join('\n  ')}`).join('\n');

    // An app name that placement over the three nodes ranks B first for.
    const placementNodes = placementNodesFromState((a.chain as LocalChain).state, params);
    let spec: AppSpec | undefined;
    for (let k = 0; !spec; k++) {
      const s = appSpec(`eng-${process.pid % 10_000}-${k}`, image);
      if (placeApps(placementNodes, [appFromSpec(s, 1)]).get(s.name)?.nodes[0] === idB) spec = s;
    }
    const name = spec.name;
    const owner = deriveKeyPair(DEVNET_MNEMONIC, 0, 3);
    const tx = signWithMinimumFee(
      { nonce: 0, kind: TxKind.appRegister, payload: encodeAppRegister(spec) },
      owner,
      params,
    );
    const submitted = a.chain.submitTx(tx);
    assert.ok(submitted.ok, submitted.ok ? '' : submitted.error.message);

    // B says, in the heartbeats A hears, that it cannot run the app, and why.
    const reason = await until(
      () => `A to hear that B cannot run ${name}\n${logs()}`,
      () => a.liveness.get(idB)?.unable.get(name),
      60_000,
      100,
    );
    assert.match(reason, /Docker engine on this node does not answer/);
    assert.equal(a.liveness.isAlive(idB), true, 'B still heartbeats: it is alive, it just cannot run it');

    // The next-ranked node starts it; it answers HTTP there.
    const host = await until(
      () => `another node to run ${name}\n${logs()}`,
      () => [a, c].find((n) => n.fluxos?.status(name)[0]?.state === 'running'),
      60_000,
      100,
    );
    await until(
      `${name} to answer on 127.0.0.1:${PORT}`,
      async () => (await httpText(`http://127.0.0.1:${PORT}/`)) === `hello from ${name}`,
      20_000,
      100,
    );
    // Every node places it on the stand-in, not on B, and nobody hears B claim it.
    const standIn = idOf(host);
    await until(
      () => `every node to hear the stand-in run ${name}\n${logs()}`,
      () => nodes.every((n) => n === host || n.liveness.get(standIn)?.running.has(name)),
      20_000,
      100,
    );
    for (const n of [a, c]) assert.equal(n.liveness.get(idB)?.running.has(name), false);
    assert.ok(
      lines[1].some((l) => l.includes(`fluxos: cannot run ${name}`)),
      'B logs what it cannot run',
    );
  });
});
