#!/usr/bin/env bash
# Login and FETCH latency through an IMAP proxy versus straight to the
# backend (doc/scaling.md, figures in doc/benchmarks.md). Loopback only:
# one release-build backend (`listen`) on 127.0.0.2 with one account
# (production Argon2id parameters), Debian's Dovecot in proxy mode on
# 127.0.0.1 (configuration written here under a temporary directory, as in
# tests/deploy_proxy.rs: ssl=yes to the backend, checked against a private
# CA, nopassword=y). Needs root (Dovecot, the session's chroot) and the
# dovecot-imapd and openssl packages.
#
#   benches/proxy-bench.sh [--runs N]      (default 30, at most 500)
#
# For each path, N times: connect, greeting, LOGIN (to its tagged OK),
# then SELECT INBOX and FETCH 1 BODY.PEEK[] of a 20 KB message, LOGOUT.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
runs=30
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N]" >&2; exit 64 ;;
    esac
done
[ "$runs" -ge 1 ] && [ "$runs" -le 500 ] || { echo "--runs: 1 to 500" >&2; exit 64; }
[ "$(id -u)" = 0 ] || { echo "needs root (Dovecot, chroot)" >&2; exit 77; }
[ -x /usr/lib/dovecot/imap-login ] || { echo "needs dovecot-imapd" >&2; exit 77; }

cargo build --release --quiet
bin=$PWD/target/release/crymap-like
bench_workdir crymap-like-proxy-bench

# A private CA and the backend's certificate for backend-a.example.test.
mkdir -p "$work/ca" "$work/root/tls"
(
    cd "$work/ca"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req "${ec[@]}" -keyout b.key -out b.csr -subj /CN=backend-a.example.test 2>/dev/null
    echo "subjectAltName=DNS:backend-a.example.test" >ext
    openssl x509 -req -in b.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext -out b.pem 2>/dev/null
)
cp "$work/ca/b.pem" "$work/root/tls/cert.pem"
cp "$work/ca/b.key" "$work/root/tls/key.pem"

b_imaps=$(bench_free_port 127.0.0.2) b_imap=$(bench_free_port 127.0.0.2) p_imap=$(bench_free_port 127.0.0.1)
cat >"$work/root/crymap-like.toml" <<EOF
[listen]
imaps = ["127.0.0.2:$b_imaps"]
imap = ["127.0.0.2:$b_imap"]

[security]
trusted_proxies = ["127.0.0.1"]
EOF
password=bench-password-$$
echo "$password" | "$bin" --root "$work/root" user add bench --uid nobody --password-stdin >/dev/null
"$bin" --root "$work/root" --log stderr listen 2>"$work/backend.log" &
bench_pids+=($!)

cat >"$work/passwd" <<EOF
bench:::::::proxy=y host=backend-a.example.test hostip=127.0.0.2 port=$b_imaps ssl=yes nopassword=y
EOF
cat >"$work/dovecot.conf" <<EOF
instance_name = crymap-like-proxy-bench-$$
base_dir = $work/run
state_dir = $work/state
log_path = $work/dovecot.log
protocols = imap
listen = 127.0.0.1
auth_mechanisms = plain login
disable_plaintext_auth = no
default_login_user = dovenull
default_internal_user = dovecot
ssl = yes
ssl_cert = <$work/root/tls/cert.pem
ssl_key = <$work/root/tls/key.pem
ssl_ca = <$work/ca/ca.pem
ssl_require_crl = no
service imap-login {
  inet_listener imap {
    port = $p_imap
  }
  inet_listener imaps {
    port = 0
  }
}
passdb {
  driver = passwd-file
  args = $work/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
EOF
dovecot -F -c "$work/dovecot.conf" &
bench_pids+=($!)

echo "# crymap-like $(git describe --always --dirty 2>/dev/null || echo unknown), $(dovecot --version | cut -d' ' -f1), $runs runs, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
python3 - "$runs" "$password" "$b_imap" "$b_imaps" "$p_imap" <<'PY'
import socket, ssl, statistics, sys, time
runs, pw, b_imap, b_imaps, p_imap = int(sys.argv[1]), sys.argv[2], *map(int, sys.argv[3:])
# One client context for all runs: building one loads the system CA store,
# which would otherwise be timed as part of every IMAPS login.
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE

def connect(host, port, tls):
    deadline = time.time() + 20
    while True:
        try:
            s = socket.create_connection((host, port), timeout=20)
            break
        except OSError:
            if time.time() > deadline: raise
            time.sleep(0.05)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        s = ctx.wrap_socket(s)
    return s.makefile("rwb")

def command(f, tag, text):
    f.write(b"%s %s\r\n" % (tag, text)); f.flush()
    while True:
        line = f.readline()
        if not line: raise SystemExit("connection closed during %r" % text)
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"): raise SystemExit(line)
            return
        if line.rstrip().endswith(b"}"):  # a literal: read its bytes
            n = int(line.rstrip()[line.rindex(b"{") + 1:-1]); f.read(n)

body = (b"Subject: bench\r\n\r\n" + b"x" * 78 + b"\r\n") * 250
# One message to FETCH, appended straight to the backend.
f = connect("127.0.0.2", b_imap, False); f.readline()
command(f, b"a", b'LOGIN bench "%s"' % pw.encode())
f.write(b"b APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n"); f.flush()
while not f.readline().startswith(b"b "): pass
command(f, b"c", b"LOGOUT")

def run(host, port, tls):
    login, fetch = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        f = connect(host, port, tls); f.readline()
        command(f, b"a", b'LOGIN bench "%s"' % pw.encode())
        t1 = time.perf_counter()
        command(f, b"b", b"SELECT INBOX")
        t2 = time.perf_counter()
        command(f, b"c", b"FETCH 1 BODY.PEEK[]")
        t3 = time.perf_counter()
        command(f, b"d", b"LOGOUT")
        login.append((t1 - t0) * 1000); fetch.append((t3 - t2) * 1000)
    return login, fetch

def show(name, v):
    v = sorted(v)
    print("%-52s median %6.2f ms  p90 %6.2f ms  min %6.2f ms" % (name, statistics.median(v), v[len(v) * 9 // 10], v[0]))

for name, host, port, tls in [
    ("direct, cleartext IMAP", "127.0.0.2", b_imap, False),
    ("direct, IMAPS", "127.0.0.2", b_imaps, True),
    ("through Dovecot proxy (TLS to backend)", "127.0.0.1", p_imap, False),
]:
    login, fetch = run(host, port, tls)
    show(name + ": connect+LOGIN", login)
    show(name + ": FETCH 20 KB", fetch)
PY
