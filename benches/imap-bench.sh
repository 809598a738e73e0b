#!/usr/bin/env bash
# Runs the peers' workload (../shared/bench/imap-bench.py) against a release
# build of crymap-like over TLS on 127.0.0.1, with the production Argon2id
# parameters, and prints one line per figure. With --dovecot the same run
# also starts Debian's Dovecot (plain Maildir, and Maildir with the
# mail_crypt plugin) from a throwaway configuration under the temporary
# directory and drives it with the same workload, then prints one table
# with a column per server. Figures go to doc/benchmarks.md.
#
#   benches/imap-bench.sh [--count N] [--small N] [--big N] [--reps N]
#                         [--dovecot] [--baseline BIN] [--settle SECONDS]
#
# --count:    messages in the gen-corpus.py corpus (default 1000)
# --small:    tiny messages for the MULTIAPPEND/SELECT/FETCH FLAGS phase
#             (default 20000)
# --big:      a second pass on a mailbox of N tiny messages (for example
#             100000) for the SELECT and FETCH FLAGS rows; 0 (default) skips
#             it. Dovecot with mail_crypt is left out of this pass: filling
#             it one MULTIAPPEND at a time takes most of an hour here.
# --dovecot:  also Dovecot from Debian's dovecot-core and dovecot-imapd
#             (TLS, passwd-file user, maildir, default mail_fsync, running as
#             nobody when started as root), and Dovecot with mail_crypt
#             (global EC keys generated into the temporary directory)
# --baseline: another crymap-like binary (say, main's release build) run
#             in the same way, as the column "baseline"
# --settle:   sync, then wait this long before each server's first APPEND
#             (65 is enough): on ext4 without a journal, files the previous
#             server's run deleted slow every inode creation for a minute
#             or more (doc/benchmarks.md, "APPEND after deletions")
#
# Servers run one after the other, never at once; each one's raw output is
# printed as it comes, the table at the end. The last column, "client
# floor", is benches/client-floor.py: the FETCH FLAGS rows against a
# stand-in that answers instantly, i.e. what the Python client itself costs.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
shared=${SHARED:-../shared}
count=1000 small=20000 big=0 reps=3 dovecot=false baseline= settle=0
usage="usage: $0 [--count N] [--small N] [--big N] [--reps N] [--dovecot] [--baseline BIN] [--settle SECONDS]"
while [ $# -gt 0 ]; do
    case "$1" in
        --count) count=$2; shift 2 ;;
        --small) small=$2; shift 2 ;;
        --big) big=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --dovecot) dovecot=true; shift ;;
        --baseline) baseline=$(realpath "$2"); shift 2 ;;
        --settle) settle=$2; shift 2 ;;
        *) echo "$usage" >&2; exit 64 ;;
    esac
done
if $dovecot; then
    for tool in dovecot doveadm openssl; do
        command -v "$tool" >/dev/null || { echo "--dovecot needs $tool (apt-get install dovecot-core dovecot-imapd openssl)" >&2; exit 69; }
    done
    [ -x /usr/lib/dovecot/imap ] || { echo "--dovecot needs dovecot-imapd" >&2; exit 69; }
fi

cargo build --release --quiet
work=$(mktemp -d /tmp/crymap-like-bench.XXXXXX)
chmod 755 "$work"
pid=
# Dovecot runs as nobody when we are root, else as ourselves.
if [ "$(id -u)" = 0 ]; then
    dovecot_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    dv_user=nobody dv_group=nogroup
else
    dv_user=$(id -un) dv_group=$(id -gn)
fi
dv_uid=$(id -u "$dv_user") dv_gid=$(getent group "$dv_group" | cut -d: -f3)
stop_crymap() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
    fi
}
cleanup() {
    stop_crymap
    dovecot_stop_all
    rm -rf "$work"
}
trap cleanup EXIT

python3 "$shared/bench/gen-corpus.py" --count "$count" "$work/corpus.mbox" >/dev/null
# The --big pass appends one corpus message, then N tiny ones.
python3 "$shared/bench/gen-corpus.py" --count 1 "$work/one.mbox" >/dev/null

# workload LABEL PORT USER PASSWORD: both passes against one server, raw
# lines to stdout and to $work/results/LABEL.
mkdir -p "$work/results"
workload() {
    local label=$1 port=$2 user=$3 password=$4 res=$work/results/$1
    echo "## $label"
    if [ "$settle" -gt 0 ]; then
        # ext4 without a journal will not reuse an inode freed in the last
        # 60 s (360 s while its inode-table block is dirty) and scans past
        # each one on every creation: written back and waited for, the
        # previous server's deleted files no longer tax this one's APPENDs.
        echo "# sync, then $settle s before $label's first APPEND"
        sync
        sleep "$settle"
    fi
    python3 "$shared/bench/imap-bench.py" 127.0.0.1 "$port" "$user" "$password" \
        --tls --corpus "$work/corpus.mbox" --small "$small" --reps "$reps" | tee "$res"
    if [ "$big" -gt 0 ] && [ "$label" != dovecot+mail_crypt ]; then
        python3 "$shared/bench/imap-bench.py" 127.0.0.1 "$port" "$user" "$password" \
            --tls --corpus "$work/one.mbox" --small "$big" --reps "$reps" |
            sed -n 's/^small_/big_/p' | tee -a "$res"
    fi
}

# crymap_like LABEL BIN: the binary behind `demo`, both passes, and an idle
# session's memory.
crymap_like() {
    local label=$1 bin=$2 port iport password
    port=$(bench_free_port) iport=$(bench_free_port)
    "$bin" demo --dir "$work/demo-root" \
        --imaps-port "$port" --imap-port "$iport" >"$work/demo.out" 2>"$work/demo.log" &
    pid=$!
    password=$(bench_demo_password "$work/demo.out" "$work/demo.log")
    workload "$label" "$port" demo "$password"
    # An idle session's memory: log in, select INBOX, then read the session
    # process's resident set while it waits.
    python3 - "$port" "$password" "$pid" <<'PY' | tee -a "$work/results/$label"
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
    print("idle_rss %.1f MB" % (int(rss[0].split()[1]) / 1024))
f.write(b"c LOGOUT\r\n"); f.flush()
PY
    stop_crymap
    rm -rf "$work/demo-root"
}

# dovecot LABEL CRYPT: Dovecot from a configuration written here (IMAPS
# only, on 127.0.0.1), one passwd-file user with a maildir under the
# temporary directory; CRYPT=true adds mail_crypt with global keys.
run_dovecot() {
    local label=$1 crypt=$2 d=$work/$1 port
    port=$(bench_free_port)
    mkdir -p "$d/home"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj /CN=localhost -days 2 -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
    echo "bench:{PLAIN}bench-password:$dv_uid:$dv_gid::$d/home/bench" >"$d/passwd"
    dovecot_conf_head "$d" "$label" >"$d/dovecot.conf"
    cat >>"$d/dovecot.conf" <<CONF
protocols = imap
default_internal_user = $dv_user
default_internal_group = $dv_group
default_login_user = $dv_user
first_valid_uid = 1
mail_location = maildir:~/Maildir
ssl = required
ssl_cert = <$d/cert.pem
ssl_key = <$d/key.pem
passdb {
  driver = passwd-file
  args = $d/passwd
}
userdb {
  driver = passwd-file
  args = $d/passwd
}
service imap-login {
  chroot =
}
service anvil {
  chroot =
}
CONF
    dovecot_imap_listeners "$port" 0 >>"$d/dovecot.conf"
    if $crypt; then
        openssl ecparam -name prime256v1 -genkey 2>/dev/null | openssl pkey -out "$d/ec-private.pem"
        openssl pkey -in "$d/ec-private.pem" -pubout -out "$d/ec-public.pem"
        cat >>"$d/dovecot.conf" <<CONF
mail_plugins = \$mail_plugins mail_crypt
plugin {
  mail_crypt_global_private_key = <$d/ec-private.pem
  mail_crypt_global_public_key = <$d/ec-public.pem
  mail_crypt_save_version = 2
}
CONF
    fi
    chown -R "$dv_user:$dv_group" "$d"
    dovecot_start "$d/dovecot.conf" "$port"
    workload "$label" "$port" bench bench-password
    dovecot_stop "$d/dovecot.conf"
    rm -rf "$d/home"
}

echo "# $(git describe --always --dirty 2>/dev/null || echo unknown), corpus $count, small $small, big $big, reps $reps, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
labels=(crymap-like)
crymap_like crymap-like "$PWD/target/release/crymap-like"
if [ -n "$baseline" ]; then
    labels+=(baseline)
    crymap_like baseline "$baseline"
fi
if $dovecot; then
    echo "# $(dovecot --version | head -1)"
    labels+=(dovecot dovecot+mail_crypt)
    run_dovecot dovecot false
    run_dovecot dovecot+mail_crypt true
fi

# What the client alone costs on the FETCH FLAGS rows (a stand-in server
# that answers instantly): the floor under every server's figure.
echo "## client floor"
labels+=("client floor")
floor_counts=$small
[ "$big" -gt 0 ] && floor_counts="$small $big"
# shellcheck disable=SC2086
python3 benches/client-floor.py $floor_counts --reps "$reps" |
    sed "s/^floor_$small /small_flags /; s/^floor_$big /big_flags /" | tee "$work/results/client floor"

echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/results" "${labels[@]}" <<'PY'
import sys
d, labels = sys.argv[1], sys.argv[2:]
rows, units, cols = [], {}, {}
for l in labels:
    cols[l] = {}
    for line in open("%s/%s" % (d, l)):
        if not line.strip():
            continue
        name, value, unit = line.split()
        if name not in units:
            rows.append(name)
            units[name] = unit
        cols[l][name] = value
print()
print("| figure | unit | " + " | ".join(labels) + " |")
print("|---|---|" + "---:|" * len(labels))
for r in rows:
    print("| %s | %s | %s |" % (r, units[r], " | ".join(cols[l].get(r, "—") for l in labels)))
PY
