#!/usr/bin/env bash
# APPEND one command at a time, side by side with Dovecot (issue 12): one
# client over TLS (implicit, 127.0.0.1) appends N messages of SIZE bytes,
# one APPEND (LITERAL+) at a time, each waiting for its OK, to a fresh
# mailbox of each server; then M messages in one MULTIAPPEND. Before that
# it measures what bounds a durable APPEND on this disk: fdatasync of a
# new 17 KB file, fsync of its directory, and an 83-byte log append with
# fdatasync (the three syncs of an APPEND; crymap-like overlaps the first
# two). Figures go to
# doc/benchmarks.md. Needs root (Dovecot, the session's chroot) and the
# dovecot-imapd and openssl packages.
#
#   benches/append-bench.sh [--count N] [--size SIZE] [--multi M] [--reps R]
#
# crymap-like: a release build, `listen` with one account at the
# production Argon2id parameters (19 MiB, t=2, p=1), sessions chrooted and
# running as `nobody`, an ECDSA P-256 certificate as `demo` makes.
# Dovecot: Debian's package, started here from a temporary configuration
# (imaps only, passwd-file passdb, static userdb as nobody, Maildir
# under the temporary directory, default mail_fsync = optimized).
set -euo pipefail
cd "$(dirname "$0")/.."
count=500 size=17000 multi=1000 reps=2
while [ $# -gt 0 ]; do
    case "$1" in
        --count) count=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --multi) multi=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        *) echo "usage: $0 [--count N] [--size SIZE] [--multi M] [--reps R]" >&2; exit 64 ;;
    esac
done
[ "$count" -ge 1 ] && [ "$count" -le 100000 ] || { echo "--count: 1 to 100000" >&2; exit 64; }
[ "$size" -ge 100 ] && [ "$size" -le 10000000 ] || { echo "--size: 100 to 10000000" >&2; exit 64; }
[ "$multi" -ge 1 ] && [ "$multi" -le 100000 ] || { echo "--multi: 1 to 100000" >&2; exit 64; }
[ "$(id -u)" = 0 ] || { echo "needs root (Dovecot, chroot)" >&2; exit 77; }
[ -x /usr/lib/dovecot/imap-login ] || { echo "needs dovecot-imapd" >&2; exit 77; }

cargo build --release --quiet
bin=$PWD/target/release/crymap-like
. benches/lib.sh
bench_workdir crymap-like-append-bench
c_imaps=$(bench_free_port) c_imap=$(bench_free_port) d_imaps=$(bench_free_port)
password=bench-password-$$
bench_crymap_listen "$bin" "$c_imaps" "$c_imap" "$password"
dovecot_bench_imaps append "$d_imaps" "bench:{PLAIN}$password"

echo "# crymap-like $(git describe --always --dirty 2>/dev/null || echo unknown), dovecot $(dovecot --version | cut -d' ' -f1), $count x $size B, MULTIAPPEND $multi, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
# What one durable APPEND must wait for on this disk, measured in the
# temporary directory (the file system both servers write to).
python3 - "$work/synctest" <<'PY'
import os, statistics, sys, time
d = sys.argv[1]; os.makedirs(d + "/msg"); os.makedirs(d + "/tmp")
data = os.urandom(17000)
log = os.open(d + "/log", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
dfd = os.open(d + "/msg", os.O_RDONLY)
f_t, d_t, l_t = [], [], []
for i in range(200):
    t0 = time.perf_counter()
    fd = os.open(d + "/tmp/%d" % i, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data); os.fsync(fd); os.close(fd)
    os.rename(d + "/tmp/%d" % i, d + "/msg/%d" % i)
    t1 = time.perf_counter(); os.fsync(dfd)
    t2 = time.perf_counter(); os.write(log, b"x" * 83); os.fdatasync(log)
    t3 = time.perf_counter()
    f_t.append(t1 - t0); d_t.append(t2 - t1); l_t.append(t3 - t2)
med = lambda v: statistics.median(v) * 1000
total = med([a + b + c for a, b, c in zip(f_t, d_t, l_t)])
print("disk: new 17 KB file fsync %.3f ms, directory fsync %.3f ms, 83 B log fdatasync %.3f ms (medians of 200); "
      "the three in a row %.3f ms = at most %.0f durable APPENDs/s"
      % (med(f_t), med(d_t), med(l_t), total, 1000 / total))
# crymap-like runs the file's and the directory's fsync side by side since
# issue 12 (doc/store.md, "An APPEND's sync order"): two rounds, not three.
two = max(med(f_t), med(d_t)) + med(l_t)
print("      file and directory side by side, then the log: %.3f ms = at most %.0f durable APPENDs/s"
      % (two, 1000 / two))
PY
for r in $(seq "$reps"); do
    for target in "crymap-like:$c_imaps" "dovecot:$d_imaps"; do
        IFS=: read -r name p <<<"$target"
        python3 - "$name" "$p" bench "$password" "$count" "$size" "$multi" "$r" <<'PY'
import socket, ssl, sys, time
name, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
count, size, multi, rep = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 30))
f = s.makefile("rwb", buffering=1 << 20)
f.readline()
n = 0
def cmd(text, literals=()):
    global n
    n += 1
    tag = b"b%d" % n
    out = tag + b" " + text.encode()
    for lit in literals:
        out += b" {%d+}\r\n" % len(lit) + lit
    f.write(out + b"\r\n"); f.flush()
    while True:
        line = f.readline()
        if not line:
            raise SystemExit("%s: connection closed" % name)
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"):
                raise SystemExit("%s: %r" % (name, line[:120]))
            return
def message(i, body):
    head = ("From: a@example.org\r\nTo: b@example.org\r\nSubject: message %d\r\n"
            "Message-ID: <%d.%s@example.org>\r\n\r\n" % (i, i, rep)).encode()
    line = b"x" * 70 + b"\r\n"
    return head + line * max(1, (body - len(head)) // len(line))
cmd('LOGIN "%s" "%s"' % (user, password))
box = "append-%s-%d" % (rep, int(time.time()))
cmd('CREATE "%s"' % box)
msgs = [message(i, size) for i in range(count)]
t = time.perf_counter()
for m in msgs:
    cmd('APPEND "%s" (\\Seen)' % box, [m])
one = count / (time.perf_counter() - t)
tiny = [message(i, 300) for i in range(multi)]
cmd('CREATE "%s-multi"' % box)
t = time.perf_counter()
cmd('APPEND "%s-multi"' % box, tiny)
many = multi / (time.perf_counter() - t)
cmd("LOGOUT")
print("rep %s %-12s APPEND one at a time %6.0f msgs/s   MULTIAPPEND %6.0f msgs/s" % (rep, name, one, many))
PY
    done
done
