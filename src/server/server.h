/* tsecho server: the timestamping reflector. */
#ifndef TSECHO_SERVER_H
#define TSECHO_SERVER_H

#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define TS_SERVER_MAX_LISTEN 16
#define TS_SERVER_DEFAULT_PORT 12345

struct ts_server_config {
	const char *listen[TS_SERVER_MAX_LISTEN]; /* none: [::] dual-stack */
	int n_listen;
	uint16_t port;
	int tcp;
	int udp;
	uint64_t max_clients;            /* concurrent TCP connections */
	uint64_t max_clients_per_source; /* of them from one address; 0: no limit */
	uint64_t max_message;            /* largest frame, longest text message */
	uint64_t max_output;             /* per-connection unsent replies */
	int64_t idle_timeout_ns;         /* no progress this long closes; 0: never */
	int64_t message_timeout_ns;      /* a message begun must end within; 0: never */
	double udp_rate_per_s;           /* main and echo UDP replies per source; 0: no limit */
	double udp_budget_per_s;         /* UDP replies in all, every port; 0: no limit */
	int quiet;
	enum ts_log_format log_format;
	int stamp; /* --stamp: a STAMP reflector (RFC 8762) */
	uint16_t stamp_port;
	int stamp_stateful;      /* per-session sequence numbers */
	double stamp_rate_per_s; /* per source address; 0: no limit */
	int stamp_batch;         /* datagrams per recvmmsg/sendmmsg; 1: none */
	int echo;                /* --echo: RFC 862 echo, TCP and UDP */
	uint16_t echo_port;
	const char *metrics_addr; /* --metrics ADDR:PORT, or NULL */
	const char *engine;       /* --engine: io_uring, epoll, poll, select; NULL: the
				   * default (io_uring where built, else epoll) */
	unsigned uring_buffers;   /* provided buffers in the ring, a power of two; 0: 1024 */
	size_t uring_buffer_size; /* bytes each; 0: 8192 */
	int64_t busy_poll_ns;     /* io_uring: poll the ring this long before sleeping */
	enum ts_zerocopy { TS_ZEROCOPY_AUTO, TS_ZEROCOPY_ON, TS_ZEROCOPY_OFF } zerocopy;
	/* --kernel-timestamps: for probes that ask (ktime.h) */
	enum ts_kt_mode { TS_KT_AUTO, TS_KT_ON, TS_KT_OFF } kernel_timestamps;
	int threads; /* --threads: reactors sharing the main port; 0: 1 */
	int reactor; /* which one this is; past 0: no start-up lines, and
				   * no STAMP, echo or metrics (the first has them) */
};

/* Whether this build has the engine called name (io_uring, epoll, poll,
 * select). */
int ts_server_has_engine(const char *name);

struct ts_server;

/* Binds every listener and logs one 'listening on' line each to log_out.
 * cfg must outlive the server.  max_fds bounds the descriptors it can
 * serve.  Returns NULL when it cannot (a one-line reason is on stderr). */
struct ts_server *ts_server_start(const struct ts_server_config *cfg, int max_fds, FILE *log_out);

/* Serves until ts_server_stop.  Returns 0, or -1 on a fatal event-loop
 * error (reported on stderr). */
int ts_server_run(struct ts_server *srv);

/* Makes ts_server_run return soon.  Safe in a signal handler and from
 * another thread. */
void ts_server_stop(struct ts_server *srv);

/* The port the server listens on (all its sockets share it), or -1. */
int ts_server_port(const struct ts_server *srv);

/* Closes every connection and listener, logs the summary when asked, and
 * frees srv.  NULL is fine. */
void ts_server_free(struct ts_server *srv, int summary);

/* --threads N: N servers, the reactors, each with its own ring or loop and
 * its own SO_REUSEPORT sockets on the main port, sharing nothing; the
 * first also serves STAMP, echo and the metrics, which add every reactor's
 * counters up, as the summary does (reactors.c). */
#define TS_SERVER_MAX_THREADS 64
struct ts_reactors;
struct ts_reactors *ts_reactors_start(const struct ts_server_config *cfg, int max_fds,
				      FILE *log_out);
/* Runs the first reactor on the calling thread and the others on threads
 * of their own, until ts_reactors_stop; 0, or -1 when one failed. */
int ts_reactors_run(struct ts_reactors *r);
/* Safe in a signal handler. */
void ts_reactors_stop(struct ts_reactors *r);
void ts_reactors_free(struct ts_reactors *r, int summary);

/* For reactors.c: makes srv's metrics add peers' counters to its own, and
 * at the end takes from's counters into into's (closing from). */
void ts_server_set_peers(struct ts_server *srv, struct ts_server *const *peers, int n);
void ts_server_merge_into(struct ts_server *into, struct ts_server *from);

/* The `tsecho server` command: parses argv, runs. */
int ts_cmd_server(int argc, char **argv);

#endif
