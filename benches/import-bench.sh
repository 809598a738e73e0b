#!/usr/bin/env bash
# Import speed of crymap-like next to Dovecot's `doveadm import` on the
# same machine, the same sources and the same disk. Prints one line per
# run; figures go to doc/benchmarks.md.
#
#   benches/import-bench.sh [--big N]
#
# Sources: the 1,000-message corpus of ../shared/bench/gen-corpus.py as an
# mbox and as a Maildir, and a Maildir of N (default 100000) small
# generated messages. crymap-like runs with the production Argon2id
# parameters, filing directly (with the password) and through the spool
# (without). Dovecot runs from a configuration written under the temporary
# directory at run time (Debian's dovecot-core; needs root for its
# mail_uid handling; nothing is installed or started).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
big=100000
while [ $# -gt 0 ]; do
    case "$1" in
        --big) big=$2; shift 2 ;;
        *) echo "usage: $0 [--big N]" >&2; exit 64 ;;
    esac
done
command -v doveadm >/dev/null || { echo "doveadm missing: apt-get install dovecot-core" >&2; exit 69; }
[ "$(id -u)" = 0 ] || { echo "run as root (accounts belong to nobody, as in production)" >&2; exit 77; }

cargo build --release --quiet
bin=$PWD/target/release/crymap-like
work=$(mktemp -d /tmp/crymap-like-import-bench.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

python3 "$shared/bench/gen-corpus.py" --count 1000 "$work/corpus.mbox" >/dev/null
python3 - "$work" "$big" <<'PY'
import os, sys, random, mailbox
work, big = sys.argv[1], int(sys.argv[2])
def maildir(path):
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
# The corpus as a Maildir (mtime = the From_ date, flags from Status).
md = os.path.join(work, "corpus-maildir")
maildir(md)
for i, m in enumerate(mailbox.mbox(os.path.join(work, "corpus.mbox"))):
    name = os.path.join(md, "cur", "%d.M%dP1.bench:2,S" % (1700000000 + i, i))
    with open(name, "wb") as f:
        f.write(m.as_bytes())
# N small messages, about 2 KB each.
md = os.path.join(work, "big-maildir")
maildir(md)
rnd = random.Random(1)
words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()
for i in range(big):
    body = "\n".join(" ".join(rnd.choice(words) for _ in range(12)) for _ in range(25))
    msg = ("From: sender%d@example.org\nTo: bench@example.com\nSubject: message %d\n"
           "Date: Thu, 1 Jan 2026 00:00:00 +0000\nMessage-ID: <%d@bench>\n\n%s\n" % (i % 97, i, i, body))
    with open(os.path.join(md, "cur", "%d.M%dP1.bench:2,%s" % (1700000000 + i, i, "S" if i % 3 else "")), "w") as f:
        f.write(msg)
PY
chmod -R a+rX "$work"
# Dovecot writes its indexes into a source Maildir, as the account's user.
chown -R nobody "$work/corpus-maildir" "$work/big-maildir"
mb() { du -sm --apparent-size "$1" | cut -f1; }
count() { find "$1" -type f -path '*/cur/*' | wc -l; }

# crymap-like: a root with the default configuration (production KDF).
root=$work/root
mkdir -p "$root"
printf '[listen]\nimaps = []\nimap = []\n' >"$root/crymap-like.toml"
n=0
crymap() { # label source mode(direct|spool) messages
    n=$((n + 1))
    local user=bench$n
    echo pw | "$bin" --root "$root" user add "$user" --uid nobody --password-stdin >/dev/null
    local args=(--root "$root" import "$user" "$2")
    [ "$3" = direct ] && args+=(--password-stdin)
    local t0 t1
    t0=$(date +%s.%N)
    echo pw | "$bin" "${args[@]}" 2>"$work/import.err" || { cat "$work/import.err" >&2; exit 1; }
    t1=$(date +%s.%N)
    report "crymap-like import ($3)" "$1" "$4" "$(mb "$2")" "$t0" "$t1"
}
report() { # tool label messages MB t0 t1
    python3 -c 'import sys
tool, label, n, mb, t0, t1 = sys.argv[1:]
s = float(t1) - float(t0)
print("%-34s %-22s %7d msgs %6d MB %8.2f s %9.0f msg/s %7.1f MB/s" % (tool, label, int(n), int(mb), s, int(n) / s, int(mb) / s))' "$@"
}

# Dovecot: a throwaway configuration; doveadm runs as nobody with USER
# and HOME set (no -u, so no auth service is needed), into a Maildir.
dove=$work/dovecot
mkdir -p "$dove/run" "$dove/homes"
chown nobody "$dove/run" "$dove/homes"
cat >"$dove/dovecot.conf" <<CONF
protocols =
ssl = no
base_dir = $dove/run
log_path = $dove/dovecot.log
mail_location = maildir:~/Maildir
CONF
chmod -R a+rX "$dove"
dove_import() { # label source-location messages MB
    n=$((n + 1))
    local home=$dove/homes/dove$n t0 t1
    mkdir -p "$home" && chown nobody "$home"
    t0=$(date +%s.%N)
    setpriv --reuid nobody --regid nogroup --clear-groups \
        env USER="dove$n" HOME="$home" doveadm -c "$dove/dovecot.conf" import "$2" "" all
    t1=$(date +%s.%N)
    local got
    got=$(find "$home/Maildir" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l)
    [ "$got" = "$3" ] || { echo "doveadm imported $got of $3" >&2; exit 1; }
    report "doveadm import" "$1" "$3" "$4" "$t0" "$t1"
}

echo "# crymap-like $(git describe --always --dirty 2>/dev/null || echo unknown), dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1), $(nproc) cores, $(df --output=fstype "$work" | tail -1)"
mkdir -p "$work/mboxdir" && cp "$work/corpus.mbox" "$work/mboxdir/corpus"
chmod -R a+rX "$work/mboxdir"; chown -R nobody "$work/mboxdir"
c1=$(count "$work/corpus-maildir"); cb=$(count "$work/big-maildir")
crymap "corpus mbox" "$work/corpus.mbox" direct 1000
crymap "corpus Maildir" "$work/corpus-maildir" direct "$c1"
crymap "corpus Maildir" "$work/corpus-maildir" spool "$c1"
dove_import "corpus mbox" "mbox:$work/mboxdir" 1000 "$(mb "$work/corpus.mbox")"
dove_import "corpus Maildir" "maildir:$work/corpus-maildir" "$c1" "$(mb "$work/corpus-maildir")"
crymap "$cb-message Maildir" "$work/big-maildir" direct "$cb"
dove_import "$cb-message Maildir" "maildir:$work/big-maildir" "$cb" "$(mb "$work/big-maildir")"
