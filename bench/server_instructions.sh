#!/usr/bin/env bash
# Server instructions per message: user-space instructions tsecho server
# executes per binary probe answered, counted by valgrind's callgrind, for
# the current binary (with and without --metrics) and, side by side, a
# BASE binary. Instruction counts do not depend on what else the machine
# is doing, so this answers "what does this change cost the hot path?"
# where CPU-time ratios (server_efficiency.sh, metrics_overhead.sh) drown
# in a noisy machine's scheduling. It counts user space only: the kernel's
# share of a round trip (several system calls) is not in these numbers.
#
# Load: `tsecho bench -n COUNT -c 4 -T 1` (binary probes over TCP, or UDP
# with TRANSPORT=udp) against each server on 127.0.0.1; the server runs under callgrind and is stopped
# with SIGINT after the load, so start-up and shutdown are included (a
# fixed cost, small against COUNT messages).
#
# usage: bench/server_instructions.sh
# environment:
#   TSECHO=PATH   the tsecho binary (default ./tsecho); it also drives the load
#   BASE=PATH     another tsecho binary to compare with (optional)
#   COUNT=N       messages per run (default 20000)
#   TRANSPORT=T   tcp (default) or udp
#   ENGINES="..." also run the current binary on each of these engines
#                 (--engine), for instance "io_uring epoll poll select"
# Exit status: 0 when everything ran, 1 otherwise.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

count=${COUNT:-20000}
[[ $count =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a whole number above 0"
((count <= 10000000)) || die "COUNT must be at most 10000000"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
transport=${TRANSPORT:-tcp}
case $transport in
tcp) only=--no-udp bench_opt= ;;
udp) only=--no-tcp bench_opt=--udp ;;
*) die "TRANSPORT must be tcp or udp" ;;
esac
command -v valgrind >/dev/null || die "valgrind is needed (Debian: apt-get install valgrind)"
base=${BASE:-}
if [[ -n $base ]]; then
	[[ $base == /* ]] || base=$PWD/$base
	[[ -x $base ]] || die "BASE=$base is not executable"
fi

work=$(mktemp -d)
server_pid=
trap 'stop_server; rm -rf "$work"' EXIT

# instructions BINARY [ARGS...]: prints the server's total instruction count
# for COUNT messages, after checking it answered all of them.
instructions() {
	local bin=$1 port i
	shift
	# Over UDP the server's per-source rate would drop part of a load from
	# one host: set the limits far above it (still checked on every
	# datagram), where the binary has them.
	if [[ $transport == udp ]] && "$bin" server --help | grep -q -- --udp-rate; then
		set -- "$@" --udp-rate 100000000 --udp-budget 100000000
	fi
	: >"$work/log"
	valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
		"$bin" server -q -l 127.0.0.1 -p 0 "$only" "$@" >"$work/log" 2>"$work/err" &
	server_pid=$!
	for ((i = 0; i < listen_wait_s * 20 * 4; i++)); do # valgrind starts slowly
		grep -q "listening on $transport" "$work/log" && break
		alive "$server_pid" || die "server under valgrind exited: $(tail -n 3 "$work/err")"
		sleep 0.05
	done
	port=$(grep -m1 "listening on $transport" "$work/log" | grep -o '[0-9]*$') ||
		die "no listening line from $bin"
	# shellcheck disable=SC2086 # bench_opt is empty or one word
	"$tsecho" bench "127.0.0.1:$port" $bench_opt -n "$count" -c 4 -T 1 -q >/dev/null ||
		die "tsecho bench failed against $bin"
	kill -INT "$server_pid"
	wait "$server_pid" || true
	server_pid=
	grep -q "messages $count," "$work/log" || die "the server did not answer $count messages: $(cat "$work/log")"
	awk '/^summary:/ || /^totals:/ { print $2; exit }' "$work/cg.out"
}

echo "server instructions: $count binary probes, 4 $transport connections, tsecho bench as the load"
printf '%-28s %14s %12s\n' config instructions per_message
# ratio A B: A / B, printed by awk (no bc needed).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
report() {
	printf '%-28s %14d %12s\n' "$1" "$2" "$(awk -v a="$2" -v n="$count" 'BEGIN { printf "%.1f", a / n }')"
}
plain=$(instructions "$tsecho")
report "current" "$plain"
metrics=$(instructions "$tsecho" --metrics 127.0.0.1:0)
report "current --metrics" "$metrics"
for engine in ${ENGINES:-}; do
	report "current --engine $engine" "$(instructions "$tsecho" --engine "$engine")"
done
if [[ -n $base ]]; then
	old=$(instructions "$base")
	report "BASE" "$old"
	printf 'current/BASE: %s   (%s instructions a message)\n' "$(ratio "$plain" "$old")" \
		"$(awk -v a="$plain" -v b="$old" -v n="$count" 'BEGIN { printf "%+.1f", (a - b) / n }')"
fi
echo "with --metrics/without: $(ratio "$metrics" "$plain")"
