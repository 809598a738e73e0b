# shellcheck shell=bash
# Shell functions the benchmark scripts share: a free port, waits that
# fail loudly (with the server's log) when a server never comes up, the
# password of a `demo` being started, and Debian's Dovecot run from a
# throwaway configuration under the script's temporary directory (nothing
# of /etc/dovecot is read). Sourced after `cd` to the repository root,
# from scripts running under `set -euo pipefail`:
#
#   . benches/lib.sh
#
# Sourcing defines functions only; it starts nothing.

# bench_workdir NAME: makes the run's temporary directory, $work
# (/tmp/NAME.XXXXXX, traversable by servers running as nobody), and on exit
# kills and reaps every pid in bench_pids (add each server started with
# `&` as `bench_pids+=($!)`), stops every Dovecot dovecot_start started,
# then removes $work. A script needing more cleanup defines its own trap
# that ends with bench_cleanup.
bench_pids=()
bench_workdir() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$work"
    trap bench_cleanup EXIT
}

bench_cleanup() {
    local p
    for p in "${bench_pids[@]+"${bench_pids[@]}"}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    dovecot_stop_all
    rm -rf "$work"
}

# bench_free_port [ADDRESS]: a TCP port free on ADDRESS (127.0.0.1), bound
# and released.
bench_free_port() {
    python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' \
        "${1:-127.0.0.1}"
}

# bench_die MESSAGE [LOG...]: MESSAGE and the end of each LOG on stderr,
# then exit 1 (from a subshell, the caller's `set -e` takes it from there).
bench_die() {
    local message=$1 log
    shift
    echo "$0: $message" >&2
    for log in "$@"; do
        [ -f "$log" ] || continue
        echo "--- last lines of $log:" >&2
        tail -n 20 "$log" >&2
    done
    exit 1
}

# bench_wait_port PORT WHAT [LOG...]: waits until 127.0.0.1:PORT accepts a
# connection, for at most BENCH_WAIT_SECS (60) seconds; past that, fails
# naming WHAT and showing the LOGs.
bench_wait_port() {
    local port=$1 what=$2
    shift 2
    python3 - "$port" "${BENCH_WAIT_SECS:-60}" <<'PY' ||
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
deadline = time.monotonic() + limit
while True:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.1)
PY
        bench_die "$what never listened on 127.0.0.1:$port (waited ${BENCH_WAIT_SECS:-60} s)" "$@"
}

# bench_wait_file PATH WHAT [LOG...]: waits until PATH exists (a UNIX
# socket a server makes when it is ready), as bench_wait_port.
bench_wait_file() {
    local path=$1 what=$2 i
    shift 2
    for i in $(seq "$((${BENCH_WAIT_SECS:-60} * 10))"); do
        [ -e "$path" ] && return 0
        sleep 0.1
    done
    bench_die "$what never made $path (waited ${BENCH_WAIT_SECS:-60} s)" "$@"
}

# bench_demo_password OUT LOG: prints the password a `demo` started with
# its stdout going to OUT writes there, once it has; fails showing LOG
# (the demo's stderr) when none comes within BENCH_WAIT_SECS (60) seconds.
#   password=$(bench_demo_password "$work/demo.out" "$work/demo.log")
bench_demo_password() {
    local out=$1 log=$2 i password
    for i in $(seq "$((${BENCH_WAIT_SECS:-60} * 10))"); do
        password=$(sed -n 's/^password: //p' "$out" 2>/dev/null)
        if [ -n "$password" ]; then
            echo "$password"
            return 0
        fi
        sleep 0.1
    done
    bench_die "demo printed no password in $out (waited ${BENCH_WAIT_SECS:-60} s)" "$log"
}

# Dovecot from a throwaway configuration. A script writes DIR/dovecot.conf
# as `dovecot_conf_head DIR NAME` followed by its own settings (protocols,
# ssl, passdb, userdb, and `dovecot_imap_listeners` for IMAP), starts it
# with `dovecot_start DIR/dovecot.conf PORT...` and calls `dovecot_stop_all`
# from its cleanup. With the array `dovecot_as` set (say, to
# `(setpriv --reuid=nobody ...)`), dovecot and doveadm run under it.
dovecot_confs=()

# dovecot_conf_head DIR NAME: prints the lines every benchmark's Dovecot
# has: its run and state directories and log under DIR, an instance name
# of its own (so it never meets a system instance) and loopback only.
dovecot_conf_head() {
    local d=$1 name=$2
    mkdir -p "$d/run" "$d/state"
    cat <<CONF
instance_name = crymap-like-bench-$name-$$
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
listen = 127.0.0.1
CONF
}

# dovecot_imap_listeners IMAPS_PORT IMAP_PORT: prints the service
# imap-login block; port 0 turns that listener off.
dovecot_imap_listeners() {
    cat <<CONF
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $2
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $1
  }
}
CONF
}

# dovecot_start CONF [PORT...]: starts Dovecot (daemonized) from CONF and
# waits until each PORT on 127.0.0.1 accepts; fails showing its log (the
# `log_path` of CONF) otherwise. Stopped by dovecot_stop_all.
dovecot_start() {
    local conf=$1 log
    shift
    log=$(sed -n 's/^log_path = //p' "$conf")
    dovecot_confs+=("$conf")
    "${dovecot_as[@]+"${dovecot_as[@]}"}" dovecot -c "$conf" </dev/null ||
        bench_die "dovecot -c $conf failed to start" "$log"
    local port
    for port in "$@"; do
        bench_wait_port "$port" "dovecot ($conf)" "$log"
    done
}

# dovecot_stop CONF: stops the Dovecot started from CONF, if it runs, and
# waits (at most 10 s) for its master process to exit, so that nothing of
# it still writes when the caller removes its directory.
dovecot_stop() {
    local run master i
    run=$(sed -n 's/^base_dir = //p' "$1")
    master=$(cat "$run/master.pid" 2>/dev/null || true)
    "${dovecot_as[@]+"${dovecot_as[@]}"}" doveadm -c "$1" stop 2>/dev/null || true
    [ -n "$master" ] || return 0
    for i in $(seq 100); do
        kill -0 "$master" 2>/dev/null || return 0
        sleep 0.1
    done
}

# dovecot_stop_all: stops every Dovecot dovecot_start started (for the
# cleanup trap; harmless for one already stopped).
dovecot_stop_all() {
    local conf
    for conf in "${dovecot_confs[@]+"${dovecot_confs[@]}"}"; do
        dovecot_stop "$conf"
    done
}

# bench_crymap_listen BIN C_IMAPS C_IMAP PASSWORD [EXTRA_CONFIG [NAME]]: a
# crymap-like root at $work/NAME (default: root) with an ECDSA P-256
# certificate (as `demo` makes), `listen` on 127.0.0.1:C_IMAPS (implicit
# TLS) and 127.0.0.1:C_IMAP, EXTRA_CONFIG appended to its configuration,
# and one account `bench` (running as nobody, production Argon2id) with
# PASSWORD; starts `listen` (log in $work/NAME.log, crymap-like.log for the
# default), sets $c_pid and waits until it accepts. The certificate is
# $work/NAME/tls/{cert,key}.pem. A second NAME runs a second build (a
# baseline) beside the first.
bench_crymap_listen() {
    local bin=$1 imaps=$2 imap=$3 password=$4 extra=${5:-} name=${6:-root}
    local dir=$work/$name log=$work/crymap-like.log
    [ "$name" = root ] || log=$work/$name.log
    mkdir -p "$dir/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null
    cat >"$dir/crymap-like.toml" <<CONF
[tls]
certificate = "tls/cert.pem"
private_key = "tls/key.pem"

[listen]
imaps = ["127.0.0.1:$imaps"]
imap = ["127.0.0.1:$imap"]
max_sessions = 512
max_sessions_per_address = 512

$extra
CONF
    echo "$password" | "$bin" --root "$dir" user add bench --uid nobody --password-stdin >/dev/null
    "$bin" --root "$dir" --log stderr listen 2>"$log" &
    bench_pids+=($!)
    c_pid=$!
    bench_wait_port "$imaps" crymap-like "$log"
}

# dovecot_bench_imaps NAME D_IMAPS PASSWD_LINES: Dovecot serving implicit
# TLS only on 127.0.0.1:D_IMAPS with crymap-like's certificate (see
# bench_crymap_listen), users from PASSWD_LINES (passwd-file lines) with
# Maildir homes under $work/home as nobody; started, and its master's pid
# in $d_pid.
dovecot_bench_imaps() {
    local name=$1 imaps=$2
    mkdir -p "$work/home"
    chown nobody:nogroup "$work/home"
    printf '%s\n' "$3" >"$work/passwd"
    {
        dovecot_conf_head "$work" "$name"
        cat <<CONF
protocols = imap
disable_plaintext_auth = no
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:~/Maildir
mail_max_userip_connections = 1000
ssl = yes
ssl_cert = <$work/root/tls/cert.pem
ssl_key = <$work/root/tls/key.pem
passdb {
  driver = passwd-file
  args = $work/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$work/home/%u
}
CONF
        dovecot_imap_listeners "$imaps" 0
    } >"$work/dovecot.conf"
    dovecot_start "$work/dovecot.conf" "$imaps"
    d_pid=$(cat "$work/run/master.pid")
}
