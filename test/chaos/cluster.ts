// Real `flux node run` daemons in the chaos suite's namespaces, on one devnet genesis where every
// node is a confirmed FluxNode (as `flux devnet up` makes it), and what the scenarios check
// through their REST APIs: one tip, no node marked down or expired, every accepted transaction
// on the common chain.
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Agent, fetch as undiciFetch } from 'undici';
import { type ApiError, createClient, type FluxClient } from '../../src/api/client.ts';
import { createContext } from '../../src/cli/context.ts';
import { devnetGenesisWithNodes } from '../../src/cli/devnet-nodes.ts';
import { encodeTx } from '../../src/core/codec/ids.ts';
import type { Tx } from '../../src/core/codec/types.ts';
import { toHex } from '../../src/core/crypto/hash.ts';
import { addressBytes, encodeAddress, type KeyPair } from '../../src/core/crypto/keys.ts';
import { type ChainParams, COIN, createParams } from '../../src/core/params/index.ts';
import { writeDevnetGenesis } from '../../src/node/genesis.ts';
import { PEER_KEY_FILE } from '../../src/node/node.ts';
import { loadOrCreatePeerKey, peerIdOf } from '../../src/node/p2p/index.ts';
import { transfer } from '../support/tx.ts';
import { sleep } from '../support/wait.ts';
import { type ChaosNet, logExcerpt, nodeAddress } from './net.ts';

export const FLUX = join(import.meta.dirname, '../../src/cli/flux.ts');
export const API_PORT = 16127;
export const P2P_PORT = 16126;
const READY_TIMEOUT_MS = 90_000;
/** FluxNode confirmation period and window on the chaos network, in blocks (see Cluster.create). */
const CONFIRM_PERIOD = 120;
const CONFIRM_WINDOW = 60;
/** What a failure message quotes from each node's log. */
const LOG_PATTERN =
  /banned|ban |reorg|stopped|down|expire|error|refus|isolat|sync from|disconnected|rate|penal|flood|cannot|timed out/i;

export interface ChaosNode {
  index: number;
  name: string;
  addr: string;
  datadir: string;
  log: string;
  peerId: string;
  mine: boolean;
  client: FluxClient;
  proc?: ChildProcess;
  /** Started and not deliberately stopped or killed. */
  running: boolean;
  /** Its FluxNode's id (genesis registers node i with its API address as endpoint). */
  fluxNodeId?: string;
}

export interface Accepted {
  id: string;
  node: number;
  at: number;
}

export interface Violation {
  observer: number;
  height: number;
  node: number;
  what: string;
  at: number;
}

export interface ClusterOptions {
  dir: string;
  nodes: number;
  miners: number[];
  /** Accounts funded at genesis for the scenarios (beyond the devnet's own). */
  funded: KeyPair[];
}

/** An API client that reaches a node through wire.py's Unix socket for it. */
function clientOver(socketPath: string, addr: string): FluxClient {
  const agent = new Agent({ connect: { socketPath }, connections: 64, keepAliveTimeout: 10_000 });
  const viaSocket = ((url: string, init: RequestInit) =>
    undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  return createClient({ baseUrl: `http://${addr}:${API_PORT}`, fetch: viaSocket, timeoutMs: 10_000 });
}

const quiet = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

export class Cluster {
  readonly net: ChaosNet;
  readonly dir: string;
  readonly nodes: ChaosNode[] = [];
  params!: ChainParams;
  genesisFile!: string;
  /** Every transaction some node accepted (201 from POST /txs), by id. */
  readonly accepted = new Map<string, Accepted>();

  private constructor(net: ChaosNet, dir: string) {
    this.net = net;
    this.dir = dir;
  }

  /** Writes a fresh genesis (each node a confirmed FluxNode, `funded` accounts funded) and starts every node. */
  static async create(net: ChaosNet, o: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(net, o.dir);
    rmSync(o.dir, { recursive: true, force: true });
    mkdirSync(o.dir, { recursive: true });
    const ctx = createContext(
      { env: process.env, stdin: process.stdin, stdout: quiet(), stderr: quiet() },
      {},
      [],
    );
    const base = await devnetGenesisWithNodes(ctx, o.dir, o.nodes, (i) => `${nodeAddress(i)}:${API_PORT}`);
    c.params = createParams(base, {
      // A confirmation window (60 blocks, about 2 min) wider than the 60 s partition, as on a real
      // network (mainnet: 1 h of an 8 h period): a node confirms as its window opens, so a
      // partition cannot cover the rest of it. With the devnet's 8 s each half expired the other.
      nodes: { ...base.nodes, confirmPeriod: CONFIRM_PERIOD, confirmWindow: CONFIRM_WINDOW },
      genesis: {
        ...base.genesis,
        allocations: [
          ...base.genesis.allocations,
          ...o.funded.map((k) => ({ address: toHex(addressBytes(k.publicKey)), amount: 1_000n * COIN })),
        ],
      },
    });
    c.genesisFile = join(o.dir, 'genesis.json');
    await writeDevnetGenesis(c.genesisFile, c.params);
    for (let i = 0; i < o.nodes; i++) {
      const datadir = join(o.dir, `node-${i}`);
      const ep = net.endpoint(`n${i}`);
      c.nodes.push({
        index: i,
        name: `n${i}`,
        addr: ep.addr,
        datadir,
        log: join(datadir, 'node.log'),
        peerId: await peerIdOf(loadOrCreatePeerKey(join(datadir, PEER_KEY_FILE))),
        mine: o.miners.includes(i),
        client: clientOver(ep.apiSocket!, ep.addr),
        running: false,
      });
    }
    for (const n of c.nodes) c.start(n.index);
    await Promise.all(c.nodes.map((n) => c.waitReady(n.index)));
    for (const rec of (await c.nodes[0].client.nodes()).nodes) {
      const host = rec.endpoint.slice(0, rec.endpoint.lastIndexOf(':'));
      const node = c.nodes.find((n) => n.addr === host);
      if (node) node.fluxNodeId = rec.id;
    }
    return c;
  }

  /** The multiaddr other nodes bootstrap from (node 0, as `flux devnet up` does). */
  multiaddr(i: number): string {
    return `/ip4/${this.nodes[i].addr}/tcp/${P2P_PORT}/p2p/${this.nodes[i].peerId}`;
  }

  /** Starts (or restarts) node i in its namespace; node 0 is every other node's bootstrap peer. */
  start(i: number): void {
    const n = this.nodes[i];
    const out = openSync(join(n.datadir, 'ready.json'), 'w');
    const err = openSync(n.log, 'a');
    try {
      n.proc = this.net.spawnIn(
        n.name,
        process.execPath,
        [
          FLUX,
          'node',
          'run',
          '--network',
          'devnet',
          '--datadir',
          n.datadir,
          '--genesis',
          this.genesisFile,
          '--host',
          n.addr,
          '--api-port',
          String(API_PORT),
          '--p2p-port',
          String(P2P_PORT),
          '--sig-threads',
          '0',
          '--json',
          '--log-time',
          // The node stops when this process dies and its stdin closes.
          '--stop-on-stdin-close',
          ...(n.mine ? ['--mine'] : []),
          ...(i === 0 ? [] : ['--bootstrap', this.multiaddr(0)]),
        ],
        ['pipe', out, err],
      );
      n.running = true;
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  async waitReady(i: number, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const n = this.nodes[i];
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (n.proc?.exitCode !== null || n.proc?.signalCode !== null)
        throw new Error(`node ${i} exited while starting:\n${this.tail(i, 20)}`);
      try {
        await n.client.chainInfo();
        return;
      } catch {}
      await sleep(250);
    }
    throw new Error(`node ${i} did not answer its API within ${timeoutMs / 1000} s:\n${this.tail(i, 20)}`);
  }

  /** kill -9. */
  kill(i: number): void {
    const n = this.nodes[i];
    n.running = false;
    if (n.proc?.pid !== undefined && n.proc.exitCode === null && n.proc.signalCode === null)
      process.kill(n.proc.pid, 'SIGKILL');
  }

  /** Waits until node i's process is gone. */
  async exited(i: number, timeoutMs = 15_000): Promise<void> {
    const p = this.nodes[i].proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await Promise.race([
      new Promise((r) => p.once('exit', r)),
      sleep(timeoutMs).then(() => {
        throw new Error(`node ${i} did not exit within ${timeoutMs / 1000} s`);
      }),
    ]);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. */
  async stop(i: number, timeoutMs = 15_000): Promise<void> {
    const n = this.nodes[i];
    n.running = false;
    const p = n.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
    process.kill(p.pid, 'SIGTERM');
    try {
      await this.exited(i, timeoutMs);
    } catch {
      this.kill(i);
      await this.exited(i, 5_000);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stop(n.index, 5_000).catch(() => this.kill(n.index))));
  }

  /** Nodes that are up (started and not stopped by a scenario). */
  live(): number[] {
    return this.nodes.filter((n) => n.running).map((n) => n.index);
  }

  async tips(
    nodes: number[],
  ): Promise<Array<{ node: number; height?: number; tip?: string; error?: string }>> {
    return Promise.all(
      nodes.map(async (i) => {
        try {
          const info = await this.nodes[i].client.chainInfo();
          return { node: i, height: info.height, tip: info.tipHash };
        } catch (e) {
          return { node: i, error: (e as Error).message };
        }
      }),
    );
  }

  /** Polls until every node in `nodes` reports the same tip; returns it, or throws with the last view. */
  async waitConverged(
    nodes: number[],
    timeoutMs: number,
  ): Promise<{ height: number; tip: string; ms: number }> {
    const t0 = Date.now();
    let last: Awaited<ReturnType<Cluster['tips']>> = [];
    while (Date.now() - t0 < timeoutMs) {
      last = await this.tips(nodes);
      const tips = new Set(last.map((t) => t.tip));
      if (tips.size === 1 && last[0].tip !== undefined)
        return { height: last[0].height!, tip: last[0].tip, ms: Date.now() - t0 };
      await sleep(200);
    }
    throw new Error(
      `nodes ${nodes.join(', ')} are not on one tip after ${timeoutMs / 1000} s: ${last
        .map((t) => `n${t.node} ${t.error ?? `h${t.height} ${t.tip?.slice(0, 12)}`}`)
        .join('; ')}`,
    );
  }

  /**
   * Polls until every node in `nodes` has left any other branch: they hold the same block at a
   * height h of at least `atLeast`, and no node is more than one block past h. So the nodes
   * differ at most in their newest block, as Nakamoto consensus differs while a block propagates
   * or two miners' blocks race at the tip (the next block settles that). Stricter than "one tip"
   * for a lagging node (it must be within a block of the others), looser only at the tip.
   */
  async waitAgreed(
    nodes: number[],
    atLeast: number,
    timeoutMs: number,
  ): Promise<{ height: number; hash: string; ms: number }> {
    const t0 = Date.now();
    let last = '';
    while (Date.now() - t0 < timeoutMs) {
      const tips = await this.tips(nodes);
      const heights = tips.map((t) => t.height ?? -1);
      const low = Math.min(...heights);
      const high = Math.max(...heights);
      const sameTip = new Set(tips.map((t) => t.tip)).size === 1;
      // All at one height and on different tips: compare their parents.
      const h = high === low && !sameTip ? low - 1 : low;
      last = tips.map((t) => `n${t.node} ${t.error ?? `h${t.height} ${t.tip?.slice(0, 12)}`}`).join('; ');
      if (low >= 0 && high <= h + 1 && h >= atLeast) {
        const hashes = await Promise.all(
          nodes.map((i) =>
            this.nodes[i].client
              .block({ params: { id: String(h) } })
              .then((b) => b.hash)
              .catch(() => undefined),
          ),
        );
        const agreed = hashes[0];
        // Counted when the poll's last answer came, and only within the time allowed.
        const ms = Date.now() - t0;
        if (agreed !== undefined && hashes.every((x) => x === agreed) && ms <= timeoutMs)
          return { height: h, hash: agreed, ms };
        last += ` (at height ${h}: ${hashes.map((x) => x?.slice(0, 12) ?? '?').join(', ')})`;
      }
      await sleep(200);
    }
    throw new Error(
      `nodes ${nodes.join(', ')} do not agree on one chain at height ${atLeast} or above, within a block of each tip, after ${timeoutMs / 1000} s: ${last}`,
    );
  }

  /** Waits until node i's chain reaches `height`; throws after `timeoutMs` (a stalled chain). */
  async waitHeight(i: number, height: number, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    let last = -1;
    while (Date.now() < end) {
      last = (await this.nodes[i].client.chainInfo().catch(() => undefined))?.height ?? last;
      if (last >= height) return;
      await sleep(500);
    }
    throw new Error(`n${i} is at height ${last}, not ${height}, after ${timeoutMs / 1000} s`);
  }

  /** Submits a signed transaction to node i; records it as accepted on 201. */
  async submit(
    i: number,
    tx: Tx,
  ): Promise<{ ok: true; id: string } | { ok: false; code: string; message: string }> {
    try {
      const { id } = await this.nodes[i].client.submitTx({ body: { tx: toHex(encodeTx(tx)) } });
      this.accepted.set(id, { id, node: i, at: Date.now() });
      return { ok: true, id };
    } catch (e) {
      const err = e as ApiError;
      return { ok: false, code: err.code ?? 'ERROR', message: err.message };
    }
  }

  /**
   * The ids of `ids` that are not in the best chain of node `observer` from height `from` to its
   * tip, read block by block.
   */
  async missingFromChain(observer: number, ids: Iterable<string>, from: number): Promise<string[]> {
    const client = this.nodes[observer].client;
    const info = await client.chainInfo();
    const mined = new Set<string>();
    for (let h = Math.max(1, from); h <= info.height; h++) {
      const block = await client.block({ params: { id: String(h) } });
      for (const tx of block.txs) mined.add(tx.id);
    }
    return [...ids].filter((id) => !mined.has(id));
  }

  /**
   * Waits until every accepted transaction of `ids` is mined on the chain of `observer` (which
   * the caller has seen converge with the others), or throws naming what is missing.
   */
  async waitMined(
    observer: number,
    ids: string[],
    from: number,
    timeoutMs: number,
    /** Times in the failure message are relative to this (the scenario's start). */
    since = Date.now(),
  ): Promise<number> {
    const t0 = Date.now();
    let missing = ids;
    while (Date.now() - t0 < timeoutMs) {
      missing = await this.missingFromChain(observer, missing, from);
      if (missing.length === 0) return Date.now() - t0;
      await sleep(2_000);
    }
    const where = missing.slice(0, 5).map((id) => {
      const a = this.accepted.get(id);
      return `${id.slice(0, 16)} (accepted by n${a?.node} at +${(((a?.at ?? since) - since) / 1000).toFixed(1)} s)`;
    });
    const byNode = new Map<number, number>();
    for (const id of missing) {
      const n = this.accepted.get(id)?.node ?? -1;
      byNode.set(n, (byNode.get(n) ?? 0) + 1);
    }
    throw new Error(
      `${missing.length} of ${ids.length} accepted transactions are not on the common chain after ${
        timeoutMs / 1000
      } s (by accepting node: ${[...byNode].map(([n, c]) => `n${n}: ${c}`).join(', ')}); e.g. ${where.join(', ')}`,
    );
  }

  /** One line per node: height, tip, peers, sync, isolation and mempool as its API says now. */
  async snapshot(): Promise<string> {
    const lines = await Promise.all(
      this.nodes.map(async (n) => {
        if (!n.running) return `n${n.index}: stopped`;
        try {
          const [info, net] = await Promise.all([n.client.chainInfo(), n.client.network()]);
          const iso = net.isolation?.isolated
            ? `isolated (${net.isolation.reasons.join('; ')})`
            : 'connected';
          return `n${n.index}: h${info.height} ${info.tipHash.slice(0, 12)}, ${net.peers.length} peers, ${
            net.banned
          } banned, ${net.syncing ? 'syncing' : 'not syncing'}, ${iso}, mempool ${info.mempoolSize}`;
        } catch (e) {
          return `n${n.index}: ${(e as Error).message}`;
        }
      }),
    );
    return lines.join('\n');
  }

  /** Byte offsets of every node's log now, to quote only what a scenario logged. */
  logOffsets(): number[] {
    return this.nodes.map((n) => {
      try {
        return statSync(n.log).size;
      } catch {
        return 0;
      }
    });
  }

  /** What each node logged since `offsets` that a failure message should show. */
  excerpts(offsets: number[], perNode = 12): string {
    const legend = this.nodes
      .map((n) => `n${n.index} = FluxNode ${n.fluxNodeId?.slice(0, 16) ?? '?'}, peer ${n.peerId}`)
      .join('\n');
    return `${legend}\n${this.nodes
      .map((n) => {
        const lines = logExcerpt(n.log, offsets[n.index] ?? 0, LOG_PATTERN, perNode);
        return `--- n${n.index}${n.mine ? ' (miner)' : ''}${n.running ? '' : ' (stopped)'}:\n${lines.join('\n')}`;
      })
      .join('\n')}`;
  }

  tail(i: number, lines: number): string {
    try {
      return readFileSync(this.nodes[i].log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/**
 * Polls `GET /nodes` on every observer (each on its own branch, during a partition) and records
 * any FluxNode that is not confirmed or is marked down: the chain's verdict, not a local view.
 * Local views (liveness "down") are counted separately, for the failure message.
 */
export class NodeWatch {
  readonly violations: Violation[] = [];
  readonly localDown = new Map<string, number>();
  private stopped = false;
  private loop?: Promise<void>;
  private readonly cluster: Cluster;
  private readonly observers: () => number[];
  private readonly honest: () => number[];
  private readonly intervalMs: number;

  constructor(cluster: Cluster, observers: () => number[], honest: () => number[], intervalMs = 1_000) {
    this.cluster = cluster;
    this.observers = observers;
    this.honest = honest;
    this.intervalMs = intervalMs;
  }

  start(): this {
    this.loop = (async () => {
      while (!this.stopped) {
        await Promise.all(this.observers().map((o) => this.look(o)));
        await sleep(this.intervalMs);
      }
    })();
    return this;
  }

  private async look(observer: number): Promise<void> {
    let list: Awaited<ReturnType<FluxClient['nodes']>>;
    try {
      list = await this.cluster.nodes[observer].client.nodes();
    } catch {
      return;
    }
    for (const rec of list.nodes) {
      const index = this.cluster.nodes.findIndex((n) => n.fluxNodeId === rec.id);
      if (index < 0 || !this.honest().includes(index)) continue;
      if (rec.status !== 'confirmed' || rec.down) {
        const what = rec.down ? `marked down (since height ${rec.downSince})` : `status ${rec.status}`;
        const seen = this.violations.some(
          (v) => v.node === index && v.what === what && v.observer === observer,
        );
        if (!seen) this.violations.push({ observer, height: list.height, node: index, what, at: Date.now() });
      }
      if (rec.liveness?.state === 'down') {
        const key = `n${observer} sees n${index}`;
        this.localDown.set(key, (this.localDown.get(key) ?? 0) + 1);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** One line per node and verdict, with who saw it first and at which height. */
  describe(label: (node: number) => string = () => ''): string {
    const groups = new Map<string, Violation[]>();
    for (const v of this.violations) {
      const key = `n${v.node} ${v.what}`;
      groups.set(key, [...(groups.get(key) ?? []), v]);
    }
    return [...groups]
      .map(([key, vs]) => {
        const first = vs.reduce((a, b) => (b.at < a.at ? b : a));
        const observers = vs.map((v) => `n${v.observer}`).join(',');
        return `${key}${label(vs[0].node)}: seen by ${observers} (first at height ${first.height})`;
      })
      .join('; ');
  }
}

/**
 * A steady trickle of transfers to the live nodes, round robin: node i's transfers come from its
 * own funded account, so each account's nonces go to one node in order. A nonce is signed once:
 * when a node has lost one of ours (a restart empties its mempool) we send it the same
 * transaction again, as a wallet would, never another one with that nonce (which would replace
 * the first and make the harness, not the network, lose it).
 */
export class TransferLoad {
  private stopped = false;
  private loop?: Promise<void>;
  private readonly accounts = new Map<number, { next: number; resend?: number; signed: Map<number, Tx> }>();
  private seq = 0;
  readonly ids: string[] = [];
  readonly refused = new Map<string, number>();
  private readonly cluster: Cluster;
  private readonly keys: KeyPair[];
  private readonly targets: () => number[];
  private readonly perSecond: number;

  constructor(cluster: Cluster, keys: KeyPair[], targets: () => number[], perSecond: number) {
    this.cluster = cluster;
    this.keys = keys;
    this.targets = targets;
    this.perSecond = perSecond;
  }

  start(): this {
    const sink = new Uint8Array(20).fill(0xc4);
    this.loop = (async () => {
      while (!this.stopped) {
        const t0 = Date.now();
        const targets = this.targets();
        if (targets.length > 0) {
          const i = targets[this.seq++ % targets.length];
          await this.sendOne(i, sink);
        }
        await sleep(Math.max(0, 1000 / this.perSecond - (Date.now() - t0)));
      }
    })();
    return this;
  }

  private async pendingNonce(i: number): Promise<number | undefined> {
    try {
      const address = addressText(this.cluster.params, this.keys[i]);
      return (await this.cluster.nodes[i].client.account({ params: { address } })).pendingNonce;
    } catch {
      return undefined;
    }
  }

  private async sendOne(i: number, sink: Uint8Array): Promise<void> {
    let acct = this.accounts.get(i);
    if (acct === undefined) {
      const next = await this.pendingNonce(i);
      if (next === undefined) return;
      acct = { next, signed: new Map() };
      this.accounts.set(i, acct);
    }
    const resending = acct.resend !== undefined && acct.resend < acct.next;
    const nonce = resending ? acct.resend! : acct.next;
    let tx = acct.signed.get(nonce);
    if (tx === undefined) {
      tx = transfer(this.cluster.params, this.keys[i], sink, 1_000n, nonce, undefined, `load ${i}/${nonce}`);
      acct.signed.set(nonce, tx);
    }
    const r = await this.cluster.submit(i, tx);
    if (r.ok || (r.code === 'DUPLICATE' && resending)) {
      if (!resending && r.ok) this.ids.push(r.id);
      if (resending) acct.resend! += 1;
      else acct.next += 1;
      return;
    }
    this.refused.set(r.code, (this.refused.get(r.code) ?? 0) + 1);
    if (r.code === 'BAD_NONCE') {
      // The node does not hold our earlier transactions from its pending nonce on: resend them.
      const pending = await this.pendingNonce(i);
      if (pending !== undefined && pending < acct.next) acct.resend = pending;
      else if (pending !== undefined && !acct.signed.has(pending)) acct.next = pending;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

export function addressText(params: ChainParams, key: KeyPair): string {
  return encodeAddress(params.addressPrefix, addressBytes(key.publicKey));
}
