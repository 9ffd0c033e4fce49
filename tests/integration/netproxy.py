#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# netproxy.py LISTEN_PORT TARGET_PORT [--udp] [--listen HOST] [--target HOST]
#             [--delay MS] [--loss PCT] [--control FILE] [--blackhole FILE]
#             [--ready FILE] [--seed N]
# A TCP or UDP proxy for tests and benchmarks (this kernel has no netem).
#
# --delay MS    holds every chunk (TCP) or datagram (UDP) MS milliseconds, in
#               each direction (25 makes a 50 ms round trip).
# --loss PCT    UDP: drops each datagram with probability PCT percent.
#               TCP cannot lose bytes, so a lost chunk is held an extra
#               200 ms (a retransmission timeout) and everything behind it
#               waits: the head-of-line stall an application sees.
# --control F   re-reads F (e.g. "delay=300 loss=5") whenever it changes, so
#               a test changes delay and loss while the proxy runs; a
#               missing or empty file means the command-line values.
# --blackhole F while F exists forwards nothing at all, in either direction,
#               on old and new connections alike (a cut link, not a closed one).
# --ready F     created once the proxy listens.
# HOSTs default to 127.0.0.1. A UDP client gets its own upstream socket, so
# replies find their way back to it.
import asyncio, os, random, sys, time

args = sys.argv[1:]


def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default


listen_port, target_port = int(args[0]), int(args[1])
udp = "--udp" in args
listen_host = opt("--listen", "127.0.0.1")
target_host = opt("--target", "127.0.0.1")
base = {"delay": float(opt("--delay", 0)), "loss": float(opt("--loss", 0))}
control = opt("--control")
hole = opt("--blackhole")
ready = opt("--ready")
rng = random.Random(int(opt("--seed", 0)) or None)
RTO = 0.2

_ctl = {"key": None, "val": dict(base)}


def settings():
    """delay (s) and loss (fraction) now."""
    if control is not None:
        try:
            st = os.stat(control)
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            key = None
        if key != _ctl["key"]:
            val = dict(base)
            if key is not None:
                try:
                    with open(control) as f:
                        for word in f.read().split():
                            k, _, v = word.partition("=")
                            if k in val:
                                val[k] = float(v)
                except (OSError, ValueError) as e:
                    print("netproxy: bad control file %s: %s" % (control, e), file=sys.stderr)
            _ctl["key"], _ctl["val"] = key, val
        val = _ctl["val"]
    else:
        val = base
    return val["delay"] / 1000, val["loss"] / 100


def cut():
    return hole is not None and os.path.exists(hole)


# ---- TCP ----

async def pump(reader, writer):
    q = asyncio.Queue()
    last_due = [0.0]

    async def sender():
        while True:
            due, data = await q.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.ensure_future(sender())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if not cut():
                delay, loss = settings()
                due = time.monotonic() + delay
                if loss > 0 and rng.random() < loss:
                    due += RTO
                # a stream keeps its order: nothing overtakes a stalled chunk
                due = max(due, last_due[0])
                last_due[0] = due
                q.put_nowait((due, data))
    except ConnectionError:
        pass
    q.put_nowait((0, None))
    await task


async def handle(cr, cw):
    while cut():        # a cut link: the connection opens, nothing passes
        await asyncio.sleep(0.05)
    try:
        tr, tw = await asyncio.open_connection(target_host, target_port)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pump(cr, tw), pump(tr, cw), return_exceptions=True)


# ---- UDP ----

class Upstream(asyncio.DatagramProtocol):
    """One per client address: datagrams from the target go back to it."""

    def __init__(self, front, client):
        self.front, self.client, self.transport = front, client, None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.front.forward(data, lambda d: self.front.transport.sendto(d, self.client),
                           ("back", self.client))

    def error_received(self, exc):
        pass


class Front(asyncio.DatagramProtocol):
    def __init__(self):
        self.transport, self.up, self.last_due = None, {}, {}

    def connection_made(self, transport):
        self.transport = transport

    def forward(self, data, send, flow):
        if cut():
            return
        delay, loss = settings()
        if loss > 0 and rng.random() < loss:
            return
        # each flow keeps its order when the delay drops: a datagram does
        # not overtake one held longer (the receivers would see a replay)
        loop = asyncio.get_running_loop()
        due = max(loop.time() + delay, self.last_due.get(flow, 0.0))
        self.last_due[flow] = due
        if due > loop.time():
            loop.call_at(due, send, data)
        else:
            send(data)

    def datagram_received(self, data, addr):
        up = self.up.get(addr)
        if up is None:
            up = Upstream(self, addr)
            self.up[addr] = up
            asyncio.ensure_future(self.connect(up, data))
            return
        if up.transport is not None:
            self.forward(data, lambda d: up.transport.sendto(d), ("to", addr))

    async def connect(self, up, first):
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: up, remote_addr=(target_host, target_port))
        except OSError as e:
            print("netproxy: udp %s:%d: %s" % (target_host, target_port, e), file=sys.stderr)
            del self.up[up.client]
            return
        self.forward(first, lambda d: up.transport.sendto(d), ("to", up.client))

    def error_received(self, exc):
        pass


async def main():
    if udp:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(Front, local_addr=(listen_host, listen_port))
        if ready:
            open(ready, "w").close()
        await asyncio.Event().wait()
    else:
        server = await asyncio.start_server(handle, listen_host, listen_port)
        if ready:
            open(ready, "w").close()
        async with server:
            await server.serve_forever()

asyncio.run(main())
