#!/bin/sh
# make check: the unit tests, then the integration tests against the real
# binary; ends with one "N passed, N failed" line for both together.
# Needs TSECHO (the binary) and UNIT_TESTS (the unit runner) set.
: "${PYTHON:=python3}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT INT TERM

total_pass=0
total_fail=0
status=0
for suite in unit integration; do
	if [ "$suite" = unit ]; then
		"$UNIT_TESTS" >"$out" 2>&1
	else
		TSECHO="$TSECHO" "$PYTHON" tests/integration/run.py >"$out" 2>&1
	fi
	rc=$?
	cat "$out"
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	pass=$(echo "$line" | grep -oE '[0-9]+ passed' | cut -d' ' -f1)
	fail=$(echo "$line" | grep -oE '[0-9]+ failed' | cut -d' ' -f1)
	if [ -z "$line" ]; then
		echo "check: $suite suite printed no result line (exit $rc)"
		pass=0
		fail=1
	fi
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	[ "$rc" -eq 0 ] || status=1
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] || status=1
exit $status
