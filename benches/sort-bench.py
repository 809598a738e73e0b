#!/usr/bin/env -S python3 -u
"""SORT / THREAD / PARTIAL / PREVIEW timings (issue 8), against any server
on loopback.

usage: sort-bench.py HOST PORT USER PASS (--corpus FILE | --synthetic N)
                     [--tls] [--reps N]

--corpus: an mbox made by ../shared/bench/gen-corpus.py (APPENDed with
MULTIAPPEND in batches of 200); --synthetic N: N small messages with
Message-ID, References chains (a tenth of them with a missing parent),
subjects with Re:/Fwd: and dates out of order.
Prints one line per figure (median of --reps): name value unit; the
`*_first*` figures are single runs: the first SORT after APPENDing in the
same session, and the first in a new session after SELECT.
benches/sort-compare.sh runs it against crymap-like and Dovecot."""
import argparse
import random
import re
import socket
import ssl
import statistics
import time

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("port", type=int)
ap.add_argument("user")
ap.add_argument("password")
ap.add_argument("--tls", action="store_true")
ap.add_argument("--corpus")
ap.add_argument("--synthetic", type=int, default=0)
ap.add_argument("--reps", type=int, default=5)
a = ap.parse_args()


class Conn:
    def __init__(self):
        s = socket.create_connection((a.host, a.port), 600)
        if a.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        self.f = s.makefile("rwb", buffering=1 << 20)
        self.n = 0
        self.f.readline()

    def cmd(self, text, literals=()):
        self.n += 1
        tag = b"s%d" % self.n
        parts = text.encode().split(b"\x00")
        out = tag + b" " + parts[0]
        for lit, rest in zip(literals, parts[1:]):
            out += b"{%d+}\r\n" % len(lit) + lit + rest
        self.f.write(out + b"\r\n")
        self.f.flush()
        total = 0
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit("connection closed during: " + text[:60])
            total += len(line)
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if m:
                n = int(m.group(1))
                self.f.read(n)
                total += n
                continue
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise SystemExit("%s failed: %r" % (text[:60], line[:200]))
                return total


def corpus(path):
    data = open(path, "rb").read()
    msgs = re.split(rb"(?:^|\r\n)From corpus@example\.com [^\r\n]*\r\n", data)
    return [re.sub(rb"(?m)^>(>*From )", rb"\1", m).rstrip(b"\r\n") + b"\r\n"
            for m in msgs if m.strip()]


def synthetic(n):
    rng = random.Random(8)
    out = []
    for i in range(n):
        refs = ""
        subj = "topic %d" % (i // 7)
        if i % 7:
            parent = i - 1 if rng.random() < 0.9 else -i
            refs = "References: <m%d@x>\r\n" % parent
            subj = rng.choice(["Re: ", "RE: Fwd: ", "Re: [list] "]) + subj
        when = time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                             time.gmtime(1_600_000_000 + rng.randint(0, 10**7)))
        out.append(("From: u%d@example.org\r\nTo: list@example.org\r\nSubject: %s\r\n"
                    "Date: %s\r\nMessage-ID: <m%d@x>\r\n%s\r\nBody of message %d, "
                    "with a few words of text.\r\n" % (i % 97, subj, when, i, refs, i)).encode())
    return out


def median_ms(f):
    ts = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts)


c = Conn()
c.cmd('LOGIN "%s" "%s"' % (a.user, a.password))
box = "sortbench%d" % int(time.time())
c.cmd('CREATE "%s"' % box)
msgs = corpus(a.corpus) if a.corpus else synthetic(a.synthetic)
t0 = time.perf_counter()
for i in range(0, len(msgs), 200):
    batch = msgs[i:i + 200]
    c.cmd('APPEND "%s"' % box + " \x00" * len(batch), batch)
print("messages %d" % len(msgs))
print("append %.0f msgs/s" % (len(msgs) / (time.perf_counter() - t0)))
c.cmd('SELECT "%s"' % box)
# The first command reads every message's sealed summary (decrypting
# them); later ones find them in the session's summary cache.
t0 = time.perf_counter()
c.cmd("SORT (DATE) UTF-8 ALL")
print("sort_date_first %.1f ms" % ((time.perf_counter() - t0) * 1000))
for name, command in [
    ("sort_date", "SORT (DATE) UTF-8 ALL"),
    ("sort_subject", "SORT (SUBJECT) UTF-8 ALL"),
    ("thread_references", "THREAD REFERENCES UTF-8 ALL"),
    ("thread_refs", "THREAD REFS UTF-8 ALL"),
    ("esearch_partial", "SEARCH RETURN (PARTIAL 1:50) ALL"),
    ("fetch_preview", "FETCH 1:50 (PREVIEW)"),
]:
    print("%s %.1f ms" % (name, median_ms(lambda: c.cmd(command))))
c.cmd("LOGOUT")

# A new session: what a client reconnecting to a large mailbox waits for.
# Dovecot answers from its index cache; crymap-like unseals the sort keys.
c = Conn()
c.cmd('LOGIN "%s" "%s"' % (a.user, a.password))
t0 = time.perf_counter()
c.cmd('SELECT "%s"' % box)
print("select_fresh %.1f ms" % ((time.perf_counter() - t0) * 1000))
t0 = time.perf_counter()
c.cmd("SORT (DATE) UTF-8 ALL")
print("sort_date_first_fresh %.1f ms" % ((time.perf_counter() - t0) * 1000))
t0 = time.perf_counter()
c.cmd("THREAD REFERENCES UTF-8 ALL")
print("thread_references_after_sort %.1f ms" % ((time.perf_counter() - t0) * 1000))
c.cmd("LOGOUT")
