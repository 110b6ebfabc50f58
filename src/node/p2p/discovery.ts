// Peer discovery and the outbound slots. Peers are found through a Kademlia DHT private to the
// network and chain (libp2p's kad-dht in server mode: lookups of random keys) and the bootstrap
// list, and kept in libp2p's peer store (on disk, see datastore.ts). libp2p does not dial the
// peers it discovers, so the node fills its outbound slots itself from the peer store, first
// with peers in network groups and on hosts where it has no outbound peer yet: whatever an
// attacker announces, the peers the node chose stay few per network and spread out.
import { randomBytes } from 'node:crypto';
import type { Connection, Libp2p, Peer } from '@libp2p/interface';
import { type KadDHT, kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht';
import { peerIdFromString } from '@libp2p/peer-id';
import type { TCPOptions } from '@libp2p/tcp';
import { isPrivateIp } from '@libp2p/utils';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import type { ChainParams } from '../../core/params/index.ts';
import { type NetAddress, netAddressOfMultiaddr } from './gater.ts';

/** The DHT protocol carries the network and chain id, so networks never share a routing table. */
export function dhtProtocol(params: Pick<ChainParams, 'network' | 'chainId'>): string {
  return `/openflux/${params.network}/${params.chainId}/kad/1.0.0`;
}

/** The DHT service: a server (every node answers lookups), on the network's own protocol. Needs ping. */
export function dhtService(params: Pick<ChainParams, 'network' | 'chainId'>, opts: { dialPrivate: boolean }) {
  return kadDHT({
    protocol: dhtProtocol(params),
    clientMode: false,
    // A public node neither keeps nor hands out peers' loopback and LAN addresses.
    peerInfoMapper: opts.dialPrivate ? passthroughMapper : removePrivateAddressesMapper,
  });
}

/**
 * Whether the node dials loopback and private addresses: yes when it listens on one itself (a
 * devnet, a LAN), no when it listens on a public or wildcard address.
 */
export function dialsPrivate(listen: string[]): boolean {
  return listen.some((addr) => {
    const ip = netAddressOfMultiaddr(multiaddr(addr))?.ip;
    return ip !== undefined && ip !== '0.0.0.0' && ip !== '::' && isPrivateIp(ip) === true;
  });
}

/**
 * TCP dial options for a node that listens on one loopback address: it dials from that address
 * too, so peers see the address they can dial back, and devnet nodes on 127.0.0.x look like
 * separate hosts to each other's connection limits. (@libp2p/tcp hands these to net.connect.)
 */
export function dialSource(listen: string[]): TCPOptions['dialOpts'] {
  const ips = listen.map((addr) => netAddressOfMultiaddr(multiaddr(addr)));
  const ip = ips[0]?.ip;
  if (ips.length !== 1 || ip === undefined || !ips[0]?.loopback || !ip.startsWith('127.')) return undefined;
  const opts = { noDelay: true, localAddress: ip };
  return opts;
}

/** Addresses and peers of the peer store are kept this long after they were last seen. */
export const PEER_STORE_MAX_AGE_MS = 7 * 24 * 3600_000;

/** Peer store tag of the peers in our outbound slots; libp2p's pruner closes high values last. */
export const OUTBOUND_TAG = 'openflux-outbound';
const OUTBOUND_TAG_VALUE = 100;
/** A candidate that failed to answer is retried after 5 s, then twice as long each time, up to 10 min. */
const RETRY_FIRST_MS = 5_000;
const RETRY_MAX_MS = 10 * 60_000;
/**
 * A peer we were connected to within LOST_PEER_MS is retried every RETRY_LOST_MS instead: it most
 * likely dropped out through a network fault (a partition, a lost link) and is back when the fault
 * heals, and waiting out a backoff grown during a 60 s partition kept halves apart for 40 s.
 */
const LOST_PEER_MS = 10 * 60_000;
const RETRY_LOST_MS = 1_000;
/** While slots are free they are filled this often (the status interval is slower). */
const FILL_INTERVAL_MS = 1_000;
/** A DHT lookup is given up after this long. */
const LOOKUP_TIMEOUT_MS = 20_000;

export interface Candidate {
  id: string;
  addr: Multiaddr;
  net: NetAddress;
  failures: number;
}

/**
 * Up to `count` candidates, diverse: first one per network group none of `used` is in, then
 * one per host none of them is on, then any; candidates that failed less often go first.
 */
export function pickDiverse(
  candidates: Candidate[],
  used: NetAddress[],
  count: number,
  random: () => number = Math.random,
): Candidate[] {
  const groups = new Set(used.map((a) => a.group));
  const hosts = new Set(used.map((a) => a.host));
  const pool = candidates
    .map((c) => ({ c, r: random() }))
    .sort((a, b) => a.c.failures - b.c.failures || a.r - b.r)
    .map((x) => x.c);
  const picked: Candidate[] = [];
  for (const pass of ['group', 'host', 'any'] as const) {
    for (const c of pool) {
      if (picked.length >= count) return picked;
      if (picked.includes(c)) continue;
      if (pass === 'group' && groups.has(c.net.group)) continue;
      if (pass !== 'any' && hosts.has(c.net.host)) continue;
      picked.push(c);
      groups.add(c.net.group);
      hosts.add(c.net.host);
    }
  }
  return picked;
}

export interface OutboundSlotsOptions {
  node: Libp2p;
  /** Without a DHT the node dials only what its peer store holds (bootstrap peers, past peers). */
  dht?: KadDHT;
  /** How many outbound peers the node keeps. */
  slots: number;
  /** Peer ids of the bootstrap list: connected to on purpose, so they count as chosen. */
  bootstrap: string[];
  /** A peer whose protocols are known must speak this one (the sync protocol) to be dialled. */
  protocol: string;
  dialPrivate: boolean;
  dialTimeoutMs: number;
  /** With its slots full, the node still looks up random peers this often. */
  lookupIntervalMs: number;
  peerBanned: (peer: string) => boolean;
  addressBanned: (addr: Multiaddr) => boolean;
  now: () => number;
}

/** The node's outbound slots: filled from the peer store, with DHT lookups when it runs short. */
export class OutboundSlots {
  private readonly opts: OutboundSlotsOptions;
  private readonly chosen = new Set<string>();
  private readonly retries = new Map<string, { failures: number; at: number }>();
  /** When each peer we dialled was last connected (for LOST_PEER_MS). */
  private readonly connectedAt = new Map<string, number>();
  private readonly stopping = new AbortController();
  private filler: NodeJS.Timeout | undefined;
  /** Peers being dialled now. */
  private readonly dialling = new Set<string>();
  private filling = false;
  private lookingUp = false;
  private lastLookup = Number.NEGATIVE_INFINITY;

  constructor(opts: OutboundSlotsOptions) {
    this.opts = opts;
  }

  /** Peers in the outbound slots now. */
  peers(): string[] {
    return [...this.chosen];
  }

  /** Clears tags a previous run left (the node may have been killed), then fills the slots. */
  async start(): Promise<void> {
    const stale = await this.opts.node.peerStore.all({ filters: [(p) => p.tags.has(OUTBOUND_TAG)] });
    await Promise.all(stale.map((p) => this.tag(p.id.toString(), false)));
    this.tick();
    this.filler = setInterval(() => {
      if (this.chosen.size < this.opts.slots) this.tick(false);
    }, FILL_INTERVAL_MS);
    this.filler.unref();
  }

  stop(): void {
    this.stopping.abort();
    if (this.filler !== undefined) clearInterval(this.filler);
  }

  /** Fills free slots (unless a fill is running); the p2p host calls this every status interval. */
  tick(lookup = true): void {
    if (this.filling || this.stopping.signal.aborted) return;
    this.filling = true;
    void this.fill(lookup)
      .catch(() => undefined)
      .finally(() => {
        this.filling = false;
      });
  }

  /** A connection the node opened on purpose (`connect`) takes a slot if one is free. */
  adopt(peer: string): void {
    if (this.chosen.has(peer) || this.chosen.size >= this.opts.slots) return;
    this.chosen.add(peer);
    void this.tag(peer, true);
  }

  /** The peer disconnected: its slot is free. */
  forget(peer: string): void {
    if (!this.chosen.delete(peer)) return;
    void this.tag(peer, false);
    this.connectedAt.set(peer, this.opts.now()); // lost: retried often for a while
  }

  private async fill(lookup: boolean): Promise<void> {
    const { node, slots } = this.opts;
    const outbound = new Map<string, Connection>();
    const connected = new Set<string>();
    for (const conn of node.getConnections()) {
      const id = conn.remotePeer.toString();
      connected.add(id);
      if (conn.direction === 'outbound') outbound.set(id, conn);
    }
    for (const id of this.chosen) if (!outbound.has(id)) this.forget(id);
    for (const id of this.opts.bootstrap) if (outbound.has(id)) this.adopt(id);

    // Dials run on their own: a fill never waits for one, so a dial hanging on a partitioned link
    // (up to the dial timeout) does not hold back the next fill, a second later, after a heal.
    const need = slots - this.chosen.size - this.dialling.size;
    if (need > 0) {
      const used = [...this.chosen].flatMap((id) => {
        const addr = outbound.get(id)?.remoteAddr;
        const net = addr === undefined ? undefined : netAddressOfMultiaddr(addr);
        return net === undefined ? [] : [net];
      });
      const free = (await this.candidates(connected)).filter((c) => !this.dialling.has(c.id));
      for (const c of pickDiverse(free, used, need)) {
        this.dialling.add(c.id);
        void this.dial(c).finally(() => this.dialling.delete(c.id));
      }
    }
    const now = this.opts.now();
    if (lookup && (need > 0 || now - this.lastLookup >= this.opts.lookupIntervalMs)) this.lookUp(now);
  }

  private async candidates(connected: Set<string>): Promise<Candidate[]> {
    const now = this.opts.now();
    const peers = await this.opts.node.peerStore.all({ signal: this.stopping.signal });
    const out: Candidate[] = [];
    for (const peer of peers) {
      const id = peer.id.toString();
      if (connected.has(id) || this.opts.peerBanned(id)) continue;
      if ((this.retries.get(id)?.at ?? 0) > now) continue;
      if (peer.protocols.length > 0 && !peer.protocols.includes(this.opts.protocol)) continue;
      const addr = this.addressOf(peer);
      if (addr === undefined) continue;
      out.push({ id, ...addr, failures: this.retries.get(id)?.failures ?? 0 });
    }
    return out;
  }

  /** The peer's address we would dial: TCP, allowed, not banned; public before private before loopback. */
  private addressOf(peer: Peer): { addr: Multiaddr; net: NetAddress } | undefined {
    let best: { addr: Multiaddr; net: NetAddress; rank: number } | undefined;
    for (const { multiaddr: addr } of peer.addresses) {
      if (!addr.getComponents().some((c) => c.name === 'tcp')) continue;
      const net = netAddressOfMultiaddr(addr);
      if (net === undefined || this.opts.addressBanned(addr)) continue;
      const rank = net.loopback ? 2 : isPrivateIp(net.ip) === false ? 0 : 1;
      if (rank > 0 && !this.opts.dialPrivate) continue;
      if (best === undefined || rank < best.rank) best = { addr, net, rank };
    }
    return best === undefined ? undefined : { addr: best.addr, net: best.net };
  }

  private async dial(c: Candidate): Promise<boolean> {
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.opts.dialTimeoutMs)]);
    const target = c.addr.getComponents().some((p) => p.name === 'p2p')
      ? c.addr
      : multiaddr(`${c.addr}/p2p/${c.id}`);
    try {
      const conn = await this.opts.node.dial(target, { signal });
      this.retries.delete(c.id);
      this.connectedAt.delete(c.id);
      this.connectedAt.set(c.id, this.opts.now());
      if (this.connectedAt.size > 10_000)
        this.connectedAt.delete(this.connectedAt.keys().next().value as string);
      if (conn.direction !== 'outbound' || this.chosen.size >= this.opts.slots) return false;
      this.chosen.add(c.id);
      await this.tag(c.id, true);
      return true;
    } catch {
      const failures = (this.retries.get(c.id)?.failures ?? 0) + 1;
      const lost = this.opts.now() - (this.connectedAt.get(c.id) ?? Number.NEGATIVE_INFINITY) < LOST_PEER_MS;
      const wait = lost ? RETRY_LOST_MS : Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
      this.retries.set(c.id, { failures, at: this.opts.now() + wait });
      if (this.retries.size > 10_000) this.retries.delete(this.retries.keys().next().value as string);
      return false;
    }
  }

  /** One DHT lookup of a random key at a time; the peers it meets go into the peer store. */
  private lookUp(now: number): void {
    const { dht } = this.opts;
    if (dht === undefined || this.lookingUp || this.stopping.signal.aborted) return;
    this.lookingUp = true;
    this.lastLookup = now;
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)]);
    void (async () => {
      for await (const _ of dht.getClosestPeers(randomBytes(32), { signal })) {
        // Each response's closer peers reach the peer store through libp2p's discovery events.
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        this.lookingUp = false;
        // Dial what the lookup found without waiting for the next tick.
        if (this.chosen.size < this.opts.slots) this.tick(false);
      });
  }

  private async tag(peer: string, on: boolean): Promise<void> {
    await this.opts.node.peerStore
      .merge(peerIdFromString(peer), {
        tags: { [OUTBOUND_TAG]: on ? { value: OUTBOUND_TAG_VALUE } : undefined },
      })
      .catch(() => undefined);
  }
}
