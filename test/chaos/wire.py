#!/usr/bin/env python3
"""The chaos suite's network: a userspace switch between network namespaces.

The kernels this suite runs on have no `tc netem`, so latency and loss come from here. For each
endpoint (a network namespace the suite created) this process opens a TUN device *inside* that
namespace (setns, then /dev/net/tun), gives it the endpoint's address in 10.77.0.0/16, and then
forwards every IPv4 packet read from one endpoint's TUN to the TUN of the endpoint owning the
destination address, after a fixed one-way delay for that pair of endpoints (spread evenly over
[min, max] ms by a seeded hash) and dropping a fraction of them at random (`loss`). Nothing is
created in the namespace this process was started in: the TUN devices are born inside the
endpoints' namespaces and disappear with this process.

It is also how the test process (which stays in its own namespace) reaches the nodes' REST APIs:
for an endpoint with `api`, it listens on a Unix socket and forwards each connection to
`addr:port` from a TCP socket created inside that endpoint's namespace (so that traffic is local
to the namespace and never crosses the switch).

Usage: wire.py CONFIG.json. Prints one JSON line {"event": "ready"} on stdout once every TUN is
up; a control socket (config "control") answers `stats` with counters as one JSON line.
Exits when stdin closes (its parent died) or on SIGTERM/SIGINT.
"""

import ctypes
import errno
import fcntl
import hashlib
import heapq
import json
import os
import random
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
TUN_NAME = "ofx0"
# A relayed stream stops reading from one side while this much waits to go to the other.
MAX_BUFFERED = 1 << 20

libc = ctypes.CDLL(None, use_errno=True)


def setns(fd: int) -> None:
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


def pair_delay_ms(seed: int, a: int, b: int, lo: float, hi: float) -> float:
    """A fixed one-way delay for the unordered pair (a, b), spread over [lo, hi] by a hash."""
    x, y = min(a, b), max(a, b)
    digest = hashlib.sha256(f"{seed}/{x}/{y}".encode()).digest()
    frac = int.from_bytes(digest[:8], "big") / 2**64
    return lo + (hi - lo) * frac


class Endpoint:
    def __init__(self, index: int, spec: dict, own_ns: int):
        self.index = index
        self.name = spec["name"]
        self.netns = spec["netns"]
        self.addr = spec["addr"]
        self.addr_bytes = socket.inet_aton(self.addr)
        self.api = spec.get("api")
        self.ns_fd = os.open(f"/var/run/netns/{self.netns}", os.O_RDONLY)
        setns(self.ns_fd)
        try:
            self.tun = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
            fcntl.ioctl(self.tun, TUNSETIFF, struct.pack("16sH", TUN_NAME.encode(), IFF_TUN | IFF_NO_PI))
        finally:
            setns(own_ns)

    def connect_in_ns(self, own_ns: int, host: str, port: int) -> socket.socket:
        """A TCP socket created in this endpoint's namespace, connecting (non-blocking)."""
        setns(self.ns_fd)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            setns(own_ns)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(err, os.strerror(err))
        return s


class Relay:
    """One API connection: a Unix socket from the test process and a TCP socket in a namespace."""

    def __init__(self, sel, a: socket.socket, b: socket.socket):
        self.sel = sel
        self.socks = (a, b)
        self.out = {a: bytearray(), b: bytearray()}
        self.eof = {a: False, b: False}
        self.closed = False
        self.events = {}
        for s in self.socks:
            self.events[s] = selectors.EVENT_READ | selectors.EVENT_WRITE
            sel.register(s, self.events[s], self)

    def other(self, s):
        return self.socks[1] if s is self.socks[0] else self.socks[0]

    def update(self):
        for s in self.socks:
            if self.closed:
                return
            o = self.other(s)
            events = 0
            if not self.eof[s] and len(self.out[o]) < MAX_BUFFERED:
                events |= selectors.EVENT_READ
            if self.out[s]:
                events |= selectors.EVENT_WRITE
            if events == self.events[s]:
                continue
            if events == 0:
                self.sel.unregister(s)
            elif self.events[s] == 0:
                self.sel.register(s, events, self)
            else:
                self.sel.modify(s, events, self)
            self.events[s] = events

    def close(self):
        if self.closed:
            return
        self.closed = True
        for s in self.socks:
            if self.events[s]:
                self.sel.unregister(s)
            s.close()

    def handle(self, s, mask):
        o = self.other(s)
        try:
            if mask & selectors.EVENT_WRITE and self.out[s]:
                n = s.send(self.out[s])
                del self.out[s][:n]
                if not self.out[s] and self.eof[o]:
                    s.shutdown(socket.SHUT_WR)
            if mask & selectors.EVENT_READ and not self.eof[s]:
                data = s.recv(65536)
                if data:
                    self.out[o] += data
                else:
                    self.eof[s] = True
                    if not self.out[o]:
                        o.shutdown(socket.SHUT_WR)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.close()
            return
        if self.eof[s] and self.eof[o] and not self.out[s] and not self.out[o]:
            self.close()
            return
        self.update()


def main() -> int:
    with open(sys.argv[1]) as f:
        config = json.load(f)
    lo, hi = config["delay_ms"]
    loss = float(config["loss"])
    seed = int(config.get("seed", 1))
    mtu = int(config.get("mtu", 1500))
    rng = random.Random(seed)
    own_ns = os.open("/proc/self/ns/net", os.O_RDONLY)

    endpoints = [Endpoint(i, spec, own_ns) for i, spec in enumerate(config["endpoints"])]
    by_addr = {ep.addr_bytes: ep for ep in endpoints}
    prefix = config.get("prefix", 16)
    for ep in endpoints:
        for args in (
            ["link", "set", "lo", "up"],
            ["addr", "add", f"{ep.addr}/{prefix}", "dev", TUN_NAME],
            ["link", "set", TUN_NAME, "mtu", str(mtu), "up"],
        ):
            subprocess.run(["ip", "-n", ep.netns, *args], check=True)
    delays = {
        (a.index, b.index): pair_delay_ms(seed, a.index, b.index, lo, hi) / 1000.0
        for a in endpoints
        for b in endpoints
    }

    sel = selectors.DefaultSelector()
    for ep in endpoints:
        sel.register(ep.tun, selectors.EVENT_READ, ("tun", ep))
    listeners = []
    for ep in endpoints:
        if ep.api is None:
            continue
        path = ep.api["socket"]
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(path)
        ls.listen(256)
        ls.setblocking(False)
        listeners.append(ls)
        sel.register(ls, selectors.EVENT_READ, ("api", ep))
    control = None
    if config.get("control"):
        try:
            os.unlink(config["control"])
        except FileNotFoundError:
            pass
        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        control.bind(config["control"])
        control.listen(8)
        control.setblocking(False)
        sel.register(control, selectors.EVENT_READ, ("control", None))
    # The parent holds our stdin: when it dies, stdin reaches EOF and we stop.
    os.set_blocking(0, False)
    sel.register(0, selectors.EVENT_READ, ("stdin", None))

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))

    stats = {"forwarded": 0, "dropped_loss": 0, "dropped_unroutable": 0, "write_errors": 0, "bytes": 0}
    queue = []  # (due, seq, destination endpoint, packet)
    seq = 0
    print(json.dumps({"event": "ready", "endpoints": len(endpoints)}), flush=True)

    while not stopping:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, dst, pkt = heapq.heappop(queue)
            try:
                os.write(dst.tun, pkt)
                stats["forwarded"] += 1
                stats["bytes"] += len(pkt)
            except OSError:
                stats["write_errors"] += 1
        timeout = None if not queue else max(0.0, queue[0][0] - time.monotonic())
        try:
            events = sel.select(timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for key, mask in events:
            kind, ep = key.data if isinstance(key.data, tuple) else ("relay", key.data)
            if kind == "tun":
                for _ in range(256):
                    try:
                        pkt = os.read(ep.tun, 65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    if len(pkt) < 20 or pkt[0] >> 4 != 4:
                        continue
                    dst = by_addr.get(pkt[16:20])
                    if dst is None or dst is ep:
                        stats["dropped_unroutable"] += 1
                        continue
                    if loss > 0 and rng.random() < loss:
                        stats["dropped_loss"] += 1
                        continue
                    seq += 1
                    heapq.heappush(queue, (now + delays[(ep.index, dst.index)], seq, dst, pkt))
            elif kind == "api":
                ls = key.fileobj
                while True:
                    try:
                        conn, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    conn.setblocking(False)
                    try:
                        upstream = ep.connect_in_ns(own_ns, ep.api.get("host", ep.addr), int(ep.api["port"]))
                    except OSError:
                        conn.close()
                        continue
                    Relay(sel, conn, upstream)
            elif kind == "control":
                try:
                    conn, _ = control.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                conn.settimeout(2)
                try:
                    line = conn.recv(1024).decode().strip()
                    if line == "stats":
                        body = {**stats, "queued": len(queue)}
                    elif line == "delays":
                        body = {f"{endpoints[a].name}-{endpoints[b].name}": round(d * 1000, 1)
                                for (a, b), d in delays.items() if a < b}
                    else:
                        body = {"error": f"unknown command {line!r}"}
                    conn.sendall((json.dumps(body) + "\n").encode())
                except OSError:
                    pass
                finally:
                    conn.close()
            elif kind == "stdin":
                try:
                    if os.read(0, 4096) == b"":
                        stopping.append(1)
                except BlockingIOError:
                    pass
            else:
                ep.handle(key.fileobj, mask)
    for ls in listeners:
        try:
            os.unlink(ls.getsockname())
        except OSError:
            pass
    return 0


def probe(ns_a: str, addr_a: str, ns_b: str, addr_b: str, count: int, interval: float) -> int:
    """Measures the path A -> B -> A with UDP datagrams: one-way loss (what B received),
    round-trip loss and round-trip times. Prints one JSON line."""
    own_ns = os.open("/proc/self/ns/net", os.O_RDONLY)

    def udp_in(ns: str, addr: str) -> socket.socket:
        fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
        setns(fd)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((addr, 0))
        finally:
            setns(own_ns)
            os.close(fd)
        s.setblocking(False)
        return s

    a, b = udp_in(ns_a, addr_a), udp_in(ns_b, addr_b)
    target = b.getsockname()
    sent_at = {}
    arrived = 0
    rtts = []
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, "a")
    sel.register(b, selectors.EVENT_READ, "b")
    next_send = time.monotonic()
    sent = 0
    end = None
    while True:
        now = time.monotonic()
        if sent < count and now >= next_send:
            try:
                a.sendto(struct.pack("!I", sent), target)
            except OSError:
                pass  # refused locally (a partition's DROP rule on OUTPUT): counts as lost
            sent_at[sent] = now
            sent += 1
            next_send = now + interval
            if sent == count:
                end = now + 0.7
        if end is not None and now >= end:
            break
        wait = (next_send if sent < count else end) - now
        for key, _ in sel.select(max(0.0, wait)):
            sock = key.fileobj
            while True:
                try:
                    data, peer = sock.recvfrom(64)
                except (BlockingIOError, InterruptedError):
                    break
                if key.data == "b":
                    arrived += 1
                    sock.sendto(data, peer)
                else:
                    (n,) = struct.unpack("!I", data)
                    rtts.append((time.monotonic() - sent_at[n]) * 1000)
    rtts.sort()
    print(json.dumps({
        "sent": sent,
        "oneWayReceived": arrived,
        "echoed": len(rtts),
        "rttMs": {"min": round(rtts[0], 1), "median": round(rtts[len(rtts) // 2], 1),
                  "max": round(rtts[-1], 1)} if rtts else None,
    }), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "probe":
        a_ns, a_addr, b_ns, b_addr = sys.argv[2:6]
        sys.exit(probe(a_ns, a_addr, b_ns, b_addr, int(sys.argv[6]), float(sys.argv[7])))
    sys.exit(main())
