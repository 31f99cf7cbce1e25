#!/bin/sh
# The server suites on the poll engine (server-suite.sh).
exec "${SHELL:-/bin/sh}" "$(dirname "$0")/server-suite.sh" poll
