# The scale benchmark (BENCH_SCALE=1), sourced by bench/run.sh once its
# helpers (spawn, start_server, stop_server, free_port, kv) exist. Holds
# BENCH_SCALE_CONNS idle relayed sessions through each server, checks every
# one with a 1-byte echo, and prints one markdown table of RSS, descriptors
# and threads per session; then exits. See the BENCH_SCALE knobs in run.sh -h.
# The echo target and the client are separate socksbench processes (--mode
# echo, --echo-port), each with its own descriptor limit, so that the server
# alone is measured against its limit.
# shellcheck shell=bash disable=SC2154,SC2153,SC2034

SCALE_CONNS=${BENCH_SCALE_CONNS:-9000}
SCALE_HOLD=${BENCH_SCALE_HOLD:-4}
SCALE_NOFILE=${BENCH_SCALE_NOFILE:-$(ulimit -Hn)}
SCALE_NPROC=${BENCH_SCALE_NPROC:-16640}	# the unit's TasksMax=
SCALE_USER=${BENCH_SCALE_USER:-socksgate}
for v in SCALE_CONNS SCALE_HOLD SCALE_NOFILE SCALE_NPROC; do
	case ${!v} in ''|*[!0-9]*|0) log "BENCH_$v must be a positive integer"; exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { log "BENCH_SCALE=1 runs servers as $SCALE_USER: run it as root"; exit 2; }
command -v prlimit >/dev/null && command -v setpriv >/dev/null ||
	fatal "BENCH_SCALE=1 needs prlimit and setpriv (util-linux)"

declare -A S	# S[row,key] from socksbench's idle line; S[row] ok|fail|skip
SROWS=()

# The servers' user must read the config; $work is mode 700.
chmod 755 "$work"
printf 'allow to 127.0.0.0/8,::1\ncontrol_socket = none\n' >"$work/scale.conf"
chmod 644 "$work/scale.conf"

spawn scale-echo "$SB" --mode echo --echo-port 0 --duration 3600 || fatal "cannot start the echo target"
ECHO_PG=$PID
for ((i = 0; i < 50; i++)); do
	EPORT=$(sed -n 's/^port=//p' "$work/scale-echo.out")
	[ -n "$EPORT" ] && break
	sleep 0.1
done
[ -n "$EPORT" ] || fatal "the echo target did not start: $(cat "$work/scale-echo.out")"

# scale_run ROW LABEL CMD... : CMD ({PORT} replaced) as a server on a free
# port, SCALE_CONNS idle sessions through it, the result into S[ROW,*].
scale_run() {
	local row=$1 label=$2 port line rc
	shift 2
	SROWS+=("$row")
	S[$row,label]=$label
	port=$(free_port) || { S[$row]=fail; return 1; }
	local cmd=() a
	for a in "$@"; do cmd+=("${a//\{PORT\}/$port}"); done
	if ! start_server "$row" "$port" "${cmd[@]}"; then
		S[$row]=fail
		return 1
	fi
	sleep 0.5
	log "$label: $SCALE_CONNS idle sessions ..."
	line=$("$SB" --proxy "127.0.0.1:$port" --mode idle --conns "$SCALE_CONNS" \
		--hold "$SCALE_HOLD" --duration "$((SCALE_HOLD + 5))" --echo-port "$EPORT" \
		--server-pid "$SPID" --timeout 15000 --setup-timeout 180 2>"$work/sb.err")
	rc=$?
	[ -s "$work/sb.err" ] && sed 's/^/    /' "$work/sb.err" >&2
	[ -n "$line" ] && log "  $line"
	kill -0 "$SPID" 2>/dev/null || { log "$label died"; rc=1; }
	stop_server "$SPID"
	if [ -z "$line" ]; then
		S[$row]=fail
		return 1
	fi
	S[$row]=ok
	[ $rc -eq 0 ] || S[$row]=fail
	local k
	for k in opened alive setup_s kib_per_conn_rss kib_per_conn_pss fds_per_conn threads_after \
		fds_after rss_after_kib errors; do
		S[$row,$k]=$(kv "$line" "$k")
	done
}

t_start=$SECONDS
limits=(prlimit "--nofile=$SCALE_NOFILE:$SCALE_NOFILE" "--nproc=$SCALE_NPROC:$SCALE_NPROC" --)
as_user=(setpriv "--reuid=$SCALE_USER" "--regid=$SCALE_USER" --init-groups --)
if [[ " $ONLY " == *" socksgate "* ]] && [ -n "$SG" ] && [ -x "$SG" ]; then
	scale_run sg-root "socksgate (root)" "${limits[@]}" "$SG" -c "$work/scale.conf" \
		-l "127.0.0.1:{PORT}" -a none
	if id "$SCALE_USER" >/dev/null 2>&1; then
		scale_run sg-user "socksgate (user $SCALE_USER)" "${limits[@]}" "${as_user[@]}" "$SG" \
			-c "$work/scale.conf" -l "127.0.0.1:{PORT}" -a none
	else
		log "no user $SCALE_USER: skipping socksgate as that user"
	fi
fi
if [[ " $ONLY " == *" microsocks "* ]] && command -v microsocks >/dev/null; then
	scale_run ms-root "microsocks (root)" "${limits[@]}" microsocks -i 127.0.0.1 -p "{PORT}"
	if id "$SCALE_USER" >/dev/null 2>&1; then
		scale_run ms-user "microsocks (user $SCALE_USER)" "${limits[@]}" "${as_user[@]}" \
			microsocks -i 127.0.0.1 -p "{PORT}"
	fi
fi
stop_server "$ECHO_PG"

scell() {	# scell ROW KEY [decimals]
	local v=${S[$1,$2]:-}
	[ "${S[$1]:-}" = ok ] || [ -n "$v" ] || { echo "${S[$1]:-—}"; return; }
	[ -z "$v" ] || [ "$v" = na ] && { echo "—"; return; }
	printf "%.${3:-0}f" "$v"
}
echo
echo "| server | sessions held | alive (echo) | KiB RSS / session | KiB PSS / session | descriptors / session | threads | setup s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for r in "${SROWS[@]}"; do
	echo "| ${S[$r,label]}$([ "${S[$r]}" = ok ] || echo " (${S[$r]})") | $(scell "$r" opened) | $(scell "$r" alive) | $(scell "$r" kib_per_conn_rss 1) | $(scell "$r" kib_per_conn_pss 1) | $(scell "$r" fds_per_conn 2) | $(scell "$r" threads_after) | $(scell "$r" setup_s 1) |"
done
if [ "${S[sg-root]:-}" = ok ] && [ "${S[ms-root]:-}" = ok ]; then
	echo "| socksgate ÷ microsocks (root) | | | $(awk -v a="${S[sg-root,kib_per_conn_rss]}" -v b="${S[ms-root,kib_per_conn_rss]}" 'BEGIN { printf "%.2f×", a / b }') | | $(awk -v a="${S[sg-root,fds_per_conn]}" -v b="${S[ms-root,fds_per_conn]}" 'BEGIN { printf "%.2f×", a / b }') | | |"
fi
echo
echo "Scale: $SCALE_CONNS CONNECT sessions opened through each server (16 client threads), held ${SCALE_HOLD}s without traffic, then each checked with a 1-byte echo (alive). Per session: the server's VmRSS / Pss (smaps_rollup) and /proc/PID/fd count after the hold minus before the first connection, ÷ sessions opened. Each server runs under prlimit --nofile=$SCALE_NOFILE --nproc=$SCALE_NPROC (the unit's TasksMax=), as root or, through setpriv, as $SCALE_USER; the client and the echo target are separate processes with their own limits. $(nproc 2>/dev/null || echo '?') CPUs; $((SECONDS - t_start)) s total."

for r in "${SROWS[@]}"; do
	case $r in sg-*) [ "${S[$r]}" = ok ] || { log "socksgate failed ($r)"; exit 3; } ;; esac
done
exit 0
