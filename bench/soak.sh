#!/usr/bin/env bash
# Soak socksgate: mixed load for a given time while its RSS, descriptors and
# threads are sampled; reports their growth per hour after a warm-up, and
# whether the daemon, once the load stops, is back at its starting
# descriptors and threads. Not run in CI (it takes as long as it is told).
#
# usage: bench/soak.sh [SECONDS] [path/to/socksgate]     (default 1800 s)
#
# The load (6 client threads plus a pool of idle sessions, all logging in
# over RFC 1929 against pam_wrapper's pam_matrix as the integration tests
# do): CONNECT echo round trips of 1 B to 4 MiB (the large ones take and give
# back splice pipes), UDP ASSOCIATE round trips, BIND with an inbound peer,
# wrong passwords, clients that reset (SO_LINGER 0) mid-handshake or
# mid-transfer, SOAK_IDLE idle sessions replaced one every 100 ms, and a
# SIGHUP every SOAK_RELOAD seconds.
#
# Environment knobs (defaults in brackets):
#   SOAK_SAMPLE [5]     seconds between samples of /proc/PID/{status,fd}
#   SOAK_WARMUP [180]   seconds not counted in the growth (caches, arenas,
#                       the pool growing to its working size)
#   SOAK_RELOAD [20]    seconds between reloads (SIGHUP)
#   SOAK_IDLE [200]     idle sessions held open
#   SOAK_CSV            also write every sample to this file
#   SOCKSGATE           the binary (else src/socksgate under the top or $PWD)
# Needs python3, libpam-wrapper (pam_matrix) and, as root, writes a PAM
# service to /etc/pam.d that it removes at exit. Exit: 0 no descriptor or
# thread left behind, 1 otherwise or a failure, 2 usage.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")

case ${1:-} in
-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -le 2 ] || { echo "usage: bench/soak.sh [SECONDS] [path/to/socksgate]" >&2; exit 2; }
secs=${1:-1800}
case $secs in ''|*[!0-9]*|0) echo "soak.sh: SECONDS must be a positive integer" >&2; exit 2 ;; esac

SG=${2:-${SOCKSGATE:-}}
if [ -z "$SG" ]; then
	for c in "$top/src/socksgate" "$PWD/src/socksgate" "$top/build/src/socksgate"; do
		[ -x "$c" ] && { SG=$c; break; }
	done
fi
[ -n "$SG" ] && [ -x "$SG" ] || { echo "soak.sh: socksgate binary not found" >&2; exit 2; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SOAK_SECS=$secs SOCKSGATE=$(cd "$(dirname "$SG")" && pwd)/$(basename "$SG") TOP_SRCDIR=$top \
	PYTHONPATH="$top/tests/integration" PYTHONDONTWRITEBYTECODE=1 PYTHONOPTIMIZE= \
	exec /usr/bin/python3 "$here/soak.py"
