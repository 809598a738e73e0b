#!/usr/bin/env bash
# Instructions (callgrind) the server process spends on FETCH 1:* (UID
# FLAGS) in a mailbox of N tiny messages and on FETCH 1:* BODYSTRUCTURE of
# the 1,000-message corpus (summaries already cached, as in the peers'
# workload's second and third repetition): figures a loaded machine cannot
# blur. Needs root (the sessions run as nobody so they do not chroot away
# from callgrind's output files).
#
#   benches/fetch-callgrind.sh [--small N] [--bin PATH]   (default 20000)
#
# The mailboxes are filled over IMAP by a `demo` server (MULTIAPPEND of
# tiny messages, APPEND of ../shared/bench/gen-corpus.py's corpus); then
# `listen` runs under valgrind for one session per figure, and each figure
# is that session's instructions minus those of the same session without
# the measured command. KEEP_PROFILES=DIR keeps the profiles.
# Run it on a baseline too with --bin (say, main's release build).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
shared=${SHARED:-../shared}
n=20000 bin=
while [ $# -gt 0 ]; do
    case "$1" in
        --small) n=$2; shift 2 ;;
        --bin) bin=$(realpath "$2"); shift 2 ;;
        *) echo "usage: $0 [--small N] [--bin PATH]" >&2; exit 64 ;;
    esac
done
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 69; }
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin=$PWD/target/release/crymap-like
fi
bench_workdir fetch-callgrind
chown nobody "$work"
pid=
# The demo is restarted by pid, so it is stopped here, then the rest.
cleanup() {
    set +e
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    bench_cleanup
}
trap cleanup EXIT
# PORTS="P1 P2" fixes the two ports (on a machine shared with others).
read -r port iport <<<"${PORTS:-$(bench_free_port) $(bench_free_port)}"
runuser -u nobody -- "$bin" demo --dir "$work/root" \
    --imaps-port "$port" --imap-port "$iport" >"$work/demo.out" 2>"$work/demo.log" &
pid=$!
pw=$(bench_demo_password "$work/demo.out" "$work/demo.log")
python3 "$shared/bench/gen-corpus.py" --count 1000 "$work/corpus.mbox" >/dev/null
stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}
client() { # mode: fill | <label of a session>
    python3 - "$iport" "$pw" "$n" "$work/corpus.mbox" "$1" <<'EOF'
import re, socket, sys, time
port, pw, n, corpus, mode = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
for _ in range(600):
    try:
        s = socket.create_connection(("127.0.0.1", port), 900); break
    except OSError:
        time.sleep(0.1)
f = s.makefile("rwb", buffering=1 << 20)
f.readline()
tags = iter(range(1, 1 << 30))
def cmd(text, lits=()):
    tag = b"t%d" % next(tags)
    parts = text.split(b"\x00")
    out = tag + b" " + parts[0]
    for lit, rest in zip(lits, parts[1:]):
        out += b"{%d+}\r\n" % len(lit) + lit + rest
    f.write(out + b"\r\n"); f.flush()
    while True:
        line = f.readline()
        if not line:
            sys.exit("closed")
        m = re.search(rb"\{(\d+)\}\r\n$", line)
        if m:
            f.read(int(m.group(1)))
        elif line.startswith(tag + b" "):
            if not line.split(b" ")[1] == b"OK":
                sys.exit(line)
            return
cmd(b'LOGIN demo "%s"' % pw.encode())
if mode == "fill":
    cmd(b"CREATE small"); cmd(b"CREATE corpus")
    tiny = b"From: a@example.org\r\nSubject: tiny\r\n\r\nhi\r\n"
    for start in range(0, n, 1000):
        k = min(1000, n - start)
        cmd(b"APPEND small" + b" (\\Seen) \x00" * k, [tiny] * k)
    # Split as imap-bench.py does.
    data = open(corpus, "rb").read()
    for m in re.split(rb"(?:^|\r\n)From corpus@example\.com [^\r\n]*\r\n", data):
        if m.strip():
            m = re.sub(rb"(?m)^>(>*From )", rb"\1", m)
            cmd(b"APPEND corpus (\\Seen) \x00", [m.rstrip(b"\r\n") + b"\r\n"])
elif mode.startswith("small"):
    cmd(b"SELECT small")
    if mode == "small-flags":
        cmd(b"FETCH 1:* (UID FLAGS)")
else:
    cmd(b"SELECT corpus")
    cmd(b"FETCH 1:* BODYSTRUCTURE")
    if mode == "corpus-bstruct2":
        cmd(b"FETCH 1:* BODYSTRUCTURE")
cmd(b"LOGOUT")
EOF
}
client fill
stop
keep=${KEEP_PROFILES:-}
total() { # $1 label: instructions of the session process (the largest profile)
    local best=0 file=
    for f in "$work"/cg.*; do
        local v
        v=$(sed -n 's/^summary: //p' "$f" | head -1)
        [ -n "$v" ] && [ "$v" -gt "$best" ] && best=$v file=$f
    done
    [ -n "$keep" ] && [ -n "$file" ] && cp "$file" "$keep/callgrind.$1"
    rm -f "$work"/cg.*
    echo "$best"
}
traced() { # one session under callgrind: its instructions
    runuser -u nobody -- valgrind --tool=callgrind --trace-children=yes \
        "--callgrind-out-file=$work/cg.%p" "$bin" --root "$work/root" --log stderr listen \
        2>"$work/listen.log" &
    pid=$!
    client "$1"
    stop
    total "$1"
}
small=$(traced small)
flags=$(traced small-flags)
once=$(traced corpus-bstruct)
twice=$(traced corpus-bstruct2)
echo "fetch_uid_flags_$n $((flags - small)) instructions"
echo "fetch_bodystructure_cached_1000 $((twice - once)) instructions"
echo "session_select_small_$n $small instructions"
