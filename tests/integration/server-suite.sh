#!/bin/sh
# The server's integration suites (server, STAMP, abuse, metrics) with
# every server on engine $1, in TAP, for make check: the suites run on
# the default engine as themselves, and on the others through this.
here=$(dirname "$0")
exec "${PYTHON:-python3}" "$here/run.py" --harness --engine "$1" \
	"$here/test_server.py" "$here/test_stamp.py" "$here/test_abuse.py" \
	"$here/test_metrics.py"
