// Catching up with peers that have more cumulative work: headers first from the fork point
// (found with a locator of our hashes), checked for linkage and proof of work, then bodies in
// pipelined batches, each imported (and so fully validated) by the chain as it arrives.
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
}

/** Failed or lying peers are not picked again for this long. */
const COOLDOWN_MS = 10_000;

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
  noteStatus(peer: PeerId, status: Status): void {
    const { chain, genesisHash } = this.deps;
    if (status.chainId !== chain.params.chainId || !bytesEqual(status.genesis, genesisHash)) {
      this.deps.penalise(
        peer,
        'wrongNetwork',
        `chain ${status.chainId} genesis ${toHex(status.genesis).slice(0, 16)}`,
      );
      return;
    }
    this.statuses.set(peer.toString(), { peer, status, at: this.deps.now() });
    if (status.cumulativeWork > chain.tip().cumulativeWork) this.schedule();
  }

  /** Asks the peer for its status (telling it ours); failures count against the peer. */
  async refresh(peer: PeerId): Promise<void> {
    try {
      const status = await requestStatus(this.deps.node, peer, this.deps.ourStatus(), this.deps.client);
      this.noteStatus(peer, status);
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

  private pick(): KnownPeer | undefined {
    const ours = this.deps.chain.tip().cumulativeWork;
    const now = this.deps.now();
    let best: KnownPeer | undefined;
    for (const [id, known] of this.statuses) {
      if ((this.cooldown.get(id) ?? 0) > now) continue;
      if (known.status.cumulativeWork <= ours) continue;
      if (best === undefined || known.status.cumulativeWork > best.status.cumulativeWork) best = known;
    }
    return best;
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
        await this.fetchAndImport(peer, items, () => {
          blocks = chain.tip().height - start.height;
          this.deps.emit('sync:progress', progress());
        });
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

  /** Downloads bodies in batches (the next batch is fetched while this one imports). */
  private async fetchAndImport(peer: PeerId, items: HeaderItem[], onBatch: () => void): Promise<void> {
    const { node, client, limits } = this.deps;
    const max = Math.max(1, limits.blocksPerRequest);
    const fetchBatch = async (batch: HeaderItem[]): Promise<Block[]> => {
      const out: Block[] = [];
      // A response may stop early at its byte budget: ask again for the rest.
      while (out.length < batch.length)
        out.push(...(await requestBlocks(node, peer, batch.slice(out.length), client)));
      return out;
    };
    // Smaller batches first, so importing starts while the larger ones are still on their way;
    // a reorg after a partition (tens of blocks) fits the first, one round trip on a slow link.
    let size = Math.min(32, max);
    let at = 0;
    const fetchNext = (): Promise<Block[]> | undefined => {
      const batch = items.slice(at, at + size);
      at += batch.length;
      size = Math.min(size * 2, max);
      return batch.length > 0 ? fetchBatch(batch) : undefined;
    };
    let next = fetchNext();
    try {
      while (next !== undefined) {
        const batch = await next;
        next = fetchNext();
        for (const block of batch) {
          if (this.stopped) return;
          const result = await this.deps.importBlock(block);
          if (!result.ok) {
            throw new PeerError(
              'invalidBlock',
              `block at height ${block.header.height} refused: ${result.error.code}: ${result.error.message}`,
            );
          }
        }
        onBatch();
      }
    } finally {
      next?.catch(() => undefined);
    }
  }
}
