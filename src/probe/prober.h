/* tsecho probe's targets: each probed by its own thread with the ping
 * modes (src/client), its results kept as Prometheus-ready counters under
 * a lock, rendered on each scrape.  A target that stops answering stays,
 * with up = 0 and its loss growing; its thread reconnects every interval. */
#ifndef TSECHO_PROBER_H
#define TSECHO_PROBER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../client/pinger.h"
#include <tsecho/prom.h>

#define TS_PROBE_SPEC_MAX 300
/* RTT buckets: 10 µs to 10 s, 1-2.5-5 in each decade. */
#define TS_PROBE_RTT_BOUNDS 19
/* The offset estimate uses the best of this many recent probes. */
#define TS_PROBE_OFFSET_WINDOW 32

/* What every target shares: the command line's settings. */
struct ts_probe_config {
	int64_t interval_ns;
	int64_t timeout_ns;
	uint64_t size; /* 0: the mode's usual size */
	int synced;
	int quiet;
};

struct ts_probe_target {
	char spec[TS_PROBE_SPEC_MAX];  /* as written: "stamp://host:862" */
	char label[TS_PROBE_SPEC_MAX]; /* "host:port" */
	const char *mode_name;         /* tcp, udp, stamp, connect */
	struct ts_ping_opts opt;
	struct ts_target target;
	const struct ts_probe_config *cfg;
	pthread_t thread;
	int running;     /* thread started, not joined */
	atomic_int stop; /* asks the thread to end */

	pthread_mutex_t lock; /* guards what follows */
	uint64_t sent, received, lost;
	int up; /* 1 answered, 0 lost, -1 not yet known */
	double last_rtt_s;
	struct ts_prom_hist rtt;
	uint64_t rtt_counts[TS_PROBE_RTT_BOUNDS + 1];
	struct {
		double net_rtt_ns, offset_ns;
	} window[TS_PROBE_OFFSET_WINDOW];
	unsigned n_window, next_window;
	int have_delays;       /* the mode carries server times */
	double fwd_ns, bwd_ns; /* the latest probe's, with the estimate below */
	double offset_ns, bound_ns;

	/* The thread's own, while a session runs. */
	uint64_t session_sent, session_done;
	uint64_t session_answered_seq; /* the highest seq answered */
};

/* Parses "[MODE://]HOST[:PORT]" into t (MODE tcp, udp, stamp or connect;
 * default port 12345, STAMP's 862).  Returns 0, or -1 with a reason in
 * why[0..cap). */
int ts_probe_target_parse(struct ts_probe_target *t, const char *spec,
			  const struct ts_probe_config *cfg, char *why, size_t cap);

/* Starts probing t in a thread of its own; 0 or -errno. */
int ts_probe_target_start(struct ts_probe_target *t);
/* Asks t's thread to stop; ts_probe_target_join waits for it (at most
 * about a second plus one connect timeout). */
void ts_probe_target_stop(struct ts_probe_target *t);
void ts_probe_target_join(struct ts_probe_target *t);

/* Appends the page of targets[0..n) to p. */
void ts_probe_render(struct ts_prom *p, struct ts_probe_target *const *targets, size_t n);

#endif
