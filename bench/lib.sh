# shellcheck shell=bash
# Sourced by every bench/ script: where things are, and the process helpers
# they share. Sets root (the repository) and tsecho (the binary: $TSECHO,
# resolved against the caller's directory, or ./tsecho), then works from
# the repository root. Bounded waits: listen_wait_s for a listening line,
# stop_wait_s for SIGTERM before SIGKILL.

script_dir=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
root=$(cd "$script_dir/.." && pwd)
bench_name=$(basename "${BASH_SOURCE[1]}" .sh)

tsecho=${TSECHO:-$root/tsecho}
case $tsecho in
/*) ;;
*) tsecho=$PWD/$tsecho ;;
esac
cd "$root" || exit 1

# shellcheck disable=SC2034 # used by the scripts that source this
listen_wait_s=5
stop_wait_s=5

die() {
	echo "$bench_name: $*" >&2
	exit 1
}

# True while process $1 exists and is not a zombie.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# User plus system CPU time of process $1, all threads, in clock ticks.
cpu_ticks() {
	local stat fields
	stat=$(cat "/proc/$1/stat") || die "cannot read /proc/$1/stat"
	read -r -a fields <<<"${stat##*) }"
	# fields[0] is field 3 (state), so field N is fields[N-3].
	echo $((fields[11] + fields[12]))
}

# SIGTERM to process $1, SIGKILL if it is still there after stop_wait_s.
stop_pid() {
	local i
	kill -TERM "$1" 2>/dev/null || true
	for ((i = 0; i < stop_wait_s * 20; i++)); do
		alive "$1" || break
		sleep 0.05
	done
	if alive "$1"; then
		echo "$bench_name: process $1 did not stop on SIGTERM within ${stop_wait_s}s; killing it" >&2
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

# tcp_port_of OUT ERR PID: the port of the first 'listening on tcp
# 127.0.0.1:PORT' line the server PID writes to file OUT (its stderr in
# ERR), waiting up to listen_wait_s (twice that for slow starters under
# strace); dies when it does not come.
tcp_port_of() {
	local i port
	for ((i = 0; i < listen_wait_s * 40; i++)); do
		port=$(sed -n 's/^listening on tcp 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1" 2>/dev/null | head -n 1)
		[[ -n $port ]] && echo "$port" && return 0
		alive "$3" || die "the server exited: $(tail -n 3 "$2")"
		sleep 0.05
	done
	die "the server printed no 'listening on tcp 127.0.0.1:PORT' line: $(tail -n 3 "$2")"
}

stop_server() {
	[[ -n ${server_pid:-} ]] || return 0
	stop_pid "$server_pid"
	server_pid=
}
