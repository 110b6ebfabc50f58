// Catching up with peers that have more cumulative work: headers first from the fork point
// (found with a locator of our hashes), checked for linkage and proof of work, then bodies in
// batches fetched in parallel from the peer and from other peers on the same tip, each imported
// (and so fully validated) by the chain in order as it arrives.
import type { Libp2p, PeerId } from '@libp2p/interface';
import { blockHash } from '../../core/codec/ids.ts';
import type { Block, Header } from '../../core/codec/types.ts';
import { headerWorkPlausible } from '../../core/consensus/pouw.ts';
import { bytesEqual, toHex } from '../../core/crypto/hash.ts';
import type { Chain, ImportResult } from '../chain/types.ts';
import type { Offence } from './peers.ts';
import { type ClientOptions, PeerError, requestBlocks, requestHeaders, requestStatus } from './protocol.ts';
import type { P2PEvents, P2PLimits, SyncProgress } from './types.ts';
import { type HeadersResponse, MAX_LOCATOR, type Status } from './wire.ts';

/** Our best-chain hashes: the last ten, then doubling steps back, always ending at genesis. */
export function buildLocator(chain: Chain, cursor?: Uint8Array): Uint8Array[] {
  const hashes: Uint8Array[] = cursor ? [cursor] : [];
  const tip = chain.tip();
  let height = tip.height;
  let step = 1;
  while (height > 0 && hashes.length < MAX_LOCATOR - 1) {
    const block = height === tip.height ? undefined : chain.blockByHeight(height);
    hashes.push(block === undefined ? tip.hash : blockHash(block.header));
    if (hashes.length >= 10) step *= 2;
    height -= step;
  }
  const genesis = chain.blockByHeight(0);
  if (genesis !== undefined) hashes.push(blockHash(genesis.header));
  return hashes;
}

interface HeaderItem {
  header: Header;
  hash: Uint8Array;
}

/** Checks that the headers link to a block we have and to each other, each with valid work. */
export function checkHeaders(chain: Chain, res: HeadersResponse): HeaderItem[] {
  const first = res.headers[0];
  const fork = chain.blockByHash(first.parent);
  if (fork === undefined) throw new PeerError('badResponse', 'first header does not extend a block we know');
  if (fork.header.height !== res.forkHeight) {
    throw new PeerError(
      'badResponse',
      `fork height ${res.forkHeight} is not the height of the first header's parent`,
    );
  }
  const items: HeaderItem[] = [];
  let parentHash = first.parent;
  let height = res.forkHeight;
  for (const header of res.headers) {
    if (header.height !== height + 1)
      throw new PeerError('badResponse', `header height ${header.height} out of order`);
    if (!bytesEqual(header.parent, parentHash)) {
      throw new PeerError(
        'badResponse',
        `header at height ${header.height} does not link to the previous one`,
      );
    }
    if (!headerWorkPlausible(header, chain.params)) {
      throw new PeerError('invalidBlock', `header at height ${header.height} fails its proof of work`);
    }
    const hash = blockHash(header);
    items.push({ header, hash });
    parentHash = hash;
    height = header.height;
  }
  return items;
}

export interface SyncerDeps {
  chain: Chain;
  node: Libp2p;
  client: ClientOptions;
  limits: P2PLimits;
  genesisHash: Uint8Array;
  ourStatus(): Status;
  /** Imports through the host's serial import queue, marking the block as come from the network. */
  importBlock(block: Block): Promise<ImportResult>;
  penalise(peer: PeerId, offence: Offence, why: string): void;
  emit<E extends keyof P2PEvents>(event: E, ...args: Parameters<P2PEvents[E]>): void;
  now(): number;
}

interface KnownPeer {
  peer: PeerId;
  status: Status;
  at: number;
  /** How long our last status request to it took, ms (its distance and how busy it is). */
  rttMs?: number;
}

/** Failed or lying peers are not picked again for this long. */
const COOLDOWN_MS = 10_000;
/**
 * Bodies come from the sync peer and up to this many others that announced the same tip: on a
 * long, lossy link one TCP stream carries little (about MSS / RTT / sqrt(loss): some 40 KB/s at
 * 400 ms and 1 %), and a PoUW block carries tens of KB of tile openings.
 */
const MAX_HELPERS = 3;
/** Smallest batch: small enough that a short reorg is spread over every source. */
const MIN_BATCH = 4;
/** Requests each source has in flight at once, so a round trip is not idle time. */
const STREAMS_PER_SOURCE = 2;

export class Syncer {
  private readonly deps: SyncerDeps;
  private readonly statuses = new Map<string, KnownPeer>();
  private readonly cooldown = new Map<string, number>();
  private running = false;
  private again = false;
  private stopped = false;

  constructor(deps: SyncerDeps) {
    this.deps = deps;
  }

  isRunning(): boolean {
    return this.running;
  }

  stop(): void {
    this.stopped = true;
  }

  statusOf(peer: string): Status | undefined {
    return this.statuses.get(peer)?.status;
  }

  forget(peer: string): void {
    this.statuses.delete(peer);
    this.cooldown.delete(peer);
  }

  /** Records what a peer says about its chain; a peer on another network is penalised off. */
  noteStatus(peer: PeerId, status: Status, rttMs?: number): void {
    const { chain, genesisHash } = this.deps;
    if (status.chainId !== chain.params.chainId || !bytesEqual(status.genesis, genesisHash)) {
      this.deps.penalise(
        peer,
        'wrongNetwork',
        `chain ${status.chainId} genesis ${toHex(status.genesis).slice(0, 16)}`,
      );
      return;
    }
    const id = peer.toString();
    this.statuses.set(id, {
      peer,
      status,
      at: this.deps.now(),
      rttMs: rttMs ?? this.statuses.get(id)?.rttMs,
    });
    if (status.cumulativeWork > chain.tip().cumulativeWork) this.schedule();
  }

  /** Asks the peer for its status (telling it ours); failures count against the peer. */
  async refresh(peer: PeerId): Promise<void> {
    try {
      const t0 = this.deps.now();
      const status = await requestStatus(this.deps.node, peer, this.deps.ourStatus(), this.deps.client);
      this.noteStatus(peer, status, this.deps.now() - t0);
    } catch (e) {
      this.blame(peer, e);
    }
  }

  /** Starts a sync round unless one is running (which then goes round once more). */
  schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.run();
  }

  private blame(peer: PeerId, e: unknown): void {
    const err = e instanceof PeerError ? e : new PeerError('timeout', (e as Error)?.message ?? String(e));
    if (err.offence !== undefined) this.deps.penalise(peer, err.offence, err.message);
  }

  /** The peer with the most work beyond ours; of those with as much, the quickest to answer. */
  private pick(): KnownPeer | undefined {
    const ours = this.deps.chain.tip().cumulativeWork;
    let best: KnownPeer | undefined;
    for (const known of this.available()) {
      if (known.status.cumulativeWork <= ours) continue;
      if (best === undefined || ahead(known, best)) best = known;
    }
    return best;
  }

  /**
   * Other peers that can likely serve `main`'s blocks, quickest first: those that announced its
   * tip, or as much work (most often the same chain, grown since; one that is not fails its first
   * batch and drops out).
   */
  private helpersOf(main: KnownPeer): PeerId[] {
    return this.available()
      .filter(
        (k) =>
          !k.peer.equals(main.peer) &&
          (bytesEqual(k.status.tip, main.status.tip) ||
            k.status.cumulativeWork >= main.status.cumulativeWork),
      )
      .sort((a, b) => (a.rttMs ?? Number.POSITIVE_INFINITY) - (b.rttMs ?? Number.POSITIVE_INFINITY))
      .slice(0, MAX_HELPERS)
      .map((k) => k.peer);
  }

  private available(): KnownPeer[] {
    const now = this.deps.now();
    return [...this.statuses].filter(([id]) => (this.cooldown.get(id) ?? 0) <= now).map(([, k]) => k);
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        for (let known = this.pick(); known !== undefined && !this.stopped; known = this.pick()) {
          const progressed = await this.syncFrom(known);
          if (!progressed) this.cooldown.set(known.peer.toString(), this.deps.now() + COOLDOWN_MS);
        }
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
      // After the flag is down: a listener that asks `syncing()` (the mining gate) hears false.
      this.deps.emit('sync:idle');
    }
  }

  /** One sync from one peer; returns whether our tip's work grew. */
  private async syncFrom(known: KnownPeer): Promise<boolean> {
    const { chain, node, client, limits } = this.deps;
    const { peer } = known;
    const start = chain.tip();
    const started = this.deps.now();
    let blocks = 0;
    const progress = (): SyncProgress => {
      const elapsed = Math.max(1, this.deps.now() - started);
      return {
        peer: peer.toString(),
        startHeight: start.height,
        height: chain.tip().height,
        targetHeight: known.status.height,
        blocks,
        blocksPerSecond: Math.round((blocks * 1000) / elapsed),
      };
    };
    this.deps.emit('sync:start', progress());
    let error: string | undefined;
    try {
      let cursor: Uint8Array | undefined;
      for (;;) {
        if (this.stopped) break;
        const max = limits.headersPerRequest;
        const res = await requestHeaders(node, peer, { locator: buildLocator(chain, cursor), max }, client);
        if (res.headers.length === 0) break;
        const items = checkHeaders(chain, res).filter((item) => chain.blockByHash(item.hash) === undefined);
        await this.fetchAndImport(
          peer,
          () => this.helpersOf(known),
          items,
          () => {
            blocks = chain.tip().height - start.height;
            this.deps.emit('sync:progress', progress());
          },
        );
        blocks = Math.max(0, chain.tip().height - start.height);
        cursor = blockHash(res.headers[res.headers.length - 1]);
        // Done at the tip the peer announced; otherwise ask again (its cap may be below ours).
        if (bytesEqual(cursor, known.status.tip)) break;
      }
    } catch (e) {
      this.blame(peer, e);
      error = (e as Error).message;
    }
    const progressed = chain.tip().cumulativeWork > start.cumulativeWork;
    if (error === undefined && chain.tip().cumulativeWork < known.status.cumulativeWork) {
      // The peer may have moved on, or claimed work it cannot show: ask again, judge next time.
      await this.refresh(peer);
      const now = this.statuses.get(peer.toString());
      if (!progressed && now !== undefined && now.status.cumulativeWork > chain.tip().cumulativeWork) {
        this.deps.penalise(peer, 'falseStatus', 'claimed more work than its headers lead to');
      }
    }
    this.deps.emit('sync:done', { ...progress(), ok: error === undefined, error });
    return progressed;
  }

  /**
   * Downloads the bodies of `items` in batches and imports them in order. The sync peer and the
   * helpers (`helpers()`: peers that announced the same tip, asked again after each batch, so a
   * peer that connects during the sync joins it) each keep two requests in flight. A helper that
   * fails (it moved to another tip, or is slow past the timeout) hands its batch to the sync
   * peer and drops out; what the sync peer fails ends the round. As many blocks are held at
   * once as two full requests from one peer.
   */
  private async fetchAndImport(
    main: PeerId,
    helpers: () => PeerId[],
    items: HeaderItem[],
    onBatch: () => void,
  ): Promise<void> {
    const { node, client, limits } = this.deps;
    if (items.length === 0) return;
    const max = Math.max(1, limits.blocksPerRequest);
    const window = STREAMS_PER_SOURCE * (1 + MAX_HELPERS) + 1;
    // Small enough that a reorg of tens of blocks is spread over every source, as large as the
    // memory bound allows for a long sync.
    const size = Math.max(
      1,
      Math.min(Math.floor((2 * max) / window), Math.max(MIN_BATCH, Math.ceil(items.length / 8))),
    );
    const batches: HeaderItem[][] = [];
    for (let at = 0; at < items.length; at += size) batches.push(items.slice(at, at + size));

    const fetchBatch = async (peer: PeerId, batch: HeaderItem[]): Promise<Block[]> => {
      const out: Block[] = [];
      // A response may stop early at its byte budget: ask again for the rest.
      while (out.length < batch.length)
        out.push(...(await requestBlocks(node, peer, batch.slice(out.length), client)));
      return out;
    };
    const fetched = batches.map(() => Promise.withResolvers<{ blocks: Block[]; from: PeerId }>());
    for (const f of fetched) f.promise.catch(() => undefined); // awaited below, or abandoned
    let next = 0;
    let imported = 0;
    let done = false;
    let wake: Array<() => void> = [];
    const wakeAll = () => {
      const w = wake;
      wake = [];
      for (const f of w) f();
    };
    const failed = new Set<string>();

    const worker = async (peer: PeerId, isMain: boolean): Promise<void> => {
      while (!done && !this.stopped && !failed.has(peer.toString())) {
        while (!done && next < batches.length && next >= imported + window)
          await new Promise<void>((r) => wake.push(r));
        if (done || next >= batches.length) return;
        const i = next++;
        try {
          fetched[i].resolve({ blocks: await fetchBatch(peer, batches[i]), from: peer });
        } catch (e) {
          if (isMain) {
            fetched[i].reject(e);
            return;
          }
          // The helper is out of this round; the sync peer fetches its batch.
          failed.add(peer.toString());
          try {
            fetched[i].resolve({ blocks: await fetchBatch(main, batches[i]), from: main });
          } catch (e2) {
            fetched[i].reject(e2);
          }
          return;
        }
      }
    };
    const workers: Promise<void>[] = [];
    const sources = new Set<string>();
    const join = (peer: PeerId, isMain: boolean) => {
      sources.add(peer.toString());
      for (let k = 0; k < STREAMS_PER_SOURCE; k++) workers.push(worker(peer, isMain));
    };
    const recruit = () => {
      for (const peer of helpers()) {
        if (sources.size > MAX_HELPERS || next >= batches.length) return;
        if (!sources.has(peer.toString())) join(peer, false);
      }
    };
    join(main, true);
    recruit();
    try {
      for (let i = 0; i < batches.length; i++) {
        const { blocks, from } = await fetched[i].promise;
        this.deps.emit('sync:batch', {
          peer: from.toString(),
          startHeight: batches[i][0].header.height,
          blocks: blocks.length,
        });
        for (const block of blocks) {
          if (this.stopped) return;
          const result = await this.deps.importBlock(block);
          if (!result.ok) {
            const why = `block at height ${block.header.height} refused: ${result.error.code}: ${result.error.message}`;
            // The sync peer announced its header; a helper that served it holds it as best too.
            if (!from.equals(main)) this.deps.penalise(from, 'invalidBlock', why);
            throw new PeerError('invalidBlock', why);
          }
        }
        imported = i + 1;
        wakeAll();
        onBatch();
        recruit();
      }
    } finally {
      done = true;
      wakeAll();
      await Promise.allSettled(workers);
    }
  }
}

/** Whether `a` is a better sync peer than `b`: more work, or as much and quicker to answer. */
function ahead(a: KnownPeer, b: KnownPeer): boolean {
  if (a.status.cumulativeWork !== b.status.cumulativeWork)
    return a.status.cumulativeWork > b.status.cumulativeWork;
  return (a.rttMs ?? Number.POSITIVE_INFINITY) < (b.rttMs ?? Number.POSITIVE_INFINITY);
}
