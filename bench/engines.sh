#!/usr/bin/env bash
# Engines side by side: round trips per second of *server CPU time* for each
# tsecho server engine (io_uring, epoll, poll, select) at several connection
# counts, in one run, with the same load generator for all.
#
# Load: bench/pingpong, closed-loop connections of 64-byte probe frames on
# 127.0.0.1, pinned to one CPU; the server pinned to another. CPU time:
# utime + stime of the server from /proc/PID/stat, read just before and just
# after the load. Runs are interleaved: for each repeat, every connection
# count, every engine in turn, so drift on a noisy machine hits all alike.
# The table gives each cell's median over the repeats and its ratio to epoll.
# select() is skipped above 1000 connections (FD_SETSIZE).
#
# usage: bench/engines.sh
# environment:
#   TSECHO=PATH     the tsecho binary (default ./tsecho)
#   ENGINES="..."   engines to run (default "io_uring epoll poll select")
#   CONNS="..."     connection counts (default "1 64 1000 10000")
#   DURATION=SECS   load per run (default 2)
#   RUNS=N          repeats (default 5)
#   CC=...          C compiler (default cc)
# Exit status: 0 when every run ran, 1 otherwise.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

engines=${ENGINES:-io_uring epoll poll select}
conn_counts=${CONNS:-1 64 1000 10000}
duration=${DURATION:-2}
runs=${RUNS:-5}
size=64
build=bench/build

[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a whole number above 0"
[[ $duration =~ ^[0-9]+([.][0-9]+)?$ ]] || die "DURATION must be a number of seconds"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
clk_tck=$(getconf CLK_TCK)
if (($(nproc) >= 2)); then
	pin_server=(taskset -c 0)
	pin_load=(taskset -c 1)
else
	pin_server=()
	pin_load=()
fi
ulimit -S -n "$(ulimit -H -n)" || die "cannot raise RLIMIT_NOFILE"

mkdir -p "$build"
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$build/pingpong" bench/pingpong.c

tmp=$(mktemp -d)
server_pid=
trap 'stop_server; rm -rf "$tmp"' EXIT

# start_server ENGINE CONNS: sets server_pid, server_port.
start_server() {
	local out="$tmp/server.out"
	"${pin_server[@]}" "$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp --engine "$1" \
		--max-clients $(($2 + 100)) --max-clients-per-source $(($2 + 100)) \
		>"$out" 2>"$tmp/server.err" &
	server_pid=$!
	server_port=$(tcp_port_of "$out" "$tmp/server.err" "$server_pid") || exit 1
}

# user_sys PID: "UTIME STIME" in clock ticks.
user_sys() {
	local stat fields
	stat=$(cat "/proc/$1/stat") || die "cannot read /proc/$1/stat"
	read -r -a fields <<<"${stat##*) }"
	echo "${fields[11]} ${fields[12]}"
}

# measure ENGINE CONNS RUN: appends "ENGINE CONNS RUN rt_per_cpu_s rt_per_s
# user_us_per_rt sys_us_per_rt".
measure() {
	local engine=$1 conns=$2 run=$3 before after load rt secs ticks u0 s0 u1 s1
	start_server "$engine" "$conns"
	grep -q "^engine $engine " "$tmp/server.out" ||
		die "asked for $engine, the server says: $(head -n 1 "$tmp/server.out")"
	read -r u0 s0 <<<"$(user_sys "$server_pid")"
	before=$((u0 + s0))
	load=$(timeout -k 2 $((${duration%.*} + 60)) "${pin_load[@]}" "$build/pingpong" \
		-c "$conns" -s "$size" -t "$duration" 127.0.0.1 "$server_port") ||
		die "pingpong against $engine at $conns connections failed (run $run)"
	read -r u1 s1 <<<"$(user_sys "$server_pid")"
	after=$((u1 + s1))
	stop_server
	read -r _ rt _ secs <<<"$load"
	ticks=$((after - before))
	((rt > 0 && ticks > 0)) || die "$engine at $conns: no round trips or no CPU time (run $run)"
	awk -v e="$engine" -v c="$conns" -v r="$run" -v rt="$rt" -v t="$ticks" -v hz="$clk_tck" \
		-v s="$secs" -v us=$((u1 - u0)) -v ss=$((s1 - s0)) \
		'BEGIN { printf "%s %d %d %.0f %.0f %.3f %.3f\n", e, c, r, rt / (t / hz), rt / s,
			us / hz * 1e6 / rt, ss / hz * 1e6 / rt }' >>"$tmp/results"
}

echo "engines: $size-byte closed-loop ping-pong, ${duration}s per run, $runs interleaved runs"
echo "tsecho: $tsecho ($("$tsecho" --version 2>/dev/null | head -n 1))"
echo "machine: $(nproc) CPUs, $(uname -r); server on CPU 0, load on CPU 1"
echo

: >"$tmp/results"
for ((run = 1; run <= runs; run++)); do
	for conns in $conn_counts; do
		for engine in $engines; do
			[[ $engine == select ]] && ((conns > 1000)) && continue
			measure "$engine" "$conns" "$run"
		done
	done
done

awk -v engines="$engines" -v counts="$conn_counts" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
# The median over the runs of column f for engine and count k.
function med(f, k,    a, r) {
	for (r = 1; r <= n[k]; r++) a[r] = v[f, k, r]
	return median(a, n[k])
}
{ k = $1 SUBSEP $2; n[k]++; for (f = 4; f <= 7; f++) v[f, k, n[k]] = $f }
END {
	ne = split(engines, E, " "); nc = split(counts, C, " ")
	print "round trips per second of server CPU time (median of runs; x: ratio to epoll)"
	printf "%-10s", "conns"
	for (i = 1; i <= ne; i++) printf " %18s", E[i]
	print ""
	for (t = 1; t <= 3; t++) {
		if (t == 2) print "\nround trips per second, wall clock (median of runs; the load shares the machine)"
		if (t == 3) print "\nserver CPU per round trip, user + system microseconds (median of runs)"
		for (j = 1; j <= nc; j++) {
			printf "%-10s", C[j]
			base = "epoll" SUBSEP C[j]
			for (i = 1; i <= ne; i++) {
				k = E[i] SUBSEP C[j]
				if (!(k in n))
					printf " %18s", "-"
				else if (t == 1 && (base in n))
					printf " %10.0f (%4.2fx)", med(4, k), med(4, k) / med(4, base)
				else if (t == 1)
					printf " %18.0f", med(4, k)
				else if (t == 2)
					printf " %18.0f", med(5, k)
				else
					printf " %8.2f + %7.2f", med(6, k), med(7, k)
			}
			print ""
		}
	}
}' "$tmp/results"
