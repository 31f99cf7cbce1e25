#!/usr/bin/env bash
# 10,000 connections: `tsecho bench -c 10000` (closed loop, 64-byte probe
# frames) against a fresh `tsecho server` on 127.0.0.1 in each run. While the
# bench runs, the script reads the resident memory (VmRSS, /proc/PID/status)
# of the bench process and of the server every 0.5 s and keeps the peak of
# each. It reports the rate (messages_per_s), errors, timeouts and lost
# messages, the peaks, and the peaks per connection; the medians of RUNS runs.
#
# For context the same run measures bench/pingpong (a minimal single-threaded
# epoll load generator in C) with the same connections, the same way, against
# its own fresh server; runs alternate the order (run 1: tsecho, baseline;
# run 2: baseline, tsecho; ...). BASELINE=0 leaves it out. No target: these
# are figures to report.
#
# usage: bench/load_10k.sh          (from anywhere; paths are the repo's)
# environment:
#   TSECHO=PATH     the tsecho binary (default: ./tsecho at the repo root)
#   DURATION=SECS   seconds of load per run (default 5, a whole number)
#   RUNS=N          runs (default 5)
#   CONNS=N         connections (default 10000; at most 10000 with the baseline)
#   BASELINE=0|1    also measure pingpong (default 1)
#   PIN=split|none  CPU placement (default split: the server on one CPU, the
#                   load generator on the other; none: the scheduler's choice)
#   THREADS=N       pass -T N to tsecho bench (default: none, its own default)
#   CC=...          C compiler (default cc)
# Exit status: 0 when everything ran, 1 otherwise.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${DURATION:-5}
runs=${RUNS:-5}
conns=${CONNS:-10000}
baseline=${BASELINE:-1}
pin=${PIN:-split}
threads=${THREADS:-}
size=64
build=bench/build
# How long a load generator may take beyond DURATION (setting up and closing
# 10,000 connections, writing the result) before it is killed.
client_slack_s=60
fd_spare=100 # descriptors beyond one per connection: epoll, pipes, threads
sample_s=0.5


[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a whole number above 0"
[[ $duration =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a whole number of seconds above 0"
[[ $conns =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a whole number above 0"
[[ $baseline == 0 || $baseline == 1 ]] || die "BASELINE must be 0 or 1"
((baseline == 0 || conns <= 10000)) || die "pingpong takes at most 10000 connections; set BASELINE=0"
[[ $pin == split || $pin == none ]] || die "PIN must be split or none"
[[ -z $threads || $threads =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a whole number above 0"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
"$tsecho" bench --help >/dev/null 2>&1 || die "$tsecho has no working 'bench' command (run make)"
command -v python3 >/dev/null || die "python3 is needed to read tsecho's JSON"

# One descriptor per connection in the load generator, which inherits our
# soft limit; the server raises its own soft limit to the hard one.
fd_need=$((conns + fd_spare))
fd_hard=$(ulimit -H -n)
if [[ $fd_hard != unlimited ]] && ((fd_hard < fd_need)); then
	die "RLIMIT_NOFILE hard limit $fd_hard is below the $fd_need descriptors $conns connections need"
fi
if [[ $(ulimit -S -n) != unlimited ]] && (($(ulimit -S -n) < fd_need)); then
	ulimit -S -n "$fd_hard" || die "cannot raise the soft RLIMIT_NOFILE to $fd_hard"
fi

# pin_server and pin_client: the taskset prefix for each side, or nothing.
# The first two CPUs this process may run on (a cpuset may exclude CPU 0).
# taskset execs the program, so the PID of "$!" stays the program's.
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

if ((baseline)); then
	mkdir -p "$build"
	${CC:-cc} -O2 -Wall -Wextra -pthread -o "$build/pingpong" bench/pingpong.c
fi

tmp=$(mktemp -d)
server_pid=
client_pid=




cleanup() {
	if [[ -n $client_pid ]]; then
		kill -KILL "$client_pid" 2>/dev/null || true
		wait "$client_pid" 2>/dev/null || true
	fi
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
# Make Ctrl+C and SIGTERM go through the EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME: a fresh tsecho server; sets server_pid and server_port.
start_server() {
	local out="$tmp/$1.server.out" i
	"${pin_server[@]}" "$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp >"$out" 2>"$tmp/$1.server.err" &
	server_pid=$!
	server_port=
	for ((i = 0; i < listen_wait_s * 20; i++)); do
		server_port=$(sed -n 's/^listening on tcp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
		[[ -n $server_port ]] && return 0
		alive "$server_pid" || break
		sleep 0.05
	done
	cat "$tmp/$1.server.err" >&2
	alive "$server_pid" || die "tsecho server exited without printing 'listening on tcp 127.0.0.1:PORT'"
	die "tsecho server did not print 'listening on tcp 127.0.0.1:PORT' within ${listen_wait_s}s"
}

# status_kib PID FIELD: FIELD (VmRSS, VmHWM) of /proc/PID/status in KiB, or
# nothing once PID has exited. Plain bash: no process per sample.
status_kib() {
	local key value _
	while read -r key value _; do
		if [[ $key == "$2:" ]]; then
			echo "$value"
			return 0
		fi
	done 2>/dev/null <"/proc/$1/status" || true
}

# run_sampled NAME CMD... : start a fresh server and run CMD, a load
# generator (stdout to $tmp/NAME.out, stderr to $tmp/NAME.err), with an
# argument "PORT", or the PORT that ends one in ":PORT", replaced by the
# server's port. Sample the RSS of both every sample_s until CMD exits, then
# stop the server. Sets client_rc, idle_kib (the server's RSS before the
# load), server_peak_kib, client_peak_kib and samples.
# Sampled, not VmHWM: the kernel updates its high-water mark only at some
# events (unmapping, exit), and here it read below peaks the samples saw.
run_sampled() {
	local name=$1 deadline_s now_s r args=() a
	shift
	start_server "$name"
	sleep 0.2
	idle_kib=$(status_kib "$server_pid" VmRSS)
	[[ -n $idle_kib ]] || die "cannot read the server's VmRSS"
	for a in "$@"; do
		case $a in
		PORT | *:PORT) a=${a%PORT}$server_port ;;
		esac
		args+=("$a")
	done
	"${pin_client[@]}" "${args[@]}" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	client_pid=$!
	server_peak_kib=$idle_kib
	client_peak_kib=0
	samples=0
	deadline_s=$((SECONDS + duration + client_slack_s))
	while alive "$client_pid"; do
		r=$(status_kib "$client_pid" VmRSS)
		[[ -n $r ]] && ((r > client_peak_kib)) && client_peak_kib=$r
		r=$(status_kib "$server_pid" VmRSS)
		[[ -n $r ]] && ((r > server_peak_kib)) && server_peak_kib=$r
		samples=$((samples + 1))
		now_s=$SECONDS
		if ((now_s >= deadline_s)); then
			stop_pid "$client_pid"
			client_pid=
			cat "$tmp/$name.err" >&2
			die "$name did not end within $((duration + client_slack_s))s"
		fi
		sleep "$sample_s"
	done
	client_rc=0
	wait "$client_pid" || client_rc=$?
	client_pid=
	alive "$server_pid" || die "tsecho server died while $name ran"
	stop_server
}

# Each measure_* appends "NAME RUN RATE_PER_S ERRORS TIMEOUTS LOST
# CLIENT_PEAK_KIB SERVER_IDLE_KIB SERVER_PEAK_KIB SAMPLES THREADS" to
# $tmp/results.

measure_tsecho() {
	local run=$1 fields rate errors timeouts lost used_threads
	run_sampled tsecho "$tsecho" bench -c "$conns" -s "$size" -t "${duration}s" ${threads:+-T "$threads"} \
		-q --json 127.0.0.1:PORT
	if ((client_rc != 0)); then
		cat "$tmp/tsecho.err" >&2
		head -c 2000 "$tmp/tsecho.out" >&2
		die "tsecho bench exited with status $client_rc in run $run"
	fi
	if ! fields=$(python3 -c '
import json, sys
conns, size = int(sys.argv[1]), int(sys.argv[2])
with open(sys.argv[3]) as f:
    d = json.load(f)
want = {"schema": 1, "kind": "bench", "transport": "tcp", "mode": "probe", "loop": "closed",
        "connections": conns, "size": size}
for k, v in want.items():
    if d.get(k) != v:
        sys.exit("%s is %r, expected %r" % (k, d.get(k), v))
rate = d.get("messages_per_s")
if not isinstance(rate, (int, float)) or rate <= 0:
    sys.exit("messages_per_s is %r" % (rate,))
print("%.1f %d %d %d %s" % (rate, d.get("errors") or 0, d.get("timeouts") or 0, d.get("lost") or 0,
                            d.get("threads", "-")))
' "$conns" "$size" "$tmp/tsecho.out"); then
		head -c 2000 "$tmp/tsecho.out" >&2
		echo >&2
		die "tsecho bench --json in run $run: unexpected output (above)"
	fi
	read -r rate errors timeouts lost used_threads <<<"$fields"
	echo "tsecho $run $rate $errors $timeouts $lost $client_peak_kib $idle_kib $server_peak_kib $samples" \
		"$used_threads" >>"$tmp/results"
}

measure_baseline() {
	local run=$1 out
	run_sampled baseline "$build/pingpong" -c "$conns" -s "$size" -t "$duration" 127.0.0.1 PORT
	if ((client_rc != 0)); then
		cat "$tmp/baseline.err" >&2
		die "pingpong exited with status $client_rc in run $run"
	fi
	# round_trips N seconds S; pingpong exits 1 on any connection error, so
	# a run that got here had none.
	out=$(cat "$tmp/baseline.out")
	[[ $out =~ ^round_trips\ ([0-9]+)\ seconds\ ([0-9.]+)$ && ${BASH_REMATCH[1]} -gt 0 ]] ||
		die "pingpong in run $run printed '$out'"
	awk -v r="$run" -v n="${BASH_REMATCH[1]}" -v s="${BASH_REMATCH[2]}" \
		-v c="$client_peak_kib" -v i="$idle_kib" -v p="$server_peak_kib" -v k="$samples" \
		'BEGIN { printf "baseline %d %.1f 0 0 0 %d %d %d %d 1\n", r, n / s, c, i, p, k }' >>"$tmp/results"
}

echo "10k connections: $conns closed-loop connections x $size-byte probes, a fresh tsecho server on 127.0.0.1 per run"
echo "${duration}s per run, $runs runs$( ((baseline)) && echo " of each, order alternating")"
echo "tsecho: $tsecho${threads:+ (bench -T $threads)}"
((baseline)) && echo "baseline: $build/pingpong (one thread, epoll), for context"
echo "machine: $(nproc) CPUs, $(uname -r); RLIMIT_NOFILE soft $(ulimit -S -n), hard $fd_hard"
# Anything else running shows here first: the runs share the CPUs with it.
echo "load average at the start: $(cut -d ' ' -f 1-3 /proc/loadavg)"
case $pin in
split) echo "placement (PIN=split): server on CPU $cpu_a, the load generator on CPU $cpu_b" ;;
none) echo "placement (PIN=none): left to the scheduler" ;;
esac
echo "RSS: VmRSS, sampled every ${sample_s}s while the load generator runs; peak per run"
echo

: >"$tmp/results"
for ((run = 1; run <= runs; run++)); do
	if ((!baseline)); then
		measure_tsecho "$run"
	elif ((run % 2)); then
		measure_tsecho "$run"
		measure_baseline "$run"
	else
		measure_baseline "$run"
		measure_tsecho "$run"
	fi
done

awk -v runs="$runs" -v conns="$conns" -v baseline="$baseline" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function row(label, rate, err, tmo, lost, cpk, sidle, spk, smp) {
	printf "%-9s %-6s %10.0f %7s %8s %6s %11d %11d %11d %7s\n", name, label, rate, err, tmo, lost, cpk, sidle, spk, smp
}
{
	n = $1; r = $2
	rate[n, r] = $3; err[n, r] = $4; tmo[n, r] = $5; lost[n, r] = $6
	cpk[n, r] = $7; sidle[n, r] = $8; spk[n, r] = $9; smp[n, r] = $10; thr[n] = $11
}
END {
	print "per run (RSS in KiB)"
	printf "%-9s %-6s %10s %7s %8s %6s %11s %11s %11s %7s\n", "generator", "run", "msg_per_s", "errors", \
		"timeouts", "lost", "bench_peak", "server_idle", "server_peak", "samples"
	ng = baseline ? 2 : 1
	split("tsecho baseline", gens, " ")
	for (g = 1; g <= ng; g++) {
		name = gens[g]
		for (r = 1; r <= runs; r++) {
			row(r, rate[name, r], err[name, r], tmo[name, r], lost[name, r], cpk[name, r], \
				sidle[name, r], spk[name, r], smp[name, r])
			a[r] = rate[name, r]; b[r] = cpk[name, r]; c[r] = sidle[name, r]; d[r] = spk[name, r]
			e[r] = err[name, r]; f[r] = tmo[name, r]; h[r] = lost[name, r]
		}
		m_rate[name] = median(a, runs); m_cpk[name] = median(b, runs)
		m_sidle[name] = median(c, runs); m_spk[name] = median(d, runs)
		row("median", m_rate[name], median(e, runs), median(f, runs), median(h, runs), \
			m_cpk[name], m_sidle[name], m_spk[name], "")
	}
	print ""
	printf "medians of %d runs, %d connections (per connection: peak RSS / %d)\n", runs, conns, conns
	for (g = 1; g <= ng; g++) {
		name = gens[g]
		printf "%s%s: %.0f msg/s\n", name, name == "tsecho" ? " bench (threads: " thr[name] ")" : " (pingpong)", \
			m_rate[name]
		printf "  load generator peak RSS %7.1f MiB = %5.0f bytes per connection\n", \
			m_cpk[name] / 1024, m_cpk[name] * 1024 / conns
		printf "  server peak RSS         %7.1f MiB = %5.0f bytes per connection" \
			" (%.0f above its idle %.1f MiB)\n", m_spk[name] / 1024, m_spk[name] * 1024 / conns, \
			(m_spk[name] - m_sidle[name]) * 1024 / conns, m_sidle[name] / 1024
	}
}' "$tmp/results"
