/* Where a round trip's time went: the seven parts that kernel timestamps
 * split it into (docs/measurement.md, "Kernel timestamps").  Pure: the
 * caller supplies every time. */
#ifndef TSECHO_BREAKDOWN_H
#define TSECHO_BREAKDOWN_H

#include <stddef.h>
#include <stdint.h>

#include <tsecho/hist.h>
#include <tsecho/stats.h>

enum ts_part {
	TS_PART_CLIENT_SEND, /* t1 -> client kernel TX */
	TS_PART_NET_OUT,     /* client TX -> server kernel RX, offset-corrected */
	TS_PART_SERVER_WAKE, /* server RX -> t2 */
	TS_PART_SERVER_PROC, /* t2 -> t3 */
	TS_PART_SERVER_SEND, /* t3 -> server kernel TX */
	TS_PART_NET_BACK,    /* server TX -> client kernel RX, offset-corrected */
	TS_PART_CLIENT_WAKE, /* client RX -> t4 */
	TS_PART_COUNT
};

/* The eight times of one probe, wall-clock ns (t2, t3 and the server's
 * kernel times on the server's clock, the rest on the client's); 0: not
 * taken.  rtt_ns is the round trip on the client's raw clock. */
struct ts_kts_probe {
	uint64_t seq;
	int64_t rtt_ns;
	int64_t t1;
	int64_t client_sched; /* before the qdisc; informative, not a part */
	int64_t client_tx;
	int64_t server_rx;
	int64_t t2;
	int64_t t3;
	int64_t server_tx;
	int64_t client_rx;
	int64_t t4;
};

struct ts_breakdown {
	int64_t part_ns[TS_PART_COUNT];
	uint8_t have[TS_PART_COUNT]; /* 0: a time it needs is missing */
	int complete;                /* every part present */
	/* rtt_ns less the parts present: with every part, the rounding and
	 * the clocks' difference over the trip; else it holds the parts
	 * that are missing. */
	int64_t remainder_ns;
};

/* Splits p.  offset_ns is the server's clock minus the client's (0 when
 * both share a clock); the network parts are corrected by it. */
void ts_breakdown_of(const struct ts_kts_probe *p, double offset_ns, struct ts_breakdown *out);

/* "client send path", ... for text; "client_send", ... for JSON. */
const char *ts_part_name(enum ts_part part);
const char *ts_part_key(enum ts_part part);

/* The distribution of each part over a run. */
struct ts_breakdown_stats {
	struct ts_hist *hist[TS_PART_COUNT]; /* negative values count as 0 */
	struct ts_minmax mm[TS_PART_COUNT];  /* signed: a negative value shows */
	struct ts_minmax remainder;          /* of complete probes */
	uint64_t probes;                     /* probes accounted */
	uint64_t complete;
};

/* 0, or -1 when out of memory. */
int ts_breakdown_stats_init(struct ts_breakdown_stats *s);
void ts_breakdown_stats_fini(struct ts_breakdown_stats *s);
void ts_breakdown_stats_add(struct ts_breakdown_stats *s, const struct ts_breakdown *b);
/* Adds src's probes to dst (several threads' stats into one). */
void ts_breakdown_stats_merge(struct ts_breakdown_stats *dst, const struct ts_breakdown_stats *src);

#endif
