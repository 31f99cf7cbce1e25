#!/usr/bin/env bash
# Metrics overhead: what `tsecho server --metrics` and the per-message
# counters behind it cost, as round trips per second of *server CPU time*,
# in three configurations side by side in one run:
#
#   A plain    `tsecho server -q -l 127.0.0.1 -p 0 --no-udp` (this build;
#              the counters and the residence histogram are always on)
#   B scraped  the same with `--metrics 127.0.0.1:0`, while a scraper
#              fetches http://127.0.0.1:PORT/metrics every 100 ms
#   C base     $BASE with A's arguments: an older build to compare against
#              (left out, with a note, when BASE is not set)
#
# Load: bench/pingpong, 64 closed-loop connections of 64-byte probe frames on
# 127.0.0.1, as in server_efficiency.sh. CPU time: utime + stime of the
# server from /proc/PID/stat (all of its threads), read just before the load
# starts and just after it has ended. Each run starts a
# fresh server per configuration; the order rotates from run to run (A B C,
# B C A, C A B, ...) so drift on the machine hits all alike; the medians are
# compared.
#
#   B/A  the cost of being scraped 10 times a second   target >= 0.97
#   A/C  the cost of the counters on the message path  target >= 0.97
#
# In B the scraper is started first, and the load only once its first scrape
# is done; it scrapes until the load has ended, then once more, so its first
# page is from before the load and its last from after. It checks that the
# sum of tsecho_server_messages_total grew from the one to the other.
#
# usage: bench/metrics_overhead.sh          (from anywhere; paths are the repo's)
# environment:
#   TSECHO=PATH     the tsecho binary (default: ./tsecho at the repo root)
#   BASE=PATH       the tsecho binary to compare against in C (default: none,
#                   C left out); a relative path is taken from the current
#                   directory
#   DURATION=SECS   seconds of load per run (default 3; fractions allowed)
#   RUNS=N          runs of each configuration (default 5)
#   PIN=none|split  CPU placement (default none, as server_efficiency.sh;
#                   split: the server on one CPU, pingpong and the scraper
#                   on another, with taskset)
#   CC=...          C compiler (default cc)
# Exit status: 0 when everything ran (whatever the targets say), 1 otherwise.
set -euo pipefail

# BASE is taken from the current directory, as TSECHO is: resolve it before
# lib.sh moves to the repository root.
base=${BASE:-}
case $base in
'' | /*) ;;
*) base=$PWD/$base ;;
esac

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${DURATION:-3}
runs=${RUNS:-5}
pin=${PIN:-none}
conns=64
size=64
target=0.97
scrape_period_s=0.1
build=bench/build


[[ $runs =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a whole number above 0"
if ! [[ $duration =~ ^[0-9]+([.][0-9]+)?$ ]] || ! awk -v d="$duration" 'BEGIN { exit !(d > 0) }'; then
	die "DURATION must be a number of seconds above 0"
fi
[[ $pin == split || $pin == none ]] || die "PIN must be split or none"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
"$tsecho" server --help 2>&1 | grep -q -- --metrics || die "$tsecho server has no --metrics option (run make)"
[[ -z $base || -x $base ]] || die "BASE: no executable at $base"
command -v python3 >/dev/null || die "python3 is needed for the scraper"
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

# Bounds on pingpong and on the scraper; generous, they only keep a hung
# run from hanging the script. The scraper's first scrape may wait for
# python3 to start on a busy machine.
client_limit_s=$(awk -v d="$duration" 'BEGIN { print int(d) + 10 }')
scraper_limit_s=$((client_limit_s + 20))
scraper_ready_wait_s=10

mkdir -p "$build"
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$build/pingpong" bench/pingpong.c

tmp=$(mktemp -d)
server_pid=
scraper_pid=
cleanup() {
	# scraper_pid is timeout(1)'s, which passes SIGTERM on to python3.
	if [[ -n $scraper_pid ]]; then
		kill -TERM "$scraper_pid" 2>/dev/null || true
		wait "$scraper_pid" 2>/dev/null || true
	fi
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
# Make Ctrl+C and SIGTERM go through the EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM

# The scraper: GETs URL every PERIOD seconds of monotonic time (a slow
# answer delays the next one, it does not pile them up), each with a 1 s
# timeout and no proxy. After the first it creates READY_FILE; once
# STOP_FILE exists it scrapes once more and ends (after LIMIT seconds at
# the latest). Prints one line,
#   ok N failed M first F last L
# where F and L are the sum of the tsecho_server_messages_total series on the
# first and last page that had them ("-" if none); the reason of the last
# failure goes to stderr. Exits 0: failures are counted, not fatal.
cat >"$tmp/scrape.py" <<'EOF'
import os, sys, time, urllib.request

url, period, ready_file, stop_file, limit_s = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ok = failed = 0
first = last = None
reason = ""
start = time.monotonic()
for k in range(int(limit_s / period) + 1):
    delay = start + k * period - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    stopping = os.path.exists(stop_file)
    try:
        with opener.open(url, timeout=1) as r:
            page = r.read().decode()
        total, seen = 0, False
        for line in page.splitlines():
            if line.startswith("tsecho_server_messages_total"):
                total += float(line.rsplit(" ", 1)[1])
                seen = True
        if not seen:
            raise ValueError("no tsecho_server_messages_total on the page")
        ok += 1
        if first is None:
            first = total
        last = total
    except Exception as e:  # a scrape failure is counted, and the run goes on
        failed += 1
        reason = "%s: %s" % (type(e).__name__, e)
    if k == 0:
        open(ready_file, "w").close()
    if stopping:
        break
fmt = lambda v: "-" if v is None else "%d" % v
print("ok %d failed %d first %s last %s" % (ok, failed, fmt(first), fmt(last)))
if reason:
    print(reason, file=sys.stderr)
EOF

# start_server NAME METRICS CMD...: start CMD as server NAME; set server_pid,
# server_port and, when METRICS is 1, metrics_port (from its
# `listening on tcp|metrics 127.0.0.1:PORT` lines).
start_server() {
	local name=$1 metrics=$2 out="$tmp/server.out" i lines=tcp
	shift 2
	if ((metrics)); then
		lines="tcp and metrics"
	fi
	"${pin_server[@]}" "$@" >"$out" 2>"$tmp/server.err" &
	server_pid=$!
	server_port=
	metrics_port=
	for ((i = 0; i < listen_wait_s * 20; i++)); do
		server_port=$(sed -n 's/^listening on tcp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
		metrics_port=$(sed -n 's/^listening on metrics 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
		[[ -n $server_port && ($metrics == 0 || -n $metrics_port) ]] && return 0
		alive "$server_pid" || break
		sleep 0.05
	done
	cat "$tmp/server.err" >&2
	alive "$server_pid" || die "$name: the server exited before printing its listening lines"
	die "$name: the server did not print 'listening on $lines 127.0.0.1:PORT' within ${listen_wait_s}s"
}


# start_scraper CONFIG RUN: start the scraper against metrics_port, set
# scraper_pid, and return once its first scrape is done.
start_scraper() {
	local i
	rm -f "$tmp/scrape.ready" "$tmp/scrape.stop"
	timeout -k 2 "$scraper_limit_s" "${pin_client[@]}" python3 "$tmp/scrape.py" \
		"http://127.0.0.1:$metrics_port/metrics" "$scrape_period_s" \
		"$tmp/scrape.ready" "$tmp/scrape.stop" "$((scraper_limit_s - 5))" \
		>"$tmp/scrape.out" 2>"$tmp/scrape.err" &
	scraper_pid=$!
	for ((i = 0; i < scraper_ready_wait_s * 20; i++)); do
		[[ -e $tmp/scrape.ready ]] && return 0
		alive "$scraper_pid" || break
		sleep 0.05
	done
	cat "$tmp/scrape.err" >&2
	die "$1: the scraper did not make its first scrape within ${scraper_ready_wait_s}s (run $2)"
}

# measure CONFIG RUN: one run of CONFIG (plain, scraped or base); appends
# "CONFIG RUN round_trips cpu_s rt_per_cpu_s rt_per_s scrapes_ok
# scrapes_failed msgs_first msgs_last" to $tmp/results (the last four "-"
# without a scraper).
measure() {
	local config=$1 run=$2 metrics=0 before after load ticks rt secs
	local scrape="ok - failed - first - last -" ok failed first last
	local cmd=("$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp)
	case $config in
	scraped)
		metrics=1
		cmd+=(--metrics 127.0.0.1:0)
		;;
	base) cmd[0]=$base ;;
	esac
	start_server "$config" "$metrics" "${cmd[@]}"
	if ((metrics)); then
		start_scraper "$config" "$run"
	fi
	before=$(cpu_ticks "$server_pid")
	# pingpong stops itself after DURATION; timeout only guards against a
	# bug in it, so no run can hang the script.
	if ! load=$(timeout -k 2 "$client_limit_s" "${pin_client[@]}" "$build/pingpong" -c "$conns" -s "$size" \
		-t "$duration" 127.0.0.1 "$server_port" 2>"$tmp/pingpong.err"); then
		cat "$tmp/pingpong.err" "$tmp/server.err" >&2
		die "pingpong against $config failed (run $run)"
	fi
	if ((metrics)); then
		: >"$tmp/scrape.stop"
		wait "$scraper_pid" || die "$config: the scraper failed or overran ${scraper_limit_s}s (run $run): $(cat "$tmp/scrape.err")"
		scraper_pid=
		scrape=$(cat "$tmp/scrape.out")
		[[ $scrape =~ ^ok\ [0-9]+\ failed\ [0-9]+\ first\ [-0-9]+\ last\ [-0-9]+$ ]] ||
			die "$config: the scraper printed '$scrape' (run $run)"
		if [[ -s $tmp/scrape.err ]]; then
			echo "run $run: $(cat "$tmp/scrape.err")" >>"$tmp/scrape_failures"
		fi
	fi
	alive "$server_pid" || die "$config: the server died during the run (run $run)"
	after=$(cpu_ticks "$server_pid")
	stop_server
	ticks=$((after - before))
	[[ $load =~ ^round_trips\ ([0-9]+)\ seconds\ ([0-9.]+)$ && ${BASH_REMATCH[1]} -gt 0 ]] ||
		die "$config: pingpong printed '$load' (run $run)"
	rt=${BASH_REMATCH[1]}
	secs=${BASH_REMATCH[2]}
	((ticks > 0)) || die "$config: no server CPU time measured in run $run"
	read -r _ ok _ failed _ first _ last <<<"$scrape"
	awk -v c="$config" -v r="$run" -v rt="$rt" -v t="$ticks" -v hz="$clk_tck" -v s="$secs" \
		-v ok="$ok" -v f="$failed" -v m1="$first" -v m2="$last" \
		'BEGIN { printf "%s %d %d %.2f %.0f %.0f %s %s %s %s\n", c, r, rt, t / hz, rt / (t / hz), rt / s, ok, f, m1, m2 }' \
		>>"$tmp/results"
}

configs=(plain scraped)
[[ -n $base ]] && configs+=(base)
echo "metrics overhead: $conns connections x $size-byte ping-pong, ${duration}s per run, $runs runs of each, order rotated per run"
echo "A plain:   $tsecho server -q -l 127.0.0.1 -p 0 --no-udp"
echo "B scraped: the same with --metrics 127.0.0.1:0, GET /metrics every ${scrape_period_s}s from before the load to after it (python3 urllib)"
if [[ -n $base ]]; then
	echo "C base:    $base server -q -l 127.0.0.1 -p 0 --no-udp"
else
	echo "C base:    left out (set BASE=PATH to an older tsecho binary to compare against)"
fi
echo "machine: $(nproc) CPUs, $(uname -r), CLK_TCK $clk_tck"
# Anything else running shows here first: the runs share the CPUs with it.
echo "load average at the start: $(cut -d ' ' -f 1-3 /proc/loadavg)"
case $pin in
split) echo "placement (PIN=split): server on CPU $cpu_a, pingpong and the scraper on CPU $cpu_b" ;;
none) echo "placement (PIN=none): left to the scheduler" ;;
esac
echo

: >"$tmp/results"
: >"$tmp/scrape_failures"
for ((run = 1; run <= runs; run++)); do
	for ((k = 0; k < ${#configs[@]}; k++)); do
		measure "${configs[(run - 1 + k) % ${#configs[@]}]}" "$run"
	done
done

# Per run table, medians, the scraper's sanity check, then the ratios.
awk -v target="$target" -v runs="$runs" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function verdict(r) { return r >= target ? "PASS" : "FAIL" }
# ratio NUM DEN: the ratio of the medians of rt_per_cpu_s, with the median
# of the per-run ratios (NUM and DEN of the same run) beside it.
function ratio(label, num, den,    i, k, p) {
	for (i = 1; i <= n[num] && i <= n[den]; i++)
		p[++k] = cpu[num, i] / cpu[den, i]
	r = mc[num] / mc[den]
	printf "ratio %s: %.3f  target >= %.2f: %s   (median of the per-run ratios %.3f)\n", label, r, target, verdict(r), median(p, k)
}
{
	n[$1]++; row[$1, n[$1]] = $0; cpu[$1, n[$1]] = $5; wall[$1, n[$1]] = $6; cs[$1, n[$1]] = $4
}
END {
	split("plain scraped base", names, " ")
	printf "%-8s %3s %12s %7s %14s %10s %8s %7s %10s %10s\n", "config", "run", "round_trips", "cpu_s", "rt_per_cpu_s", "rt_per_s", "scrapes", "failed", "msgs_first", "msgs_last"
	for (k = 1; k <= 3; k++)
		for (i = 1; i <= n[names[k]]; i++) {
			split(row[names[k], i], f, " ")
			printf "%-8s %3d %12d %7.2f %14d %10d %8s %7s %10s %10s\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10]
		}
	print ""
	printf "%-8s %14s %10s %7s\n", "median", "rt_per_cpu_s", "rt_per_s", "cpu_s"
	for (k = 1; k <= 3; k++) {
		c = names[k]
		if (!n[c])
			continue
		for (i = 1; i <= n[c]; i++) { a[i] = cpu[c, i]; b[i] = wall[c, i]; d[i] = cs[c, i] }
		mc[c] = median(a, n[c]); mw = median(b, n[c]); md = median(d, n[c])
		printf "%-8s %14d %10d %7.2f\n", c, mc[c], mw, md
	}
	print ""
	for (i = 1; i <= n["scraped"]; i++) {
		split(row["scraped", i], f, " ")
		ok += f[7]; failed += f[8]
		if (f[9] != "-" && f[10] != "-" && f[10] + 0 > f[9] + 0) grew++
	}
	printf "scrapes in B: %d ok, %d failed, over %d runs\n", ok, failed, n["scraped"]
	printf "sanity: tsecho_server_messages_total grew from the first scrape to the last in %d of %d runs: %s\n", grew, n["scraped"], grew == n["scraped"] ? "PASS" : "FAIL"
	print ""
	ratio("B/A (scraped/plain: the cost of 10 scrapes a second)", "scraped", "plain")
	if (n["base"])
		ratio("A/C (plain/base: the cost of the counters)          ", "plain", "base")
	else
		print "ratio A/C: not measured (BASE not set)"
}' "$tmp/results"
if [[ -s $tmp/scrape_failures ]]; then
	echo
	echo "scrape failures (the last reason in each run that had any):"
	cat "$tmp/scrape_failures"
fi
