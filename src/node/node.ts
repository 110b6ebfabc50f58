// The daemon, composed in one place: the chain in `datadir/chain.db`, the p2p host (identity in
// `datadir/peer.key`), the REST API, and optionally the miner, which waits until the node has
// caught up with its peers. `createDevNode()` (dev-node.ts) is the same thing in a temp dir for tests.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DEFAULT_INGRESS_DOMAIN } from '../api/ingress.ts';
import { toHex } from '../core/crypto/hash.ts';
import { encodeAddress, type KeyPair } from '../core/crypto/keys.ts';
import { NodeStatus } from '../core/nodes/types.ts';
import { type ChainParams, type NetworkName, presets } from '../core/params/index.ts';
import { networkJson } from './api/json.ts';
import { type ApiServer, startApiServer } from './api/server.ts';
import { openChain } from './chain/chain.ts';
import { createSignaturePool } from './chain/sigpool.ts';
import type { Chain } from './chain/types.ts';
import { runBenchmark } from './fluxnode/benchmark.ts';
import {
  loadOrCreateOperatorKey,
  operatorKeyFile,
  readSavedReport,
  saveReport,
} from './fluxnode/operator.ts';
import { type ConfirmService, startConfirmService } from './fluxnode/service.ts';
import { createIptablesFirewall, type HostFirewall } from './fluxos/firewall.ts';
import { createPlacement } from './fluxos/placement.ts';
import { createDockerRuntime, type Runtime } from './fluxos/runtime.ts';
import { type AppSecrets, openAppSecrets, SECRETS_FILE } from './fluxos/secrets.ts';
import { type FluxOs, startFluxOs } from './fluxos/service.ts';
import { createLoopVolumes } from './fluxos/volumes.ts';
import { devnetKeyOf, loadOrCreateDevnetGenesis } from './genesis.ts';
import { type Ingress, startIngress } from './ingress/proxy.ts';
import { chainResolver } from './ingress/resolve.ts';
import { createJobFetcher, type JobFetcher } from './jobs/fetcher.ts';
import { type JobDataKeeper, startJobDataKeeper } from './jobs/keeper.ts';
import { createProductFetcher, type ProductFetcher } from './jobs/products.ts';
import { JobDataStore } from './jobs/store.ts';
import { createIsolationMonitor, type IsolationMonitor, PeerDeliveries } from './liveness/isolation.ts';
import { type DownReporter, startDownReporter } from './liveness/reporter.ts';
import { createLiveness, type Liveness } from './liveness/service.ts';
import { createMiningGate, type MiningGate } from './miner/gate.ts';
import { createMiner, type Miner } from './miner/miner.ts';
import { createP2P, loadOrCreatePeerKey, type P2P, type P2PLimits, type SyncProgress } from './p2p/index.ts';

export const PEER_KEY_FILE = 'peer.key';
/** libp2p's peer store: the peers this node met, dialled again after a restart. */
export const PEER_STORE_FILE = 'peers.db';
/** The p2p port outside devnet (devnet picks a free port unless told). */
export const DEFAULT_P2P_PORT = 16126;
/** With bootstrap peers, the miner waits this long at most for a first peer to say where it is. */
export const INITIAL_SYNC_WAIT_MS = 30_000;

export interface P2PNodeOptions {
  /** Multiaddrs to listen on; default `/ip4/<host>/tcp/<port>`. */
  listen?: string[];
  /** Default 127.0.0.1 on devnet, 0.0.0.0 elsewhere. */
  host?: string;
  /** Default 0 (a free port) on devnet, DEFAULT_P2P_PORT elsewhere. */
  port?: number;
  /** Peers to join, each `/ip4/.../tcp/.../p2p/<peer id>`. */
  bootstrap?: string[];
  /** Find peers beyond the bootstrap list and keep the outbound slots filled; default true. */
  discovery?: boolean;
  limits?: Partial<P2PLimits>;
  /** How long the miner waits for a first peer before mining alone; default INITIAL_SYNC_WAIT_MS. */
  initialSyncWaitMs?: number;
}

export interface NodeOptions {
  network: NetworkName;
  datadir: string;
  /** Replaces the preset (tests, private networks); devnet otherwise reads or writes genesis.json. */
  params?: ChainParams;
  /** The API server; `false` runs without one. Default 127.0.0.1:16127. */
  api?: { host?: string; port?: number } | false;
  /** The p2p host; `false` runs without one (a node on its own). Default: on, see P2PNodeOptions. */
  p2p?: P2PNodeOptions | false;
  /**
   * Devnet only: a genesis file shared by the nodes of one devnet. It is copied into the datadir,
   * which must not already hold a different one.
   */
  genesisFile?: string;
  mine?: boolean;
  /** 20-byte account id paid by mined blocks (required with `mine`). */
  minerAddress?: Uint8Array;
  /**
   * The miner account's key: it signs the results of PoUW jobs the miner claims. Without it the
   * miner mines zero jobs only (on devnet, the key of a DEVNET_MNEMONIC account is derived).
   */
  minerKey?: KeyPair;
  /** Short lines for people; default: nothing. */
  log?: (line: string) => void;
  /** Worker threads that verify block signatures in parallel; 0 (default) verifies on this thread. */
  signatureThreads?: number;
  /** Clock (ms), injectable for tests. */
  now?: () => number;
  /**
   * The FluxNode confirmation service (operator key in `datadir/operator.key`); `false` turns it
   * off. The benchmark report comes from `datadir/benchmark.json`, else a short measurement.
   */
  fluxnode?: { cpuMs?: number; diskBytes?: number } | false;
  /**
   * FluxOS, the app agent: runs what placement assigns to this machine's FluxNode in a container
   * engine (default: the local Docker engine through dockerode); published ports bind to
   * `hostAddress` (default: the API host). `false` turns it off (needs the fluxnode service).
   */
  fluxos?:
    | {
        runtime?: Runtime;
        /** The Docker engine's Unix socket, when not the default (DOCKER_HOST, else /var/run/docker.sock). */
        dockerSocket?: string;
        /** How long an engine call may take before the engine counts as not answering; default 15 s. */
        engineTimeoutMs?: number;
        /** Keeps app containers off this machine's ports (default: iptables, see fluxos/firewall.ts). */
        firewall?: HostFirewall;
        hostAddress?: string;
        intervalMs?: number;
        /** Remove this node's app containers when it stops (devnet nodes). */
        removeOnClose?: boolean;
      }
    | false;
  /**
   * The ingress (node/ingress/): `<app>.<domain>` or `/apps/<app>/...` on this port reaches an
   * instance of the app anywhere in the network. Off unless given; host defaults to the API host,
   * port to `params.apps.ingressPort` (0: a free one), domain to `flux.localhost`.
   */
  ingress?: { host?: string; port?: number; domain?: string } | false;
}

export interface FluxNode {
  readonly params: ChainParams;
  readonly chain: Chain;
  readonly api?: ApiServer;
  readonly p2p?: P2P;
  /** Base URL of the API, when it runs. */
  readonly url?: string;
  /** Public key of the operator key that confirms this machine's FluxNodes. */
  readonly operatorKey?: Uint8Array;
  readonly datadir: string;
  /** The miner, when the node mines (its stats feed the live display). */
  readonly miner?: Miner;
  /** Job matrices and products this node holds (`datadir/jobs/`). */
  readonly jobData: JobDataStore;
  /** The app agent, when this node runs one. */
  readonly fluxos?: FluxOs;
  /** The ingress, when it runs. */
  readonly ingress?: Ingress;
  /** This node's view of which FluxNodes are alive (heartbeats). */
  readonly liveness: Liveness;
  /** Whether this node looks cut off from the network (then it sends no down reports). */
  readonly isolation: IsolationMonitor;
  close(): Promise<void>;
}

export async function createNode(opts: NodeOptions): Promise<FluxNode> {
  const log = opts.log ?? (() => {});
  const now = opts.now ?? Date.now;
  await mkdir(opts.datadir, { recursive: true });
  const params =
    opts.params ??
    (opts.network === 'devnet'
      ? await loadOrCreateDevnetGenesis(opts.datadir, now(), opts.genesisFile)
      : presets[opts.network]);
  if (opts.mine && !opts.minerAddress) throw new Error('mining needs a miner address');

  const pool = opts.signatureThreads ? createSignaturePool({ threads: opts.signatureThreads }) : undefined;
  let chain: ReturnType<typeof openChain>;
  try {
    chain = openChain({ params, dbPath: join(opts.datadir, 'chain.db'), signatureVerifier: pool?.verifyTxs });
  } catch (e) {
    await pool?.close();
    throw e;
  }
  const jobData = new JobDataStore(join(opts.datadir, 'jobs'), params.pouw);
  const tip = chain.tip();
  log(`chain ${params.network} at height ${tip.height} (${toHex(tip.hash).slice(0, 16)})`);
  chain.on('block', (block, hash) =>
    log(`block ${block.header.height} ${toHex(hash).slice(0, 16)} txs=${block.txs.length}`),
  );
  chain.on('reorg', (detached, attached) => log(`reorg: -${detached.length} +${attached.length} blocks`));

  // The operator key is known before the network starts: heartbeats are judged from the first
  // message on, and this machine gossips its own once its FluxNode is confirmed.
  const operator =
    opts.fluxnode !== false ? loadOrCreateOperatorKey(operatorKeyFile(opts.datadir)) : undefined;
  const nodeId = ownNodeId(chain, operator?.publicKey);
  // What this machine runs reaches the heartbeats from the app agent (liveness.setRunning).
  const liveness = createLiveness({ chain, operator, nodeId, now, log });
  // Placement as this node sees it, built once: the app agent, the ingress and the API share it.
  const placement = createPlacement(chain, chain.state, liveness);

  // Peers that deliver blocks, transactions or heartbeats, unlike ones that only hold a slot.
  const deliveries = new PeerDeliveries();
  let isolation: IsolationMonitor | undefined;
  let p2p: P2P | undefined;
  let lastSync: SyncProgress | undefined;
  let api: ApiServer | undefined;
  let ingress: Ingress | undefined;
  let keeper: JobDataKeeper | undefined;
  let products: ProductFetcher | undefined;
  let fluxos: FluxOs | undefined;
  let secrets: AppSecrets | undefined;
  const closeAll = async () => {
    await fluxos?.close();
    isolation?.close();
    liveness.close();
    await ingress?.close();
    await api?.close();
    secrets?.close();
    products?.close();
    await p2p?.stop();
    keeper?.close();
    chain.close();
    await pool?.close();
  };
  try {
    // Job data is deleted when its jobs end (and uploads no job names, in time), API or not.
    keeper = startJobDataKeeper({ chain, state: chain.state, store: jobData, log });
    if (opts.p2p !== false) {
      const o = opts.p2p ?? {};
      const devnetNet = params.network === 'devnet';
      const host = o.host ?? (devnetNet ? '127.0.0.1' : '0.0.0.0');
      const port = o.port ?? (devnetNet ? 0 : DEFAULT_P2P_PORT);
      p2p = await createP2P({
        chain,
        listen: o.listen ?? [`/${host.includes(':') ? 'ip6' : 'ip4'}/${host}/tcp/${port}`],
        bootstrap: o.bootstrap,
        peerKey: loadOrCreatePeerKey(join(opts.datadir, PEER_KEY_FILE)),
        datastorePath: join(opts.datadir, PEER_STORE_FILE),
        discovery: o.discovery ?? true,
        limits: o.limits,
        now,
        jobData,
        heartbeats: deliveries.counting(liveness.judge, now),
      });
      await p2p.start();
      const net = p2p;
      liveness.start((data) => net.publishHeartbeat(data));
      log(`p2p ${p2p.peerId} listening on ${p2p.multiaddrs().join(' ')}`);
      p2p.on('peer:connect', (peer) => log(`peer connected ${peer}`));
      p2p.on('peer:disconnect', (peer) => log(`peer disconnected ${peer}`));
      p2p.on('peer:ban', (peer, reason) => log(`peer banned ${peer}: ${reason}`));
      p2p.on('tx:rebroadcast', (n) => log(`rebroadcast ${n} pending transaction(s) of ours`));
      let lastLine = 0;
      p2p.on('sync:start', (s) => {
        lastSync = s;
        log(`sync: from ${s.peer} at height ${s.startHeight}, target ${s.targetHeight}`);
      });
      p2p.on('sync:progress', (s) => {
        lastSync = s;
        if (now() - lastLine < 1_000) return;
        lastLine = now();
        log(syncLine(s));
      });
      // Which peers served this round's bodies (the sync peer and helpers on the same tip).
      const servers = new Set<string>();
      p2p.on('sync:batch', (b) => {
        servers.add(b.peer);
        if (process.env.OFX_TMP_BATCH)
          log(`sync: TMP batch ${b.startHeight}+${b.blocks} from ${b.peer.slice(-6)}`);
      });
      p2p.on('sync:done', (s) => {
        lastSync = undefined;
        const from = servers.size;
        servers.clear();
        log(
          s.ok
            ? `sync: done, ${s.height - s.startHeight} blocks to height ${s.height} (${Math.round(s.blocksPerSecond)} blocks/s, bodies from ${from} peer${from === 1 ? '' : 's'})`
            : `sync from ${s.peer} stopped at height ${s.height}: ${s.error ?? 'failed'}`,
        );
      });
    }
    // Any node answers for a delivered job's product: what its store lacks it fetches from peers.
    products = createProductFetcher({ state: chain.state, store: jobData, net: p2p, log });
    const self = createIsolationMonitor({ chain, liveness, p2p, deliveries, nodeId, now, log });
    isolation = self;
    // The app agent runs what placement assigns to this machine's FluxNode; the API shows it.
    if (operator && opts.fluxos !== false) {
      const fo = opts.fluxos ?? {};
      const runtime =
        fo.runtime ??
        createDockerRuntime(new Docker(fo.dockerSocket ? { socketPath: fo.dockerSocket } : undefined));
      const apiHost = opts.api === false ? undefined : opts.api?.host;
      secrets = openAppSecrets({
        path: join(opts.datadir, SECRETS_FILE),
        chain,
        operator,
        nodeId,
        placement,
        liveness,
        log,
      });
      fluxos = startFluxOs({
        chain,
        view: placement.view,
        operatorKey: operator.publicKey,
        runtime,
        hostAddress:
          fo.hostAddress ?? (apiHost && apiHost !== '0.0.0.0' && apiHost !== '::' ? apiHost : '0.0.0.0'),
        intervalMs: fo.intervalMs,
        engineTimeoutMs: fo.engineTimeoutMs,
        removeOnClose: fo.removeOnClose,
        firewall: fo.firewall ?? createIptablesFirewall(),
        volumes: createLoopVolumes(join(opts.datadir, 'volumes')),
        operator,
        consensus: placement.consensus,
        liveness,
        secrets,
        log,
      });
    }
    if (opts.api !== false) {
      const net = p2p;
      api = await startApiServer({
        chain,
        host: opts.api?.host,
        port: opts.api?.port,
        log,
        network: net
          ? () => {
              const { isolated, since, reasons } = self.status();
              return { ...networkJson(net, lastSync), isolation: { isolated, since, reasons } };
            }
          : undefined,
        jobs: { state: chain.state, data: jobData, products },
        apps: { state: chain.state, placement, fluxos, liveness, secrets },
      });
      log(`api listening on ${api.url}`);
    }
    if (opts.ingress) {
      const resolve = chainResolver(chain, placement.view, liveness);
      ingress = await startIngress({
        resolve,
        host: opts.ingress.host ?? (opts.api === false ? undefined : opts.api?.host),
        port: opts.ingress.port ?? params.apps.ingressPort,
        domain: opts.ingress.domain,
        log,
      });
      log(
        `ingress listening on ${ingress.url} (apps at <app>.${opts.ingress.domain ?? DEFAULT_INGRESS_DOMAIN})`,
      );
    }
  } catch (e) {
    await closeAll();
    throw e;
  }

  let confirmer: ConfirmService | undefined;
  let reporter: DownReporter | undefined;
  let operatorKey: Uint8Array | undefined;
  if (operator && opts.fluxnode !== false) {
    const fn = opts.fluxnode ?? {};
    operatorKey = operator.publicKey;
    log(`fluxnode operator key ${toHex(operator.publicKey)}`);
    reporter = startDownReporter({ chain, liveness, operator, nodeId, log, isolation });
    confirmer = startConfirmService({
      chain,
      operator,
      log,
      report: async () => {
        const saved = await readSavedReport(opts.datadir);
        if (saved) return saved;
        log('fluxnode: measuring this machine for the benchmark report');
        const report = await runBenchmark({
          dir: opts.datadir,
          cpuMs: fn.cpuMs ?? 500,
          diskBytes: fn.diskBytes ?? 32 * 2 ** 20,
          now,
        });
        await saveReport(opts.datadir, report);
        return report;
      },
    });
  }

  let miner: Miner | undefined;
  let gate: MiningGate | undefined;
  let fetcher: JobFetcher | undefined;
  if (opts.mine && opts.minerAddress) {
    const resultKey = opts.minerKey ?? devnetKeyOf(params, opts.minerAddress);
    const m = createMiner({
      chain,
      minerAddress: opts.minerAddress,
      now,
      onError: (e) => log(`miner: ${e.message}`),
      jobData,
      resultKey,
      onJobDelivered: (id) => log(`job ${id.slice(0, 16)}… result posted`),
    });
    miner = m;
    // A miner that can deliver results fetches the data of open jobs from its peers.
    if (p2p && resultKey) {
      fetcher = createJobFetcher({
        state: chain.state,
        events: chain,
        store: jobData,
        net: p2p,
        maxJobBytes: opts.p2p !== false ? opts.p2p?.limits?.maxJobDataBytes : undefined,
        now,
        log,
      });
    }
    log(`mining to ${encodeAddress(params.addressPrefix, opts.minerAddress)}`);
    const bootstrap = opts.p2p === false ? [] : (opts.p2p?.bootstrap ?? []);
    gate = createMiningGate({
      miner: m,
      p2p,
      chain,
      waitForPeers: bootstrap.length > 0,
      waitMs: (opts.p2p !== false && opts.p2p?.initialSyncWaitMs) || INITIAL_SYNC_WAIT_MS,
      log,
    });
  }

  let closed: Promise<void> | undefined;
  return {
    params,
    chain,
    api,
    p2p,
    url: api?.url,
    operatorKey,
    datadir: opts.datadir,
    miner,
    jobData,
    fluxos,
    ingress,
    liveness,
    isolation: isolation!,
    close() {
      closed ??= (async () => {
        confirmer?.close();
        reporter?.close();
        await fluxos?.close();
        await gate?.close();
        await fetcher?.close();
        await miner?.stop();
        // p2p goes before the chain: an import it handed over finishes first.
        await closeAll();
      })();
      return closed;
    },
  };
}

/** This machine's confirmed FluxNode (from its operator key), looked up once per tip. */
function ownNodeId(chain: Chain, operator: Uint8Array | undefined): () => string | undefined {
  let cached: { tip: string; id: string | undefined } | undefined;
  return () => {
    if (!operator) return undefined;
    const tip = toHex(chain.tip().hash);
    if (cached?.tip !== tip)
      cached = {
        tip,
        id: chain.fluxNodesOfOperator(operator).find((n) => n.node.status === NodeStatus.confirmed)?.id,
      };
    return cached.id;
  };
}

/** `sync: 1200/5000 blocks (24%) 480 blocks/s` */
export function syncLine(s: SyncProgress): string {
  const total = Math.max(0, s.targetHeight - s.startHeight);
  const done = Math.max(0, s.height - s.startHeight);
  const pct = total === 0 ? 100 : Math.min(100, Math.floor((done / total) * 100));
  return `sync: ${done}/${total} blocks (${pct}%) ${Math.round(s.blocksPerSecond)} blocks/s`;
}
