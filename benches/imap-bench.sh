#!/usr/bin/env bash
# Runs the peers' workload (../shared/bench/imap-bench.py) against a release
# build of crymap-like over TLS on 127.0.0.1, with the production Argon2id
# parameters, and prints one line per figure. Figures go to
# doc/benchmarks.md.
#
#   benches/imap-bench.sh [--count N] [--small N] [--reps N]
#
# --count: messages in the gen-corpus.py corpus (default 1000)
# --small: tiny messages for the MULTIAPPEND/SELECT phase (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
count=1000 small=20000 reps=3
while [ $# -gt 0 ]; do
    case "$1" in
        --count) count=$2; shift 2 ;;
        --small) small=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        *) echo "usage: $0 [--count N] [--small N] [--reps N]" >&2; exit 64 ;;
    esac
done

cargo build --release --quiet
work=$(mktemp -d /tmp/crymap-like-bench.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

python3 "$shared/bench/gen-corpus.py" --count "$count" "$work/corpus.mbox" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
iport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/crymap-like demo --dir "$work/demo-root" \
    --imaps-port "$port" --imap-port "$iport" >"$work/demo.out" 2>"$work/demo.log" &
pid=$!
for _ in $(seq 100); do
    grep -q '^password: ' "$work/demo.out" 2>/dev/null && break
    sleep 0.1
done
password=$(sed -n 's/^password: //p' "$work/demo.out")
[ -n "$password" ] || { cat "$work/demo.log" >&2; exit 1; }
echo "# crymap-like $(git describe --always --dirty 2>/dev/null || echo unknown), corpus $count, small $small, $(nproc) cores"
python3 "$shared/bench/imap-bench.py" 127.0.0.1 "$port" demo "$password" \
    --tls --corpus "$work/corpus.mbox" --small "$small" --reps "$reps"
# An idle session's memory: log in, select INBOX, then read the session
# process's resident set while it waits.
python3 - "$port" "$password" "$pid" <<'PY'
import socket, ssl, subprocess, sys, time
port, password, parent = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
f = s.makefile("rwb")
f.readline()
for cmd in (b'a LOGIN demo "%s"' % password.encode(), b"b SELECT INBOX"):
    f.write(cmd + b"\r\n"); f.flush()
    while not f.readline().startswith(cmd.split()[0] + b" "):
        pass
time.sleep(0.5)
pids = subprocess.run(["ps", "-o", "pid=", "--ppid", parent], capture_output=True, text=True).stdout.split()
for p in pids:
    rss = [l for l in open("/proc/%s/status" % p) if l.startswith("VmRSS")]
    print("idle_rss %s" % rss[0].split(None, 1)[1].strip())
f.write(b"c LOGOUT\r\n"); f.flush()
PY
