#!/usr/bin/env -S python3 -u
"""SORT / THREAD / PARTIAL / PREVIEW timings (issue 8), against any server
on loopback.

usage: sort-bench.py HOST PORT USER PASS (--corpus FILE | --synthetic N)
                     [--tls] [--reps N] [--name NAME]
                     [--also NAME=HOST:PORT:USER:PASS ...]

--corpus: an mbox made by ../shared/bench/gen-corpus.py (APPENDed with
MULTIAPPEND in batches of 200); --synthetic N: N small messages with
Message-ID, References chains (a tenth of them with a missing parent),
subjects with Re:/Fwd: and dates out of order.
With --also, every server gets the same mailbox and each figure is
measured on them in turn, rep by rep, so the machine's load falls on all
alike. Prints one line per figure, one value per server (median of
--reps): name values unit; the `*_first*` figures are single runs: the
first SORT after APPENDing in the same session, and the first in a new
session after SELECT. benches/sort-compare.sh runs it against
crymap-like and Dovecot."""
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
ap.add_argument("--also", action="append", default=[],
                help="another server, NAME=HOST:PORT:USER:PASS, measured in turn "
                     "with the first (each figure alternates between them)")
ap.add_argument("--name", default="server")
a = ap.parse_args()
servers = [(a.name, a.host, a.port, a.user, a.password)]
for spec in a.also:
    name, rest = spec.split("=", 1)
    host, port, user, password = rest.split(":", 3)
    servers.append((name, host, int(port), user, password))


class Conn:
    def __init__(self, host, port):
        s = socket.create_connection((host, port), 600)
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


def timed(f):
    t0 = time.perf_counter()
    f()
    return (time.perf_counter() - t0) * 1000


def line(name, values, unit="ms"):
    print(name + "".join(" %.1f" % v for v in values) + " " + unit)


def login(srv):
    c = Conn(srv[1], srv[2])
    c.cmd('LOGIN "%s" "%s"' % (srv[3], srv[4]))
    return c


print("servers " + " ".join(s[0] for s in servers))
box = "sortbench%d" % int(time.time())
msgs = corpus(a.corpus) if a.corpus else synthetic(a.synthetic)
print("messages %d" % len(msgs))
conns = [login(s) for s in servers]
rates = []
for c in conns:
    c.cmd('CREATE "%s"' % box)
    t0 = time.perf_counter()
    for i in range(0, len(msgs), 200):
        batch = msgs[i:i + 200]
        c.cmd('APPEND "%s"' % box + " \x00" * len(batch), batch)
    rates.append(len(msgs) / (time.perf_counter() - t0))
line("append", rates, "msgs/s")
for c in conns:
    c.cmd('SELECT "%s"' % box)
# The first SORT in the session that appended: crymap-like reads every
# message's sealed summary (and writes the sort-key file).
line("sort_date_first", [timed(lambda: c.cmd("SORT (DATE) UTF-8 ALL")) for c in conns])
for name, command in [
    ("sort_date", "SORT (DATE) UTF-8 ALL"),
    ("sort_subject", "SORT (SUBJECT) UTF-8 ALL"),
    ("thread_references", "THREAD REFERENCES UTF-8 ALL"),
    ("thread_refs", "THREAD REFS UTF-8 ALL"),
    ("esearch_partial", "SEARCH RETURN (PARTIAL 1:50) ALL"),
    ("fetch_preview", "FETCH 1:50 (PREVIEW)"),
]:
    # Alternate between the servers rep by rep, so a change in the
    # machine's load falls on all of them.
    times = [[] for _ in conns]
    for _ in range(a.reps):
        for i, c in enumerate(conns):
            times[i].append(timed(lambda: c.cmd(command)))
    line(name, [statistics.median(t) for t in times])
for c in conns:
    c.cmd("LOGOUT")

# New sessions: what a client reconnecting to a large mailbox waits for.
# Dovecot answers from its index cache; crymap-like reads the sort keys
# from the mailbox's sealed sort-key file.
conns = [login(s) for s in servers]
line("select_fresh", [timed(lambda: c.cmd('SELECT "%s"' % box)) for c in conns])
line("sort_date_first_fresh", [timed(lambda: c.cmd("SORT (DATE) UTF-8 ALL")) for c in conns])
line("thread_references_after_sort",
     [timed(lambda: c.cmd("THREAD REFERENCES UTF-8 ALL")) for c in conns])
for c in conns:
    c.cmd("LOGOUT")
