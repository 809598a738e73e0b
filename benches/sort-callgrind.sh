#!/usr/bin/env bash
# Instructions (callgrind) of the first SORT (DATE) of a new session on a
# synthetic mailbox, from the sealed sort-key cache and, after deleting it,
# from the message summaries: a figure a loaded machine cannot blur.
#
#   benches/sort-callgrind.sh [--synthetic N] [--command CMD ...]
#
# --synthetic: messages in the mailbox (default 20000)
# --command: also the instructions of CMD (for example
# "THREAD REFS UTF-8 ALL") run once in a session whose sort-key cache is
# already filled (after a SORT (DATE)): the per-command cost a repeated
# SORT, THREAD or FETCH pays. May be given more than once.
#
# The mailbox is filled by benches/sort-bench.py (whose first SORT writes
# the cache); then `demo` runs under valgrind (as nobody, so the sessions
# do not chroot away from callgrind's output file) for one session each:
# LOGIN, SELECT, SORT (DATE) UTF-8 ALL, LOGOUT. Prints the instructions of
# that session's process, and of the same session without the SORT.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
n=20000
commands=()
while [ $# -gt 0 ]; do
    case "$1" in
        --synthetic) n=$2; shift 2 ;;
        --command) commands+=("$2"); shift 2 ;;
        *) echo "usage: $0 [--synthetic N] [--command CMD ...]" >&2; exit 64 ;;
    esac
done
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 69; }
cargo build --release --quiet
bench_workdir sort-callgrind
chown nobody "$work"
pid=
# The demo is restarted by pid, so it is stopped here, then the rest.
cleanup() {
    set +e
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    bench_cleanup
}
trap cleanup EXIT
bin=$PWD/target/release/crymap-like
start_demo() { # the root, the demo user and the ports, as nobody
    port=$(bench_free_port) iport=$(bench_free_port)
    runuser -u nobody -- "$bin" demo --dir "$work/root" \
        --imaps-port "$port" --imap-port "$iport" >"$work/demo.out" 2>"$work/demo.log" &
    pid=$!
    pw=$(bench_demo_password "$work/demo.out" "$work/demo.log")
}
start_traced() { # the same root (demo would remake it) under callgrind
    runuser -u nobody -- valgrind --tool=callgrind --trace-children=yes \
        "--callgrind-out-file=$work/cg.%p" "$bin" --root "$work/root" --log stderr listen \
        2>"$work/listen.log" &
    pid=$!
}
stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}
session() { # sort|nosort [CMD]: one session on the box sort-bench.py made
    python3 - "$iport" "$pw" "$1" "${2:-}" <<'EOF'
import socket, sys, time
port, pw, what, extra = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
for _ in range(600):
    try:
        s = socket.create_connection(("127.0.0.1", port), 600); break
    except OSError:
        time.sleep(0.1)
f = s.makefile("rwb")
f.readline()
def cmd(tag, text):
    f.write(b"%s %s\r\n" % (tag, text)); f.flush()
    while True:
        line = f.readline()
        if not line or line.startswith(tag + b" "):
            return
cmd(b"a", b'LOGIN demo "%s"' % pw.encode())
f.write(b'b LIST "" "sortbench*"\r\n'); f.flush()
box = None
while True:
    line = f.readline()
    if line.startswith(b"* LIST"):
        box = line.rsplit(b" ", 1)[1].strip()
    if line.startswith(b"b "):
        break
cmd(b"c", b"SELECT " + box)
if what == "sort":
    cmd(b"d", b"SORT (DATE) UTF-8 ALL")
if extra:
    cmd(b"x", extra.encode())
cmd(b"e", b"LOGOUT")
EOF
}
keep=${KEEP_PROFILES:-}   # a directory: the session profiles are copied there
total() { # $1 label: instructions of the session process (the largest profile)
    local best=0 file=
    # The session process may still be writing its profile after LOGOUT.
    for _ in $(seq 600); do
        local done=1
        for f in "$work"/cg.*; do
            grep -q '^totals: ' "$f" 2>/dev/null || done=
        done
        [ -n "$done" ] && break
        sleep 0.1
    done
    for f in "$work"/cg.*; do
        local v
        v=$(sed -n 's/^summary: //p' "$f" | head -1)
        [ -n "$v" ] && [ "$v" -gt "$best" ] && best=$v file=$f
    done
    [ -n "$keep" ] && [ -n "$file" ] && cp "$file" "$keep/callgrind.$1"
    rm -f "$work"/cg.*
    echo "$best"
}

start_demo
python3 benches/sort-bench.py 127.0.0.1 "$iport" demo "$pw" --synthetic "$n" --reps 1 >/dev/null
stop
start_traced; session nosort; stop; base=$(total base)
start_traced; session sort; stop; cached=$(total cached)
extras=()
for c in "${commands[@]}"; do
    start_traced; session sort "$c"; stop
    extras+=("$(( $(total "cmd$(( ${#extras[@]} + 1 ))") - cached ))")
done
find -L "$work/root/users" -name sortkeys -path '*/mailboxes/*' -delete
start_traced; session sort; stop; summaries=$(total summaries)
echo "messages $n"
echo "session_without_sort $base instructions"
echo "first_sort_from_cache $((cached - base)) instructions"
echo "first_sort_from_summaries $((summaries - base)) instructions"
for i in "${!extras[@]}"; do
    echo "command \"${commands[$i]}\" ${extras[$i]} instructions"
done
