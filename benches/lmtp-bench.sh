#!/usr/bin/env bash
# LMTP throughput: messages per second over ONE LMTP connection with
# PIPELINING, 10 recipients per message, 20 KB messages, for a release
# build of crymap-like (`listen` on a UNIX socket, so the session is a
# `serve lmtp` child as in production) and, in the same run, for Debian's
# Dovecot LMTP (packages dovecot-core and dovecot-lmtpd) started from a
# temporary configuration this script writes under /tmp. Both write as
# uid 65534 (nobody) into maildir / the encrypted spool on the same file
# system. Figures go to doc/benchmarks.md.
#
#   benches/lmtp-bench.sh [--messages N] [--reps N]     (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
messages=300 reps=3
while [ $# -gt 0 ]; do
    case "$1" in
        --messages) messages=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        *) echo "usage: $0 [--messages N] [--reps N]" >&2; exit 64 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (both servers drop to nobody per recipient)" >&2; exit 77; }

cargo build --release --quiet
bin=$PWD/target/release/crymap-like
bench_workdir crymap-like-lmtp-bench

# crymap-like: ten accounts owned by nobody, `listen` on a UNIX socket.
mkdir -p "$work/crymap"
cat >"$work/crymap/crymap-like.toml" <<CONF
[kdf]
memory_kib = 64
passes = 1
lanes = 1
allow_weak = true

[listen]
imaps = []
imap = []
lmtp = ["$work/crymap/lmtp.sock"]
CONF
for i in $(seq 0 9); do
    echo pw | "$bin" --root "$work/crymap" user add "u$i" --uid nobody --password-stdin >/dev/null
done
"$bin" --root "$work/crymap" --log stderr listen 2>"$work/crymap/listen.log" &
bench_pids+=($!)
bench_wait_file "$work/crymap/lmtp.sock" "crymap-like listen" "$work/crymap/listen.log"

# Dovecot: LMTP only, static userdb, maildir homes owned by nobody.
have_dovecot=false
if command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/lmtp ]; then
    have_dovecot=true
    d=$work/dovecot
    mkdir -p "$d/home"
    chown nobody "$d/home"
    dovecot_conf_head "$d" lmtp >"$d/dovecot.conf"
    cat >>"$d/dovecot.conf" <<CONF
protocols = lmtp
ssl = no
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$d/home/%n
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
CONF
    dovecot_start "$d/dovecot.conf"
    bench_wait_file "$d/run/lmtp" "dovecot lmtp" "$d/dovecot.log"
fi

cat >"$work/client.py" <<'PY'
import socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
rcpts = [f"u{i}@bench.example" for i in range(10)]
line = b"x" * 76 + b"\r\n"
body = b"From: bench@example.org\r\nSubject: bench\r\n\r\n" + line * (20000 // len(line))
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(path); break
    except OSError:
        time.sleep(0.05)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if not l: raise SystemExit("connection closed")
        if l[3:4] != b"-": return l
assert reply().startswith(b"220")
s.sendall(b"LHLO bench\r\n"); assert reply().startswith(b"250")
start = time.monotonic()
for _ in range(n):
    s.sendall(b"MAIL FROM:<bench@example.org>\r\n" + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
    for _ in range(11): assert reply().startswith(b"250")
    assert reply().startswith(b"354")
    s.sendall(body + b".\r\n")
    for _ in range(10):
        r = reply(); assert r.startswith(b"250"), r
elapsed = time.monotonic() - start
s.sendall(b"QUIT\r\n"); reply()
print(f"{n / elapsed:.1f}")
PY

echo "machine: $(nproc) CPU, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
for r in $(seq 1 "$reps"); do
    c=$(python3 "$work/client.py" "$work/crymap/lmtp.sock" "$messages")
    if $have_dovecot; then
        dv=$(python3 "$work/client.py" "$work/dovecot/run/lmtp" "$messages")
    else
        dv="n/a (dovecot-lmtpd not installed)"
    fi
    echo "rep $r: crymap-like $c msg/s, dovecot $dv msg/s"
done
