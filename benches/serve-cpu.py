#!/usr/bin/env python3
"""CPU time of single `serve imaps` connections, one after another (issue 12).

Each connection is a loopback TCP socket handed to a fresh
`BIN --root ROOT serve imaps` as stdin/stdout (as `listen` hands it); the
client (Python's ssl) reads the greeting, optionally logs in and selects
INBOX, and logs out. The server's user + system time and minor faults
come from wait4(), so nothing else on the machine is counted; on a shared
machine compare builds in alternating blocks and read the medians.

    benches/serve-cpu.py --port P --root ROOT --password PW [--login] [-n N] BIN...

ROOT is a `demo` root (user `demo`); run as the owner of its files.
"""
import argparse
import os
import socket
import ssl
import statistics
import subprocess
import sys


def one(ls, port, ctx, cmd, login, password):
    c = socket.create_connection(("127.0.0.1", port))
    s, _ = ls.accept()
    p = subprocess.Popen(cmd, stdin=s.fileno(), stdout=s.fileno(), stderr=subprocess.DEVNULL)
    s.close()
    f = ctx.wrap_socket(c).makefile("rwb")

    def run(tag, text):
        f.write(tag + b" " + text + b"\r\n")
        f.flush()
        while True:
            line = f.readline()
            if not line:
                sys.exit("the server closed the connection")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    sys.exit("refused: %r" % line)
                return

    f.readline()
    if login:
        run(b"a", b'LOGIN demo "' + password.encode() + b'"')
        run(b"b", b"SELECT INBOX")
    run(b"c", b"LOGOUT")
    f.close()
    c.close()
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit("serve exited with status %d" % status)
    return (ru.ru_utime + ru.ru_stime) * 1000, ru.ru_minflt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--login", action="store_true")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("bins", nargs="+")
    a = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(1)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    results = {b: [] for b in a.bins}
    faults = {b: [] for b in a.bins}
    for _ in range(a.blocks):
        for b in a.bins:
            cmd = [b, "--root", a.root, "serve", "imaps"]
            for _ in range(a.n):
                cpu, flt = one(ls, a.port, ctx, cmd, a.login, a.password)
                results[b].append(cpu)
                faults[b].append(flt)
    for b in a.bins:
        r = sorted(results[b])
        print("%-50s %s: %d connections, CPU median %.2f ms, p25 %.2f, mean %.2f; minor faults %d"
              % (b, "login" if a.login else "no login", len(r), statistics.median(r),
                 r[len(r) // 4], statistics.mean(r), statistics.median(faults[b])))


main()
