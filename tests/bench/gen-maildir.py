#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# gen-maildir.py - the Maildir the replication benchmarks start from: N
# messages in the cur/ of INBOX and 3 folders (a third of them in the
# folders), every other one \Seen, seeded so every run makes the same tree.
#   gen-maildir.py ROOT N [--small] [--fast]
# Sizes are 60% 4 KiB, 30% 40 KiB, 10% 400 KiB (a third text, the rest a
# base64 attachment), or 4 KiB only with --small. Bodies are random words;
# --fast repeats one line instead (quick to make, compresses far better:
# for benchmarks that time changes, not the copy of what exists).
import base64, os, random, sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
if len(args) != 2:
    sys.exit("usage: gen-maildir.py ROOT N [--small] [--fast]")
root, n = args[0], int(args[1])
small, fast = "--small" in sys.argv, "--fast" in sys.argv
rnd = random.Random(1)
words = ("the of and to in is you that it for on are as with they at be this from have "
         "or by one had not but what all were when we there can an your which their said "
         "meeting report invoice attached please regards thanks project schedule").split()
folders = ["", ".Sent", ".Archive", ".Lists"]
for f in folders:
    for s in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, f, s), exist_ok=True)
line = " ".join(rnd.choice(words) for _ in range(12)) + "\n" if fast else None
for i in range(n):
    r = rnd.random()
    size = 4096 if small or r < 0.6 else 40960 if r < 0.9 else 409600
    head = "Subject: message %d\nFrom: someone%d@example.net\n\n" % (i, i % 97)
    if fast:
        data = (head + line * ((size - len(head)) // len(line) + 1))[:size].encode()
    else:
        body = []
        while len(head) + sum(len(b) + 1 for b in body) < size * (0.3 if size > 100000 else 1):
            body.append(" ".join(rnd.choice(words) for _ in range(12)))
        data = (head + "\n".join(body) + "\n").encode()
        if size > 100000:
            data += base64.encodebytes(os.urandom(int((size - len(data)) * 3 / 4)))
    f = folders[i % 4] if i % 3 == 0 else ""
    name = "1500000000.M%dP1.gen,S=%d:2,%s" % (i, len(data), "S" if i % 2 else "")
    with open(os.path.join(root, f, "cur", name), "wb") as fh:
        fh.write(data)
