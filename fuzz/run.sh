#!/usr/bin/env bash
# Runs every libFuzzer target fuzz/Makefile.am lists (FUZZ_TARGETS) for TIME
# seconds each over its seed corpus fuzz/corpus-NAME/ (target fuzz_NAME), one
# after the other, and prints per target the executions, the coverage
# (libFuzzer's final cov: edges and ft: features) and the corpus size.
# New inputs go to a work directory, never into the tree (growing the
# in-tree corpus is a separate, deliberate step: docs/HACKING, "Fuzzing").
#
#   fuzz/run.sh [-j N] TIME [BUILDDIR [WORKDIR]]
#
# BUILDDIR is a tree configured with CC=clang --enable-fuzz and built
# (default: ./build-fuzz, then the current directory); WORKDIR defaults to
# BUILDDIR/fuzz-work. -j N runs up to N targets at once (default 1). Extra
# libFuzzer flags come from FUZZ_FLAGS; TARGETS="fuzz_a fuzz_b" runs only
# those. A target that crashes, times out or fails a check leaves its log
# (and the input, crash-*) in WORKDIR/NAME/ and makes the script exit 1.
set -uo pipefail

jobs=1
if [ "${1:-}" = -j ]; then
	jobs=$2
	shift 2
fi
if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
	echo "usage: $0 [-j N] TIME [BUILDDIR [WORKDIR]]" >&2
	exit 2
fi
time=$1
src=$(cd "$(dirname "$0")" && pwd)
build=${2:-}
if [ -z "$build" ]; then
	if [ -x "$src/../build-fuzz/fuzz/fuzz_greeting" ]; then
		build=$src/../build-fuzz
	else
		build=.
	fi
fi
build=$(cd "$build" && pwd) || exit 2
work=${3:-$build/fuzz-work}
targets=${TARGETS:-$(make -s -C "$build/fuzz" list-fuzz-targets)} || exit 2
[ -n "$targets" ] || { echo "no fuzz targets listed" >&2; exit 2; }
mkdir -p "$work" || exit 2

# run1 NAME: one target; its summary line goes to WORKDIR/NAME/summary.
run1() {
	local t=$1 name=${1#fuzz_} dir="$work/$1"
	local corpus="$src/corpus-$name" st=pass
	rm -rf "$dir" && mkdir -p "$dir/new" || return 1
	if [ ! -d "$corpus" ]; then
		echo "$t: no seed corpus $corpus" >"$dir/summary"
		return 1
	fi
	# -timeout: one input taking 60 s is a hang (not less: at nice 19 on a
	# busy machine a 1 ms input has been seen to stall for 14 s); -rss_limit_mb: growth.
	# shellcheck disable=SC2086
	if ! (cd "$dir" && timeout $((time + 120)) "$build/fuzz/$t" -max_total_time="$time" \
		-max_len=4096 -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
		${FUZZ_FLAGS:-} new "$corpus") >"$dir/log" 2>&1; then
		st=FAIL
	fi
	local execs cov ft
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
	cov=$(grep -oE '(cov|ft): [0-9]+' "$dir/log" | sed -n 's/^cov: //p' | tail -1)
	ft=$(grep -oE 'ft: [0-9]+' "$dir/log" | sed 's/^ft: //' | tail -1)
	printf '%-16s %-4s %10s execs %7s/s  cov %5s  ft %6s  corpus %d+%d\n' "$t" "$st" \
		"${execs:-?}" "$(( ${execs:-0} / (time > 0 ? time : 1) ))" "${cov:-?}" "${ft:-?}" \
		"$(find "$corpus" -type f | wc -l)" "$(find "$dir/new" -type f | wc -l)" \
		>"$dir/summary"
	[ "$st" = pass ]
}

status=0
running=0
pids=()
for t in $targets; do
	run1 "$t" &
	pids+=($!)
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || status=1
		running=$((running - 1))
	fi
done
while [ "$running" -gt 0 ]; do
	wait -n || status=1
	running=$((running - 1))
done

echo "fuzz/run.sh: $time s per target (cov: edges, ft: features; corpus: seeds+new)"
for t in $targets; do
	cat "$work/$t/summary" 2>/dev/null || echo "$t: no summary"
	if grep -q 'FAIL' "$work/$t/summary" 2>/dev/null; then
		tail -30 "$work/$t/log"
		echo "($t: whole log in $work/$t/log)"
	fi
done
exit $status
