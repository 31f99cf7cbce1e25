#!/usr/bin/env bash
# Load rate: round trips per second that `tsecho bench` drives through one
# tsecho server, against bench/pingpong (a minimal single-threaded epoll load
# generator in C: the baseline), side by side in one run.
#
# Load: 64 closed-loop connections of 64-byte probe frames on 127.0.0.1 (one
# message in flight per connection; the next leaves when the reply is in).
# One `tsecho server` serves every run of both generators. Runs alternate the
# order (run 1: tsecho, baseline; run 2: baseline, tsecho; ...) so drift on a
# noisy machine hits both alike. The verdict is on the median of the per-run
# ratios: on the development VM the server's pace drifted by a factor of two
# within one invocation, both generators alike, and the pairs cancel that
# while the ratio of the medians does not.
#
#   tsecho    `tsecho bench -c 64 -s 64 -t DURATIONs -q --json`; its
#             messages_per_s
#   baseline  `pingpong -c 64 -s 64 -t DURATION`; round_trips / seconds
#
# Target (printed as PASS/FAIL, for information): tsecho/baseline >= 1.00.
#
# usage: bench/load_rate.sh          (from anywhere; paths are the repo's)
# environment:
#   TSECHO=PATH     the tsecho binary (default: ./tsecho at the repo root)
#   DURATION=SECS   seconds of load per run (default 3; fractions allowed)
#   RUNS=N          runs of each generator (default 5)
#   PIN=split|none  CPU placement (default split: the server on one CPU, the
#                   load generator on the other; none: the scheduler's choice)
#   THREADS=N       pass -T N to tsecho bench (default: none, its own default)
#   CC=...          C compiler (default cc)
# Exit status: 0 when everything ran (whatever the target says), 1 otherwise.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${DURATION:-3}
runs=${RUNS:-5}
pin=${PIN:-split}
threads=${THREADS:-}
conns=64
size=64
build=bench/build


[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a whole number above 0"
if ! [[ $duration =~ ^[0-9]+([.][0-9]+)?$ ]] || ! awk -v d="$duration" 'BEGIN { exit !(d > 0) }'; then
	die "DURATION must be a number of seconds above 0"
fi
[[ $pin == split || $pin == none ]] || die "PIN must be split or none"
[[ -z $threads || $threads =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a whole number above 0"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
"$tsecho" bench --help >/dev/null 2>&1 || die "$tsecho has no working 'bench' command (run make)"
command -v python3 >/dev/null || die "python3 is needed to read tsecho's JSON"
clk_tck=$(getconf CLK_TCK)

# pin_server and pin_client: the taskset prefix for each side, or nothing.
# The first two CPUs this process may run on (a cpuset may exclude CPU 0).
pin_server=()
pin_client=()
if [[ $pin == split ]]; then
	command -v taskset >/dev/null || die "PIN=split needs taskset (util-linux); or set PIN=none"
	read -r cpu_a cpu_b < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0))[:2])')
	[[ -n ${cpu_a:-} ]] || die "cannot read the CPUs this process may run on"
	[[ -n ${cpu_b:-} ]] || die "PIN=split needs two CPUs, this process may use only CPU $cpu_a; set PIN=none"
	pin_server=(taskset -c "$cpu_a")
	pin_client=(taskset -c "$cpu_b")
fi

# Bound on each load generator run; generous, it only keeps a hung run from
# hanging the script.
client_limit_s=$(awk -v d="$duration" 'BEGIN { print int(d) + 15 }')

mkdir -p "$build"
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$build/pingpong" bench/pingpong.c

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

# Start the one tsecho server of the run; set server_pid and server_port.
start_server() {
	local out="$tmp/server.out" i
	"${pin_server[@]}" "$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp >"$out" 2>"$tmp/server.err" &
	server_pid=$!
	server_port=
	for ((i = 0; i < listen_wait_s * 20; i++)); do
		server_port=$(sed -n 's/^listening on tcp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
		[[ -n $server_port ]] && return 0
		alive "$server_pid" || break
		sleep 0.05
	done
	cat "$tmp/server.err" >&2
	alive "$server_pid" || die "tsecho server exited without printing 'listening on tcp 127.0.0.1:PORT'"
	die "tsecho server did not print 'listening on tcp 127.0.0.1:PORT' within ${listen_wait_s}s"
}


mono_ns() {
	date +%s%N
}

# server_busy BEFORE_TICKS START_NS: the server's CPU time since BEFORE_TICKS
# as a fraction of the wall time since START_NS (1.00 = one CPU all the time).
server_busy() {
	local after end
	alive "$server_pid" || die "tsecho server died during the run"
	after=$(cpu_ticks "$server_pid")
	end=$(mono_ns)
	awk -v t=$((after - $1)) -v hz="$clk_tck" -v ns=$((end - $2)) 'BEGIN { printf "%.2f", t / hz / (ns / 1e9) }'
}

# Each measure_* runs one load generator against the server and appends
# "NAME RUN RATE_PER_S ERRORS SERVER_BUSY THREADS" to $tmp/results.

measure_tsecho() {
	local run=$1 json fields before start busy rate bad used_threads
	before=$(cpu_ticks "$server_pid")
	start=$(mono_ns)
	if ! json=$(timeout -k 2 "$client_limit_s" "${pin_client[@]}" "$tsecho" bench -c "$conns" -s "$size" \
		-t "${duration}s" ${threads:+-T "$threads"} -q --json "127.0.0.1:$server_port" 2>"$tmp/bench.err"); then
		cat "$tmp/bench.err" >&2
		printf '%s\n' "$json" | head -c 2000 >&2
		die "tsecho bench failed in run $run (exit status above 0, or no end within ${client_limit_s}s)"
	fi
	busy=$(server_busy "$before" "$start")
	# The result must be schema 1, a closed-loop probe bench over TCP with
	# the connections and size asked for, and a rate.
	if ! fields=$(printf '%s' "$json" | python3 -c '
import json, sys
conns, size = int(sys.argv[1]), int(sys.argv[2])
d = json.load(sys.stdin)
want = {"schema": 1, "kind": "bench", "transport": "tcp", "mode": "probe", "loop": "closed",
        "connections": conns, "size": size}
for k, v in want.items():
    if d.get(k) != v:
        sys.exit("%s is %r, expected %r" % (k, d.get(k), v))
rate = d.get("messages_per_s")
if not isinstance(rate, (int, float)) or rate <= 0:
    sys.exit("messages_per_s is %r" % (rate,))
bad = sum(int(d.get(k) or 0) for k in ("errors", "timeouts", "lost"))
print("%.1f %d %s" % (rate, bad, d.get("threads", "-")))
' "$conns" "$size"); then
		printf '%s\n' "$json" | head -c 2000 >&2
		echo >&2
		die "tsecho bench --json in run $run: unexpected output (above)"
	fi
	read -r rate bad used_threads <<<"$fields"
	echo "tsecho $run $rate $bad $busy $used_threads" >>"$tmp/results"
}

measure_baseline() {
	local run=$1 out before start busy
	before=$(cpu_ticks "$server_pid")
	start=$(mono_ns)
	if ! out=$(timeout -k 2 "$client_limit_s" "${pin_client[@]}" "$build/pingpong" -c "$conns" -s "$size" \
		-t "$duration" 127.0.0.1 "$server_port" 2>"$tmp/pingpong.err"); then
		cat "$tmp/pingpong.err" >&2
		die "pingpong failed in run $run"
	fi
	busy=$(server_busy "$before" "$start")
	# round_trips N seconds S; pingpong exits 1 on any connection error, so
	# a run that got here had none.
	[[ $out =~ ^round_trips\ ([0-9]+)\ seconds\ ([0-9.]+)$ && ${BASH_REMATCH[1]} -gt 0 ]] ||
		die "pingpong in run $run printed '$out'"
	awk -v r="$run" -v n="${BASH_REMATCH[1]}" -v s="${BASH_REMATCH[2]}" -v b="$busy" \
		'BEGIN { printf "baseline %d %.1f 0 %s 1\n", r, n / s, b }' >>"$tmp/results"
}

echo "load rate: $conns connections x $size-byte closed-loop ping-pong against one tsecho server on 127.0.0.1," \
	"${duration}s per run, $runs runs each, order alternating"
echo "tsecho: $tsecho${threads:+ (bench -T $threads)}"
echo "baseline: $build/pingpong (one thread, epoll)"
echo "machine: $(nproc) CPUs, $(uname -r)"
# Anything else running shows here first: the runs share the CPUs with it.
echo "load average at the start: $(cut -d ' ' -f 1-3 /proc/loadavg)"
case $pin in
split) echo "placement (PIN=split): server on CPU $cpu_a, the load generator (either) on CPU $cpu_b" ;;
none) echo "placement (PIN=none): left to the scheduler" ;;
esac
echo "note: each load generator shares the machine's $(nproc) CPUs with the server, so its rate is also the"
echo "      server's; the ratio compares the generators under the same server, not absolute capacity"
echo

start_server
: >"$tmp/results"
for ((run = 1; run <= runs; run++)); do
	if ((run % 2)); then
		measure_tsecho "$run"
		measure_baseline "$run"
	else
		measure_baseline "$run"
		measure_tsecho "$run"
	fi
done
alive "$server_pid" || die "tsecho server died"

# Per-run rates, medians, ratio of medians and the median of per-run ratios.
awk -v runs="$runs" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	rate[$1, $2] = $3; bad[$1, $2] = $4; busy[$1, $2] = $5; threads[$1, $2] = $6
}
END {
	print "round trips per second (server_cpu: the server'"'"'s CPU time over the run'"'"'s wall time, 1.00 = one CPU)"
	printf "%-8s %12s %12s %8s %8s %12s %12s\n", "run", "tsecho", "baseline", "ratio", "errors", \
		"server_cpu_t", "server_cpu_b"
	for (r = 1; r <= runs; r++) {
		t[r] = rate["tsecho", r]; b[r] = rate["baseline", r]; q[r] = t[r] / b[r]
		bt[r] = busy["tsecho", r]; bb[r] = busy["baseline", r]
		errs += bad["tsecho", r]
		printf "%-8d %12.0f %12.0f %8.3f %8d %12.2f %12.2f\n", r, t[r], b[r], q[r], bad["tsecho", r], bt[r], bb[r]
	}
	mt = median(t, runs); mb = median(b, runs)
	printf "%-8s %12.0f %12.0f %8s %8s %12.2f %12.2f\n", "median", mt, mb, "", "", median(bt, runs), median(bb, runs)
	print ""
	printf "tsecho bench threads: %s (from its JSON); errors + timeouts + lost over all runs: %d\n", \
		threads["tsecho", 1], errs
	mq = median(q, runs)
	printf "ratio tsecho/baseline (median of the %d per-run ratios): %.3f  target >= 1.00: %s" \
		"   (ratio of the medians %.3f)\n", runs, mq, (mq >= 1 ? "PASS" : "FAIL"), mt / mb
}' "$tmp/results"
