/* Between the parts of `tsecho bench`: bench.c (command line, threads,
 * progress, result), worker.c (one event loop and its connections each),
 * result.c (the text, JSON and .hgrm formats).  docs/bench.md is the
 * reference. */
#ifndef TSECHO_BENCH_H
#define TSECHO_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <tsecho/breakdown.h>
#include <tsecho/hist.h>
#include <tsecho/htmlreport.h>

struct ts_bench_opts {
	uint64_t connections;
	int threads;
	int64_t duration_ns; /* 0 with count */
	uint64_t count;      /* 0: by duration */
	uint64_t size;
	int64_t warmup_ns;
	double rate_per_s; /* 0: closed loop */
	int64_t timeout_ns;
	int udp;
	int tcp_given; /* --tcp was said, not just the default */
	uint16_t port; /* -p PORT; 0: from HOST[:PORT] or the default */
	int echo;
	int stamp; /* STAMP Session-Sender packets (RFC 8762), UDP */
	int text;  /* the seed's text protocol: a line a message, TCP */
	int quiet;
	int json;
	const char *hgrm_path;
	int allow_fewer;         /* --allow-fewer: fewer connections than asked is no fault */
	const char *report_path; /* --report FILE.html */
	const char *engine;      /* --engine: the workers' event loop; NULL: the default */
	int busy_poll;           /* --busy-poll: the workers spin instead of sleeping */
	int kernel_timestamps;   /* --kernel-timestamps: the round trip in parts */
	uint64_t sample_every;   /* --sample-every: of a connection's messages, one in N */
};

/* Why a connection ended before the run did: each error is one of these
 * (docs/bench.md, "Errors"). */
enum ts_bench_err {
	TS_BERR_CONNECT,     /* it did not come up: refused, unreachable, timed out */
	TS_BERR_CLOSED,      /* the server closed it */
	TS_BERR_RESET,       /* reset by the server, or broken under a send */
	TS_BERR_UNREACHABLE, /* UDP: ICMP port unreachable, nobody listens any more */
	TS_BERR_TOO_BIG,     /* the server's error frame: frame too big */
	TS_BERR_ERROR_FRAME, /* another error frame from the server */
	TS_BERR_BAD_REPLY,   /* a reply that is not an answer to what was sent */
	TS_BERR_RESOURCE,    /* out of memory or descriptors, an event-loop failure */
	TS_BERR_KINDS
};

/* The kinds' names, as the JSON result and merge spell them. */
extern const char *const ts_bench_err_names[TS_BERR_KINDS];

/* The kinds that mean the server went away (or never was there). */
#define TS_BERR_SERVER_GONE(k)                                                                     \
	((k) == TS_BERR_CLOSED || (k) == TS_BERR_RESET || (k) == TS_BERR_UNREACHABLE)

/* What a worker counts; added up at the end (and read for progress). */
struct ts_bench_counts {
	uint64_t sent;
	uint64_t messages; /* replies recorded (after warm-up) */
	uint64_t errors;   /* the sum of error_kinds */
	uint64_t error_kinds[TS_BERR_KINDS];
	uint64_t timeouts;
	uint64_t lost;
	uint64_t ended_early; /* connections the server ended during the run */
};

struct ts_bench_shared; /* the run, as every worker sees it */

struct ts_bench_worker {
	int index;
	pthread_t thread;
	struct ts_bench_shared *run;
	uint64_t first_conn; /* this worker's connections: [first, first+n) */
	uint64_t n_conns;
	uint64_t count;           /* its share of -n */
	double rate_per_s;        /* its share of --rate */
	struct ts_hist *hist;     /* corrected (closed loop: the only one) */
	struct ts_hist *hist_unc; /* open loop: from the actual send */
	struct ts_bench_counts counts;
	/* Progress: the last second's latencies, handed over under lock. */
	pthread_mutex_t lock;
	struct ts_hist *interval;
	uint64_t interval_messages;
	uint64_t interval_errors;
	int connected;             /* connections that came up */
	int alive;                 /* of them, still up */
	int64_t last_reply_raw_ns; /* when a reply last came */
	int64_t cpu_ns;            /* the thread's CPU time while it ran the load */
	char error[160];
	/* --kernel-timestamps: the sampled round trips in parts, what the
	 * server's replies said of its timestamps, and why a socket refused
	 * them ("" when none did). */
	struct ts_breakdown_stats kt;
	uint32_t kt_server_flags;   /* TS_KTS_F_* of any sampled reply */
	uint64_t kt_without_server; /* sampled replies the server filled nothing in */
	char kt_refused[96];
};

struct ts_bench_shared {
	const struct ts_bench_opts *opt;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int max_fds;
	pthread_barrier_t ready; /* every worker connected */
	int64_t start_raw_ns;    /* set by the main thread after the barrier */
	pthread_barrier_t go;
	atomic_int stop;     /* Ctrl+C, or the main thread's end */
	atomic_int finished; /* workers done */
};

/* The worker thread. */
void *ts_bench_worker_main(void *arg);

/* --report: one point per progress interval (a second), taken by the main
 * thread from the workers' interval histograms.  At most
 * TS_BENCH_TIMELINE_MAX points (over a day of them); later intervals are
 * counted in dropped and left out of the chart, not of the result. */
#define TS_BENCH_TIMELINE_MAX 100000

struct ts_bench_timeline {
	struct ts_html_interval *points;
	size_t n;
	size_t cap;
	uint64_t dropped;
};

void ts_bench_timeline_add(struct ts_bench_timeline *t, const struct ts_html_interval *pt);
void ts_bench_timeline_fini(struct ts_bench_timeline *t);

/* The result, as printed. */
struct ts_bench_result {
	const char *target;
	const struct ts_bench_opts *opt;
	int threads;
	double duration_s;
	double messages_per_s; /* merge: the sum of each run's own rate */
	struct ts_bench_counts counts;
	double achieved_rate_per_s; /* messages sent a second (open loop) */
	int rate_met;
	uint64_t connections_opened; /* that came up, of opt->connections */
	const char *connect_error;   /* why one did not, or NULL */
	int server_gone;             /* the server ended every one of them */
	double server_gone_s;        /* when it ended the last, from the start */
	int interrupted;             /* Ctrl+C ended the run */
	double elapsed_s;            /* from the start to the end, warm-up included */
	const struct ts_hist *hist;
	const struct ts_hist *hist_unc;           /* NULL: closed loop */
	const struct ts_bench_timeline *timeline; /* --report, else NULL */
	const char *engine;                       /* the workers' event loop */
	double client_cpu_s;                      /* the workers' CPU time, warm-up included */
	double client_busy;                       /* that, over threads x elapsed time */
	/* --kernel-timestamps, else kt NULL. */
	const struct ts_breakdown_stats *kt;
	int kt_one_clock; /* the target is on this host's loopback */
	uint32_t kt_server_flags;
	uint64_t kt_without_server;
	const char *kt_refused; /* "" when no socket refused */
};

/* A load generator busy this much of its threads' time was itself the
 * bottleneck, more likely than the server. */
#define TS_BENCH_SATURATED 0.9
/* Whether it was, when not spinning by choice (--busy-poll). */
int ts_bench_saturated(const struct ts_bench_result *r);

/* Whether the run went as asked: 0, or why not (a static string): the
 * server went away, fewer connections came up than asked (unless
 * --allow-fewer), the target rate was not met, or Ctrl+C. */
const char *ts_bench_fault(const struct ts_bench_result *r);

/* The load generator's CPU per message sent (warm-up included), µs. */
double ts_bench_client_us_per_message(const struct ts_bench_result *r);

void ts_bench_print_text(FILE *out, const struct ts_bench_result *r);
void ts_bench_print_json(FILE *out, const struct ts_bench_result *r);
/* HdrHistogram's percentile distribution, values in ms, into f (opened
 * before the run, so that a path that cannot be written is found then),
 * which it closes.  0 or -errno. */
int ts_bench_write_hgrm(FILE *f, const struct ts_hist *h);
/* --report: r as a self-contained HTML page (lib/htmlreport.h); argv is
 * the command's, for the page's header.  0 or -errno. */
int ts_bench_write_html(FILE *out, const struct ts_bench_result *r, int argc, char **argv);

/* The histogram export of the JSON result (docs/bench.md), for merge. */
struct ts_json;
void ts_bench_json_histogram(struct ts_json *j, const char *key, const struct ts_hist *h);
/* The latency_ms object (count, min, mean, stddev, max, p50..p99_99, in
 * ms) of h, or null for h NULL. */
void ts_bench_json_latency(struct ts_json *j, const char *key, const struct ts_hist *h);

/* One measurement as tsecho bench makes it, for tsecho compare: the
 * workers against run->addr (run->opt and run->max_fds set, the rest
 * zeroed), their result into r (target and opt set by the caller), whose
 * histograms live in *w until ts_bench_workers_free.  0, or 2 (printed on
 * stderr) when nothing could run. */
int ts_bench_measure(struct ts_bench_shared *run, struct ts_bench_worker **w,
		     struct ts_bench_result *r, struct ts_bench_timeline *timeline);
void ts_bench_workers_free(struct ts_bench_worker *w, int n);
/* The signal handler bench installs: ends the run in progress. */
void ts_bench_on_signal(int sig);
/* Whether engine (NULL: the default) can run here: 0, or -errno printed
 * after prefix ("tsecho bench"). */
int ts_bench_engine_check(const char *prefix, const char *engine);

/* A whole file (a saved result) into a NUL-terminated buffer the caller
 * frees; NULL with errno (EFBIG past 64 MiB). */
char *ts_bench_slurp(const char *path, size_t *len);
/* The histogram export under key of a parsed result, rebuilt; NULL when
 * absent or malformed (*bad set for malformed). */
struct ts_jv;
struct ts_hist *ts_bench_load_hist(const struct ts_jv *doc, const char *key, int *bad);

int ts_cmd_bench(int argc, char **argv);
int ts_cmd_merge(int argc, char **argv);

#endif
