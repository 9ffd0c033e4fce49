#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# repl-lag.py - replication lag: delivers N messages at RATE/s through the
# source's mount (tmp/, fsync, rename to new/) and times, with inotify on
# the replica's store, when each appears there. Prints one JSON object:
# p50/p99/max lag in ms, the rate reached, raw bytes delivered.
import ctypes, json, os, random, select, struct, sys, threading, time

src_dir, dst_dir, n, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
small = len(sys.argv) > 6 and sys.argv[6] == "small"    # 4 KiB messages only

libc = ctypes.CDLL("libc.so.6", use_errno=True)
IN_MOVED_TO, IN_CREATE = 0x80, 0x100

WORDS = ("the of and to in is you that it he was for on are as with his they at be this "
         "from have or by one had not but what all were when we there can an your which "
         "their said if do will each about how up out them then she many some so these "
         "meeting report invoice attached please regards thanks project schedule budget").split()


def message(rnd, i):
    """A realistic mail: headers, text, and sometimes a base64 attachment."""
    r = rnd.random()
    size = 4096 if r < 0.6 or small else 40960 if r < 0.9 else 409600
    head = ("Return-Path: <sender%d@example.net>\nDelivered-To: alice@example.org\n"
            "Received: from mx.example.net (mx.example.net [192.0.2.%d])\n\tby mx1.example.org "
            "with ESMTPS id %08X\n\tfor <alice@example.org>; Tue, 24 Nov 2026 12:00:%02d +0000\n"
            "From: Sender %d <sender%d@example.net>\nTo: Alice <alice@example.org>\n"
            "Subject: %s\nMessage-ID: <%d.%d@example.net>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n\n") % (
                i % 50, i % 250, i, i % 60, i % 50, i % 50,
                " ".join(rnd.choice(WORDS) for _ in range(6)), i, seed)
    body = []
    while len(head) + sum(len(x) + 1 for x in body) < size * (0.3 if size > 100000 else 1):
        body.append(" ".join(rnd.choice(WORDS) for _ in range(12)))
    text = (head + "\n".join(body) + "\n").encode()
    if size > 100000:   # an attachment: compressed data, base64
        import base64
        raw = os.urandom(int((size - len(text)) * 3 / 4))
        text += b"\n--attachment--\n" + base64.encodebytes(raw)
    return text[:max(size, len(text))]


def watcher(path, seen, done):
    fd = libc.inotify_init1(os.O_NONBLOCK)
    if fd < 0 or libc.inotify_add_watch(fd, path.encode(), IN_MOVED_TO | IN_CREATE) < 0:
        sys.exit("inotify on %s failed" % path)
    while not done.is_set() or len(seen) < n:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            if done.is_set() and time.time() > done.deadline:
                break
            continue
        t = time.time()
        buf = os.read(fd, 65536)
        off = 0
        while off < len(buf):
            _, mask, _, ln = struct.unpack_from("iIII", buf, off)
            name = buf[off + 16:off + 16 + ln].rstrip(b"\0").decode()
            off += 16 + ln
            if not name.startswith("."):
                seen.setdefault(name, t)
    os.close(fd)


def main():
    rnd = random.Random(seed)
    os.makedirs(dst_dir, exist_ok=True)
    seen, sent = {}, {}
    done = threading.Event()
    done.deadline = 0
    w = threading.Thread(target=watcher, args=(dst_dir, seen, done))
    w.start()
    # generated beforehand: the timed loop only writes and renames
    msgs = [message(rnd, i) for i in range(n)]
    time.sleep(0.2)
    start = time.time()
    raw = 0
    for i in range(n):
        due = start + i / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        data = msgs[i]
        name = "%d.M%dP%d.bench,S=%d" % (1700000000 + i, i, seed, len(data))
        tmp = os.path.join(src_dir, "..", "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(src_dir, name))
        sent[name] = time.time()
        raw += len(data)
    elapsed = time.time() - start
    done.deadline = time.time() + 30
    done.set()
    w.join()
    lags = sorted((seen[k] - t) * 1000 for k, t in sent.items() if k in seen)
    missing = len(sent) - len(lags)
    pct = lambda p: lags[min(len(lags) - 1, int(p / 100 * len(lags)))] if lags else None
    print(json.dumps({"messages": n, "rate": round(n / elapsed, 1), "missing": missing,
                      "p50_ms": round(pct(50), 2), "p99_ms": round(pct(99), 2),
                      "max_ms": round(lags[-1], 2), "raw_bytes": raw}))
    return 1 if missing else 0


sys.exit(main())
