// Real nodes (SQLite, libp2p on loopback, a miner): four FluxNodes at genesis, V and three honest
// ones. V is cut off from every honest peer, twice: first left with peers that relay nothing
// (what a host with many sybil identities does when it fills a node's connection slots), then
// with a peer that relays it blocks but no heartbeats or transactions. Each time V sees every
// other node go silent, yet sends no down report and says in its log, its API and `flux node
// status` that it is isolated. The honest nodes, well connected, report V (to them it is silent)
// and the chain marks it down; once reconnected V is connected again, its confirmation is mined
// and it is back. No honest node is ever reported, V never expires, and a node that really dies
// is still reported and marked down.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { NetworkJson } from '../../../src/api/routes.ts';
import { main } from '../../../src/cli/flux.ts';
import { NodeDownPayload, TxKind } from '../../../src/core/codec/types.ts';
import { toHex } from '../../../src/core/crypto/hash.ts';
import { fail } from '../../../src/core/ledger/errors.ts';
import { isNodeDown, NodeStatus } from '../../../src/core/nodes/types.ts';
import { type ChainParams, createParams } from '../../../src/core/params/index.ts';
import { openChain } from '../../../src/node/chain/chain.ts';
import type { Chain } from '../../../src/node/chain/types.ts';
import { saveReport } from '../../../src/node/fluxnode/operator.ts';
import { createNode, type FluxNode } from '../../../src/node/node.ts';
import { createP2P, type P2P } from '../../../src/node/p2p/index.ts';
import { GOOD_REPORT } from '../../core/nodes/helpers.ts';
import { devnetFluxNodes } from '../../support/fluxnodes.ts';
import { sleep, until } from '../../support/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'openflux-isolation-'));
const open: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const n of open.reverse()) await n.close().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

const LIVENESS = { heartbeatMs: 200, timeoutMs: 800, holdDownMs: 1_500, maxSkewMs: 30_000 };
const ISOLATION = { minPeers: 1, staleBlocks: 10, maxSilentBps: 5_000, recoverMs: 2_000 };
const LIMITS = { requestTimeoutMs: 2_000, statusIntervalMs: 1_000 };

function networkOf(count: number): { params: ChainParams; dirs: string[] } {
  const dirs = Array.from({ length: count }, (_, i) => join(root, `n${i}`));
  const { params: base } = devnetFluxNodes(dirs);
  // A long confirmation period: only re-confirmations after a down mark happen in this test.
  const params = createParams(base, {
    nodes: {
      ...base.nodes,
      liveness: LIVENESS,
      isolation: ISOLATION,
      // Reports after two timeouts (not the devnet's 15 s), so the honest nodes mark V down soon.
      down: { ...base.nodes.down, reportAfterMs: 2 * LIVENESS.timeoutMs },
      confirmPeriod: 60,
      confirmWindow: 10,
    },
  });
  return { params, dirs };
}

async function start(
  params: ChainParams,
  dir: string,
  lines: string[],
  o: { bootstrap?: string[]; mine?: boolean; api?: boolean } = {},
): Promise<FluxNode> {
  const node = await createNode({
    network: 'devnet',
    datadir: dir,
    params,
    api: o.api ? { host: '127.0.0.1', port: 0 } : false,
    p2p: { host: '127.0.0.1', bootstrap: o.bootstrap ?? [], limits: LIMITS },
    fluxnode: {},
    fluxos: false,
    mine: o.mine,
    minerAddress: o.mine ? new Uint8Array(20).fill(7) : undefined,
    log: (line) => lines.push(line),
  });
  open.push(node);
  return node;
}

/** A p2p host on a chain of its own (`submitTx` replaced when given), closed after the tests. */
async function peer(params: ChainParams, name: string, submitTx?: Chain['submitTx']): Promise<P2P> {
  const chain = openChain({ params, dbPath: join(root, `${name}.db`) });
  const served = submitTx
    ? new Proxy(chain, {
        get(t, k) {
          if (k === 'submitTx') return submitTx;
          const v = Reflect.get(t, k, t);
          return typeof v === 'function' ? v.bind(t) : v;
        },
      })
    : chain;
  const p2p = await createP2P({ chain: served, listen: ['/ip4/127.0.0.1/tcp/0'], limits: LIMITS });
  await p2p.start();
  open.push({
    async close() {
      await p2p.stop();
      chain.close();
    },
  });
  return p2p;
}

/** Every nodeDown transaction in the chain: [target, reporter]. */
function downReports(chain: Chain): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let h = 1; h <= chain.tip().height; h++)
    for (const tx of chain.blockByHeight(h)?.txs ?? [])
      if (tx.body.kind === TxKind.nodeDown) {
        const r = NodeDownPayload.deserialize(tx.body.payload);
        out.push([toHex(r.target), toHex(r.reporter)]);
      }
  return out;
}

async function cli(args: string[], api: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const sink = () =>
    new (class extends Writable {
      text = '';
      override _write(chunk: Buffer, _enc: string, cb: () => void) {
        this.text += chunk.toString();
        cb();
      }
    })();
  const [stdout, stderr] = [sink(), sink()];
  const code = await main(args, {
    env: { FLUX_API: api, HOME: root },
    stdin: Readable.from([]),
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('a node that is cut off knows it', () => {
  const { params, dirs } = networkOf(4);
  const logs = dirs.map((): string[] => []);
  let v: FluxNode;
  let a: FluxNode;
  let honest: FluxNode[];
  let vid: string;
  let honestIds: string[];
  const vLog = () => logs[0].join('\n');
  const idOf = (n: FluxNode) => n.chain.fluxNodesOfOperator(n.operatorKey!)[0].id;
  const hub = () => a.p2p!.multiaddrs()[0];
  const pendingOfV = (kind: TxKind) => v.chain.mempool(100).filter((e) => e.tx.body.kind === kind);

  /** V drops and refuses every honest peer. */
  const cutOff = async () => {
    for (const n of honest) await v.p2p!.ban(n.p2p!.peerId, 120_000, 'test: cut off');
    const gone = new Set(honest.map((n) => n.p2p!.peerId));
    await until(
      'V to lose its honest peers',
      () => (v.p2p!.peers().some((p) => gone.has(p.id)) ? undefined : true),
      60_000,
    );
  };

  /** Asserts V sends no down report for a while after it saw every other node go down. */
  const staysQuiet = async () => {
    await until(
      'V to see every honest node down',
      () => (honestIds.every((id) => v.liveness.get(id)?.state === 'down') ? true : undefined),
      60_000,
    );
    // Three timeouts: an unguarded reporter sends one a timeout after the nodes went down.
    await sleep(3 * LIVENESS.timeoutMs);
    assert.equal(pendingOfV(TxKind.nodeDown).length, 0, 'an isolated node sends no down report');
    assert.doesNotMatch(vLog(), /reported node .* down|down report of node/);
  };

  /** The honest nodes mark V down; returns the height. */
  const markedDown = () =>
    until(
      'the chain to mark V down',
      () => {
        const r = a.chain.fluxNode(vid);
        return r && isNodeDown(r) ? r.downSince : undefined;
      },
      60_000,
    );

  /** V joins the honest network again: connected after the wait, its confirmation mined. */
  const reconnect = async (markedAt: number) => {
    for (const n of honest) v.p2p!.unban(n.p2p!.peerId);
    await v.p2p!.connect(hub());
    await until(
      'V to count as connected again',
      () => (v.isolation.status().isolated ? undefined : true),
      60_000,
    );
    await until(
      'V to be confirmed again and not down',
      () => {
        const r = a.chain.fluxNode(vid);
        return r && !isNodeDown(r) && r.lastConfirmHeight > markedAt ? true : undefined;
      },
      60_000,
    );
    assert.match(
      vLog(),
      new RegExp(
        `fluxnode ${vid.slice(0, 16)}: marked down at height ${markedAt} by reports; confirming again`,
      ),
    );
    assert.equal(a.chain.fluxNode(vid)?.status, NodeStatus.confirmed, 'V did not expire');
    for (const n of honest) assert.equal(n.isolation.status().isolated, false);
  };

  before(async () => {
    // V (cumulus, with a saved benchmark report) is the node cut off; A mines and is the hub.
    await saveReport(dirs[0], GOOD_REPORT);
    a = await start(params, dirs[1], logs[1], { mine: true });
    v = await start(params, dirs[0], logs[0], { bootstrap: [hub()], api: true });
    honest = [
      a,
      ...(await Promise.all([2, 3].map((i) => start(params, dirs[i], logs[i], { bootstrap: [hub()] })))),
    ];
    vid = idOf(v);
    honestIds = honest.map(idOf);
    await until(
      'every node to hear every other',
      () =>
        [v, ...honest].every((n) =>
          [vid, ...honestIds].every((id) => id === idOf(n) || n.liveness.get(id)?.lastHeard !== undefined),
        )
          ? true
          : undefined,
      60_000,
    );
    await until('V to count as connected', () => (v.isolation.status().isolated ? undefined : true), 60_000);
    assert.match(
      vLog(),
      /liveness: this node is connected \(\d+ of \d+ peers delivering, 3 of 3 other FluxNodes heard\): down reports on/,
    );
  });

  it('left with peers that relay nothing, it reports nobody and says it is isolated; reconnected, it is back', async () => {
    const sybils = await Promise.all([0, 1, 2].map((i) => peer(params, `sybil${i}`)));
    for (const s of sybils) await s.connect(v.p2p!.multiaddrs()[0]);
    await cutOff();
    const sybilIds = new Set(sybils.map((s) => s.peerId));
    await until(
      'V to have three peers, all sybils',
      () =>
        v.p2p!.peers().length === 3 && v.p2p!.peers().every((p) => sybilIds.has(p.id)) ? true : undefined,
      60_000,
    );

    const isolated = await until(
      'V to know it is isolated',
      () => {
        const s = v.isolation.check();
        return s.isolated ? s : undefined;
      },
      60_000,
    );
    assert.match(
      isolated.reasons.join('; '),
      /no peer delivered a block or heartbeat in 4\.0 s \(3 connected\)/,
    );
    await staysQuiet();
    assert.match(v.isolation.check().reasons.join('; '), /3 of 3 other FluxNodes silent \(more than 50 %\)/);
    assert.match(
      vLog(),
      /liveness: this node looks isolated \(no peer delivered a block or heartbeat in 4\.0 s \(3 connected\)[^)]*\): no down reports/,
    );

    // It says so in its API and in `flux node status`.
    const net = (await (await fetch(`${v.url}/network`)).json()) as NetworkJson;
    assert.equal(net.isolation?.isolated, true);
    assert.ok(
      net.isolation?.reasons.some((r) => r.includes('other FluxNodes silent')),
      JSON.stringify(net.isolation),
    );
    const status = await cli(['node', 'status', vid], v.url!);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /isolated {4}yes \(.*no peer delivered a block or heartbeat.*\): the answering node sends no down reports/,
    );

    // To the honest nodes V is silent: they report it. Reconnected, V catches up, is connected
    // again, finds itself marked down and confirms at once.
    await reconnect(await markedDown());
    const back = await cli(['node', 'status', vid], v.url!);
    assert.match(back.stdout, /isolated {4}no/);
  });

  it('with a peer that relays blocks but no heartbeats, the silence of every other node is enough', async () => {
    // A subtler sybil, joined to the honest network and to V: blocks pass, heartbeats and
    // transactions do not (it has no heartbeat judge, and its mempool takes nothing).
    const relay = await peer(params, 'relay', () => fail('FEE_TOO_LOW', 'this peer drops transactions'));
    await relay.connect(hub());
    await relay.connect(v.p2p!.multiaddrs()[0]);
    await until(
      'V to be connected to the relay and level with the miner',
      () =>
        logs[0].some((l) => l.includes(`peer connected ${relay.peerId}`)) &&
        v.chain.tip().height >= a.chain.tip().height
          ? true
          : undefined,
      60_000,
    );
    await cutOff();
    const heightAtCut = v.chain.tip().height;

    await until(
      'V to be isolated by the silence alone',
      () => {
        const s = v.isolation.check();
        return s.isolated && s.reasons.length === 1 && /^3 of 3 other FluxNodes silent/.test(s.reasons[0])
          ? true
          : undefined;
      },
      60_000,
    );
    await staysQuiet();
    assert.ok(v.chain.tip().height > heightAtCut, 'V still gets blocks');

    // V sees itself marked down and has its confirmation ready; it reaches a miner once V is back.
    const markedAt = await markedDown();
    await until(
      'V to see the mark and have its confirmation pending',
      () => (pendingOfV(TxKind.nodeConfirm).length > 0 ? true : undefined),
      60_000,
    );
    await sleep(2 * params.blockTimeMs);
    assert.ok(isNodeDown(a.chain.fluxNode(vid)!), 'the relay kept the confirmation from the miner');
    assert.equal(pendingOfV(TxKind.nodeDown).length, 0);
    await reconnect(markedAt);
  });

  it('a well-connected node still reports a node that really died, and no honest node was ever reported', async () => {
    const [, b, c] = honest;
    const cid = idOf(c);
    const survivors = [v, a, b];
    // Well connected first: each survivor hears the others and may report (V came back just now).
    await until(
      'A, B and V to hear each other and to count as connected',
      () =>
        survivors.every(
          (n) =>
            n.isolation.check().mayReport && survivors.every((m) => m === n || n.liveness.isAlive(idOf(m))),
        )
          ? true
          : undefined,
      60_000,
    );
    await c.close();
    await until(
      'the chain to mark the dead node down',
      () => (isNodeDown(a.chain.fluxNode(cid)!) ? true : undefined),
      60_000,
    ).catch((e: Error) => {
      // What each survivor thought and did, so a failure here says why.
      const said = survivors.map((n, i) => {
        const lines = logs[i].filter((l) => /liveness|isolat|down/.test(l)).slice(-15);
        return `--- ${['V', 'A', 'B'][i]} (${JSON.stringify(n.isolation.check())}, c: ${JSON.stringify(n.liveness.get(cid))})\n${lines.join('\n')}`;
      });
      throw new Error(
        `${e.message}; reports on chain: ${JSON.stringify(downReports(a.chain))}\n${said.join('\n')}`,
      );
    });
    const reports = downReports(a.chain);
    const reporters = (target: string) => new Set(reports.filter(([t]) => t === target).map(([, r]) => r));
    assert.ok(reporters(cid).size >= 2, 'a quorum reported the dead node');
    assert.ok(reporters(vid).size >= 2, 'a quorum reported V while it was cut off');
    assert.ok(!reporters(cid).has(cid) && !reporters(vid).has(vid));
    for (const [target] of reports) assert.ok(target === vid || target === cid, `${target} was reported`);
    for (const n of [a, b]) assert.equal(isNodeDown(a.chain.fluxNode(idOf(n))!), false);
    assert.equal(a.chain.fluxNode(vid)?.status, NodeStatus.confirmed, 'V never expired');
    assert.equal(isNodeDown(a.chain.fluxNode(vid)!), false);
  });
});
