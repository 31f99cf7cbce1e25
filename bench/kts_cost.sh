#!/usr/bin/env bash
# What asking for kernel timestamps costs, and where a loopback round trip
# goes.  Four configurations of TCP ping-pong (`tsecho ping -i 0 -s 84 -c
# COUNT`, one connection, the next probe as soon as the reply is in),
# against `tsecho server` on each engine, side by side in one run:
#
#   off   the server with --kernel-timestamps=off, ping without the option
#   auto  the server as it comes (auto), ping without: what the default
#         costs a client that does not ask
#   on    the server with --kernel-timestamps (=on), ping without: the
#         receive timestamps every connection then has
#   ask   the server as it comes, ping --kernel-timestamps: the whole cost
#         of a breakdown, both ends
#
# For each: ping's median RTT (rtt_ms.p50) and the server's round trips per
# CPU second (COUNT over the server's CPU time, all threads, from
# /proc/PID/task/*/schedstat, in ns).  Runs rotate the order of the four;
# the medians of RUNS runs are compared, as ratios to off.  Then system
# calls per round trip (strace -c -f on the server, repeatable where
# seconds are not) for the three, and a breakdown of the parts (their
# medians) of a ping-pong with the server on io_uring, at default settings
# and with --busy-poll on both ends: which part busy polling removes.
#
# usage: bench/kts_cost.sh
# environment:
#   TSECHO=PATH      the tsecho binary (default ./tsecho)
#   ENGINES="..."    server engines (default "epoll io_uring")
#   RUNS=N           runs of each configuration (default 5)
#   COUNT=N          round trips per run (default 20000)
#   PIN=split|none   server on CPU 0 and ping on CPU 1 (default), or not
# Exit status: 0 when everything ran, 1 otherwise.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

engines=${ENGINES:-epoll io_uring}
runs=${RUNS:-5}
count=${COUNT:-20000}
pin=${PIN:-split}
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a whole number above 0"
[[ $count =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a whole number above 0"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
server_pin=() client_pin=()
if [[ $pin == split ]]; then
	command -v taskset >/dev/null || die "taskset is needed for PIN=split (util-linux)"
	server_pin=(taskset -c 0)
	client_pin=(taskset -c 1)
fi

tmp=$(mktemp -d)
server_pid=
trap 'stop_server; rm -rf "$tmp"' EXIT

# CPU time of process $1, all its threads, in ns.
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%d\n", s }'
}

# start ENGINE ARGS...: a pinned server; sets server_pid and port.
start() {
	local engine=$1
	shift
	"${server_pin[@]}" "$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp --engine "$engine" \
		"$@" >"$tmp/out" 2>"$tmp/err" &
	server_pid=$!
	port=$(tcp_port_of "$tmp/out" "$tmp/err" "$server_pid")
}

# server_args CONFIG: the server's option for CONFIG, into srv.
server_args() {
	case $1 in
	off) srv=(--kernel-timestamps=off) ;;
	on) srv=(--kernel-timestamps=on) ;;
	*) srv=() ;;
	esac
}

# one ENGINE CONFIG: one run; prints "P50_MS ROUND_TRIPS_PER_CPU_S".
one() {
	local engine=$1 config=$2 before after srv=() cli=()
	server_args "$config"
	[[ $config == ask ]] && cli=(--kernel-timestamps)
	start "$engine" "${srv[@]}"
	before=$(cpu_ns "$server_pid")
	"${client_pin[@]}" "$tsecho" ping "127.0.0.1:$port" -i 0 -s 84 -c "$count" -q --json \
		"${cli[@]}" >"$tmp/ping.json" || die "ping failed ($engine, $config)"
	after=$(cpu_ns "$server_pid")
	stop_server
	python3 - "$tmp/ping.json" "$count" "$before" "$after" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
n, before, after = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
assert d["packets"]["received"] == n, d["packets"]
print("%.6f %.0f" % (d["rtt_ms"]["p50"], n / ((after - before) / 1e9)))
EOF
}

# syscalls ENGINE CONFIG: the server's system calls per round trip.
syscalls() {
	local engine=$1 config=$2 srv=() cli=() n=2000
	command -v strace >/dev/null || {
		echo "n/a"
		return
	}
	server_args "$config"
	[[ $config == ask ]] && cli=(--kernel-timestamps)
	strace -f -c -o "$tmp/strace" "$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp \
		--engine "$engine" "${srv[@]}" >"$tmp/out" 2>"$tmp/err" &
	server_pid=$!
	port=$(tcp_port_of "$tmp/out" "$tmp/err" "$server_pid")
	"$tsecho" ping "127.0.0.1:$port" -i 0 -s 84 -c "$n" -q "${cli[@]}" >/dev/null ||
		die "ping under strace failed ($engine, $config)"
	stop_pid "$(pgrep -P "$server_pid" | head -n 1)"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	# strace -c lines: % time, seconds, usecs/call, calls, [errors], name.
	awk -v n="$n" '$1 ~ /^[0-9.]+$/ && $NF != "total" { calls += $4 }
		END { printf "%.2f\n", calls / n }' "$tmp/strace"
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

configs=(off auto on ask)
echo "kts_cost: $count ping-pong round trips per run, $runs runs, pin=$pin, $(uname -sr)"
for engine in $engines; do
	if ! "$tsecho" server --engine "$engine" --help >/dev/null 2>&1; then
		echo "$engine: not in this build, skipped"
		continue
	fi
	: >"$tmp/results"
	for ((r = 0; r < runs; r++)); do
		for ((k = 0; k < ${#configs[@]}; k++)); do
			c=${configs[$(((r + k) % ${#configs[@]}))]}
			echo "$c $(one "$engine" "$c")" >>"$tmp/results"
		done
	done
	printf '\n%s\n%-6s %12s %8s %16s %8s %14s\n' "engine $engine" config "p50 rtt us" "ratio" \
		"round trips/CPU s" "ratio" "syscalls/rt"
	base_p50= base_rt=
	for c in "${configs[@]}"; do
		p50=$(awk -v c="$c" '$1 == c { print $2 }' "$tmp/results" | median)
		rt=$(awk -v c="$c" '$1 == c { print $3 }' "$tmp/results" | median)
		[[ -z $base_p50 ]] && base_p50=$p50 base_rt=$rt
		printf '%-6s %12.2f %8.3f %16.0f %8.3f %14s\n' "$c" "$(echo "$p50 * 1000" | bc -l)" \
			"$(echo "$p50 / $base_p50" | bc -l)" "$rt" "$(echo "$rt / $base_rt" | bc -l)" \
			"$(syscalls "$engine" "$c")"
	done
done

# The parts with and without busy polling (io_uring: the server's ring;
# ping: its socket), medians over one run of COUNT round trips each.
if "$tsecho" server --engine io_uring --help >/dev/null 2>&1; then
	for mode in default busy; do
		srv=(--kernel-timestamps) cli=(--kernel-timestamps)
		[[ $mode == busy ]] && srv+=(--busy-poll) cli+=(--busy-poll)
		start io_uring "${srv[@]}"
		"${client_pin[@]}" "$tsecho" ping "127.0.0.1:$port" -i 0 -c "$count" -q --json \
			"${cli[@]}" >"$tmp/parts-$mode.json" || die "ping failed (parts, $mode)"
		stop_server
	done
	python3 - "$tmp/parts-default.json" "$tmp/parts-busy.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
parts = ["client_send", "network_out", "server_wakeup", "server_processing",
         "server_send", "network_back", "client_wakeup"]
print("\nparts of a loopback ping-pong (io_uring server), p50 in us")
print("%-18s %10s %10s %10s" % ("part", "default", "busy-poll", "change"))
def us(d, k, f="p50"):
    v = d["breakdown_ms"][k]
    return None if v is None else v[f] * 1000
for k in parts:
    x, y = us(a, k), us(b, k)
    fmt = lambda v: "unavail." if v is None else "%.2f" % v
    ch = "" if x is None or y is None else "%+.2f" % (y - x)
    print("%-18s %10s %10s %10s" % (k, fmt(x), fmt(y), ch))
sx = sum(us(a, k) or 0 for k in parts)
sy = sum(us(b, k) or 0 for k in parts)
print("%-18s %10.2f %10.2f %+10.2f" % ("sum of p50s", sx, sy, sy - sx))
print("%-18s %10.2f %10.2f %+10.2f" % ("rtt p50", a["rtt_ms"]["p50"] * 1000,
      b["rtt_ms"]["p50"] * 1000, (b["rtt_ms"]["p50"] - a["rtt_ms"]["p50"]) * 1000))
EOF
fi
