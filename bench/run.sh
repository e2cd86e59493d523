#!/usr/bin/env bash
# Compare socksgate with microsocks, danted and a direct (no proxy) baseline,
# loopback only, and print one markdown table.
#
# usage: bench/run.sh [path/to/socksgate]
#
# socksgate defaults to $SOCKSGATE, else src/socksgate under the repository
# top or the current (build) directory.  Every server is started fresh for
# each measurement on a free 127.0.0.1 port and stopped afterwards; only the
# processes started here are signalled (each runs in its own process group).
#
# Environment knobs (defaults in brackets):
#   SOCKSGATE            socksgate binary
#   SOCKSGATE_ARGS       socksgate arguments, {PORT} replaced
#                        [-l 127.0.0.1:{PORT} -a none, falling back to -l only]
#   BENCH_SECS [8]       measurement window for rate and bulk
#   BENCH_WARMUP [1]     unmeasured seconds before each rate window
#   BENCH_RATE_CONNS [16]  concurrent session loops in rate mode
#   BENCH_BULK_CONNS [4]   streams in bulk mode
#   BENCH_BULK_DIR [down]  down (target->client), up or echo
#   BENCH_IDLE_CONNS [1000] connections held in idle mode
#   BENCH_HOLD [2]       seconds the idle connections are held
#   BENCH_DANTE_N [1]    danted -N (mother processes)
#   BENCH_AUTH [0]       1: also measure username/password session rate:
#                        socksgate (auth = pam) and danted (socksmethod:
#                        pam.username) on the same PAM service and the same
#                        system account; microsocks with its built-in -u/-P.
#                        As root the script creates the account BENCH_USER
#                        with an MD5 hash (cheap on purpose: the servers'
#                        auth paths are measured, not the hash) and, when
#                        /etc/pam.d/socksgate is missing, installs the
#                        project's service file; it removes both at exit.
#                        Otherwise set BENCH_USER/BENCH_PASS to an existing
#                        account. SOCKSGATE_AUTH_ARGS overrides the socksgate
#                        arguments [-l 127.0.0.1:{PORT} -a pam].
#   BENCH_USER [sgbench] BENCH_PASS [bench-pass]
#   BENCH_STORM [0]      1: run the login-storm benchmark instead of the table
#                        above (root only).  It creates BENCH_STORM_USERS
#                        accounts (sgstormNN, random passwords set by
#                        chpasswd with the system's default hash: yescrypt on
#                        Debian 12) besides the cheap BENCH_USER account and
#                        removes them at exit.  BENCH_STORM_CLIENTS clients
#                        then connect at once (all connections first, then
#                        all greetings together), client i logging in as
#                        account i % M, CONNECTing to the target and making
#                        one round trip.  Measured: socksgate (auth = pam;
#                        with the credential cache off, and when the binary
#                        has auth_cache_ttl also with it on: a first storm and
#                        a "returning users" storm), danted (socksmethod:
#                        pam.username, same accounts and PAM service); the
#                        cost of one login (BENCH_STORM_SERIAL logins, one
#                        client at a time, cache off) gives the CPU-bound
#                        rate; and socksgate's session rate without auth,
#                        with PAM on the cheap account, and with PAM on one
#                        yescrypt account (cache on when available).
#   BENCH_SCALE [0]      1: run the scale benchmark instead of the table above
#                        (root only): BENCH_SCALE_CONNS [9000] idle CONNECT
#                        sessions through socksgate as root, as user
#                        BENCH_SCALE_USER [socksgate] (setpriv), and microsocks
#                        likewise, each server under prlimit --nofile=
#                        BENCH_SCALE_NOFILE [the hard limit] --nproc=
#                        BENCH_SCALE_NPROC [16640, the unit's TasksMax=], held
#                        BENCH_SCALE_HOLD [4] s, then every one checked with a
#                        1-byte echo; reports RSS, descriptors and threads per
#                        session. Client and echo target are separate processes.
#   BENCH_STORM_USERS [20]    accounts the storm logs in as
#   BENCH_STORM_CLIENTS [400] clients in one storm
#   BENCH_STORM_TIMEOUT [15]  seconds each client has from its greeting to
#                        the end of its session (handshake_timeout 10s + 5)
#   BENCH_STORM_SERIAL [BENCH_STORM_USERS]  one-at-a-time logins measured
#   BENCH_AUTH_MAX_PARALLEL, BENCH_AUTH_CACHE_SIZE  socksgate's
#                        auth_max_parallel / auth_cache_size in storm mode;
#                        unset: the daemon's defaults; passed only when the
#                        binary accepts the key (probed with -t)
#   BENCH_PAM_SERVICE [socksgate]  the PAM service both servers use
#   BENCH_METRICS [0]    1: also measure what the metrics endpoint costs:
#                        socksgate's session rate with metrics off, then on
#                        (metrics_listen on loopback) with one scraper
#                        process (python3) fetching /metrics every 100 ms, BENCH_METRICS_ROUNDS [2]
#                        times in turn, and print the on/off ratio.
#   BENCH_GSSAPI [0]     1: also run bench/gssbench.py (python3-gssapi, krb5-kdc,
#                        krb5-user): one socksgate with methods = gssapi
#                        userpass none and a throwaway MIT KDC, the same
#                        Python client for every row: session rate with
#                        no-auth, userpass (PAM, cached) and GSSAPI without
#                        protection, bulk rate plain and under GSSAPI
#                        confidentiality, each as a ratio to no-auth.
#                        BENCH_GSSAPI_CONNS [8] session loops,
#                        BENCH_GSSAPI_STREAMS [2] bulk streams, BENCH_SECS.
#   BENCH_LATENCY [0]    1: run the latency benchmark instead of the table
#                        above: the time from the CONNECT reply to the first
#                        byte of a server that speaks first (a banner sent
#                        on accept; bench/latency.py), BENCH_LATENCY_COUNT
#                        [300] sessions one at a time, for a direct
#                        connection, socksgate and microsocks, then the
#                        session rate of each; ratios to direct and
#                        microsocks. Needs python3.
#   BENCH_ONLY           space-separated subset of: direct socksgate microsocks danted
#   BENCH_HAPROXY        space-separated subset of: 1 2. Also measures the
#                        session rate and bulk modes through HAProxy (mode
#                        tcp, send-proxy-v2, balance leastconn) in front of
#                        1 and/or 2 socksgate instances on "proxy" listeners,
#                        and prints their ratio to socksgate alone from the
#                        same run. HAPROXY [/usr/sbin/haproxy] names it.
#   CC [cc]              compiler for socksbench
#
# Exit: 0 done (another server that fails or is missing is reported in the
# table), 1 internal error (build failure, no free port, the direct baseline
# failed), 2 usage, 3 socksgate itself failed to start or to be measured.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")

SECS=${BENCH_SECS:-8}
WARMUP=${BENCH_WARMUP:-1}
RATE_CONNS=${BENCH_RATE_CONNS:-16}
BULK_CONNS=${BENCH_BULK_CONNS:-4}
BULK_DIR=${BENCH_BULK_DIR:-down}
IDLE_CONNS=${BENCH_IDLE_CONNS:-1000}
HOLD=${BENCH_HOLD:-2}
DANTE_N=${BENCH_DANTE_N:-1}
AUTH=${BENCH_AUTH:-0}
BUSER=${BENCH_USER:-sgbench}
BPASS=${BENCH_PASS:-bench-pass}
PAM_SERVICE=${BENCH_PAM_SERVICE:-socksgate}
PASS_GIVEN=${BENCH_PASS+yes}
ONLY=${BENCH_ONLY:-direct socksgate microsocks danted}
STORM=${BENCH_STORM:-0}
SCALE=${BENCH_SCALE:-0}
STORM_USERS=${BENCH_STORM_USERS:-20}
STORM_CLIENTS=${BENCH_STORM_CLIENTS:-400}
STORM_TIMEOUT=${BENCH_STORM_TIMEOUT:-15}
STORM_SERIAL=${BENCH_STORM_SERIAL:-$STORM_USERS}
METRICS=${BENCH_METRICS:-0}
LATENCY=${BENCH_LATENCY:-0}
METRICS_ROUNDS=${BENCH_METRICS_ROUNDS:-2}
HAPROXY_N=${BENCH_HAPROXY:-}
GSSAPI=${BENCH_GSSAPI:-0}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}

log() { printf '%s\n' "run.sh: $*" >&2; }
fatal() { log "error: $*"; exit 1; }

case ${1:-} in
-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -le 1 ] || { log "usage: bench/run.sh [path/to/socksgate]"; exit 2; }
for v in STORM_USERS STORM_CLIENTS STORM_TIMEOUT STORM_SERIAL; do
	case ${!v} in ''|*[!0-9]*|0) log "BENCH_$v must be a positive integer"; exit 2 ;; esac
done
if [ "$STORM" = 1 ]; then
	[ "$(id -u)" = 0 ] || { log "BENCH_STORM=1 creates system accounts: run it as root"; exit 2; }
	[ "$STORM_USERS" -le 99 ] || { log "BENCH_STORM_USERS is at most 99"; exit 2; }
fi

SG=${1:-${SOCKSGATE:-}}
if [ -z "$SG" ]; then
	for c in "$top/src/socksgate" "$PWD/src/socksgate"; do
		[ -x "$c" ] && { SG=$c; break; }
	done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/socksbench.XXXXXX") || fatal "mktemp failed"
PGIDS=()	# process groups started here (server leaders)

# Stop one server we started: SIGTERM its group, wait up to 3 s, then SIGKILL.
stop_group() {
	local pg=$1 i
	kill -TERM -- "-$pg" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		kill -0 -- "-$pg" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pg" 2>/dev/null
	wait "$pg" 2>/dev/null
	return 0
}

SCRAPER=	# the /metrics scraper loop (a background subshell), while one runs
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
	local pg u
	stop_scraper
	for pg in "${PGIDS[@]}"; do
		stop_group "$pg"
	done
	PGIDS=()
	[ -n "$MADE_USER" ] && userdel "$MADE_USER" 2>/dev/null
	for u in "${MADE_USERS[@]}"; do userdel "$u" 2>/dev/null; done
	MADE_USERS=()
	[ -n "$MADE_PAM" ] && rm -f -- "$MADE_PAM"
	rm -rf -- "$work"
}
MADE_USER= MADE_PAM=
MADE_USERS=()	# storm accounts (ours: created here, or left by a killed run)
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

SB=$work/socksbench
"${CC:-cc}" -std=gnu11 -O2 -pthread -Wall -Wextra -o "$SB" "$here/socksbench.c" ||
	fatal "cannot build bench/socksbench.c"

# The account and PAM service the authenticated runs log in with.
if { [ "$AUTH" = 1 ] || [ "$STORM" = 1 ]; } && [ "$(id -u)" = 0 ] && [ -z "$PASS_GIVEN" ]; then
	if ! id "$BUSER" >/dev/null 2>&1; then
		useradd --no-create-home --shell /usr/sbin/nologin "$BUSER" ||
			fatal "cannot create the account $BUSER"
		MADE_USER=$BUSER
	fi
	echo "$BUSER:$BPASS" | chpasswd -c MD5 || fatal "cannot set the password of $BUSER"
	if [ ! -e "/etc/pam.d/$PAM_SERVICE" ]; then
		cp "$top/pam.d/socksgate" "/etc/pam.d/$PAM_SERVICE" ||
			fatal "cannot install /etc/pam.d/$PAM_SERVICE"
		MADE_PAM=/etc/pam.d/$PAM_SERVICE
	fi
fi
# The targets are on loopback, which socksgate's default policy refuses.
printf 'allow to 127.0.0.0/8,::1\n' >"$work/socksgate.conf"
printf 'pam_service = %s\nauth_fail_limit = 0\nallow to 127.0.0.0/8,::1\n' "$PAM_SERVICE" \
	>"$work/socksgate-auth.conf"

read -r eph_lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_lo=32768

# start_scraper PORT: one long-lived process, as Prometheus is, that GETs
# /metrics every 100 ms until stopped, writing a line per answer (ok or
# fail) to $work/scrapes. Sets SCRAPER.
start_scraper() {
	: >"$work/scrapes"
	python3 -c '
import http.client, sys, time
port, out = int(sys.argv[1]), open(sys.argv[2], "a")
while True:
    ok = False
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/metrics")
        r = c.getresponse()
        ok = r.status == 200 and b"socksgate_sessions_active" in r.read()
        c.close()
    except OSError:
        pass
    out.write("ok\n" if ok else "fail\n")
    out.flush()
    time.sleep(0.1)
' "$1" "$work/scrapes" &
	SCRAPER=$!
}

stop_scraper() {
	[ -n "${SCRAPER:-}" ] || return 0
	kill "$SCRAPER" 2>/dev/null
	wait "$SCRAPER" 2>/dev/null
	SCRAPER=
}

# A free loopback port below the ephemeral range (so no outgoing connection
# can take it meanwhile).
free_port() {
	local i p hi=$(( eph_lo > 11000 ? eph_lo : 60000 ))
	for ((i = 0; i < 100; i++)); do
		p=$(( 10000 + RANDOM % (hi - 10000) ))
		if command -v ss >/dev/null; then
			[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && { echo "$p"; return 0; }
		elif ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"; return 0
		fi
	done
	return 1
}

# spawn NAME CMD... : starts CMD in its own process group, its output in
# $work/NAME.out, and notes the group.  Sets PID.  Returns non-zero on failure.
PID=
spawn() {
	local name=$1 pg
	shift
	PID=
	setsid "$@" >"$work/$name.out" 2>&1 </dev/null &
	local pid=$!
	# setsid execs in place when we are not a group leader; check it did.
	pg=$(awk '{ sub(/.*\) /, ""); print $3 }' "/proc/$pid/stat" 2>/dev/null)
	if [ "$pg" != "$pid" ]; then
		sleep 0.1
		pg=$(awk '{ sub(/.*\) /, ""); print $3 }' "/proc/$pid/stat" 2>/dev/null)
	fi
	if [ "$pg" != "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		log "$name: could not start it in its own process group"
		return 1
	fi
	PGIDS+=("$pid")
	PID=$pid
}

# start_server NAME PORT CMD... : starts CMD in its own process group and
# waits until PORT answers SOCKS5.  Sets SPID.  Returns non-zero on failure.
SPID=
start_server() {
	local name=$1 port=$2 i
	shift 2
	SPID=
	spawn "$name" "$@" || return 1
	local pid=$PID
	local t0=$SECONDS
	for ((i = 0; i < 50 && SECONDS - t0 < 6; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		if "$SB" -q --proxy "127.0.0.1:$port" --mode rate --conns 1 --count 3 \
			--duration 1 --timeout 1000 "${SMOKE[@]}" >/dev/null 2>&1; then
			SPID=$pid
			return 0
		fi
		sleep 0.1
	done
	log "$name did not come up on port $port; its output:"
	sed 's/^/    /' "$work/$name.out" | tail -n 8 >&2
	stop_server "$pid"
	return 1
}

stop_server() {
	local pg=$1 keep=() p
	stop_group "$pg"
	for p in "${PGIDS[@]}"; do [ "$p" = "$pg" ] || keep+=("$p"); done
	PGIDS=("${keep[@]}")
}

# HAProxy on PORT in front of N socksgate instances whose listeners expect
# the PROXY protocol header; the instances' groups go to BACKENDS (stopped
# with the HAProxy one).  Sets SPID to HAProxy's.
BACKENDS=()
launch_haproxy() {
	local n=$1 port=$2 i p t servers=()
	for ((i = 1; i <= n; i++)); do
		p=$(free_port) || return 1
		printf 'listen = 127.0.0.1:%s proxy\nproxy_from = 127.0.0.1\nauth = none\nallow_unauthenticated = yes\nallow to 127.0.0.0/8,::1\n' \
			"$p" >"$work/socksgate-proxied-$i.conf"
		spawn "socksgate-proxied-$i" "$SG" -c "$work/socksgate-proxied-$i.conf" || return 1
		BACKENDS+=("$PID")
		for ((t = 0; t < 60; t++)); do
			grep -q started "$work/socksgate-proxied-$i.out" && break
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		grep -q started "$work/socksgate-proxied-$i.out" || {
			log "socksgate behind HAProxy did not start:"
			sed 's/^/    /' "$work/socksgate-proxied-$i.out" | tail -n 8 >&2
			return 1
		}
		servers+=("    server gw$i 127.0.0.1:$p send-proxy-v2 check inter 2s check-send-proxy")
	done
	{
		printf '%s\n' "global" "    maxconn 4096" "defaults" "    mode tcp" \
			"    timeout connect 5s" "    timeout client 60s" "    timeout server 60s" \
			"    retries 3" "    option redispatch 1" \
			"frontend socks" "    bind 127.0.0.1:$port" "    default_backend gateways" \
			"backend gateways" "    balance leastconn"
		printf '%s\n' "${servers[@]}"
	} >"$work/haproxy.cfg"
	start_server "haproxy$n" "$port" "$HAPROXY" -db -f "$work/haproxy.cfg"
}

stop_backends() {
	local pg
	for pg in "${BACKENDS[@]}"; do
		stop_server "$pg"
	done
	BACKENDS=()
}

# launch NAME PORT: start server NAME on PORT with its usual arguments.
SMOKE=()	# extra socksbench arguments for the readiness check
launch() {
	local name=$1 port=$2
	SMOKE=()
	case $name in *-auth) SMOKE=(--user "$BUSER" --pass "$BPASS") ;; esac
	case $name in
	socksgate)
		if [ -n "${SOCKSGATE_ARGS:-}" ]; then
			# shellcheck disable=SC2086
			start_server socksgate "$port" "$SG" ${SOCKSGATE_ARGS//\{PORT\}/$port}
		elif [ -n "${SG_NO_A:-}" ]; then
			start_server socksgate "$port" "$SG" -c "$work/socksgate.conf" -l "127.0.0.1:$port"
		else
			start_server socksgate "$port" "$SG" -c "$work/socksgate.conf" -l "127.0.0.1:$port" -a none && return 0
			log "socksgate: retrying without '-a none'"
			SG_NO_A=1
			start_server socksgate "$port" "$SG" -l "127.0.0.1:$port"
		fi ;;
	socksgate-metrics)
		local mport
		mport=$(free_port) || return 1
		printf 'metrics_listen = 127.0.0.1:%s\nallow to 127.0.0.0/8,::1\n' "$mport" \
			>"$work/socksgate-metrics.conf"
		start_server socksgate-metrics "$port" "$SG" -c "$work/socksgate-metrics.conf" \
			-l "127.0.0.1:$port" -a none || return 1
		start_scraper "$mport" ;;
	haproxy1|haproxy2)
		launch_haproxy "${name#haproxy}" "$port" ;;
	socksgate-auth)
		local a="-c ${SG_AUTH_CONF:-$work/socksgate-auth.conf} -l 127.0.0.1:{PORT} -a pam"
		a=${SOCKSGATE_AUTH_ARGS:-$a}
		# shellcheck disable=SC2086
		start_server socksgate-auth "$port" "$SG" ${a//\{PORT\}/$port} ;;
	microsocks)
		start_server microsocks "$port" microsocks -i 127.0.0.1 -p "$port" ;;
	microsocks-auth)
		start_server microsocks-auth "$port" microsocks -i 127.0.0.1 -p "$port" -u "$BUSER" -P "$BPASS" ;;
	danted|danted-auth)
		local priv=root unpriv=nobody method=none
		if [ "$(id -u)" != 0 ]; then priv=$(id -un); unpriv=$priv; fi
		[ "$name" = danted-auth ] && method=pam.username
		cat >"$work/danted.conf" <<-EOF
		logoutput: $work/danted.log
		internal: 127.0.0.1 port = $port
		external: 127.0.0.1
		socksmethod: $method
		clientmethod: none
		user.privileged: $priv
		user.unprivileged: $unpriv
		timeout.negotiate: 30
		timeout.io: 0
		client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
		socks pass {
			from: 127.0.0.0/8 to: 0.0.0.0/0
			command: connect
			pam.servicename: $PAM_SERVICE
		}
		EOF
		# no -D: stays in the foreground
		start_server "$name" "$port" danted -N "$DANTE_N" -f "$work/danted.conf" \
			-p "$work/danted.pid" ;;
	*) return 1 ;;
	esac
}

# kv LINE KEY
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

declare -A R	# R[server,field]
INTERNAL=0

# measure SERVER MODE: fresh server, one socksbench run, results into R.
measure() {
	local srv=$1 mode=$2 port args=() line rc
	local base=$srv
	case $mode in
	rate) args=(--mode rate --conns "$RATE_CONNS" --duration "$SECS" --warmup "$WARMUP") ;;
	auth) args=(--mode rate --conns "$RATE_CONNS" --duration "$SECS" --warmup "$WARMUP"
		--user "$BUSER" --pass "$BPASS"); base=$srv-auth ;;
	auth-y)	# storm mode: one yescrypt account logging in again and again
		args=(--mode rate --conns "$RATE_CONNS" --duration "$SECS" --warmup "$WARMUP"
		--user "$YUSER" --pass "$YPASS" --timeout "$((STORM_TIMEOUT * 1000))")
		base=$srv-auth ;;
	metrics) args=(--mode rate --conns "$RATE_CONNS" --duration "$SECS" --warmup "$WARMUP")
		base=$srv-metrics ;;
	bulk) args=(--mode bulk --conns "$BULK_CONNS" --duration "$SECS" --dir "$BULK_DIR") ;;
	idle) args=(--mode idle --conns "$IDLE_CONNS" --hold "$HOLD" --duration $((HOLD + 5))) ;;
	esac
	if [ "$srv" != direct ]; then
		port=$(free_port) || { log "no free port"; INTERNAL=1; return 1; }
		if ! launch "$base" "$port"; then
			stop_backends
			R[$srv,$mode]=fail
			return 1
		fi
		args+=(--proxy "127.0.0.1:$port")
		[ "$mode" = idle ] && args+=(--server-pid "$SPID")
		sleep 0.5	# let a multi-process server settle before "before"
	fi
	log "$srv: $mode ..."
	line=$("$SB" "${args[@]}" 2>"$work/sb.err")
	rc=$?
	[ -s "$work/sb.err" ] && sed 's/^/    /' "$work/sb.err" >&2
	[ -n "$line" ] && log "  $line"
	if [ "$srv" != direct ]; then
		if ! kill -0 "$SPID" 2>/dev/null; then
			log "$srv died during $mode"
			rc=1
		fi
		stop_scraper
		stop_server "$SPID"
		stop_backends
	fi
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		R[$srv,$mode]=fail
		[ "$srv" = direct ] && INTERNAL=1
		return 1
	fi
	R[$srv,$mode]=ok
	local k
	for k in sessions_per_s p50_ms p99_ms errors mb_per_s kib_per_conn_rss kib_per_conn_pss \
		threads_after procs_after alive opened; do
		R[$srv,$mode,$k]=$(kv "$line" "$k")
	done
	return 0
}

servers=()
for s in $ONLY; do
	case $s in
	direct) servers+=(direct) ;;
	socksgate)
		if [ -n "$SG" ] && [ -x "$SG" ]; then servers+=(socksgate)
		else log "socksgate binary not found (${SG:-src/socksgate}): skipping it"; fi ;;
	microsocks)
		if command -v microsocks >/dev/null; then servers+=(microsocks)
		else log "microsocks not installed: skipping it"; fi ;;
	danted)
		if command -v danted >/dev/null; then servers+=(danted)
		else log "danted (dante-server) not installed: skipping it"; fi ;;
	*) log "unknown server in BENCH_ONLY: $s"; exit 2 ;;
	esac
done
for n in $HAPROXY_N; do
	case $n in
	1|2) ;;
	*) log "BENCH_HAPROXY takes 1 and/or 2, not $n"; exit 2 ;;
	esac
	if [ ! -x "$HAPROXY" ]; then
		log "HAProxy not found ($HAPROXY): skipping BENCH_HAPROXY"
		break
	fi
	if [[ " ${servers[*]} " != *" socksgate "* ]]; then
		log "BENCH_HAPROXY needs socksgate in BENCH_ONLY: skipping it"
		break
	fi
	servers+=("haproxy$n")
done

# shellcheck source=storm.sh
[ "$STORM" = 1 ] && . "$here/storm.sh"	# runs the storm benchmark and exits
# shellcheck source=scale.sh
[ "$SCALE" = 1 ] && . "$here/scale.sh"	# runs the scale benchmark and exits

modes=(rate bulk idle)
[ "$LATENCY" = 1 ] && modes=()	# latency.sh, below, measures instead
[ "$AUTH" = 1 ] && modes+=(auth)
t_start=$SECONDS
for s in "${servers[@]}"; do
	for m in "${modes[@]}"; do
		[ "$s" = direct ] && [ "$m" = idle ] && continue
		# Behind HAProxy: the session rate and the bulk modes.
		case $s in haproxy*) [ "$m" = rate ] || [ "$m" = bulk ] || continue ;; esac
		if [ "$m" = auth ]; then
			[ "$s" != direct ] || continue
		fi
		measure "$s" "$m"
		# a server that cannot even start is not retried for other modes
		if [ "${R[$s,$m]}" = fail ] && [ -z "${SPID:-}" ] && [ "$s" != direct ]; then
			for m2 in "${modes[@]}"; do R[$s,$m2]=${R[$s,$m2]:-fail}; done
			break
		fi
	done
done

# ---- table ----
# cell SERVER MODE KEY [decimals]
cell() {
	local st=${R[$1,$2]:-} v
	case $st in
	'') echo "—"; return ;;
	fail) echo "fail"; return ;;
	esac
	v=${R[$1,$2,$3]:-}
	[ -z "$v" ] || [ "$v" = na ] && { echo "—"; return; }
	printf "%.${4:-1}f" "$v"
}
errnote() {
	local e=${R[$1,$2,errors]:-0}
	[ -n "$e" ] && [ "$e" != 0 ] && printf ' (%s err)' "$e"
}
ratio_of() {	# ratio_of A B MODE KEY: A / B
	local a=${R[$1,$3,$4]:-} b=${R[$2,$3,$4]:-}
	if [ "${R[$1,$3]:-}" != ok ] || [ "${R[$2,$3]:-}" != ok ] || [ -z "$a" ] || [ -z "$b" ] ||
	   [ "$a" = na ] || [ "$b" = na ]; then
		echo "—"; return
	fi
	awk -v a="$a" -v b="$b" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f×", a / b }'
}
ratio() {	# ratio SERVER MODE KEY: socksgate / SERVER
	ratio_of socksgate "$1" "$2" "$3"
}

label() {
	case $1 in
	direct) echo "direct (no proxy)" ;;
	danted) echo "danted -N $DANTE_N" ;;
	haproxy1) echo "HAProxy → 1 socksgate" ;;
	haproxy2) echo "HAProxy → 2 socksgate" ;;
	*) echo "$1" ;;
	esac
}

# shellcheck source=latency.sh
[ "$LATENCY" = 1 ] && . "$here/latency.sh"	# runs the latency benchmark and exits

hdr="| server | sessions/s | p50 ms | p99 ms | bulk MB/s ($BULK_DIR) | idle KiB/conn RSS | idle KiB/conn PSS | tasks @ $IDLE_CONNS idle |"
sep="|---|---:|---:|---:|---:|---:|---:|---:|"
if [ "$AUTH" = 1 ]; then hdr="$hdr auth sessions/s |"; sep="$sep---:|"; fi
echo
echo "$hdr"
echo "$sep"
for s in "${servers[@]}"; do
	tasks="—"
	if [ "${R[$s,idle]:-}" = ok ]; then
		tasks=${R[$s,idle,threads_after]}
		[ "${R[$s,idle,procs_after]:-1}" != 1 ] && tasks="$tasks (${R[$s,idle,procs_after]} procs)"
	elif [ "${R[$s,idle]:-}" = fail ]; then tasks=fail; fi
	row="| $(label "$s") | $(cell "$s" rate sessions_per_s 0)$(errnote "$s" rate) | $(cell "$s" rate p50_ms 2) | $(cell "$s" rate p99_ms 2) | $(cell "$s" bulk mb_per_s 0)$(errnote "$s" bulk) | $(cell "$s" idle kib_per_conn_rss 1)$(errnote "$s" idle) | $(cell "$s" idle kib_per_conn_pss 1) | $tasks |"
	[ "$AUTH" = 1 ] && row="$row $(cell "$s" auth sessions_per_s 0)$(errnote "$s" auth) |"
	echo "$row"
done
if [[ " ${servers[*]} " == *" socksgate "* ]]; then
	for s in "${servers[@]}"; do
		case $s in socksgate|haproxy*) continue ;; esac
		row="| socksgate ÷ $(label "$s") | $(ratio "$s" rate sessions_per_s) | $(ratio "$s" rate p50_ms) | $(ratio "$s" rate p99_ms) | $(ratio "$s" bulk mb_per_s) | $(ratio "$s" idle kib_per_conn_rss) | $(ratio "$s" idle kib_per_conn_pss) | $(ratio "$s" idle threads_after) |"
		[ "$AUTH" = 1 ] && row="$row $(ratio "$s" auth sessions_per_s) |"
		echo "$row"
	done
	# The balancer hop and the second instance, against socksgate alone.
	for s in "${servers[@]}"; do
		case $s in haproxy*) ;; *) continue ;; esac
		row="| $(label "$s") ÷ socksgate | $(ratio_of "$s" socksgate rate sessions_per_s) | $(ratio_of "$s" socksgate rate p50_ms) | $(ratio_of "$s" socksgate rate p99_ms) | $(ratio_of "$s" socksgate bulk mb_per_s) | — | — | — |"
		[ "$AUTH" = 1 ] && row="$row — |"
		echo "$row"
	done
fi
echo
echo "rate: $RATE_CONNS loops, ${SECS}s after ${WARMUP}s warm-up, 64 B request + 64 B response per session; bulk: $BULK_CONNS streams for ${SECS}s; idle: $IDLE_CONNS proxied connections held ${HOLD}s, memory delta (server and all its child processes) per connection. Ratios: higher is better for sessions/s and MB/s, lower for latency and memory. $(nproc 2>/dev/null || echo '?') CPUs shared by client, target and server; $((SECONDS - t_start)) s total."

# ---- the metrics endpoint's cost: off and on in turn, same run ----
declare -A MR	# MR[off|on,round] sessions/s, MR[on,round,scrapes]
if [ "$METRICS" = 1 ] && [[ " ${servers[*]} " == *" socksgate "* ]]; then
	command -v python3 >/dev/null || fatal "BENCH_METRICS=1 needs python3 (the scraper)"
	for ((round = 1; round <= METRICS_ROUNDS; round++)); do
		for m in rate metrics; do
			measure socksgate "$m" || continue
			key=off; [ "$m" = metrics ] && key=on
			MR[$key,$round]=${R[socksgate,$m,sessions_per_s]}
			MR[$key,$round,p99]=${R[socksgate,$m,p99_ms]}
			if [ "$m" = metrics ]; then
				MR[on,$round,scrapes]=$(grep -c '^ok' "$work/scrapes")
				MR[on,$round,failed]=$(grep -c '^fail' "$work/scrapes")
			fi
		done
	done
fi

if [ "$METRICS" = 1 ] && [ -n "${MR[off,1]:-}" ]; then
	echo
	echo "| socksgate session rate | metrics off sessions/s | p99 ms | metrics on, scraped every 100 ms: sessions/s | p99 ms | scrapes (failed) | on ÷ off |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	sum_off=0 sum_on=0
	for ((round = 1; round <= METRICS_ROUNDS; round++)); do
		off=${MR[off,$round]:-} on=${MR[on,$round]:-}
		if [ -z "$off" ] || [ -z "$on" ]; then continue; fi
		sum_off=$(awk -v a="$sum_off" -v b="$off" 'BEGIN { print a + b }')
		sum_on=$(awk -v a="$sum_on" -v b="$on" 'BEGIN { print a + b }')
		printf '| round %d | %.0f | %.2f | %.0f | %.2f | %s (%s) | %s |\n' "$round" "$off" \
			"${MR[off,$round,p99]}" "$on" "${MR[on,$round,p99]}" "${MR[on,$round,scrapes]}" \
			"${MR[on,$round,failed]}" "$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f×", a / b }')"
	done
	printf '| all rounds | %.0f | | %.0f | | | %s |\n' "$sum_off" "$sum_on" \
		"$(awk -v a="$sum_on" -v b="$sum_off" 'BEGIN { if (b > 0) printf "%.3f×", a / b; else print "—" }')"
	echo
	echo "metrics: each round runs socksgate's rate measurement with metrics off, then with metrics_listen on and a scraper fetching /metrics every 100 ms; 1.00× means no cost."
fi

# ---- GSSAPI beside userpass and no-auth: bench/gssbench.py, same run ----
bench_gssapi() {
	local py=/usr/bin/python3 rc
	[ -x "$py" ] || py=python3
	echo
	"$py" "$here/gssbench.py" "$SG" "$SECS" "${BENCH_GSSAPI_CONNS:-8}" \
		"${BENCH_GSSAPI_STREAMS:-2}" </dev/null
	rc=$?
	case $rc in
	0) ;;
	77) log "BENCH_GSSAPI: skipped (python3-gssapi or the krb5 tools are missing)" ;;
	*) log "BENCH_GSSAPI: gssbench.py failed ($rc)"; INTERNAL=1 ;;
	esac
}
[ "$GSSAPI" = 1 ] && bench_gssapi

[ "$INTERNAL" = 0 ] || { log "internal error (see above)"; exit 1; }
for m in "${modes[@]}"; do
	if [ "${R[socksgate,$m]:-}" = fail ]; then
		log "socksgate failed a measurement (see above)"
		exit 3
	fi
done
exit 0
