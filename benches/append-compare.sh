#!/usr/bin/env bash
# Two crymap-like binaries side by side on the append phase of
# ../shared/bench/imap-bench.py (1,000 corpus messages of ~17 KB, one
# APPEND per round trip, over TLS into a freshly CREATEd mailbox; the
# FETCH rows that follow come along), alternated run by run, in two
# conditions (issue 12):
#
#   churn  right after creating and deleting FILES files (default 20,000)
#          on the same file system: on ext4 without a journal every new
#          inode then skips the recently deleted ones, which is what made
#          APPEND slow after other benchmarks
#   quiet  after WAIT seconds (default 90) without that churn
#
#   benches/append-compare.sh BASELINE_BIN NEW_BIN [--reps R] [--files N]
#                             [--wait S] [--port P]
#
# Each run starts `demo` afresh in its own directory under /tmp (ports P
# and P+1, default 25250: within this branch's range), runs the workload
# with --small 0, and prints `LABEL CONDITION figure value unit` lines.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
shared=${SHARED:-../shared}
[ $# -ge 2 ] || { echo "usage: $0 BASELINE_BIN NEW_BIN [--reps R] [--files N] [--wait S] [--port P]" >&2; exit 64; }
base=$(realpath "$1") new=$(realpath "$2")
shift 2
reps=3 files=20000 wait=90 port=25250
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) reps=$2; shift 2 ;;
        --files) files=$2; shift 2 ;;
        --wait) wait=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 64 ;;
    esac
done
bench_workdir append-compare
python3 "$shared/bench/gen-corpus.py" --count 1000 "$work/corpus.mbox" >/dev/null

churn() {
    python3 - "$work/churn" "$files" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(n):
    with open("%s/%d" % (d, i), "wb") as f:
        f.write(b"x" * 100)
os.sync()
for i in range(n):
    os.unlink("%s/%d" % (d, i))
PY
}

run() {
    local label=$1 bin=$2 cond=$3 password pid
    # The old output goes first: the new server's redirection happens in
    # its own process, after this shell may already have read the file.
    rm -rf "$work/demo-root" "$work/demo.out"
    # The previous run's server (or a session it started) may still hold
    # the port for a moment; a new demo would then fail to bind and the
    # client would reach the old one.
    for _ in $(seq 300); do
        python3 -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null && break
        sleep 0.1
    done
    "$bin" demo --dir "$work/demo-root" --imaps-port "$port" --imap-port "$((port + 1))" \
        >"$work/demo.out" 2>"$work/demo.log" &
    pid=$!
    bench_pids+=("$pid")
    password=$(bench_demo_password "$work/demo.out" "$work/demo.log")
    bench_wait_port "$port" "$label demo" "$work/demo.log"
    if [ "$cond" = churn ]; then churn; else sleep "$wait"; fi
    python3 "$shared/bench/imap-bench.py" 127.0.0.1 "$port" demo "$password" \
        --tls --corpus "$work/corpus.mbox" --small 0 --reps 3 |
        sed "s/^/$label $cond /"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

echo "# baseline $(basename "$base"), new $(basename "$new"), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, churn $files files, quiet wait $wait s"
for r in $(seq "$reps"); do
    for cond in churn quiet; do
        if [ $((r % 2)) = 1 ]; then
            run baseline "$base" "$cond"
            run new "$new" "$cond"
        else
            run new "$new" "$cond"
            run baseline "$base" "$cond"
        fi
    done
done
echo "# done $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
