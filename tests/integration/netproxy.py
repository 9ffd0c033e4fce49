#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# netproxy.py LISTEN_PORT TARGET_PORT [--delay MS] [--blackhole FILE] - a
# TCP proxy on loopback for tests and benchmarks (this kernel has no netem):
# holds every chunk MS milliseconds in each direction (25 makes a 50 ms
# round trip), and while FILE exists forwards nothing at all, in either
# direction, on old and new connections alike (a cut link, not a closed one).
import asyncio, os, sys, time

args = sys.argv[1:]
listen_port, target_port = int(args[0]), int(args[1])
delay = float(args[args.index("--delay") + 1]) / 1000 if "--delay" in args else 0.0
hole = args[args.index("--blackhole") + 1] if "--blackhole" in args else None


def cut():
    return hole is not None and os.path.exists(hole)


async def pump(reader, writer):
    q = asyncio.Queue()

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
                q.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    q.put_nowait((0, None))
    await task


async def handle(cr, cw):
    while cut():        # a cut link: the connection opens, nothing passes
        await asyncio.sleep(0.05)
    try:
        tr, tw = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pump(cr, tw), pump(tr, cw), return_exceptions=True)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()

asyncio.run(main())
