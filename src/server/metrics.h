/* What the server counts, and its Prometheus page (`--metrics`).  The
 * counters are plain integers bumped by the one loop thread; the page is
 * rendered from them on each scrape (docs/server.md lists every metric). */
#ifndef TSECHO_SERVER_METRICS_H
#define TSECHO_SERVER_METRICS_H

#include <stdint.h>

#include <tsecho/buf.h>
#include <tsecho/prom.h>

enum ts_stat_proto { TS_STAT_TEXT, TS_STAT_BINARY, TS_STAT_STAMP, TS_STAT_ECHO, TS_STAT_PROTOS };

enum ts_stat_transport { TS_STAT_TCP, TS_STAT_UDP, TS_STAT_TRANSPORTS };

enum ts_stat_error {
	TS_ERR_MALFORMED, /* a frame, datagram or packet that does not decode */
	TS_ERR_IO,        /* a failed socket call other than a peer leaving */
	TS_ERR_DROPPED,   /* a UDP reply the kernel would not take */
	TS_ERR_RESOURCE,  /* out of memory, descriptors, or an event-loop failure */
	TS_ERR_KINDS
};

enum ts_stat_limit {
	/* The reasons a connection is closed at accept come first: they
	 * are also the connections_rejected_total family. */
	TS_LIMIT_MAX_CLIENTS,     /* a connection refused at --max-clients */
	TS_LIMIT_FDS,             /* a connection shed for want of descriptors */
	TS_LIMIT_PER_SOURCE,      /* refused at --max-clients-per-source */
	TS_LIMIT_INPUT,           /* a connection closed past its input cap, or a
				 datagram over --max-message not answered */
	TS_LIMIT_OUTPUT,          /* a connection no longer read: --max-output reached */
	TS_LIMIT_IDLE,            /* a connection closed at --idle-timeout */
	TS_LIMIT_MESSAGE_TIMEOUT, /* closed: a message begun, not finished in time */
	TS_LIMIT_STAMP_RATE,      /* a STAMP packet over --stamp-rate, dropped */
	TS_LIMIT_UDP_RATE,        /* a datagram over --udp-rate, not answered */
	TS_LIMIT_UDP_BUDGET,      /* a datagram over --udp-budget, not answered */
	TS_LIMIT_LOOP_SOURCE,     /* from our own or a reflector's port: not answered */
	TS_LIMIT_LOOP_REPLY,      /* itself a reply (or an echo's echo): not answered */
	TS_LIMITS
};

/* How many of the first ts_stat_limit values are reasons to refuse a
 * connection at accept. */
#define TS_LIMIT_ACCEPT_REASONS (TS_LIMIT_PER_SOURCE + 1)

struct ts_traffic {
	uint64_t messages;
	uint64_t bytes_in;
	uint64_t bytes_out;
};

/* Residence-time buckets: 1 µs to 1 s. */
#define TS_RESIDENCE_BOUNDS 13

struct ts_server_stats {
	uint64_t conns_total;
	uint64_t conns_current;
	struct ts_traffic traffic[TS_STAT_PROTOS][TS_STAT_TRANSPORTS];
	uint64_t errors[TS_ERR_KINDS];
	uint64_t limits[TS_LIMITS];
	struct ts_prom_hist residence; /* t3 - t2 of binary probes and STAMP */
	uint64_t residence_counts[TS_RESIDENCE_BOUNDS + 1];
	int64_t start_wall_ns;
};

/* Sums for the summary line. */
struct ts_server_totals {
	uint64_t messages;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t errors;
	uint64_t rejected; /* connections: max_clients and descriptors */
};

void ts_server_stats_init(struct ts_server_stats *st, int64_t start_wall_ns);
struct ts_server_totals ts_server_stats_totals(const struct ts_server_stats *st);

/* Adds every counter of src to dst (the reactors of --threads). */
void ts_server_stats_add(struct ts_server_stats *dst, const struct ts_server_stats *src);

/* Copies src to dst, whose histogram then counts in dst's own buckets. */
void ts_server_stats_copy(struct ts_server_stats *dst, const struct ts_server_stats *src);

/* Records one reply's residence time, t3 - t2 (wall clock, ns). */
void ts_server_stats_residence(struct ts_server_stats *st, int64_t t2_wall_ns, int64_t t3_wall_ns);

struct ts_httpd_stats;

/* Renders the page into body; http is NULL or the metrics server's own
 * counters.  0 or -errno. */
int ts_server_metrics_render(struct ts_buf *body, const struct ts_server_stats *st,
			     const struct ts_httpd_stats *http);

#endif
