#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# gen-maildir.py - the Maildir the replication benchmarks start from: N
# messages in the cur/ of INBOX and 3 folders (a third of them in the
# folders), every other one \Seen, seeded so every run makes the same tree.
#   gen-maildir.py ROOT N [--small] [--fast] [--deliver] [--every K CMD]
# Sizes are 60% 4 KiB, 30% 40 KiB, 10% 400 KiB (a third text, the rest a
# base64 attachment), or 4 KiB only with --small. Bodies are random words;
# --fast repeats one line instead (quick to make, compresses far better:
# for benchmarks that time changes, not the copy of what exists).
# --deliver writes each message to tmp/ and renames it into cur/, as a
# delivery agent does: through a mailmesh mount, a journaled delivery.
# --every K CMD runs the shell command CMD after every K messages (such as
# `mailmeshctl invalidate` of the folders, so that the mount's daemon lets
# go of the files it delivered: it holds an fd per inode the kernel knows).
import base64, os, random, subprocess, sys

argv = sys.argv[1:]
every, hook = 0, None
if "--every" in argv:
    i = argv.index("--every")
    if len(argv) < i + 3:
        sys.exit("gen-maildir.py: --every wants K and CMD")
    every, hook = int(argv[i + 1]), argv[i + 2]
    del argv[i:i + 3]
args = [a for a in argv if not a.startswith("--")]
if len(args) != 2:
    sys.exit("usage: gen-maildir.py ROOT N [--small] [--fast] [--deliver] [--every K CMD]")
root, n = args[0], int(args[1])
small, fast = "--small" in argv, "--fast" in argv
deliver = "--deliver" in argv
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
    path = os.path.join(root, f, "tmp", name.split(":")[0]) if deliver else \
        os.path.join(root, f, "cur", name)
    with open(path, "wb") as fh:
        fh.write(data)
    if deliver:
        os.rename(path, os.path.join(root, f, "cur", name))
    if every and (i + 1) % every == 0:
        subprocess.run(hook, shell=True, check=True)
