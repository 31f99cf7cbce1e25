#!/usr/bin/env bash
# Server efficiency: round trips per second of *server CPU time*, tsecho
# against a plain blocking thread-per-connection echo server (echo_threaded.c),
# side by side in one run.
#
# Load: bench/pingpong, 64 closed-loop connections of 64-byte probe frames on
# 127.0.0.1. CPU time: utime + stime of the server process from
# /proc/PID/stat (all of its threads), read just before and just after each
# load run. Runs alternate tsecho, baseline, tsecho, ... so slow drift in a
# noisy machine hits both alike; the medians are compared.
#
# usage: bench/server_efficiency.sh          (from anywhere; paths are the repo's)
# environment:
#   TSECHO=PATH     the tsecho binary (default: ./tsecho at the repo root);
#                   anything accepting `server -q -l 127.0.0.1 -p 0 --no-udp`
#                   and printing the listening line will do
#   DURATION=SECS   length of each load run (default 3)
#   RUNS=N          runs per server (default 5)
#   MIN_RATIO=X     if set, exit 1 when the ratio of medians is below X
#   CC=...          C compiler (default cc)
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${DURATION:-3}
runs=${RUNS:-5}
conns=64
size=64
build=bench/build


[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a whole number above 0"
[[ $duration =~ ^[0-9]+([.][0-9]+)?$ ]] || die "DURATION must be a number of seconds"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
clk_tck=$(getconf CLK_TCK)

mkdir -p "$build"
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$build/echo_threaded" bench/echo_threaded.c
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$build/pingpong" bench/pingpong.c

tmp=$(mktemp -d)
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT



# start_server NAME CMD... : start it, set server_pid and server_port.
start_server() {
	local name=$1 out="$tmp/$1.out" i
	shift
	"$@" >"$out" 2>"$tmp/$name.err" &
	server_pid=$!
	server_port=
	for ((i = 0; i < listen_wait_s * 20; i++)); do
		server_port=$(sed -n 's/^listening on tcp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
		[[ -n $server_port ]] && return 0
		alive "$server_pid" || break
		sleep 0.05
	done
	cat "$tmp/$name.err" >&2
	alive "$server_pid" || die "$name exited without printing 'listening on tcp 127.0.0.1:PORT'"
	die "$name did not print 'listening on tcp 127.0.0.1:PORT' within ${listen_wait_s}s"
}


# measure NAME RUN CMD... : one run; appends "NAME RUN rt cpu_s rt_per_cpu_s rt_per_s" to
# $tmp/results.
measure() {
	local name=$1 run=$2 before after load rt secs ticks
	shift 2
	start_server "$name" "$@"
	before=$(cpu_ticks "$server_pid")
	# pingpong stops itself after DURATION; timeout only guards against a
	# bug in it, so no run can hang the script.
	if ! load=$(timeout -k 2 "$(awk -v d="$duration" 'BEGIN { print int(d) + 10 }')" \
		"$build/pingpong" -c "$conns" -s "$size" -t "$duration" 127.0.0.1 "$server_port"); then
		cat "$tmp/$name.err" >&2
		die "pingpong against $name failed (run $run)"
	fi
	alive "$server_pid" || die "$name died during the run"
	after=$(cpu_ticks "$server_pid")
	stop_server
	read -r _ rt _ secs <<<"$load"
	ticks=$((after - before))
	[[ $rt =~ ^[0-9]+$ && $rt -gt 0 && $secs =~ ^[0-9.]+$ ]] ||
		die "$name: no round trips in run $run (pingpong said: $load)"
	((ticks > 0)) || die "$name: no server CPU time measured in run $run"
	awk -v n="$name" -v r="$run" -v rt="$rt" -v t="$ticks" -v hz="$clk_tck" -v s="$secs" \
		'BEGIN { printf "%s %d %d %.2f %.0f %.0f\n", n, r, rt, t / hz, rt / (t / hz), rt / s }' \
		>>"$tmp/results"
}

echo "server efficiency: $conns connections x $size-byte ping-pong, ${duration}s per run, $runs runs each, interleaved"
echo "tsecho: $tsecho"
echo "machine: $(nproc) CPUs, CLK_TCK $clk_tck"
echo

: >"$tmp/results"
for ((run = 1; run <= runs; run++)); do
	measure tsecho "$run" "$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp
	measure baseline "$run" "$build/echo_threaded" 0
done

# Per run table, then medians of rt per CPU second, then the ratio.
awk -v runs="$runs" -v min_ratio="${MIN_RATIO:-}" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
BEGIN {
	printf "%-9s %3s %12s %10s %16s %12s\n", "server", "run", "round_trips", "cpu_s", "rt_per_cpu_s", "rt_per_s"
}
{
	printf "%-9s %3d %12d %10.2f %16d %12d\n", $1, $2, $3, $4, $5, $6
	if ($1 == "tsecho") ts[++nts] = $5; else bl[++nbl] = $5
}
END {
	mt = median(ts, nts); mb = median(bl, nbl)
	print ""
	printf "median rt_per_cpu_s tsecho:   %d\n", mt
	printf "median rt_per_cpu_s baseline: %d\n", mb
	printf "ratio tsecho/baseline (median of %d): %.2f\n", runs, mt / mb
	if (min_ratio != "" && mt / mb < min_ratio + 0) {
		printf "ratio is below MIN_RATIO %s\n", min_ratio
		exit 1
	}
}' "$tmp/results"
