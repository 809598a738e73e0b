#!/usr/bin/env bash
# SORT / THREAD / PARTIAL / PREVIEW side by side: a release build of
# crymap-like (behind `demo`) and Dovecot from Debian's packages (started
# from a configuration this script writes under its temporary directory,
# mail in Maildir, plain IMAP on 127.0.0.1), each measured by
# benches/sort-bench.py in the same run, on the gen-corpus.py corpus and on
# a synthetic mailbox. Figures go to doc/benchmarks.md.
#
#   benches/sort-compare.sh [--count N] [--synthetic N] [--reps N]
#
# --count: messages in the gen-corpus.py corpus (default 1000)
# --synthetic: messages in the synthetic mailbox (default 100000; 0 skips)
# Needs root (Dovecot drops to `nobody` for the mail processes) and the
# packages dovecot-core and dovecot-imapd.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
shared=${SHARED:-../shared}
[ -d "$shared" ] || shared=../../shared   # a worktree under /work/wt
count=1000 synthetic=100000 reps=5
while [ $# -gt 0 ]; do
    case "$1" in
        --count) count=$2; shift 2 ;;
        --synthetic) synthetic=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        *) echo "usage: $0 [--count N] [--synthetic N] [--reps N]" >&2; exit 64 ;;
    esac
done
command -v dovecot >/dev/null || { echo "dovecot is not installed (dovecot-core, dovecot-imapd)" >&2; exit 69; }
[ "$(id -u)" = 0 ] || { echo "needs root: Dovecot runs its mail processes as nobody" >&2; exit 77; }

cargo build --release --quiet
work=$(mktemp -d /tmp/sort-compare.XXXXXX)
chmod 755 "$work"
pid=
cleanup() {
    set +e
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    dovecot_stop_all
    rm -rf "$work"
}
trap cleanup EXIT

# crymap-like
port=$(bench_free_port) iport=$(bench_free_port)
./target/release/crymap-like demo --dir "$work/demo-root" \
    --imaps-port "$port" --imap-port "$iport" >"$work/demo.out" 2>"$work/demo.log" &
pid=$!
ours_pw=$(bench_demo_password "$work/demo.out" "$work/demo.log")

# Dovecot: everything under $work, nothing of /etc/dovecot is read.
dport=$(bench_free_port)
d=$work/dovecot
mkdir -p "$d/mail"
chown nobody:nogroup "$d/mail"
dovecot_conf_head "$d" sort-compare >"$d/dovecot.conf"
cat >>"$d/dovecot.conf" <<EOF
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:$d/mail/%u
passdb {
  driver = static
  args = password=bench
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/mail/%u
}
protocol imap {
  mail_max_userip_connections = 50
}
EOF
dovecot_imap_listeners 0 "$dport" >>"$d/dovecot.conf"
dovecot_start "$d/dovecot.conf" "$dport"

python3 "$shared/bench/gen-corpus.py" --count "$count" "$work/corpus.mbox" >/dev/null
echo "date $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "dovecot $(dovecot --version)"
run() { # label, then sort-bench.py's mailbox arguments
    local label=$1
    shift
    echo "== $label"
    python3 benches/sort-bench.py 127.0.0.1 "$iport" demo "$ours_pw" --name crymap-like \
        --also "dovecot=127.0.0.1:$dport:bench:bench" --reps "$reps" "$@"
}
run "corpus $count" --corpus "$work/corpus.mbox"
if [ "$synthetic" -gt 0 ]; then
    run "synthetic $synthetic" --synthetic "$synthetic"
fi
