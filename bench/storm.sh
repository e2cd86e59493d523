# The login-storm benchmark (BENCH_STORM=1), sourced by bench/run.sh once its
# helpers (launch, measure, stop_server, free_port, kv, R) and the server list
# exist.  Prints one markdown table and the ratios, then exits.  See the
# BENCH_STORM knobs in run.sh -h.
# Variables are shared both ways with run.sh; R is an associative array.
# shellcheck shell=bash disable=SC2154,SC2153,SC2034,SC2004

STORM_GECOS="socksgate bench storm account (temporary)"

# The M storm accounts, "user:password" lines in $work/accounts (mode 600).
# An account that exists already is reused only when it carries our comment
# (left by a run that was killed before its cleanup); any other stops the run.
storm_accounts() {
	local i u p
	{ : >"$work/accounts" && chmod 600 "$work/accounts"; } || fatal "cannot write $work/accounts"
	for ((i = 1; i <= STORM_USERS; i++)); do
		u=$(printf 'sgstorm%02d' "$i")
		if id "$u" >/dev/null 2>&1; then
			[ "$(getent passwd "$u" | cut -d: -f5)" = "$STORM_GECOS" ] ||
				fatal "account $u exists and is not a bench account: not touching it"
		else
			useradd --no-create-home --shell /usr/sbin/nologin --comment "$STORM_GECOS" "$u" ||
				fatal "cannot create the account $u"
		fi
		MADE_USERS+=("$u")
		p=$(head -c 15 /dev/urandom | base64 | tr -d '+/=')
		printf '%s:%s\n' "$u" "$p" >>"$work/accounts"
	done
	# no -c/-e: chpasswd goes through PAM (common-password), the system default hash
	chpasswd <"$work/accounts" || fatal "chpasswd failed"
	STORM_HASH=$(getent shadow sgstorm01 | cut -d: -f2 | cut -d'$' -f2,3)
	IFS=: read -r YUSER YPASS <"$work/accounts"
}

# sg_accepts LINE: whether socksgate -t accepts a configuration holding LINE.
sg_accepts() {
	printf '%s\n' "$1" >"$work/probe.conf"
	"$SG" -t -c "$work/probe.conf" >/dev/null 2>&1
}

# storm_conf FILE TTL: socksgate's configuration for the storm, the cache
# TTL written only when the binary knows the key.
storm_conf() {
	{
		printf 'pam_service = %s\nauth_fail_limit = 0\nallow to 127.0.0.0/8,::1\n' \
			"$PAM_SERVICE"
		[ -n "$HAS_CACHE" ] && printf 'auth_cache_ttl = %s\n' "$2"
		[ -n "$CACHE_SIZE" ] && printf 'auth_cache_size = %s\n' "$CACHE_SIZE"
		[ -n "$MAX_PAR" ] && printf 'auth_max_parallel = %s\n' "$MAX_PAR"
	} >"$1"
}

# storm KEY SOCKSBENCH-ARGS...: one storm against the server started last
# ($SPID on $SPORT); results into R[KEY,field].
storm() {
	local key=$1 line k
	shift
	log "$key: storm $* ..."
	line=$("$SB" --mode storm --proxy "127.0.0.1:$SPORT" --server-pid "$SPID" \
		--accounts "$work/accounts" --timeout "$((STORM_TIMEOUT * 1000))" "$@" 2>"$work/sb.err")
	[ -s "$work/sb.err" ] && sed 's/^/    /' "$work/sb.err" >&2
	if [ -z "$line" ]; then
		R[$key]=fail
		return 1
	fi
	log "  $line"
	R[$key]=ok
	R[$key,line]=$line
	for k in clients accounts logins ok timeouts closed refused err_connect errors wall_s \
		login_wall_s logins_per_s login_p50_ms login_p99_ms login_mean_ms peak_kib \
		server_cpu_s cpu_per_login_ms; do
		R[$key,$k]=$(kv "$line" "$k")
	done
	kill -0 "$SPID" 2>/dev/null || { log "the server died during $key"; R[$key]=fail; return 1; }
	return 0
}

# storm_start NAME CONF: a fresh server for storms (socksgate-auth or danted-auth).
storm_start() {
	SPORT=$(free_port) || { log "no free port"; INTERNAL=1; return 1; }
	SG_AUTH_CONF=$2
	launch "$1" "$SPORT" || return 1
	sleep 0.5	# let a multi-process server settle
}

storm_socksgate() {
	if storm_start socksgate-auth "$work/sg-off.conf"; then
		storm sg-serial --conns "$STORM_SERIAL" --serial
		storm sg-off --conns "$STORM_CLIENTS"
		stop_server "$SPID"
	else
		R[sg-serial]=fail R[sg-off]=fail
	fi
	[ -n "$HAS_CACHE" ] || return 0
	sleep 1
	if storm_start socksgate-auth "$work/sg-on.conf"; then
		storm sg-on1 --conns "$STORM_CLIENTS"
		sleep 1
		storm sg-on2 --conns "$STORM_CLIENTS"
		stop_server "$SPID"
	else
		R[sg-on1]=fail R[sg-on2]=fail
	fi
}

storm_danted() {
	if storm_start danted-auth ""; then
		storm dante --conns "$STORM_CLIENTS"
		stop_server "$SPID"
	else
		R[dante]=fail
	fi
}

# ---- setup ----
storm_accounts
HAS_CACHE='' CACHE_SIZE='' MAX_PAR=''
sg_accepts 'auth_cache_ttl = 0' && HAS_CACHE=1
if [ -n "${BENCH_AUTH_CACHE_SIZE:-}" ]; then
	if sg_accepts "auth_cache_size = $BENCH_AUTH_CACHE_SIZE"; then CACHE_SIZE=$BENCH_AUTH_CACHE_SIZE
	else log "socksgate does not accept auth_cache_size = $BENCH_AUTH_CACHE_SIZE: not passed"; fi
fi
if [ -n "${BENCH_AUTH_MAX_PARALLEL:-}" ]; then
	if sg_accepts "auth_max_parallel = $BENCH_AUTH_MAX_PARALLEL"; then MAX_PAR=$BENCH_AUTH_MAX_PARALLEL
	else log "socksgate does not accept auth_max_parallel = $BENCH_AUTH_MAX_PARALLEL: not passed"; fi
fi
storm_conf "$work/sg-off.conf" 0
storm_conf "$work/sg-on.conf" 5m
cache_note="credential cache available"
[ -n "$HAS_CACHE" ] || cache_note="no credential cache in this socksgate"
log "storm: $STORM_CLIENTS clients over $STORM_USERS accounts (hash \$$STORM_HASH\$), $cache_note"

t_start=$SECONDS
have_sg='' have_dante=''
for s in "${servers[@]}"; do
	case $s in
	socksgate) have_sg=1; storm_socksgate ;;
	danted) have_dante=1; storm_danted ;;
	*) log "$s: no PAM login to storm; skipped in storm mode" ;;
	esac
done
if [ -n "$have_sg" ]; then
	# session rates: no auth, PAM on the cheap account (cache off), PAM on one
	# yescrypt account logging in again and again (cache on when available)
	SG_AUTH_CONF=$work/sg-off.conf
	measure socksgate rate
	measure socksgate auth
	[ -n "$HAS_CACHE" ] && SG_AUTH_CONF=$work/sg-on.conf
	measure socksgate auth-y
	SG_AUTH_CONF=''
fi

# ---- table ----
NCPU=$(nproc 2>/dev/null || echo 1)
# One login's cost: the server's CPU time per login, one client at a time
# (robust when other work shares the CPUs); its wall time when CPU is unknown.
T_CHECK='' T_HOW=''
if [ "${R[sg-serial]:-}" = ok ] && [ "${R[sg-serial,logins]:-0}" -gt 0 ]; then
	T_CHECK=${R[sg-serial,cpu_per_login_ms]} T_HOW="server CPU time"
	case $T_CHECK in ''|na|0|0.00) T_CHECK=${R[sg-serial,login_mean_ms]} T_HOW="wall time" ;; esac
fi

# fmt VALUE DECIMALS
fmt() {
	case $1 in
	''|na|—) echo "—" ;;
	inf) echo ">$((STORM_TIMEOUT * 1000))" ;;	# that share did not log in in time
	*) printf "%.${2}f" "$1" ;;
	esac
}
# bound_rate CHECKS CLIENTS: logins/s when the CPUs do nothing but the checks
bound_rate() {
	if [ -z "$T_CHECK" ] || [ "$1" -le 0 ]; then echo "—"; return; fi
	awk -v c="$1" -v n="$2" -v t="$T_CHECK" -v p="$NCPU" 'BEGIN { printf "%.1f", n * p * 1000 / (c * t) }'
}
pct() {
	case $2 in —|'') echo "—"; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.0f%%", 100 * a / b }'
}
# phases KEY: "timeouts in auth: 12, closed in greeting: 3" from the storm's line
phases() {
	printf '%s\n' "${R[$1,line]:-}" | tr ' ' '\n' |
		sed -n 's/^timeout_\([a-z]*\)=\(.*\)/timeout in \1: \2/p; s/^closed_\([a-z]*\)=\(.*\)/closed by the server in \1: \2/p' |
		paste -sd, - | sed 's/,/, /g'
}
# storm_row KEY SERVER LOAD CHECKS
storm_row() {
	local k=$1 b r
	if [ "${R[$k]:-}" != ok ]; then
		echo "| $2 | $3 | fail | — | — | — | — | — | — | — | — | — | — |"
		return
	fi
	b=$(bound_rate "$4" "${R[$k,clients]}")
	r=${R[$k,logins_per_s]}
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$3" \
		"$(fmt "$r" 1)" "$b" "$(pct "$r" "$b")" "${R[$k,logins]} / ${R[$k,ok]}" \
		"${R[$k,timeouts]}" \
		"$((R[$k,closed] + R[$k,refused] + R[$k,err_connect]))" \
		"$(fmt "${R[$k,login_p50_ms]}" 1)" "$(fmt "${R[$k,login_p99_ms]}" 1)" \
		"$(fmt "${R[$k,login_wall_s]}" 2)" "$(fmt "${R[$k,server_cpu_s]}" 1)" \
		"$(awk -v k="${R[$k,peak_kib]}" 'BEGIN { if (k == "na") print "—"; else printf "%.0f", k / 1024 }')"
}
rate_row() {	# rate_row MODE LOAD
	if [ "${R[socksgate,$1]:-}" != ok ]; then
		echo "| socksgate | $2 | fail | — | — | — | — | — | — | — | — | — | — |"
		return
	fi
	printf '| socksgate | %s | %s | — | — | — | — | %s | %s | %s | %s | — | — |\n' "$2" \
		"$(fmt "${R[socksgate,$1,sessions_per_s]}" 0)" "${R[socksgate,$1,errors]:-0}" \
		"$(fmt "${R[socksgate,$1,p50_ms]}" 2)" "$(fmt "${R[socksgate,$1,p99_ms]}" 2)" "$SECS"
}

N=$STORM_CLIENTS M=$STORM_USERS
cache_off="cache off"
[ -n "$HAS_CACHE" ] || cache_off="no cache (this build has none)"
echo
echo "| server | load | logins/s | CPU-bound logins/s | % of bound | logged in / done | timeouts | failed | p50 ms | p99 ms | wall s | server CPU s | peak RSS MiB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
if [ -n "$have_sg" ]; then
	storm_row sg-serial socksgate "1 client at a time, $STORM_SERIAL logins, $cache_off" 0
	storm_row sg-off socksgate "storm $N × $M accounts, $cache_off" "$N"
	if [ -n "$HAS_CACHE" ]; then
		storm_row sg-on1 socksgate "storm $N × $M, cache on, first storm" "$((M < N ? M : N))"
		storm_row sg-on2 socksgate "storm $N × $M, cache on, returning users" 0
	fi
fi
[ -n "$have_dante" ] && storm_row dante "danted -N $DANTE_N" "storm $N × $M, pam.username" "$N"
if [ -n "$have_sg" ]; then
	rate_row rate "sessions, $RATE_CONNS loops, no auth"
	rate_row auth "sessions, $RATE_CONNS loops, PAM, MD5 account, $cache_off"
	if [ -n "$HAS_CACHE" ]; then
		rate_row auth-y "sessions, $RATE_CONNS loops, PAM, yescrypt account, cache on"
	else
		rate_row auth-y "sessions, $RATE_CONNS loops, PAM, yescrypt account, $cache_off"
	fi
fi
echo

# ---- ratios ----
ratio() {	# ratio A B DECIMALS: A / B
	case "$1$2" in *—*) echo "—"; return ;; esac
	if [ -z "$1" ] || [ -z "$2" ]; then echo "—"; return; fi
	awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.*f", d, a / b }'
}
okv() { [ "${R[$1]:-}" = ok ] && echo "${R[$1,$2]}" || echo "—"; }
if [ -n "$have_sg" ]; then
	[ -n "$T_CHECK" ] && echo "* One login costs $(fmt "$T_CHECK" 1) ms of $T_HOW (one client at a time, hash \$$STORM_HASH\$; wall $(fmt "${R[sg-serial,login_mean_ms]}" 1) ms); spread over $NCPU CPUs that bounds the rate at $(bound_rate 1 1) logins/s when every login is a check, and a storm of $N clients over $M accounts at $(bound_rate "$((M < N ? M : N))" "$N") logins/s with one check per distinct credential."
	echo "* Storm, $cache_off: $(pct "$(okv sg-off logins_per_s)" "$(bound_rate "$N" "$N")") of the CPU-bound rate, $(okv sg-off timeouts) timeouts, $(okv sg-off errors) clients without a finished session.$([ -n "$(phases sg-off)" ] && echo " ($(phases sg-off))")"
	if [ -n "$HAS_CACHE" ]; then
		echo "* Storm, cache on: first $(pct "$(okv sg-on1 logins_per_s)" "$(bound_rate "$((M < N ? M : N))" "$N")") of the CPU-bound rate (one check per distinct credential), $(okv sg-on1 timeouts) timeouts$([ -n "$(phases sg-on1)" ] && echo " ($(phases sg-on1))"); returning users $(fmt "$(okv sg-on2 logins_per_s)" 0) logins/s, $(okv sg-on2 timeouts) timeouts. Aim: ≥ 80% and no timeout."
	fi
	echo "* Returning user's authenticated session rate ÷ no-auth session rate: $(ratio "${R[socksgate,auth-y,sessions_per_s]:-}" "${R[socksgate,rate,sessions_per_s]:-}") ($([ -n "$HAS_CACHE" ] && echo "cache on" || echo "no cache in this build"); aim ≥ 0.5). PAM with the MD5 account ÷ no auth: $(ratio "${R[socksgate,auth,sessions_per_s]:-}" "${R[socksgate,rate,sessions_per_s]:-}")."
	if [ -n "$have_dante" ]; then
		last=sg-off
		[ -n "$HAS_CACHE" ] && last=sg-on1
		echo "* socksgate ($last) ÷ danted, storm logins/s: $(ratio "$(okv $last logins_per_s)" "$(okv dante logins_per_s)")×; peak RSS: $(ratio "$(okv $last peak_kib)" "$(okv dante peak_kib)")×.$([ -n "$(phases dante)" ] && echo " danted: $(phases dante).")"
	fi
	echo "* Peak RSS aim under a $N-client storm: < 300 MB."
fi
echo
echo "Storm: $N clients open their connections, then all send their greetings at once; client i logs in (RFC 1929) as account i % $M, CONNECTs to an in-process target and makes one 64 B round trip; each has ${STORM_TIMEOUT}s from its greeting. logins/s = successful logins ÷ time from the greetings to the last successful login (wall s); p50/p99 = greeting sent → auth reply over all clients of a storm row (>$((STORM_TIMEOUT * 1000)): that share did not log in in time), the whole session for the session rows ($SECS s after ${WARMUP}s warm-up). logged in / done: clients whose login succeeded / whose session finished; timeouts: clients past their ${STORM_TIMEOUT}s; failed: closed by the server, refused, or not connected. CPU-bound logins/s = logins ÷ (checks the load needs × one login's cost ÷ $NCPU CPUs), the cost being the server's CPU time per login in the one-at-a-time row; server CPU s: user + system time of the server's processes during the run. Peak RSS: VmHWM for one process (reset before each storm), else VmRSS summed over the process tree every 50 ms. Accounts: $M × \$$STORM_HASH\$ (chpasswd default) + $BUSER (MD5). $NCPU CPUs shared by client, target and server; $((SECONDS - t_start)) s total."

[ "$INTERNAL" = 0 ] || { log "internal error (see above)"; exit 1; }
if [ -n "$have_sg" ]; then
	for k in sg-serial sg-off ${HAS_CACHE:+sg-on1 sg-on2}; do
		[ "${R[$k]:-}" = ok ] || { log "socksgate failed a storm ($k)"; exit 3; }
	done
	for m in rate auth auth-y; do
		[ "${R[socksgate,$m]:-}" = ok ] || { log "socksgate failed a measurement ($m)"; exit 3; }
	done
fi
exit 0
