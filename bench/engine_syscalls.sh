#!/usr/bin/env bash
# System calls per round trip for each server engine, counted by strace -c
# (-f: every thread), under the same load for all: `tsecho ping -i 0 -c
# COUNT` (one TCP connection, ping-pong, binary probes) and then
# bench/pingpong with CONNS closed-loop connections for DURATION seconds.
# Counts do not depend on how busy the machine is, so this compares the
# engines where seconds cannot.
#
# usage: bench/engine_syscalls.sh
# environment:
#   TSECHO=PATH     the tsecho binary (default ./tsecho)
#   ENGINES="..."   (default "io_uring epoll poll select")
#   COUNT=N         ping-pong round trips (default 5000)
#   CONNS=N         pingpong connections (default 64)
#   DURATION=SECS   pingpong seconds (default 2)
# Exit status: 0 when every run ran, 1 otherwise.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

engines=${ENGINES:-io_uring epoll poll select}
count=${COUNT:-5000}
conns=${CONNS:-64}
duration=${DURATION:-2}
build=bench/build
command -v strace >/dev/null || die "strace is needed (Debian: apt-get install strace)"
[[ -x $tsecho ]] || die "no executable tsecho at $tsecho (run make, or set TSECHO)"
mkdir -p "$build"
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$build/pingpong" bench/pingpong.c

tmp=$(mktemp -d)
server_pid=
trap 'stop_server; rm -rf "$tmp"' EXIT

# traced ENGINE LOAD...: runs the server under strace with LOAD (a command
# taking the port last) against it; prints "ROUND_TRIPS CALLS TOP3" where
# TOP3 names the three most frequent calls with their counts.
traced() {
	local engine=$1 port rt
	shift
	strace -f -c -o "$tmp/strace" "$tsecho" server -q -l 127.0.0.1 -p 0 --no-udp \
		--engine "$engine" >"$tmp/out" 2>"$tmp/err" &
	server_pid=$!
	port=$(tcp_port_of "$tmp/out" "$tmp/err" "$server_pid") || exit 1
	"$@" "$port" >"$tmp/load" || die "the load against $engine failed"
	# SIGTERM to the server itself, not to strace, which then ends with it.
	stop_pid "$(pgrep -P "$server_pid" | head -n 1)"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	rt=$(awk '/^summary:/ { for (i = 1; i < NF; i++) if ($i == "messages") print $(i + 1) + 0 }' "$tmp/out")
	[[ $rt =~ ^[0-9]+$ && $rt -gt 0 ]] || die "no summary from the server on $engine"
	# strace -c lines: % time, seconds, usecs/call, calls, [errors], name.
	awk -v rt="$rt" '
		$1 ~ /^[0-9.]+$/ && $NF != "total" { n[$NF] = $4; total += $4 }
		END {
			top = ""
			for (k = 0; k < 3; k++) {
				best = ""; bn = -1
				for (c in n) if (n[c] + 0 > bn) { bn = n[c] + 0; best = c }
				if (best == "") break
				top = top sprintf(" %s=%d", best, bn); delete n[best]
			}
			printf "%d %d%s\n", rt, total, top
		}' "$tmp/strace"
}

ping_load() { "$tsecho" ping -i 0 -c "$count" -q "127.0.0.1:$1" >/dev/null; }
pp_load() { "$build/pingpong" -c "$conns" -s 64 -t "$duration" 127.0.0.1 "$1" >/dev/null; }

echo "system calls per round trip (strace -f -c on the server; start-up and shutdown included)"
echo "tsecho: $tsecho; machine: $(nproc) CPUs, $(uname -r)"
printf '%-9s %-28s %10s %10s %9s  %s\n' engine load round_trips calls per_rt "most frequent"
for engine in $engines; do
	for load in ping pp; do
		if [[ $load == ping ]]; then
			what="ping -i 0 -c $count (1 conn)"
			traced "$engine" ping_load >"$tmp/row" || exit 1
		else
			what="pingpong -c $conns, ${duration}s"
			traced "$engine" pp_load >"$tmp/row" || exit 1
		fi
		read -r rt calls top <"$tmp/row"
		printf '%-9s %-28s %10d %10d %9.2f  %s\n' "$engine" "$what" "$rt" "$calls" \
			"$(awk -v c="$calls" -v r="$rt" 'BEGIN { print c / r }')" "$top"
	done
done
