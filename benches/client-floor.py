#!/usr/bin/env -S python3 -u
"""The client's own cost in the FETCH 1:* (UID FLAGS) rows of imap-bench.py.

usage: client-floor.py COUNT [COUNT...] [--reps N]

A stand-in server (a child process, so it never shares the client's
interpreter lock) on 127.0.0.1 answers every command at once with COUNT
canned `* n FETCH (UID n FLAGS (\\Seen))` lines over TLS; the client reads
them with the same loop as imap-bench.py's Conn.cmd. No server can answer
the benchmark faster than this on the same machine, so a target below it is
a target for the client, not the server. Prints `floor_COUNT value ms`
(median of --reps)."""
import argparse
import os
import re
import socket
import ssl
import statistics
import subprocess
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("counts", type=int, nargs="+")
ap.add_argument("--reps", type=int, default=5)
a = ap.parse_args()

tmp = tempfile.mkdtemp(prefix="client-floor.")
cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
subprocess.run(
    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
     "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert],
    check=True, capture_output=True)


def serve(listener, body):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    conn = ctx.wrap_socket(listener.accept()[0], server_side=True)
    f = conn.makefile("rwb", buffering=1 << 20)
    f.write(b"* OK floor\r\n")
    f.flush()
    while True:
        line = f.readline()
        if not line:
            return
        f.write(body + line.split()[0] + b" OK done\r\n")
        f.flush()


for count in a.counts:
    body = b"".join(b"* %d FETCH (UID %d FLAGS (\\Seen))\r\n" % (i, i) for i in range(1, count + 1))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    child = os.fork()
    if child == 0:
        try:
            serve(listener, body)
        finally:
            os._exit(0)
    listener.close()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    f = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 30)).makefile("rwb", buffering=1 << 20)
    f.readline()
    n = 0

    # The loop of imap-bench.py's Conn.cmd.
    def cmd():
        global n
        n += 1
        tag = b"b%d" % n
        f.write(tag + b" FETCH 1:* (UID FLAGS)\r\n")
        f.flush()
        total = 0
        while True:
            line = f.readline()
            if not line:
                raise SystemExit("stand-in server closed")
            total += len(line)
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if m:
                f.read(int(m.group(1)))
                continue
            if line.startswith(tag + b" "):
                return total

    times = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        cmd()
        times.append((time.perf_counter() - t0) * 1000)
    f.close()
    os.waitpid(child, 0)
    print("floor_%d %.1f ms" % (count, statistics.median(times)))
