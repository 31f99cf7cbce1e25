#!/bin/sh
# The server suites on the epoll engine (server-suite.sh).
exec "${SHELL:-/bin/sh}" "$(dirname "$0")/server-suite.sh" epoll
