#!/usr/bin/env bash
# Zero-copy send on loopback: round trips per second of server CPU time with
# `tsecho server --zerocopy on` against `--zerocopy off`, side by side, at
# several message sizes, interleaved runs, server and load pinned apart.
# On loopback the receiving socket copies the bytes anyway, so this is where
# zero copy is expected to cost (the notification) rather than pay; it is
# what --zerocopy auto's choice to leave loopback peers alone rests on.
#
# Load: bench/pingpong, CONNS closed-loop connections of SIZE-byte frames.
# The ring's buffers are 64 KiB, so every reply is sent from its buffer.
#
# usage: bench/zerocopy.sh
# environment:
#   TSECHO=PATH     the tsecho binary (default ./tsecho)
#   SIZES="..."     frame sizes in bytes (default "1024 16384 65000")
#   CONNS=N         connections (default 16)
#   DURATION=SECS   per run (default 2)
#   RUNS=N          repeats (default 5)
# Exit status: 0 when every run ran, 1 otherwise.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sizes=${SIZES:-1024 16384 65000}
conns=${CONNS:-16}
duration=${DURATION:-2}
runs=${RUNS:-5}
build=bench/build
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
clk_tck=$(getconf CLK_TCK)
pin_server=(taskset -c 0)
pin_load=(taskset -c 1)
(($(nproc) >= 2)) || pin_server=() pin_load=()
mkdir -p "$build"
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$build/pingpong" bench/pingpong.c

tmp=$(mktemp -d)
server_pid=
trap 'stop_server; rm -rf "$tmp"' EXIT

# measure MODE SIZE RUN: appends "MODE SIZE RUN rt_per_cpu_s".
measure() {
	local mode=$1 size=$2 run=$3 before after load rt ticks port
	"${pin_server[@]}" "$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp --engine io_uring \
		--zerocopy "$mode" --uring-buffers 256 --uring-buffer-size 65536 \
		>"$tmp/out" 2>"$tmp/err" &
	server_pid=$!
	port=$(tcp_port_of "$tmp/out" "$tmp/err" "$server_pid") || exit 1
	grep -q "zerocopy $mode" "$tmp/out" || die "asked for zerocopy $mode: $(head -n 1 "$tmp/out")"
	before=$(cpu_ticks "$server_pid")
	load=$(timeout -k 2 $((${duration%.*} + 30)) "${pin_load[@]}" "$build/pingpong" \
		-c "$conns" -s "$size" -t "$duration" 127.0.0.1 "$port") || die "pingpong failed"
	after=$(cpu_ticks "$server_pid")
	stop_server
	read -r _ rt _ _ <<<"$load"
	ticks=$((after - before))
	((rt > 0 && ticks > 0)) || die "no round trips or no CPU time ($mode, $size)"
	awk -v m="$mode" -v s="$size" -v r="$run" -v rt="$rt" -v t="$ticks" -v hz="$clk_tck" \
		'BEGIN { printf "%s %d %d %.0f\n", m, s, r, rt / (t / hz) }' >>"$tmp/results"
}

echo "zerocopy on loopback: $conns connections, ${duration}s per run, $runs interleaved runs"
echo "machine: $(nproc) CPUs, $(uname -r); server on CPU 0, load on CPU 1"
: >"$tmp/results"
for ((run = 1; run <= runs; run++)); do
	for size in $sizes; do
		measure on "$size" "$run"
		measure off "$size" "$run"
	done
done
awk -v sizes="$sizes" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $4 }
END {
	print "round trips per second of server CPU time (median of runs)"
	printf "%-8s %12s %12s %8s\n", "size", "on", "off", "on/off"
	ns = split(sizes, S, " ")
	for (j = 1; j <= ns; j++) {
		for (m = 0; m < 2; m++) {
			mode = m ? "off" : "on"; k = mode SUBSEP S[j]
			delete a; for (r = 1; r <= n[k]; r++) a[r] = v[k, r]
			med[mode] = median(a, n[k])
		}
		printf "%-8s %12.0f %12.0f %8.2f\n", S[j], med["on"], med["off"], med["on"] / med["off"]
	}
}' "$tmp/results"
