#!/usr/bin/env bash
# STAMP reflector efficiency: packets reflected per second of *server CPU
# time* under a UDP flood, in three configurations side by side in one run:
#
#   stamp-b32  STAMP (RFC 8762) on the --stamp port, --stamp-batch 32
#              (recvmmsg/sendmmsg, 32 datagrams a call): 44-octet packets
#   stamp-b1   the same with --stamp-batch 1 (no batching)
#   probe      tsecho's binary probe on the main UDP port: 48-octet probes
#              (44 is below the probe's 48-byte header)
#
# Load: bench/udp_flood, WINDOW packets outstanding on one connected UDP
# socket. CPU time: utime + stime of the server from /proc/PID/stat, read
# just before and just after each flood. Each run starts a fresh
# `tsecho server -q -l 127.0.0.1 -p 0 --stamp=0 --stamp-rate 0` per
# configuration; the order of the three rotates from run to run, so drift on
# the machine hits all alike; the medians are compared.
#
# usage: bench/stamp_reflector.sh          (from anywhere; paths are the repo's)
# environment:
#   TSECHO=PATH     the tsecho binary (default: ./tsecho at the repo root)
#   DURATION=SECS   length of each flood (default 3)
#   RUNS=N          runs of each configuration (default 5)
#   WINDOW=N        packets outstanding (default 64; 1..16384)
#   PIN=split|none  split (default): server on one CPU, flooder on another,
#                   with taskset; none: left to the scheduler
#   CC=...          C compiler (default cc)
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${DURATION:-3}
runs=${RUNS:-5}
window=${WINDOW:-64}
pin=${PIN:-split}
build=bench/build


[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a whole number above 0"
[[ $duration =~ ^[0-9]+([.][0-9]+)?$ ]] || die "DURATION must be a number of seconds"
[[ $window =~ ^[1-9][0-9]*$ && $window -le 16384 ]] || die "WINDOW must be 1..16384"
[[ $pin == split || $pin == none ]] || die "PIN must be split or none"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
clk_tck=$(getconf CLK_TCK)

# The first two CPUs this process may run on (a cpuset may exclude CPU 0),
# from Cpus_allowed_list ("0-3,6").
allowed_cpus() {
	local list part a b i parts cpus=()
	list=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
	IFS=, read -r -a parts <<<"$list"
	for part in "${parts[@]}"; do
		a=${part%-*}
		b=${part#*-}
		for ((i = a; i <= b && ${#cpus[@]} < 2; i++)); do
			cpus+=("$i")
		done
	done
	echo "${cpus[@]}"
}

pin_server=()
pin_client=()
placement="PIN=none: left to the scheduler"
if [[ $pin == split ]]; then
	read -r cpu_a cpu_b < <(allowed_cpus) || true
	if ! command -v taskset >/dev/null; then
		placement="not pinned: taskset (util-linux) not found; left to the scheduler"
	elif [[ -z ${cpu_b:-} ]]; then
		placement="not pinned: this process may use only CPU ${cpu_a:-?}"
	else
		pin_server=(taskset -c "$cpu_a")
		pin_client=(taskset -c "$cpu_b")
		placement="PIN=split (taskset): server on CPU $cpu_a, udp_flood on CPU $cpu_b"
	fi
fi

mkdir -p "$build"
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Werror -D_GNU_SOURCE \
	-o "$build/udp_flood" bench/udp_flood.c

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
trap 'exit 130' INT
trap 'exit 143' TERM



# start_server BATCH: start a fresh tsecho server, set server_pid, udp_port
# and stamp_port (from its `listening on udp|stamp 127.0.0.1:PORT` lines).
start_server() {
	local out="$tmp/server.out" i
	"${pin_server[@]}" "$tsecho" server -q -l 127.0.0.1 -p 0 \
		--stamp=0 --stamp-rate 0 --stamp-batch "$1" >"$out" 2>"$tmp/server.err" &
	server_pid=$!
	for ((i = 0; i < listen_wait_s * 20; i++)); do
		udp_port=$(sed -n 's/^listening on udp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
		stamp_port=$(sed -n 's/^listening on stamp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
		[[ -n $udp_port && -n $stamp_port ]] && return 0
		alive "$server_pid" || break
		sleep 0.05
	done
	cat "$tmp/server.err" >&2
	alive "$server_pid" || die "tsecho server exited without printing both listening lines (udp, stamp)"
	die "tsecho server did not print 'listening on udp|stamp 127.0.0.1:PORT' within ${listen_wait_s}s"
}


# measure CONFIG RUN: one run of CONFIG (stamp-b32, stamp-b1 or probe);
# appends "CONFIG RUN sent received lost cpu_s per_cpu_s per_s late
# server_messages server_errors" to $tmp/results (the last two from the
# server's summary line, "-" when it printed none).
measure() {
	local config=$1 run=$2 kind size port batch before after load ticks
	local sent received secs lost late summary messages errors
	case $config in
	stamp-b32) kind=stamp size=44 batch=32 ;;
	stamp-b1) kind=stamp size=44 batch=1 ;;
	probe) kind=probe size=48 batch=32 ;;
	esac
	start_server "$batch"
	port=$stamp_port
	[[ $kind == probe ]] && port=$udp_port
	before=$(cpu_ticks "$server_pid")
	# udp_flood stops itself after DURATION; timeout only guards against a
	# bug in it, so no run can hang the script.
	if ! load=$(timeout -k 2 "$(awk -v d="$duration" 'BEGIN { print int(d) + 10 }')" \
		"${pin_client[@]}" "$build/udp_flood" -k "$kind" -s "$size" -t "$duration" \
		-w "$window" 127.0.0.1 "$port"); then
		cat "$tmp/server.err" >&2
		die "udp_flood against $config failed (run $run)"
	fi
	alive "$server_pid" || die "tsecho server died during the $config flood (run $run)"
	after=$(cpu_ticks "$server_pid")
	stop_server
	read -r _ sent _ received _ secs _ lost _ late <<<"$load"
	summary=$(grep '^summary:' "$tmp/server.out" || true)
	messages=$(sed -n 's/.* messages \([0-9][0-9]*\),.*/\1/p' <<<"$summary")
	errors=$(sed -n 's/.* errors \([0-9][0-9]*\),.*/\1/p' <<<"$summary")
	ticks=$((after - before))
	[[ $received =~ ^[0-9]+$ && $secs =~ ^[0-9.]+$ ]] ||
		die "$config: cannot read udp_flood's output in run $run: $load"
	((received > 0)) || die "$config: the server answered nothing in run $run ($load)"
	((ticks > 0)) || die "$config: no server CPU time measured in run $run"
	awk -v c="$config" -v r="$run" -v sn="$sent" -v rc="$received" -v l="$lost" \
		-v t="$ticks" -v hz="$clk_tck" -v s="$secs" -v lt="$late" \
		-v m="${messages:--}" -v e="${errors:--}" \
		'BEGIN { printf "%s %d %d %d %d %.2f %.0f %.0f %d %s %s\n", c, r, sn, rc, l, t / hz, rc / (t / hz), rc / s, lt, m, e }' \
		>>"$tmp/results"
}

configs=(stamp-b32 stamp-b1 probe)
echo "stamp reflector: UDP flood on 127.0.0.1, window $window, ${duration}s per run, $runs runs of each, order rotated per run"
echo "stamp-b32: 44-octet STAMP, --stamp-batch 32; stamp-b1: 44-octet STAMP, --stamp-batch 1; probe: 48-octet tsecho probe, main UDP port"
echo "tsecho: $tsecho"
echo "machine: $(nproc) CPUs, $(uname -r), CLK_TCK $clk_tck"
echo "placement: $placement"
echo

: >"$tmp/results"
for ((run = 1; run <= runs; run++)); do
	for ((k = 0; k < ${#configs[@]}; k++)); do
		measure "${configs[(run - 1 + k) % ${#configs[@]}]}" "$run"
	done
done

# Per run table, then medians, then the ratios.
awk '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	n[$1]++; row[$1, n[$1]] = $0; cpu[$1, n[$1]] = $7; wall[$1, n[$1]] = $8; cs[$1, n[$1]] = $6
}
END {
	split("stamp-b32 stamp-b1 probe", names, " ")
	printf "%-10s %3s %10s %10s %6s %6s %6s %10s %7s %14s %12s\n", "config", "run", "sent", "received", "lost", "late", "srv_err", "srv_msgs", "cpu_s", "rx_per_cpu_s", "rx_per_s"
	for (k = 1; k <= 3; k++)
		for (i = 1; i <= n[names[k]]; i++) {
			split(row[names[k], i], f, " ")
			printf "%-10s %3d %10d %10d %6d %6d %6s %10s %7.2f %14d %12d\n", f[1], f[2], f[3], f[4], f[5], f[9], f[11], f[10], f[6], f[7], f[8]
		}
	print ""
	printf "%-10s %14s %12s %7s\n", "median", "rx_per_cpu_s", "rx_per_s", "cpu_s"
	for (k = 1; k <= 3; k++) {
		c = names[k]
		for (i = 1; i <= n[c]; i++) { a[i] = cpu[c, i]; b[i] = wall[c, i]; d[i] = cs[c, i] }
		mc[c] = median(a, n[c]); mw[c] = median(b, n[c]); md = median(d, n[c])
		printf "%-10s %14d %12d %7.2f\n", c, mc[c], mw[c], md
	}
	print ""
	printf "ratio batched/unbatched (stamp-b32/stamp-b1), per CPU second: %.2f   per wall second: %.2f\n", mc["stamp-b32"] / mc["stamp-b1"], mw["stamp-b32"] / mw["stamp-b1"]
	printf "ratio stamp-b32/probe, per CPU second:                        %.2f   per wall second: %.2f\n", mc["stamp-b32"] / mc["probe"], mw["stamp-b32"] / mw["probe"]
	printf "ratio stamp-b1/probe, per CPU second:                         %.2f   per wall second: %.2f\n", mc["stamp-b1"] / mc["probe"], mw["stamp-b1"] / mw["probe"]
}' "$tmp/results"
