/* The measurement of a probing session: what each reply's four timestamps
 * say, accumulated.  docs/measurement.md gives each formula and its source.
 * Pure: no clocks, no I/O; the caller supplies every time. */
#ifndef TSECHO_STATS_H
#define TSECHO_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <tsecho/hist.h>

/* One reply.  t1 and t4 are on the client's wall clock, t2 and t3 on the
 * server's; rtt_ns is t4 - t1 measured on the client's monotonic clock. */
struct ts_sample {
	uint64_t seq;
	int64_t rtt_ns;
	int64_t t1_wall_ns;
	int64_t t2_wall_ns;
	int64_t t3_wall_ns;
	int64_t t4_wall_ns;
	int server_times; /* t2/t3 present (not for --connect or --echo) */
};

/* Interarrival jitter, RFC 3550 section 6.4.1: for consecutive arrivals
 * with transit times T(i-1), T(i), D = T(i) - T(i-1) and
 * J += (|D| - J) / 16.  Any constant clock offset cancels in D, so this is
 * meaningful per direction without synchronised clocks. */
struct ts_jitter {
	int have_prev;
	int64_t prev_transit_ns;
	double jitter_ns; /* the estimate now (at the end: its final value) */
	/* The estimate over the run: one value per arrival after the first.
	 * A stall shows here; the final value forgets it within ~16 arrivals. */
	uint64_t n_estimates;
	double sum_ns;
	double max_ns;
};

/* The mean of the estimate over the run (0 before the second arrival). */
double ts_jitter_mean_ns(const struct ts_jitter *j);

void ts_jitter_add(struct ts_jitter *j, int64_t transit_ns);

struct ts_minmax {
	uint64_t n;
	int64_t min;
	int64_t max;
	double sum;
};

void ts_minmax_add(struct ts_minmax *m, int64_t v);
double ts_minmax_mean(const struct ts_minmax *m);

/* Per-probe clock offset, NTP-style (RFC 5905 section 8):
 * ((t2 - t1) + (t3 - t4)) / 2, server clock minus client clock, ns. */
double ts_offset_ns(const struct ts_sample *s);

/* Server residence t3 - t2 (never below 0) and the network part of the
 * round trip, rtt - residence (never below 0). */
int64_t ts_residence_ns(const struct ts_sample *s);
int64_t ts_net_rtt_ns(const struct ts_sample *s);

enum ts_reply_kind {
	TS_REPLY_NEW,       /* first reply for this seq */
	TS_REPLY_DUPLICATE, /* seq answered before */
	TS_REPLY_UNKNOWN,   /* seq never sent, or too old to tell */
};

/* Sequence numbers are tracked in a window of this many probes. */
#define TS_SEQ_WINDOW 65536u

struct ts_session {
	struct ts_hist *rtt;
	struct ts_minmax net_rtt;
	struct ts_minmax residence;
	struct ts_minmax fwd_raw; /* t2 - t1, before the offset is applied */
	struct ts_minmax bwd_raw; /* t4 - t3 */
	struct ts_jitter jit_rtt;
	struct ts_jitter jit_fwd;
	struct ts_jitter jit_bwd;
	uint64_t sent;
	uint64_t received;
	uint64_t duplicates;
	uint64_t reordered;
	uint64_t next_seq;   /* one past the highest seq sent */
	uint64_t highest_rx; /* highest seq received, when received > 0 */
	/* The offset estimate: from the probe with the smallest network RTT
	 * (NTP's clock filter idea, RFC 5905 section 10). */
	int have_best;
	int64_t best_net_rtt_ns;
	double best_offset_ns;
	uint8_t seen[TS_SEQ_WINDOW / 8];
};

/* Returns 0, or -1 when out of memory. */
int ts_session_init(struct ts_session *s);
void ts_session_fini(struct ts_session *s);

/* Counts probe seq as sent; seqs must be sent in increasing order. */
void ts_session_sent(struct ts_session *s, uint64_t seq);

/* Accounts one reply.  Only NEW replies enter the statistics. */
enum ts_reply_kind ts_session_reply(struct ts_session *s, const struct ts_sample *smp);

/* True when seq was sent and has had a reply. */
int ts_session_answered(const struct ts_session *s, uint64_t seq);

/* The session's clock offset estimate and its error bound (half the
 * smallest network RTT), in ns; returns 0 when no reply carried server
 * times. */
int ts_session_offset(const struct ts_session *s, double *offset_ns, double *bound_ns);

#endif
