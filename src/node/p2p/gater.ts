// Who may connect. Bans hold for the peer id and for the address it connected from, so a fresh
// key on the same host is refused too. Inbound connections are limited per address, per network
// group (/24) and in all, so one host with many keys cannot fill a node's slots, and the slots
// kept for outbound peers (the node's own choice) are never taken by inbound ones.
import { isIPv4, isIPv6 } from 'node:net';
import type { Connection, ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

/**
 * Where a connection comes from, at two widths: `host` is one machine (an IPv4 address, an IPv6
 * /64) and `group` one operator's network (IPv4 /24, IPv6 /48). On loopback both are the address
 * itself: 127/8 is one machine, and devnets and tests use its addresses as stand-ins for hosts.
 */
export interface NetAddress {
  ip: string;
  host: string;
  group: string;
  loopback: boolean;
}

/** The IP address of a multiaddr (`/ip4/...` or `/ip6/...`), or undefined (dns, unix...). */
export function ipOf(ma: Multiaddr): string | undefined {
  const c = ma.getComponents()[0];
  return c !== undefined && (c.name === 'ip4' || c.name === 'ip6') ? c.value : undefined;
}

export function netAddressOf(ip: string): NetAddress | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped !== null) return netAddressOf(mapped[1]);
  if (isIPv4(ip)) {
    const loopback = ip.startsWith('127.');
    return { ip, host: ip, group: loopback ? ip : ip.split('.').slice(0, 3).join('.'), loopback };
  }
  if (isIPv6(ip)) {
    const words = expandIPv6(ip);
    if (words.every((w, i) => w === (i === 7 ? 1 : 0)))
      return { ip, host: '::1', group: '::1', loopback: true };
    const hex = words.map((w) => w.toString(16));
    return {
      ip,
      host: `${hex.slice(0, 4).join(':')}::/64`,
      group: `${hex.slice(0, 3).join(':')}::/48`,
      loopback: false,
    };
  }
  return undefined;
}

export function netAddressOfMultiaddr(ma: Multiaddr): NetAddress | undefined {
  const ip = ipOf(ma);
  return ip === undefined ? undefined : netAddressOf(ip);
}

/** The eight 16-bit words of an IPv6 address (`::` expanded, a trailing IPv4 part converted). */
function expandIPv6(ip: string): number[] {
  let text = ip.split('%')[0];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const words = (s: string | undefined) =>
    s === undefined || s === '' ? [] : s.split(':').map((w) => parseInt(w, 16));
  const left = words(head);
  const right = words(tail);
  return tail === undefined
    ? left
    : [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
}

export interface InboundLimits {
  /** Inbound connections in all (the node's peer limit less its outbound slots). */
  maxInbound: number;
  /** Inbound connections from one host (see NetAddress). */
  maxInboundPerIp: number;
  /** Inbound connections from one network group (see NetAddress). */
  maxInboundPerSubnet: number;
  /** Addresses the per-host and per-group limits do not apply to (this machine's own). */
  unlimited: string[];
}

/** Hosts refused for a while, each ban tied to the peer whose ban caused it. */
export class AddressBans {
  private readonly bans = new Map<string, { until: number; reason: string; peer?: string }>();
  private readonly capacity: number;

  constructor(capacity = 10_000) {
    this.capacity = capacity;
  }

  ban(host: string, until: number, reason: string, peer?: string, now = Date.now()): void {
    if (this.bans.size >= this.capacity) this.prune(now);
    if (this.bans.size >= this.capacity) this.bans.delete(this.bans.keys().next().value as string);
    const existing = this.bans.get(host);
    if (existing !== undefined && existing.until > until) return;
    this.bans.set(host, { until, reason, peer });
  }

  isBanned(host: string, now: number): boolean {
    const b = this.bans.get(host);
    if (b === undefined) return false;
    if (b.until > now) return true;
    this.bans.delete(host);
    return false;
  }

  /** Lifts the address bans that a ban of `peer` caused. */
  unbanPeer(peer: string): void {
    for (const [host, b] of this.bans) if (b.peer === peer) this.bans.delete(host);
  }

  banned(now: number): Array<{ host: string; until: number; reason: string; peer?: string }> {
    this.prune(now);
    return [...this.bans].map(([host, b]) => ({ host, ...b }));
  }

  private prune(now: number): void {
    for (const [host, b] of this.bans) if (b.until <= now) this.bans.delete(host);
  }
}

export interface ConnectionGuardOptions {
  limits: InboundLimits;
  /** Whether the peer id is banned now. */
  peerBanned: (peer: PeerId) => boolean;
  addressBans: AddressBans;
  /** The node's connections now (libp2p's `getConnections()`). */
  connections: () => Connection[];
  now: () => number;
}

/**
 * The connection gater plus the checks libp2p cannot make in it: an inbound connection is
 * refused before its handshake when its host or group is full, and `excess` catches connections
 * that were let in at the same moment once libp2p has counted them.
 */
export class ConnectionGuard {
  readonly gater: ConnectionGater;
  private readonly opts: ConnectionGuardOptions;

  constructor(opts: ConnectionGuardOptions) {
    this.opts = opts;
    const peerBanned = (peer: PeerId) => opts.peerBanned(peer);
    this.gater = {
      denyDialPeer: peerBanned,
      denyDialMultiaddr: (ma) => this.addressBanned(ma),
      denyInboundConnection: (maConn) => this.refuseInbound(maConn) !== undefined,
      denyInboundEncryptedConnection: (peer, maConn) =>
        peerBanned(peer) || this.addressBanned(maConn.remoteAddr),
      denyOutboundEncryptedConnection: peerBanned,
    };
  }

  /** Why an inbound connection from this address would be refused now, if it would. */
  refuseInbound(maConn: Pick<MultiaddrConnection, 'remoteAddr'>): string | undefined {
    if (this.addressBanned(maConn.remoteAddr)) return 'address banned';
    return this.overLimit(netAddressOfMultiaddr(maConn.remoteAddr), this.inbound());
  }

  /** Why a just-opened inbound connection is one too many, if it is (libp2p already counts it). */
  excess(conn: Connection): string | undefined {
    if (conn.direction !== 'inbound') return undefined;
    return this.overLimit(
      netAddressOfMultiaddr(conn.remoteAddr),
      this.inbound().filter((c) => c.id !== conn.id),
    );
  }

  /**
   * Bans, until `until`, every host the peer is connected from now; never this machine's own
   * addresses (`unlimited`), which other local nodes share.
   */
  banAddressesOf(peer: PeerId, until: number, reason: string): string[] {
    const hosts = new Set<string>();
    for (const conn of this.opts.connections()) {
      if (!conn.remotePeer.equals(peer)) continue;
      const addr = netAddressOfMultiaddr(conn.remoteAddr);
      if (addr !== undefined && !this.opts.limits.unlimited.includes(addr.ip)) hosts.add(addr.host);
    }
    for (const host of hosts)
      this.opts.addressBans.ban(host, until, reason, peer.toString(), this.opts.now());
    return [...hosts];
  }

  addressBanned(ma: Multiaddr): boolean {
    const addr = netAddressOfMultiaddr(ma);
    return addr !== undefined && this.opts.addressBans.isBanned(addr.host, this.opts.now());
  }

  private inbound(): Connection[] {
    return this.opts.connections().filter((c) => c.direction === 'inbound' && c.status !== 'closed');
  }

  private overLimit(addr: NetAddress | undefined, others: Connection[]): string | undefined {
    const { limits } = this.opts;
    if (others.length >= limits.maxInbound) return `inbound slots full (${limits.maxInbound})`;
    if (addr === undefined || limits.unlimited.includes(addr.ip)) return undefined;
    let sameHost = 0;
    let sameGroup = 0;
    for (const c of others) {
      const other = netAddressOfMultiaddr(c.remoteAddr);
      if (other === undefined) continue;
      if (other.host === addr.host) sameHost++;
      if (other.group === addr.group) sameGroup++;
    }
    if (sameHost >= limits.maxInboundPerIp)
      return `${limits.maxInboundPerIp} inbound connections from ${addr.host}`;
    if (sameGroup >= limits.maxInboundPerSubnet)
      return `${limits.maxInboundPerSubnet} inbound connections from ${addr.group}`;
    return undefined;
  }
}
