# The latency benchmark (BENCH_LATENCY=1), sourced by bench/run.sh once its
# helpers (launch, measure, spawn, stop_server, free_port, kv, R, cell, ratio,
# label) and the server list exist: the time from the CONNECT reply to the
# first byte of a server that speaks first, for a direct connection,
# socksgate and microsocks in the same run, then the session rate of each
# (the rate mode), one markdown table with the ratios. Exits.
# shellcheck shell=bash disable=SC2154,SC2153,SC2034

command -v python3 >/dev/null || fatal "BENCH_LATENCY=1 needs python3 (bench/latency.py)"
LAT_COUNT=${BENCH_LATENCY_COUNT:-300}
bport=$(free_port) || fatal "no free port"
spawn banner python3 "$here/latency.py" serve "$bport" || fatal "cannot start the banner server"
BANNER_PG=$PID
for ((i = 0; i < 50; i++)); do
	python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $bport), 1).close()" \
		2>/dev/null && break
	sleep 0.1
done

# latency SERVER: fresh server, one latency.py run, results into R[SERVER,latency,*].
latency() {
	local srv=$1 port args=(--target "$bport" --count "$LAT_COUNT") line
	if [ "$srv" != direct ]; then
		port=$(free_port) || { INTERNAL=1; return 1; }
		launch "$srv" "$port" || { R[$srv,latency]=fail; return 1; }
		args+=(--proxy "127.0.0.1:$port")
		sleep 0.3
	fi
	log "$srv: latency ..."
	line=$(python3 "$here/latency.py" measure "${args[@]}")
	[ "$srv" != direct ] && stop_server "$SPID"
	[ -n "$line" ] || { R[$srv,latency]=fail; return 1; }
	log "  $line"
	R[$srv,latency]=ok
	for k in p50_ms p90_ms p99_ms mean_ms errors; do
		R[$srv,latency,$k]=$(kv "$line" "$k")
	done
}

lat_servers=()
for s in direct socksgate microsocks; do
	[[ " ${servers[*]} " == *" $s "* ]] && lat_servers+=("$s")
done
for s in "${lat_servers[@]}"; do
	latency "$s"
	measure "$s" rate
done
stop_server "$BANNER_PG"

echo
echo "| server | banner p50 ms | p90 ms | p99 ms | mean ms | sessions/s | rate p50 ms | rate p99 ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for s in "${lat_servers[@]}"; do
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$s")" \
		"$(cell "$s" latency p50_ms 3)" "$(cell "$s" latency p90_ms 3)" \
		"$(cell "$s" latency p99_ms 3)" "$(cell "$s" latency mean_ms 3)" \
		"$(cell "$s" rate sessions_per_s 0)" "$(cell "$s" rate p50_ms 2)" \
		"$(cell "$s" rate p99_ms 2)"
done
for s in direct microsocks; do
	[[ " ${lat_servers[*]} " == *" $s "* ]] || continue
	printf '| socksgate ÷ %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$s")" \
		"$(ratio "$s" latency p50_ms)" "$(ratio "$s" latency p90_ms)" \
		"$(ratio "$s" latency p99_ms)" "$(ratio "$s" latency mean_ms)" \
		"$(ratio "$s" rate sessions_per_s)" "$(ratio "$s" rate p50_ms)" \
		"$(ratio "$s" rate p99_ms)"
done
echo
echo "latency: $LAT_COUNT sessions one at a time, from the CONNECT reply (direct: from the" \
	"TCP connect) to the first byte of a banner the server sends on accept; rate: $RATE_CONNS" \
	"loops, ${SECS}s after ${WARMUP}s warm-up. Lower is better for ms, higher for sessions/s."
[ "$INTERNAL" = 0 ] || exit 1
[ "${R[socksgate,latency]:-}" = ok ] || exit 3
exit 0
