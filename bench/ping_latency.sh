#!/usr/bin/env bash
# Ping latency: the median round-trip time of back-to-back TCP ping-pong on
# loopback (64 bytes, one connection, next request as soon as the reply is in),
# measured three ways side by side in one run:
#
#   tsecho    `tsecho ping -i 0 -s 64 -c COUNT -q --json` against
#             `tsecho server` (its default engine, io_uring); its rtt_ms.p50
#   busy      the same with --busy-poll on both ends (neither sleeps)
#   sockperf  `sockperf ping-pong --tcp -m 64` against `sockperf server`; its
#             50th percentile, which is of RTT/2, doubled
#   floor     bench/pp_floor.c: a blocking client/server pair with no framing,
#             the least a user-space TCP round trip can cost here
#
# Targets (printed as PASS/FAIL, for information): tsecho's median within 10%
# of the floor, and not above sockperf's; busy's at most 0.7 of sockperf's. Runs rotate the order of the three
# (run 1: tsecho, sockperf, floor; run 2: sockperf, floor, tsecho; ...) so
# drift on a noisy machine hits all alike; the medians of the per-run medians
# are compared.
#
# usage: bench/ping_latency.sh          (from anywhere; paths are the repo's)
# environment:
#   TSECHO=PATH      the tsecho binary (default: ./tsecho at the repo root)
#   RUNS=N           runs of each (default 5)
#   COUNT=N          round trips per tsecho and floor run (default 20000)
#   SECONDS_SP=N     seconds per sockperf run (default 3)
#   PIN=split|same|none
#                    CPU placement (default split: every server on one CPU,
#                    every client on another; same: both on one CPU; none:
#                    the scheduler's choice). On loopback a round trip within
#                    one CPU costs about half of one across two, and unpinned
#                    runs land on either at random, so a run would otherwise
#                    measure the scheduler's luck more than the program.
#   CC=...           C compiler (default cc)
# sockperf is optional: without it the sockperf column is skipped, with a note.
# Exit status: 0 when everything ran (whatever the targets say), 1 otherwise.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=${RUNS:-5}
count=${COUNT:-20000}
sp_seconds=${SECONDS_SP:-3}
pin=${PIN:-split}
size=64
build=bench/build
sp_port_tries=3 # a port python found free can be taken before sockperf binds it


[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a whole number above 0"
[[ $count =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a whole number above 0"
[[ $sp_seconds =~ ^[1-9][0-9]*$ ]] || die "SECONDS_SP must be a whole number of seconds above 0"
((count <= 10000000)) || die "COUNT must be at most 10000000"
[[ $pin == split || $pin == same || $pin == none ]] || die "PIN must be split, same or none"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
"$tsecho" ping --help >/dev/null 2>&1 || die "$tsecho has no working 'ping' command (run make)"
command -v python3 >/dev/null || die "python3 is needed to read tsecho's JSON and to find a free port"

if command -v sockperf >/dev/null; then
	have_sockperf=1
else
	have_sockperf=0
	echo "ping_latency: sockperf not found (Debian/Ubuntu: apt-get install sockperf);" \
		"skipping the sockperf column"
fi

# pin_server and pin_client: the taskset prefix for each side, or nothing.
# The first two CPUs this process may run on (a cpuset may exclude CPU 0).
pin_server=()
pin_client=()
if [[ $pin != none ]]; then
	command -v taskset >/dev/null || die "PIN=$pin needs taskset (util-linux); or set PIN=none"
	read -r cpu_a cpu_b < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0))[:2])')
	[[ -n ${cpu_a:-} ]] || die "cannot read the CPUs this process may run on"
	if [[ $pin == split && -z ${cpu_b:-} ]]; then
		die "PIN=split needs two CPUs, this process may use only CPU $cpu_a; set PIN=same or none"
	fi
	[[ $pin == same ]] && cpu_b=$cpu_a
	pin_server=(taskset -c "$cpu_a")
	pin_client=(taskset -c "$cpu_b")
fi

# Bounds on each client run; generous, they only keep a hung run from hanging
# the script. 1 ms per round trip is some 30 times the expected RTT.
client_limit_s=$((10 + count / 1000))
sp_limit_s=$((sp_seconds + 20))

mkdir -p "$build"
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Wpedantic -Wshadow -o "$build/pp_floor" bench/pp_floor.c

tmp=$(mktemp -d)
server_pid=



cleanup() {
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
# Make Ctrl+C and SIGTERM go through the EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME CMD... : start a server that prints
# "listening on tcp 127.0.0.1:PORT"; set server_pid and server_port.
start_server() {
	local name=$1 out="$tmp/$1.out" i
	shift
	"${pin_server[@]}" "$@" >"$out" 2>"$tmp/$name.err" &
	server_pid=$!
	server_port=
	for ((i = 0; i < listen_wait_s * 20; i++)); do
		server_port=$(sed -n 's/^listening on tcp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
		[[ -n $server_port ]] && return 0
		alive "$server_pid" || break
		sleep 0.05
	done
	cat "$tmp/$name.err" >&2
	alive "$server_pid" || die "$name server exited without printing 'listening on tcp 127.0.0.1:PORT'"
	die "$name server did not print 'listening on tcp 127.0.0.1:PORT' within ${listen_wait_s}s"
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# True when something listens on TCP 127.0.0.1:$1 (/proc/net/tcp: local
# address in hex, state 0A is LISTEN).
tcp_listening() {
	awk -v a="$(printf '0100007F:%04X' "$1")" '$2 == a && $4 == "0A" { f = 1 } END { exit !f }' \
		/proc/net/tcp
}

# sockperf server prints no line of its own once it listens, so watch
# /proc/net/tcp for its port; sets server_pid and server_port.
start_sockperf_server() {
	local try i
	for ((try = 1; try <= sp_port_tries; try++)); do
		server_port=$(free_port)
		"${pin_server[@]}" sockperf server --tcp -i 127.0.0.1 -p "$server_port" >"$tmp/sockperf.out" 2>&1 &
		server_pid=$!
		for ((i = 0; i < listen_wait_s * 20; i++)); do
			alive "$server_pid" || break
			tcp_listening "$server_port" && return 0
			sleep 0.05
		done
		if alive "$server_pid"; then
			cat "$tmp/sockperf.out" >&2
			die "sockperf server was not listening on 127.0.0.1:$server_port within ${listen_wait_s}s"
		fi
		wait "$server_pid" 2>/dev/null || true
		server_pid=
		echo "ping_latency: sockperf server on port $server_port exited at once (try $try):" >&2
		cat "$tmp/sockperf.out" >&2
	done
	die "sockperf server did not start in $sp_port_tries tries"
}

# Each measure_* runs one server + client pair and appends
# "NAME RUN MEDIAN_US P99_US SAMPLES" to $tmp/results.

measure_tsecho() { tsecho_pair tsecho "$1"; }
measure_busy() { tsecho_pair busy "$1" --busy-poll; }

# tsecho_pair NAME RUN [OPTION]: tsecho ping against tsecho server, both
# given OPTION.
tsecho_pair() {
	local name=$1 run=$2 json fields
	shift 2
	start_server tsecho "$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp "$@"
	if ! json=$(timeout -k 2 "$client_limit_s" "${pin_client[@]}" "$tsecho" ping -i 0 -s "$size" -c "$count" -q \
		--json "$@" "127.0.0.1:$server_port" 2>"$tmp/ping.err"); then
		cat "$tmp/ping.err" >&2
		printf '%s\n' "$json" | head -c 2000 >&2
		die "tsecho ping failed in run $run (exit status above 0, or no end within ${client_limit_s}s)"
	fi
	alive "$server_pid" || die "tsecho server died during run $run"
	stop_server
	# The summary must be schema 1, binary probes over TCP, with a p50.
	if ! fields=$(printf '%s' "$json" | python3 -c '
import json, sys
size, count = int(sys.argv[1]), int(sys.argv[2])
d = json.load(sys.stdin)
want = {"schema": 1, "mode": "probe", "transport": "tcp", "size": size}
for k, v in want.items():
    if d.get(k) != v:
        sys.exit("%s is %r, expected %r" % (k, d.get(k), v))
r = d.get("rtt_ms")
if not isinstance(r, dict) or not isinstance(r.get("p50"), (int, float)):
    sys.exit("rtt_ms.p50 missing: rtt_ms is %r" % (r,))
got = d["packets"]["received"]
if got != count:
    print("ping_latency: tsecho received %d of %d" % (got, count), file=sys.stderr)
print("%.3f %.3f %d" % (r["p50"] * 1e3, r["p99"] * 1e3, got))
' "$size" "$count"); then
		printf '%s\n' "$json" | head -c 2000 >&2
		echo >&2
		die "tsecho ping --json in run $run: unexpected output (above)"
	fi
	echo "$name $run $fields" >>"$tmp/results"
}

measure_sockperf() {
	local run=$1 out median p99 obs
	start_sockperf_server
	if ! out=$(timeout -k 2 "$sp_limit_s" "${pin_client[@]}" sockperf ping-pong --tcp -i 127.0.0.1 \
		-p "$server_port" -m "$size" -t "$sp_seconds" 2>&1); then
		printf '%s\n' "$out" >&2
		die "sockperf ping-pong failed in run $run"
	fi
	alive "$server_pid" || die "sockperf server died during run $run"
	stop_server
	# Its report is coloured with ANSI escapes; its percentiles are of
	# RTT/2 ("latency"), in microseconds:
	#   sockperf: ---> percentile 50.000 =   13.896
	out=$(printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g')
	median=$(printf '%s\n' "$out" | sed -n 's/.*---> percentile 50\.000 = *\([0-9.][0-9.]*\)$/\1/p')
	p99=$(printf '%s\n' "$out" | sed -n 's/.*---> percentile 99\.000 = *\([0-9.][0-9.]*\)$/\1/p')
	obs=$(printf '%s\n' "$out" | sed -n 's/.*Total \([0-9][0-9]*\) observations.*/\1/p')
	if [[ -z $median || -z $p99 || -z $obs ]]; then
		printf '%s\n' "$out" >&2
		die "sockperf ping-pong in run $run: no 50th/99th percentile or observation count in its output (above)"
	fi
	awk -v r="$run" -v m="$median" -v p="$p99" -v n="$obs" \
		'BEGIN { printf "sockperf %d %.3f %.3f %d\n", r, 2 * m, 2 * p, n }' >>"$tmp/results"
}

measure_floor() {
	local run=$1 out
	start_server floor "$build/pp_floor" server -s "$size"
	if ! out=$(timeout -k 2 "$client_limit_s" "${pin_client[@]}" "$build/pp_floor" client -c "$count" -s "$size" \
		127.0.0.1 "$server_port"); then
		cat "$tmp/floor.err" >&2
		die "pp_floor client failed in run $run"
	fi
	alive "$server_pid" || die "pp_floor server died during run $run"
	stop_server
	# median_rtt_us X p99_rtt_us Y count N
	[[ $out =~ ^median_rtt_us\ ([0-9.]+)\ p99_rtt_us\ ([0-9.]+)\ count\ ([0-9]+)$ ]] ||
		die "pp_floor client in run $run printed '$out'"
	echo "floor $run ${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}" >>"$tmp/results"
}

columns=(tsecho busy)
((have_sockperf)) && columns+=(sockperf)
columns+=(floor)

echo "ping latency: back-to-back $size-byte TCP ping-pong on 127.0.0.1, $runs runs each, order rotated per run"
echo "tsecho and floor: $count round trips per run (floor: after 1000 untimed); sockperf: ${sp_seconds}s per run (after its own warm-up)"
echo "tsecho: $tsecho"
((have_sockperf)) && echo "sockperf: $(sockperf --version 2>&1 | head -n 1 | sed 's/^sockperf, //')"
echo "machine: $(nproc) CPUs, $(uname -r)"
case $pin in
split) echo "placement (PIN=split): servers on CPU $cpu_a, clients on CPU $cpu_b" ;;
same) echo "placement (PIN=same): servers and clients on CPU $cpu_a" ;;
none) echo "placement (PIN=none): left to the scheduler" ;;
esac
echo

: >"$tmp/results"
for ((run = 1; run <= runs; run++)); do
	n=${#columns[@]}
	for ((k = 0; k < n; k++)); do
		"measure_${columns[(run - 1 + k) % n]}" "$run"
	done
done

# Per-run medians, then the median of them for each, then the ratios.
awk -v runs="$runs" -v have_sp="$have_sockperf" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function cell(name, r) {
	return (name SUBSEP r) in m ? sprintf("%12.3f", m[name, r]) : sprintf("%12s", "-")
}
function verdict(ok) {
	return ok ? "PASS" : "FAIL"
}
{
	m[$1, $2] = $3; p[$1, $2] = $4
}
END {
	print "median RTT per run, microseconds (sockperf: its RTT/2 median, doubled)"
	printf "%-8s %12s %12s %12s %12s\n", "run", "tsecho", "busy", "sockperf", "floor"
	for (r = 1; r <= runs; r++) {
		printf "%-8d %s %s %s %s\n", r, cell("tsecho", r), cell("busy", r), cell("sockperf", r), \
			cell("floor", r)
		mt[r] = m["tsecho", r]; pt[r] = p["tsecho", r]
		mb[r] = m["busy", r]; pb[r] = p["busy", r]
		mf[r] = m["floor", r]; pf[r] = p["floor", r]
		rf[r] = mt[r] / mf[r]
		if (have_sp) {
			ms[r] = m["sockperf", r]; ps[r] = p["sockperf", r]
			rs[r] = mt[r] / ms[r]
			rb[r] = mb[r] / ms[r]
		}
	}
	t = median(mt, runs); f = median(mf, runs); b = median(mb, runs)
	tp = median(pt, runs); fp = median(pf, runs); bp = median(pb, runs)
	if (have_sp) { s = median(ms, runs); sp = median(ps, runs) }
	printf "%-8s %12.3f %12.3f %12s %12.3f\n", "median", t, b, have_sp ? sprintf("%.3f", s) : "-", f
	printf "%-8s %12.3f %12.3f %12s %12.3f   (median over runs of each run'"'"'s p99, for context)\n", \
		"p99", tp, bp, have_sp ? sprintf("%.3f", sp) : "-", fp
	print ""
	printf "tsecho/floor:    %.3f  target <= 1.10: %s   (median of per-run ratios %.3f)\n", \
		t / f, verdict(t <= 1.10 * f), median(rf, runs)
	if (have_sp)
		printf "tsecho/sockperf: %.3f  target <= 1.00: %s   (median of per-run ratios %.3f)\n", \
			t / s, verdict(t <= s), median(rs, runs)
	if (have_sp)
		printf "busy/sockperf:   %.3f  target <= 0.70: %s   (median of per-run ratios %.3f)\n", \
			b / s, verdict(b <= 0.70 * s), median(rb, runs)
	else
		print "tsecho/sockperf: skipped (no sockperf)"
}' "$tmp/results"
