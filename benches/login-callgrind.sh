#!/usr/bin/env bash
# User-space instructions (callgrind) of one `serve imaps` connection, by
# part: the whole connection without a login (greeting, LOGOUT) and with
# one (LOGIN, SELECT INBOX, LOGOUT), and inside them dynamic linking,
# OpenSSL's initialisation, the certificate, the key, the SSL_CTX, the
# handshake and the KDF (issue 12, doc/scaling.md "What a login costs").
# Exact and load-independent, unlike CPU time on a shared machine. Needs
# root: the session runs as nobody (no chroot, so callgrind can write its
# output; the sandbox's share is measured separately, see
# doc/benchmarks.md).
#
#   benches/login-callgrind.sh [--bin PATH]...   (default: this tree's release build)
#
# Several --bin give one column each (say, main's release build and this
# tree's). KEEP_PROFILES=DIR keeps the profiles.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
bins=()
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bins+=("$(realpath "$2")"); shift 2 ;;
        *) echo "usage: $0 [--bin PATH]..." >&2; exit 64 ;;
    esac
done
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 69; }
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
if [ ${#bins[@]} -eq 0 ]; then
    cargo build --release --quiet
    bins=("$PWD/target/release/crymap-like")
fi
bench_workdir crymap-like-login-callgrind
chown nobody "$work"
# PORTS="P1 P2 P3" fixes the ports (on a machine shared with others).
read -r port iport sport <<<"${PORTS:-$(bench_free_port) $(bench_free_port) $(bench_free_port)}"
runuser -u nobody -- "${bins[0]}" demo --dir "$work/root" \
    --imaps-port "$port" --imap-port "$iport" >"$work/demo.out" 2>"$work/demo.log" &
demo=$!
bench_pids+=("$demo")
pw=$(bench_demo_password "$work/demo.out" "$work/demo.log")
bench_wait_port "$port" demo "$work/demo.log"
kill "$demo" && wait "$demo" 2>/dev/null || true

# One session of `serve imaps` under callgrind, its connection passed as
# stdin/stdout the way `listen` passes it; the client (Python's ssl) does
# greeting, [LOGIN, SELECT INBOX,] LOGOUT.
session() { # bin mode out
    runuser -u nobody -- python3 - "$sport" "$2" "$pw" valgrind --tool=callgrind \
        --callgrind-out-file="$3" "$1" --root "$work/root" serve imaps <<'PY' 2>/dev/null
import socket, ssl, subprocess, sys
port, mode, pw, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(1)
c = socket.create_connection(("127.0.0.1", port)); s, _ = ls.accept()
p = subprocess.Popen(cmd, stdin=s.fileno(), stdout=s.fileno()); s.close()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ctx.wrap_socket(c).makefile("rwb")
f.readline()
def run(tag, text):
    f.write(tag + b" " + text + b"\r\n"); f.flush()
    while True:
        line = f.readline()
        if not line: sys.exit("closed")
        if line.startswith(tag + b" "):
            assert line.startswith(tag + b" OK"), line
            return
if mode == "login":
    run(b"a", b'LOGIN demo "' + pw.encode() + b'"'); run(b"b", b"SELECT INBOX")
run(b"c", b"LOGOUT")
sys.exit(p.wait())
PY
}

# part label, then the function names (alternatives) whose inclusive
# count is that part; the first match in callgrind_annotate's list wins.
parts=(
    "dynamic linking (ld.so)|_dl_start "
    "OpenSSL initialisation (openssl.cnf, error strings)|openssl_sys::openssl::init "
    "TLS set-up in all (tls::acceptor)|cli::tls::acceptor "
    "  certificate chain (with the initialisation above)|cli::tls::load_certificates |X509::stack_from_pem "
    "  private key|cli::tls::load_private_key |private_key_from_pem "
    "  SSL_CTX, Mozilla intermediate|mozilla_intermediate_v5 "
    "OpenSSL 3 decoders' set-up (in the two above)|OSSL_DECODER_CTX_new_for_pkey "
    "TLS handshake|SSL_accept "
    "KDF (Argon2id + wipe)|crypto::kdf::derive "
)
printf '%-55s' "part (instructions)"
for b in "${bins[@]}"; do printf '%16s' "$(basename "$(dirname "$(dirname "$b")")")/$(basename "$b" | cut -c1-8)"; done
echo
declare -A count
for i in "${!bins[@]}"; do
    for mode in nologin login; do
        out=$work/$i-$mode.out
        session "${bins[$i]}" "$mode" "$out" || bench_die "session under callgrind failed" "$work/demo.log"
        [ -n "${KEEP_PROFILES:-}" ] && mkdir -p "$KEEP_PROFILES" && cp "$out" "$KEEP_PROFILES/"
        count[$i,$mode,total]=$(sed -n 's/^summary: //p;s/^totals: //p' "$out" | head -1)
        ann=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null)
        for p in "${parts[@]}"; do
            label=${p%%|*} pats=${p#*|}
            n=$(grep -E -m1 -- "$(sed 's/[]()[]/\\&/g' <<<"$pats")" <<<"$ann" | awk '{gsub(",","",$1); print $1}' || true)
            count[$i,$mode,$label]=${n:-0}
        done
    done
done
row() { # label key mode
    printf '%-55s' "$1"
    for i in "${!bins[@]}"; do printf '%14.2f M' "$(echo "${count[$i,$3,$2]} / 1000000" | bc -l)"; done
    echo
}
row "connection without login (greeting + LOGOUT)" total nologin
for p in "${parts[@]}"; do
    label=${p%%|*}
    [ "${label#KDF}" = "$label" ] && row "$label" "$label" nologin
done
row "connection with LOGIN + SELECT INBOX" total login
row "KDF (Argon2id + wipe)" "KDF (Argon2id + wipe)" login
printf '%-55s' "LOGIN + SELECT beyond the KDF"
for i in "${!bins[@]}"; do
    printf '%14.2f M' "$(echo "(${count[$i,login,total]} - ${count[$i,nologin,total]} - ${count[$i,login,KDF (Argon2id + wipe)]}) / 1000000" | bc -l)"
done
echo
