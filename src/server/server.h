/* tsecho server: the timestamping reflector. */
#ifndef TSECHO_SERVER_H
#define TSECHO_SERVER_H

#include <stdint.h>

#include "log.h"

#define TS_SERVER_MAX_LISTEN 16
#define TS_SERVER_DEFAULT_PORT 12345

struct ts_server_config {
	const char *listen[TS_SERVER_MAX_LISTEN]; /* none: [::] dual-stack */
	int n_listen;
	uint16_t port;
	int tcp;
	int udp;
	uint64_t max_clients;    /* concurrent TCP connections */
	uint64_t max_message;    /* largest frame, longest text message */
	uint64_t max_output;     /* per-connection unsent replies */
	int64_t idle_timeout_ns; /* 0: never */
	int quiet;
	enum ts_log_format log_format;
};

/* Runs the server until SIGINT or SIGTERM, then prints the summary.
 * Returns 0, or 1 when it could not start (a one-line reason is on
 * stderr). */
int ts_server_run(const struct ts_server_config *cfg, int max_fds);

/* The `tsecho server` command: parses argv, runs. */
int ts_cmd_server(int argc, char **argv);

#endif
