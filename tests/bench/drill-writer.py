#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# drill-writer.py - delivers into one account through every store's mount at
# once, as an MTA that retries elsewhere would: one process per store, each
# writing tmp/ then renaming into new/ (Maildir delivery), every DELAY_MS
# after a refusal. A store whose mount is frozen only blocks its own
# process. Every delivery that succeeded is logged to stdout as
#   <unix time ns> <store> <message name>
# (flushed at once), every refusal as "<ns> <store> - <errno name>" once per
# change. SIGTERM ends all of it.
#   drill-writer.py ACCOUNT_DIR_BELOW_MOUNT STORE=MOUNT... [--delay-ms 20]
import errno
import multiprocessing as mp
import os
import signal
import sys
import time


def worker(store, maildir, delay, queue, seq):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    last_err = None
    host = "drill%d" % os.getpid()
    while True:
        with seq.get_lock():
            seq.value += 1
            n = seq.value
        name = "%d.M%dP%d.%s" % (time.time(), n, os.getpid(), host)
        tmp = os.path.join(maildir, "tmp", name)
        new = os.path.join(maildir, "new", name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, b"From: drill@example.net\nSubject: drill %d\n\nmessage %d\n" % (n, n))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, new)
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            err = errno.errorcode.get(e.errno, str(e.errno))
            if err != last_err:
                queue.put("%d %s - %s" % (time.time_ns(), store, err))
                last_err = err
            time.sleep(delay)
            continue
        last_err = None
        queue.put("%d %s %s" % (time.time_ns(), store, name))


def main():
    args = sys.argv[1:]
    delay = 0.02
    if "--delay-ms" in args:
        i = args.index("--delay-ms")
        delay = int(args[i + 1]) / 1000.0
        del args[i:i + 2]
    if len(args) < 2:
        print(__doc__ if __doc__ else "usage: drill-writer.py ACCOUNT STORE=MOUNT...",
              file=sys.stderr)
        sys.exit(2)
    account, stores = args[0], args[1:]
    queue = mp.Queue()
    seq = mp.Value("L", 0)
    procs = []
    for spec in stores:
        store, mount = spec.split("=", 1)
        maildir = os.path.join(mount, account, "Maildir")
        p = mp.Process(target=worker, args=(store, maildir, delay, queue, seq), daemon=True)
        p.start()
        procs.append(p)

    def stop(signum, frame):
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        line = queue.get()
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
