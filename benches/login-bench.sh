#!/usr/bin/env bash
# Login throughput, side by side with Dovecot (issue 12): N clients, each
# in a loop for S seconds: connect over TLS (implicit, 127.0.0.1), read the
# greeting, LOGIN, SELECT INBOX, LOGOUT. The client is `benches/login_load.rs`
# (Rust, OpenSSL, one thread per client), which spends about a millisecond
# of CPU per login where the earlier Python client spent more than the
# server it measured, on the same two cores. Prints, for each server, the
# logins completed, the rate, and the CPU time per login of the server's
# whole process tree and of the client; then the KDF bound of this machine
# and crymap-like's share of it (see doc/benchmarks.md). Needs root
# (Dovecot, the session's chroot) and the dovecot-imapd and openssl
# packages.
#
#   benches/login-bench.sh [--clients N] [--seconds S] [--reps R] [--baseline BIN]
#
# --baseline BIN runs a second crymap-like, BIN (say, main's release
# build), beside this tree's in the same run, with its own root and the
# same settings; each repetition measures it right after this tree's.
#
# THROTTLE=true keeps crymap-like's failed-login throttle on (see below);
# PORT_BASE=P listens on ports P to P+2 instead of free ones.
#
# crymap-like: a release build, `listen` with one account at the
# production Argon2id parameters (19 MiB, t=2, p=1), sessions chrooted and
# running as `nobody`, an ECDSA P-256 certificate as `demo` makes.
# Dovecot: Debian's package, started here from a temporary configuration
# (imaps only, passwd-file passdb with the password in {PLAIN} and also
# with {ARGON2ID} at Dovecot's default cost, static userdb as nobody,
# Maildir under the temporary directory, default login process model).
set -euo pipefail
cd "$(dirname "$0")/.."
clients=10 seconds=20 reps=1 baseline=
while [ $# -gt 0 ]; do
    case "$1" in
        --clients) clients=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --baseline) baseline=$(realpath "$2"); shift 2 ;;
        *) echo "usage: $0 [--clients N] [--seconds S] [--reps R] [--baseline BIN]" >&2; exit 64 ;;
    esac
done
[ "$clients" -ge 1 ] && [ "$clients" -le 200 ] || { echo "--clients: 1 to 200" >&2; exit 64; }
[ "$seconds" -ge 1 ] && [ "$seconds" -le 600 ] || { echo "--seconds: 1 to 600" >&2; exit 64; }
[ "$(id -u)" = 0 ] || { echo "needs root (Dovecot, chroot)" >&2; exit 77; }
[ -x /usr/lib/dovecot/imap-login ] || { echo "needs dovecot-imapd" >&2; exit 77; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "--baseline: $baseline is not executable" >&2; exit 64; }

cargo build --release --quiet
cargo build --release --quiet --bench login_load --bench kdf
bin=$PWD/target/release/crymap-like
load=$(ls -t target/release/deps/login_load-* | grep -v '\.d$' | head -1)
. benches/lib.sh
bench_workdir crymap-like-login-bench

# PORT_BASE=P uses P to P+4 (a range of one's own on a shared machine);
# otherwise free ports the kernel picks.
if [ -n "${PORT_BASE:-}" ]; then
    c_imaps=$PORT_BASE c_imap=$((PORT_BASE + 1)) d_imaps=$((PORT_BASE + 2))
    b_imaps=$((PORT_BASE + 3)) b_imap=$((PORT_BASE + 4))
else
    c_imaps=$(bench_free_port) c_imap=$(bench_free_port) d_imaps=$(bench_free_port)
    b_imaps=$(bench_free_port) b_imap=$(bench_free_port)
fi
password=bench-password-$$
# The failed-login throttle counts a login as a guess from before its
# password is checked until it succeeds, so parallel guesses see each
# other (issue 7): N clients logging in without pause keep about N
# attempts in flight, which past free_failures (5) draws its doubling
# delay. Off here, as Dovecot's auth_penalty (failures only) never
# engages either; doc/benchmarks.md gives the figure with it on.
throttle_conf="[throttle]
enabled = ${THROTTLE:-false}"
targets=()
if [ -n "$baseline" ]; then
    bench_crymap_listen "$baseline" "$b_imaps" "$b_imap" "$password" "$throttle_conf" baseline-root
    targets+=("crymap-like-baseline:$b_imaps:bench:$c_pid")
fi
bench_crymap_listen "$bin" "$c_imaps" "$c_imap" "$password" "$throttle_conf"
targets=("crymap-like:$c_imaps:bench:$c_pid" "${targets[@]+"${targets[@]}"}")
argon=$(doveadm pw -s ARGON2ID -p "$password")
# The process tree whose CPU is counted is Dovecot's master's ($d_pid).
dovecot_bench_imaps login "$d_imaps" "bench:{PLAIN}$password
bench-argon2:$argon"

echo "# crymap-like $(git describe --always --dirty 2>/dev/null || echo unknown)${baseline:+, baseline $baseline}, dovecot $(dovecot --version | cut -d' ' -f1), $clients clients, $seconds s, throttle ${THROTTLE:-false}, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
# The KDF alone: ours (argon2 crate, the call LOGIN makes), then Debian's
# reference C libargon2 at the same parameters, repeated in one process.
kdf_out=$(cargo bench --quiet --bench kdf -- 20 2>/dev/null)
echo "$kdf_out"
bound=$(sed -n 's/.*login bound on [0-9]* cores: \([0-9.]*\) logins.*/\1/p' <<<"$kdf_out" | head -1)
kdf_cpu=$(sed -n 's/.*its CPU time.*median \([0-9.]*\) ms.*/\1/p' <<<"$kdf_out")
python3 - <<'PY'
import ctypes, ctypes.util, statistics, time
lib = ctypes.CDLL(ctypes.util.find_library("argon2") or "libargon2.so.1")
out = ctypes.create_string_buffer(32)
pw, salt = b"a password of ordinary length", b"0123456789abcdef"
ts = []
for _ in range(20):
    t = time.perf_counter()
    r = lib.argon2id_hash_raw(2, 19456, 1, pw, len(pw), salt, len(salt), out, 32)
    ts.append((time.perf_counter() - t) * 1000)
    assert r == 0, r
print("libargon2 (Debian, C reference), repeated in one process: median %.2f ms, min %.2f ms"
      % (statistics.median(ts), min(ts)))
PY
for r in $(seq "$reps"); do
    for target in "${targets[@]}" "dovecot-plain:$d_imaps:bench:$d_pid" \
        "dovecot-argon2id:$d_imaps:bench-argon2:$d_pid"; do
        IFS=: read -r name p user tree <<<"$target"
        line=$("$load" --name "$name" --port "$p" --user "$user" --password "$password" \
            --clients "$clients" --seconds "$seconds" --tree "$tree")
        echo "$line"
        if [ "${name#crymap-like}" != "$name" ] && [ -n "$bound" ]; then
            # Two ratios: the rate against the wall-time bound (what the
            # issue asks, meaningful on a quiet machine), and the KDF's CPU
            # against the CPU a whole login costs, server and client (what
            # that ratio tends to when nothing else runs; load-independent).
            python3 - "$line" "$bound" "$kdf_cpu" "$name" <<'PY'
import re, sys
line, bound, kdf = sys.argv[1], float(sys.argv[2]), float(sys.argv[3] or "nan")
rate = float(re.search(r"= *([0-9.]+)/s", line).group(1))
client = float(re.search(r"client ([0-9.]+) ms", line).group(1))
server = float(re.search(r"server ([0-9.]+) ms", line).group(1))
print("%s: %.1f logins/s = %.0f%% of the KDF bound (%.0f/s); KDF CPU %.2f ms of %.2f ms "
      "per login (server %.2f + client %.2f) = %.0f%%"
      % (sys.argv[4], rate, 100 * rate / bound, bound, kdf, server + client, server, client,
         100 * kdf / (server + client)))
PY
        fi
    done
done
