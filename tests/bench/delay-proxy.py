#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# delay-proxy.py LISTEN_PORT TARGET_PORT DELAY_MS - a TCP proxy on loopback
# that holds every chunk DELAY_MS before passing it on, in each direction
# (this kernel has no netem). 25 ms each way makes a 50 ms round trip.
import asyncio, sys, time

listen_port, target_port, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000


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
            q.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    q.put_nowait((0, None))
    await task


async def handle(cr, cw):
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
