// Real nodes (SQLite, libp2p on loopback) that are FluxNodes at genesis gossip heartbeats: each
// sees the others alive, a node that stops is down within the timeout, one that comes back is
// taken back after the hold-down, and heartbeats nobody should send cost the relaying peer.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { keyPairFromSecret } from '../../../src/core/crypto/keys.ts';
import { nodeIdOf } from '../../../src/core/nodes/lifecycle.ts';
import { type ChainParams, createParams } from '../../../src/core/params/index.ts';
import { openChain } from '../../../src/node/chain/chain.ts';
import { withDevnetFluxNodes } from '../../../src/node/fluxnode/devnet.ts';
import { loadOrCreateOperatorKey, operatorKeyFile } from '../../../src/node/fluxnode/operator.ts';
import { encodeHeartbeat } from '../../../src/node/liveness/heartbeat.ts';
import { createNode, devnetParams, type FluxNode } from '../../../src/node/node.ts';
import { createP2P, type P2P } from '../../../src/node/p2p/index.ts';

const root = mkdtempSync(join(tmpdir(), 'openflux-liveness-'));
const open: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const n of open) await n.close().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

async function until<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<number> {
  const start = Date.now();
  while (fn() === undefined) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - start;
}

const LIVENESS = { heartbeatMs: 200, timeoutMs: 800, holdDownMs: 1_500, maxSkewMs: 30_000 };

function networkOf(count: number): { params: ChainParams; dirs: string[]; ids: string[] } {
  const dirs = Array.from({ length: count }, (_, i) => join(root, `n${i}-${Date.now()}`));
  const operators = dirs.map((d) => {
    mkdirSync(d, { recursive: true });
    return loadOrCreateOperatorKey(operatorKeyFile(d));
  });
  const base = withDevnetFluxNodes(
    devnetParams(Date.now()),
    operators.map((k, i) => ({ operator: k.publicKey, endpoint: `127.0.0.${i + 1}:16127` })),
  );
  const params = createParams(base, { nodes: { ...base.nodes, liveness: LIVENESS } });
  const probe = openChain({ params, dbPath: join(root, `probe-${Date.now()}.db`) });
  const ids = probe.fluxNodes().map((n) => n.id);
  probe.close();
  return { params, dirs, ids };
}

async function start(params: ChainParams, dir: string, bootstrap: string[] = []): Promise<FluxNode> {
  const node = await createNode({
    network: 'devnet',
    datadir: dir,
    params,
    api: false,
    p2p: { host: '127.0.0.1', bootstrap },
    fluxnode: { cpuMs: 50, diskBytes: 2 ** 20 },
    fluxos: false,
  });
  open.push(node);
  return node;
}

describe('heartbeats between real nodes', () => {
  it('sees every node alive, a stopped one down within the timeout, and takes it back after the hold-down', async () => {
    const { params, dirs } = networkOf(3);
    const a = await start(params, dirs[0]);
    const b = await start(params, dirs[1], [a.p2p!.multiaddrs()[0]]);
    let c = await start(params, dirs[2], [a.p2p!.multiaddrs()[0]]);
    const idOf = (n: FluxNode) => n.chain.fluxNodesOfOperator(n.operatorKey!)[0].id;
    const [ia, ib, ic] = [idOf(a), idOf(b), idOf(c)];
    await until('A to hear B and C', () =>
      a.liveness.get(ib)?.lastHeard && a.liveness.get(ic)?.lastHeard ? true : undefined,
    );
    assert.equal(a.liveness.isAlive(ib), true);
    assert.equal(a.liveness.isAlive(ia), true, 'a node is always alive in its own view');
    await until('B to hear C through A', () => (b.liveness.get(ic)?.lastHeard ? true : undefined));

    await c.close();
    const stoppedAt = Date.now();
    await until('A and B to see C down', () =>
      !a.liveness.isAlive(ic) && !b.liveness.isAlive(ic) ? true : undefined,
    );
    const detectMs = Date.now() - stoppedAt;
    assert.equal(a.liveness.get(ic)?.state, 'down');
    assert.equal(a.liveness.isAlive(ib), true, 'B stays alive');
    console.log(
      `a stopped node was down in both views after ${detectMs} ms (timeout ${LIVENESS.timeoutMs} ms)`,
    );

    c = await start(params, dirs[2], [a.p2p!.multiaddrs()[0]]);
    await until('A to hear C again', () => (a.liveness.get(ic)?.state === 'returning' ? true : undefined));
    assert.equal(a.liveness.isAlive(ic), false, 'not taken back before the hold-down');
    const backMs = await until('A to take C back', () => (a.liveness.isAlive(ic) ? true : undefined));
    assert.ok(backMs >= LIVENESS.holdDownMs - 2 * LIVENESS.heartbeatMs, `taken back after ${backMs} ms`);
  });

  it('refuses heartbeats of unknown nodes, of other keys and far off the clock, and penalises the peer', async () => {
    const { params, dirs, ids } = networkOf(1);
    const a = await start(params, dirs[0]);
    const stranger = keyPairFromSecret(new Uint8Array(32).fill(9));
    const judge = (bytes: Uint8Array) => a.liveness.judge.judge(bytes, 'test');
    const hb = (node: string, time = Date.now()) => ({
      chainId: params.chainId,
      node,
      time,
      height: 0,
      running: [],
    });
    const unknown = nodeIdOf(new Uint8Array(20).fill(1), 0);
    assert.match(JSON.stringify(judge(encodeHeartbeat(hb(unknown), stranger))), /unknown node/);
    assert.match(JSON.stringify(judge(encodeHeartbeat(hb(ids[0]), stranger))), /not signed by its operator/);
    assert.match(JSON.stringify(judge(new Uint8Array([1, 2, 3]))), /malformed/);
    const operator = loadOrCreateOperatorKey(operatorKeyFile(dirs[0]));
    assert.match(
      JSON.stringify(judge(encodeHeartbeat(hb(ids[0], Date.now() - 60_000), operator))),
      /ms off our clock/,
    );

    // A peer that gossips such heartbeats loses score at A.
    const chain = openChain({ params, dbPath: join(root, `rogue-${Date.now()}.db`) });
    const rogue: P2P = await createP2P({
      chain,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [a.p2p!.multiaddrs()[0]],
    });
    await rogue.start();
    open.push({
      async close() {
        await rogue.stop();
        chain.close();
      },
    });
    await until('the rogue to connect', () => (a.p2p!.peers().length > 0 ? true : undefined));
    await until('A to penalise the rogue', () => {
      rogue.publishHeartbeat(encodeHeartbeat(hb(unknown), stranger));
      return (a.p2p!.peers().find((p) => p.id === rogue.peerId)?.score ?? 0) < 0 ? true : undefined;
    });
  });
});
