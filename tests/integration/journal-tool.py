#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# journal-tool.py - test-only access to raw journal segments: dump every
# record with its status, or damage the tail the way a power cut would.
# Knows the format from lib/journal.c (kept in step by the crash test).
import json, os, struct, sys

HDR, SEG_HDR, MAGIC = 24, 32, 0x524a4d4d

def segments(state):
    d = os.path.join(state, "journal")
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".mmj")]

def records(path):
    data = open(path, "rb").read()
    off = SEG_HDR
    while off + HDR <= len(data):
        magic, length = struct.unpack_from("<II", data, off)
        if magic != MAGIC or length < HDR + 64 or off + length > len(data):
            break
        version, status, op = data[off + 8], chr(data[off + 9]), data[off + 10]
        lsn, time_ns = struct.unpack_from("<QQ", data, off + HDR)
        # version 2 has the epoch after the content hash; 1 has none
        epoch = struct.unpack_from("<Q", data, off + HDR + 64)[0] if version >= 2 else 0
        p = off + HDR + (72 if version >= 2 else 64)
        strs = []
        for _ in range(5):
            n = struct.unpack_from("<H", data, p)[0]
            strs.append(data[p + 2:p + 2 + n].decode("utf-8", "surrogateescape"))
            p += 3 + n
        yield dict(path=path, off=off, len=length, lsn=lsn, status=status, op=op,
                   version=version, time_ns=time_ns, epoch=epoch,
                   account=strs[0], folder=strs[1], name=strs[2],
                   new_folder=strs[3], new_name=strs[4])
        off += length

OPS = {1: "deliver", 2: "move", 3: "flags", 4: "expunge", 5: "copy",
       6: "folder_create", 7: "folder_rename", 8: "folder_delete", 9: "meta"}

def main():
    cmd, state = sys.argv[1], sys.argv[2]
    recs = [r for s in segments(state) for r in records(s)]
    if cmd == "dump":
        for r in recs:
            r["op"] = OPS.get(r["op"], "?")
            print(json.dumps(r))
    elif cmd == "powercut":
        # keep records up to LSN keep, tear the next one in half, and
        # forget the status of the last n kept records (set back to 'P')
        keep, n = int(sys.argv[3]), int(sys.argv[4])
        kept = [r for r in recs if r["lsn"] <= keep]
        cut = [r for r in recs if r["lsn"] > keep]
        if cut:
            first = cut[0]
            with open(first["path"], "r+b") as f:
                f.truncate(first["off"] + first["len"] // 2)
            for r in cut[1:]:
                if r["path"] != first["path"]:
                    os.truncate(r["path"], SEG_HDR)
        for r in kept[-n:]:
            with open(r["path"], "r+b") as f:
                f.seek(r["off"] + 9)
                f.write(b"P")
        print(len(cut))
    else:
        sys.exit("usage: journal-tool.py dump|powercut STATE [KEEP N]")

main()
