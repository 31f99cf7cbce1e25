/* `tsecho bench`: the command line, the worker threads, progress once a
 * second, and the result (docs/bench.md). */
#define _GNU_SOURCE
#include "config.h"

#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../client/builtin.h"
#include "../client/commands.h"
#include "../client/hello.h"
#include "../client/report.h"
#include "../client/target.h"
#include <tsecho/clock.h>
#include <tsecho/evloop.h>
#include <tsecho/net.h>
#include <tsecho/parse.h>
#include <tsecho/sig.h>
#include <tsecho/proto.h>
#include <tsecho/stamp.h>

#define MAX_THREADS 256
#define UDP_SIZE_MAX 65507u

static const char usage[] =
    "usage: tsecho bench [HOST[:PORT]] [-p PORT] [options]\n"
    "\n"
    "Load with many connections: throughput and the latency distribution,\n"
    "closed loop, or open loop at a fixed rate with latency measured from\n"
    "when each message was due (docs/bench.md). No HOST: a built-in server.\n"
    "\n"
    "  -c, --connections N   concurrent connections (default 16)\n"
    "  -T, --threads N       worker threads (default: one per core)\n"
    "  -t, --duration DUR    how long to send (default 10s)\n"
    "  -n, --count N         how many messages in all (instead of -t)\n"
    "  -s, --size BYTES      message size (default 64)\n"
    "      --warmup DUR      run this long first, left out of the results\n"
    "      --rate R          open loop: R messages a second in all\n"
    "  -W, --timeout DUR     a later reply is a timeout (default 2s)\n"
    "  -p, --port PORT       the server's port (default 12345; STAMP 862), as\n"
    "                        HOST:PORT gives it ([ADDR]:PORT for IPv6)\n"
    "      --tcp, --udp      transport (default tcp)\n"
    "  -4, -6                IPv4 or IPv6 only\n"
    "      --echo            against an RFC 862 echo service\n"
    "      --text            the tutorial's text protocol, a line a message (TCP;\n"
    "                        chosen by itself against a server that speaks only it)\n"
    "      --stamp           STAMP packets to a STAMP reflector (UDP, port 862)\n"
    "      --kernel-timestamps\n"
    "                        split sampled round trips into their parts with the\n"
    "                        kernel's send and receive times (SO_TIMESTAMPING), a\n"
    "                        tsecho server's too; binary protocol only, messages\n"
    "                        of 84 bytes at least (the default then)\n"
    "      --sample-every N  with --kernel-timestamps: one message in N of each\n"
    "                        connection is sampled (default 100)\n"
    "      --engine NAME     the workers' event loop: epoll, poll, select or io_uring\n"
    "                        (default: the build's, epoll on Linux)\n"
    "      --busy-poll       the workers spin on their waits instead of sleeping\n"
    "  -q, --quiet           no progress, only the result\n"
    "      --json            the result as JSON, histogram included\n"
    "      --hgrm FILE       the latency histogram, HdrHistogram format\n"
    "      --allow-fewer     fewer connections than -c is no fault (exit 0)\n"
    "      --report FILE     also an HTML page with charts (docs/bench.md)\n"
    "  -h, --help            this help\n"
    "\n"
    "Ctrl+C ends the run early and still reports it, as interrupted. Exit\n"
    "status: 0 when replies came and the run went as asked, 1 when none\n"
    "came, 2 on errors, 3 when replies came but the run did not go as asked:\n"
    "the server went away or ended connections, fewer connections came up\n"
    "than asked, or the target rate was not met (docs/bench.md).\n";

enum {
	OPT_WARMUP = 256,
	OPT_RATE,
	OPT_TCP,
	OPT_UDP,
	OPT_ECHO,
	OPT_JSON,
	OPT_HGRM,
	OPT_ALLOW_FEWER,
	OPT_TEXT,
	OPT_STAMP,
	OPT_REPORT,
	OPT_ENGINE,
	OPT_BUSY_POLL,
	OPT_KERNEL_TIMESTAMPS,
	OPT_SAMPLE_EVERY,
};

static const struct option options[] = {
	{ "connections", required_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, 'T' },
	{ "duration", required_argument, NULL, 't' },
	{ "count", required_argument, NULL, 'n' },
	{ "size", required_argument, NULL, 's' },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "timeout", required_argument, NULL, 'W' },
	{ "port", required_argument, NULL, 'p' },
	{ "tcp", no_argument, NULL, OPT_TCP },
	{ "udp", no_argument, NULL, OPT_UDP },
	{ "echo", no_argument, NULL, OPT_ECHO },
	{ "quiet", no_argument, NULL, 'q' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "hgrm", required_argument, NULL, OPT_HGRM },
	{ "allow-fewer", no_argument, NULL, OPT_ALLOW_FEWER },
	{ "text", no_argument, NULL, OPT_TEXT },
	{ "stamp", no_argument, NULL, OPT_STAMP },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "busy-poll", no_argument, NULL, OPT_BUSY_POLL },
	{ "kernel-timestamps", no_argument, NULL, OPT_KERNEL_TIMESTAMPS },
	{ "sample-every", required_argument, NULL, OPT_SAMPLE_EVERY },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static volatile sig_atomic_t stop_signal;

void ts_bench_on_signal(int sig)
{
	(void)sig;
	stop_signal = 1;
}

static int bad_value(const char *opt, const char *value, const char *want)
{
	fprintf(stderr, "tsecho bench: invalid %s '%s': %s\n", opt, value, want);
	return 2;
}

/* One option into opt; returns -1 to go on, or an exit status. */
static int parse_one(int c, const char *arg, struct ts_bench_opts *opt, int *family)
{
	uint64_t v;
	char *end;

	switch (c) {
	case 'c':
		if (ts_parse_u64(arg, 1, 1000000, &opt->connections) != 0)
			return bad_value("connections", arg, "want 1..1000000");
		return -1;
	case 'T':
		if (ts_parse_u64(arg, 1, MAX_THREADS, &v) != 0)
			return bad_value("threads", arg, "want 1..256");
		opt->threads = (int)v;
		return -1;
	case 't':
		if (ts_parse_duration_ns(arg, TS_NS_PER_MS, 365LL * 86400 * TS_NS_PER_S,
					 &opt->duration_ns) != 0)
			return bad_value("duration", arg, "want e.g. 10s or 500ms");
		return -1;
	case 'n':
		if (ts_parse_u64(arg, 1, UINT64_MAX / 4, &opt->count) != 0)
			return bad_value("count", arg, "want a whole number >= 1");
		return -1;
	case 's':
		if (ts_parse_size(arg, 1, TS_PROTO_FRAME_MAX, &opt->size) != 0)
			return bad_value("size", arg, "want 1..1m bytes");
		return -1;
	case OPT_WARMUP:
		if (ts_parse_duration_ns(arg, 0, 3600 * TS_NS_PER_S, &opt->warmup_ns) != 0)
			return bad_value("warmup", arg, "want 0..1h");
		return -1;
	case OPT_RATE:
		errno = 0;
		opt->rate_per_s = strtod(arg, &end);
		if (errno || *end || !isfinite(opt->rate_per_s) || opt->rate_per_s < 1e-3 ||
		    opt->rate_per_s > 1e9)
			return bad_value("rate", arg, "want messages a second, 0.001..1e9");
		return -1;
	case 'W':
		if (ts_parse_duration_ns(arg, TS_NS_PER_MS, 3600 * TS_NS_PER_S, &opt->timeout_ns) !=
		    0)
			return bad_value("timeout", arg, "want 1ms..1h");
		return -1;
	case '4':
		*family = AF_INET;
		return -1;
	case '6':
		*family = AF_INET6;
		return -1;
	case 'p':
		if (ts_parse_u64(arg, 1, 65535, &v) != 0)
			return bad_value("port", arg, "want 1..65535");
		opt->port = (uint16_t)v;
		return -1;
	case OPT_TCP:
		opt->udp = 0;
		opt->tcp_given = 1;
		return -1;
	case OPT_UDP:
		opt->udp = 1;
		return -1;
	case OPT_ECHO:
		opt->echo = 1;
		return -1;
	case 'q':
		opt->quiet = 1;
		return -1;
	case OPT_JSON:
		opt->json = 1;
		return -1;
	case OPT_ALLOW_FEWER:
		opt->allow_fewer = 1;
		return -1;
	case OPT_TEXT:
		opt->text = 1;
		return -1;
	case OPT_HGRM:
		opt->hgrm_path = arg;
		return -1;
	case OPT_REPORT:
		opt->report_path = arg;
		return -1;
	case OPT_ENGINE:
		if (!ts_evloop_has(arg))
			return bad_value(
			    "engine", arg,
			    "want epoll, poll, select or io_uring (as this build has)");
		opt->engine = arg;
		return -1;
	case OPT_BUSY_POLL:
		opt->busy_poll = 1;
		return -1;
	case OPT_KERNEL_TIMESTAMPS:
		opt->kernel_timestamps = 1;
		return -1;
	case OPT_SAMPLE_EVERY:
		if (ts_parse_u64(arg, 1, 1000000, &opt->sample_every) != 0)
			return bad_value("sample-every", arg, "want 1..1000000");
		return -1;
	case OPT_STAMP:
		opt->stamp = 1;
		opt->udp = 1;
		return -1;
	case 'h':
		fputs(usage, stdout);
		return 0;
	default:
		return 2;
	}
}

static int parse_args(int argc, char **argv, struct ts_bench_opts *opt, const char **host,
		      int *family)
{
	int c, rc, duration_given = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:T:t:n:s:W:p:46qh", options, NULL)) != -1) {
		duration_given |= c == 't';
		rc = parse_one(c, optarg, opt, family);
		if (rc == 2 && (c == '?' || c == ':')) {
			fprintf(stderr,
				"tsecho bench: bad option or missing value: %s (see --help)\n",
				argv[optind - 1]);
		}
		if (rc >= 0)
			return rc;
	}
	if (argc - optind > 1) {
		fprintf(stderr, "tsecho bench: one HOST[:PORT] at most\n");
		return 2;
	}
	*host = optind < argc ? argv[optind] : NULL;
	if (duration_given && opt->count) {
		fprintf(stderr, "tsecho bench: -t and -n exclude each other\n");
		return 2;
	}
	if (opt->count)
		opt->duration_ns = 0;
	if (opt->text && (opt->udp || opt->echo || opt->stamp)) {
		fprintf(stderr, "tsecho bench: --text is TCP, and not with --echo or --stamp\n");
		return 2;
	}
	if (opt->stamp && opt->tcp_given) {
		fprintf(stderr, "tsecho bench: --stamp is UDP only (RFC 8762): not with --tcp\n");
		return 2;
	}
	if (opt->port && !*host) {
		fprintf(stderr, "tsecho bench: -p needs a HOST (without one, the built-in "
				"server picks its port)\n");
		return 2;
	}
	if (opt->sample_every && !opt->kernel_timestamps) {
		fprintf(stderr, "tsecho bench: --sample-every needs --kernel-timestamps\n");
		return 2;
	}
	if (opt->kernel_timestamps && (opt->echo || opt->text || opt->stamp)) {
		fprintf(stderr, "tsecho bench: --kernel-timestamps needs tsecho's binary protocol: "
				"not with --echo, --text or --stamp\n");
		return 2;
	}
	if (opt->kernel_timestamps && !opt->sample_every)
		opt->sample_every = 100;
	if (opt->size == 0)
		opt->size = opt->stamp               ? TS_STAMP_BASE_LEN
			    : opt->kernel_timestamps ? TS_PROTO_KTS_HDR_LEN
						     : 64;
	if (opt->kernel_timestamps && opt->size < TS_PROTO_KTS_HDR_LEN) {
		fprintf(stderr,
			"tsecho bench: --kernel-timestamps messages are at least %u bytes (-s): "
			"the sampled ones carry the extension\n",
			TS_PROTO_KTS_HDR_LEN);
		return 2;
	}
	if (opt->stamp && (opt->echo || opt->size < TS_STAMP_BASE_LEN)) {
		fprintf(stderr,
			"tsecho bench: --stamp sends STAMP packets of %u bytes or more, "
			"not with --echo\n",
			TS_STAMP_BASE_LEN);
		return 2;
	}
	if (opt->text && opt->size < 32) {
		fprintf(stderr, "tsecho bench: --text messages are at least 32 bytes (-s)\n");
		return 2;
	}
	if (!opt->echo && !opt->stamp && !opt->text && opt->size < TS_PROTO_HDR_LEN) {
		fprintf(stderr, "tsecho bench: a message is at least %u bytes (-s)\n",
			TS_PROTO_HDR_LEN);
		return 2;
	}
	if (opt->echo && opt->size < 8) {
		fprintf(stderr, "tsecho bench: --echo messages are at least 8 bytes (-s)\n");
		return 2;
	}
	if (opt->udp && opt->size > UDP_SIZE_MAX) {
		fprintf(stderr, "tsecho bench: a UDP message is at most %u bytes\n", UDP_SIZE_MAX);
		return 2;
	}
	return -1;
}

/* Takes the workers' last interval into scratch, *messages and *errors. */
static void take_interval(struct ts_bench_worker *w, int n, struct ts_hist *scratch,
			  uint64_t *messages_out, uint64_t *errors_out)
{
	uint64_t messages = 0, errors = 0;

	ts_hist_reset(scratch);
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&w[i].lock);
		ts_hist_merge(scratch, w[i].interval);
		ts_hist_reset(w[i].interval);
		messages += w[i].interval_messages;
		errors += w[i].interval_errors;
		w[i].interval_messages = 0;
		w[i].interval_errors = 0;
		pthread_mutex_unlock(&w[i].lock);
	}
	*messages_out = messages;
	*errors_out = errors;
}

/* One progress line from the last interval. */
static void progress(const struct ts_hist *scratch, uint64_t messages, uint64_t errors,
		     int64_t secs, double interval_s, int tty)
{
	if (tty)
		fprintf(stdout, "\r[%4llds] %.0f msg/s  p50 %.3f ms  p99 %.3f ms  errors %llu   ",
			(long long)secs, (double)messages / interval_s,
			(double)ts_hist_percentile(scratch, 50) / TS_NS_PER_MS,
			(double)ts_hist_percentile(scratch, 99) / TS_NS_PER_MS,
			(unsigned long long)errors);
	else
		fprintf(stderr, "progress: %llds %.0f msg/s p50 %.3f ms p99 %.3f ms errors %llu\n",
			(long long)secs, (double)messages / interval_s,
			(double)ts_hist_percentile(scratch, 50) / TS_NS_PER_MS,
			(double)ts_hist_percentile(scratch, 99) / TS_NS_PER_MS,
			(unsigned long long)errors);
	fflush(tty ? stdout : stderr);
}

/* --report: the interval that ended at now_raw_ns as a point of the
 * timeline, its time counted from the end of the warm-up (an interval
 * still in it is left out). */
static void timeline_point(struct ts_bench_timeline *tl, const struct ts_bench_shared *run,
			   const struct ts_hist *scratch, uint64_t messages, int64_t last_raw_ns,
			   int64_t now_raw_ns)
{
	struct ts_html_interval pt = { 0 };

	pt.end_ns = now_raw_ns - run->start_raw_ns - run->opt->warmup_ns;
	pt.length_ns = now_raw_ns - last_raw_ns;
	if (!tl || pt.end_ns <= 0 || pt.length_ns <= 0)
		return;
	pt.messages = messages;
	pt.messages_per_s = (double)messages * TS_NS_PER_S / (double)pt.length_ns;
	pt.p50_ns = ts_hist_percentile(scratch, 50);
	pt.p99_ns = ts_hist_percentile(scratch, 99);
	ts_bench_timeline_add(tl, &pt);
}

/* Waits for the workers to end, or for Ctrl+C, printing progress and
 * adding to the timeline (tl NULL: none kept). */
static void supervise(struct ts_bench_shared *run, struct ts_bench_worker *w, int n,
		      struct ts_bench_timeline *tl)
{
	const struct ts_bench_opts *opt = run->opt;
	int tty = isatty(STDOUT_FILENO);
	int show = !opt->quiet && !opt->json;
	struct ts_hist *scratch = show || tl ? ts_hist_new() : NULL;
	int64_t last_raw_ns = run->start_raw_ns;
	int64_t secs = 0;
	uint64_t messages, errors;

	for (;;) {
		struct timespec nap = { 0, 50 * TS_NS_PER_MS };
		int64_t now_raw_ns;

		if (stop_signal)
			atomic_store(&run->stop, 1);
		if (atomic_load(&run->stop) || atomic_load(&run->finished) == n)
			break;
		now_raw_ns = ts_raw_ns();
		if (scratch && now_raw_ns - last_raw_ns >= TS_NS_PER_S) {
			secs++;
			take_interval(w, n, scratch, &messages, &errors);
			if (show)
				progress(scratch, messages, errors, secs,
					 (double)(now_raw_ns - last_raw_ns) / TS_NS_PER_S, tty);
			timeline_point(tl, run, scratch, messages, last_raw_ns, now_raw_ns);
			last_raw_ns = now_raw_ns;
		}
		nanosleep(&nap, NULL);
	}
	if (scratch && tl) {
		/* The last part-interval, up to the end (or Ctrl+C). */
		int64_t now_raw_ns = ts_raw_ns();
		take_interval(w, n, scratch, &messages, &errors);
		if (messages > 0 || now_raw_ns - last_raw_ns >= TS_NS_PER_S / 10)
			timeline_point(tl, run, scratch, messages, last_raw_ns, now_raw_ns);
	}
	if (show && scratch && tty)
		fputc('\n', stdout);
	ts_hist_free(scratch);
}

/* Splits the connections, the count and the rate over the workers. */
static void share_out(struct ts_bench_worker *w, int n, struct ts_bench_shared *run)
{
	const struct ts_bench_opts *opt = run->opt;
	uint64_t first = 0;

	for (int i = 0; i < n; i++) {
		w[i].index = i;
		w[i].run = run;
		w[i].first_conn = first;
		w[i].n_conns =
		    opt->connections / (uint64_t)n + ((uint64_t)i < opt->connections % (uint64_t)n);
		first += w[i].n_conns;
		if (opt->count)
			w[i].count =
			    opt->count / (uint64_t)n + ((uint64_t)i < opt->count % (uint64_t)n);
		w[i].rate_per_s = opt->rate_per_s * (double)w[i].n_conns / (double)opt->connections;
	}
}

static int workers_init(struct ts_bench_worker *w, int n, int open_loop, int kt)
{
	for (int i = 0; i < n; i++) {
		w[i].hist = ts_hist_new();
		w[i].interval = ts_hist_new();
		w[i].hist_unc = open_loop ? ts_hist_new() : NULL;
		if (!w[i].hist || !w[i].interval || (open_loop && !w[i].hist_unc) ||
		    (kt && ts_breakdown_stats_init(&w[i].kt) != 0) ||
		    pthread_mutex_init(&w[i].lock, NULL) != 0)
			return -1;
	}
	return 0;
}

void ts_bench_workers_free(struct ts_bench_worker *w, int n)
{
	for (int i = 0; i < n; i++) {
		ts_hist_free(w[i].hist);
		ts_hist_free(w[i].hist_unc);
		ts_hist_free(w[i].interval);
		ts_breakdown_stats_fini(&w[i].kt);
		pthread_mutex_destroy(&w[i].lock);
	}
	free(w);
}

/* Adds up the workers into r (whose histograms are the first worker's,
 * with the others merged in). */
static void gather(struct ts_bench_worker *w, int n, struct ts_bench_result *r,
		   int64_t *last_reply_raw_ns)
{
	memset(&r->counts, 0, sizeof r->counts);
	r->client_cpu_s = 0;
	r->connections_opened = 0;
	r->connect_error = NULL;
	*last_reply_raw_ns = 0;
	for (int i = 0; i < n; i++) {
		if (i > 0) {
			ts_hist_merge(w[0].hist, w[i].hist);
			if (w[0].hist_unc)
				ts_hist_merge(w[0].hist_unc, w[i].hist_unc);
		}
		r->counts.sent += w[i].counts.sent;
		r->counts.messages += w[i].counts.messages;
		r->counts.errors += w[i].counts.errors;
		r->counts.timeouts += w[i].counts.timeouts;
		r->counts.lost += w[i].counts.lost;
		r->counts.ended_early += w[i].counts.ended_early;
		for (int k = 0; k < TS_BERR_KINDS; k++)
			r->counts.error_kinds[k] += w[i].counts.error_kinds[k];
		r->connections_opened += (uint64_t)w[i].connected;
		if (!r->connect_error && w[i].error[0])
			r->connect_error = w[i].error;
		if (w[i].last_reply_raw_ns > *last_reply_raw_ns)
			*last_reply_raw_ns = w[i].last_reply_raw_ns;
		r->client_cpu_s += (double)w[i].cpu_ns / TS_NS_PER_S;
	}
	r->hist = w[0].hist;
	r->hist_unc = w[0].hist_unc;
	if (!r->opt->kernel_timestamps)
		return;
	r->kt_server_flags = 0;
	r->kt_without_server = 0;
	r->kt_refused = "";
	for (int i = 0; i < n; i++) {
		if (i > 0)
			ts_breakdown_stats_merge(&w[0].kt, &w[i].kt);
		r->kt_server_flags |= w[i].kt_server_flags;
		r->kt_without_server += w[i].kt_without_server;
		if (!r->kt_refused[0] && w[i].kt_refused[0])
			r->kt_refused = w[i].kt_refused;
	}
	r->kt = &w[0].kt;
	r->kt_one_clock = ts_net_is_loopback((const struct sockaddr *)&w[0].run->addr);
}

/* Starts the workers, runs, and fills r.  Returns 0, or 2 when no
 * connection came up (message printed). */
static int run_bench(struct ts_bench_shared *run, struct ts_bench_worker *w, int n,
		     struct ts_bench_result *r, struct ts_bench_timeline *tl)
{
	const struct ts_bench_opts *opt = run->opt;
	int started = 0, connected = 0, rc = 0;
	int64_t end_raw_ns, window_ns, last_reply_raw_ns;

	if (pthread_barrier_init(&run->ready, NULL, (unsigned)n + 1) != 0 ||
	    pthread_barrier_init(&run->go, NULL, (unsigned)n + 1) != 0) {
		fprintf(stderr, "tsecho bench: cannot start threads\n");
		return 2;
	}
	for (; started < n; started++) {
		if (pthread_create(&w[started].thread, NULL, ts_bench_worker_main, &w[started]) !=
		    0)
			break;
	}
	if (started < n) {
		/* Threads that did start are waiting at the barrier; they must
		 * not: this is fatal, and the process exits. */
		fprintf(stderr, "tsecho bench: cannot start %d threads\n", n);
		exit(2);
	}
	pthread_barrier_wait(&run->ready);
	for (int i = 0; i < n; i++)
		connected += w[i].connected;
	if (connected == 0)
		atomic_store(&run->stop, 1);
	run->start_raw_ns = ts_raw_ns();
	pthread_barrier_wait(&run->go);
	if (connected > 0)
		supervise(run, w, n, tl);
	atomic_store(&run->stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
	end_raw_ns = ts_raw_ns();
	pthread_barrier_destroy(&run->ready);
	pthread_barrier_destroy(&run->go);
	if (connected == 0) {
		const char *why = "no connection";
		for (int i = 0; i < n; i++)
			if (w[i].error[0]) {
				why = w[i].error;
				break;
			}
		fprintf(stderr, "tsecho bench: %s: %s\n", r->target, why);
		return 2;
	}
	gather(w, n, r, &last_reply_raw_ns);
	r->interrupted = stop_signal != 0;
	r->elapsed_s = (double)(end_raw_ns - run->start_raw_ns) / TS_NS_PER_S;
	r->engine = opt->engine ? opt->engine : ts_evloop_backend_name();
	if (r->elapsed_s > 0)
		r->client_busy = r->client_cpu_s / ((double)n * r->elapsed_s);
	/* Every connection that came up was ended by the server: it went
	 * away when it last answered, and the rate is over the time it was
	 * there. */
	if (r->counts.ended_early > 0 && r->counts.ended_early == r->connections_opened) {
		if (last_reply_raw_ns < run->start_raw_ns)
			last_reply_raw_ns = run->start_raw_ns;
		r->server_gone = 1;
		r->server_gone_s = (double)(last_reply_raw_ns - run->start_raw_ns) / TS_NS_PER_S;
		end_raw_ns = last_reply_raw_ns;
	}
	window_ns = end_raw_ns - run->start_raw_ns - opt->warmup_ns;
	if (opt->duration_ns && window_ns > opt->duration_ns)
		window_ns = opt->duration_ns; /* the replies' tail is not sending time */
	r->duration_s = window_ns > 0 ? (double)window_ns / TS_NS_PER_S : 0.0;
	r->messages_per_s = r->duration_s > 0 ? (double)r->counts.messages / r->duration_s : 0.0;
	if (opt->rate_per_s > 0) {
		double all_s = (double)(end_raw_ns - run->start_raw_ns) / TS_NS_PER_S;
		if (opt->duration_ns &&
		    all_s > (double)(opt->duration_ns + opt->warmup_ns) / TS_NS_PER_S)
			all_s = (double)(opt->duration_ns + opt->warmup_ns) / TS_NS_PER_S;
		r->achieved_rate_per_s = all_s > 0 ? (double)r->counts.sent / all_s : 0;
		r->rate_met = r->achieved_rate_per_s >= 0.95 * opt->rate_per_s;
	}
	return rc;
}

int ts_bench_engine_check(const char *prefix, const char *engine)
{
	struct ts_evloop *loop = ts_evloop_new_named(engine, 16);
	int err = errno;

	if (loop) {
		ts_evloop_free(loop);
		return 0;
	}
	fprintf(stderr, "%s: cannot start the %s event loop: %s\n", prefix,
		engine ? engine : ts_evloop_backend_name(), strerror(err));
	return -err;
}

/* Against a server given by name over TCP with tsecho's probes: asks, as
 * ping does, what it speaks, and takes the text protocol when that is all
 * it speaks (the tutorial's Python server, a line-based echo).  Returns -1
 * to go on, or 2. */
static int choose_protocol(struct ts_target *t, struct ts_bench_opts *opt)
{
	char buf[160], why[160];
	int fd, sys_errno = 0;
	enum ts_target_err err;
	enum ts_hello_result hello;

	if (opt->udp || opt->echo || opt->stamp || opt->text)
		return -1;
	err = ts_target_connect(t, opt->timeout_ns, &fd, &sys_errno);
	if (err != TS_TARGET_OK) {
		fprintf(stderr, "tsecho bench: %s: %s\n", t->addr_text[0] ? t->addr_text : t->host,
			ts_target_strerror(err, sys_errno, buf, sizeof buf));
		return 2;
	}
	hello = ts_hello(fd, opt->timeout_ns, why, sizeof why);
	close(fd);
	if (hello == TS_HELLO_TEXT) {
		if (opt->kernel_timestamps) {
			fprintf(stderr,
				"tsecho bench: %s speaks only the text protocol: "
				"--kernel-timestamps needs tsecho's binary protocol\n",
				t->addr_text);
			return 2;
		}
		if (opt->size < 32) {
			fprintf(stderr,
				"tsecho bench: %s speaks only the text protocol, whose "
				"messages are at least 32 bytes (-s)\n",
				t->addr_text);
			return 2;
		}
		fprintf(stderr,
			"tsecho bench: %s speaks only the text protocol: loading it "
			"with text lines (--text)\n",
			t->addr_text);
		opt->text = 1;
	} else if (hello == TS_HELLO_FAILED) {
		fprintf(stderr, "tsecho bench: %s: %s\n", t->addr_text, why);
		return 2;
	}
	return -1;
}

static int resolve(struct ts_target *t, const char *host, int family,
		   const struct ts_bench_opts *opt, struct ts_bench_shared *run)
{
	uint16_t port = opt->port ? opt->port : opt->stamp ? TS_STAMP_DEFAULT_PORT : 12345;
	int udp = opt->udp;
	char buf[128];
	int sys_errno = 0;
	enum ts_target_err err;

	if (ts_target_parse(t, host, port) != TS_TARGET_OK) {
		fprintf(stderr, "tsecho bench: bad HOST[:PORT] '%s'\n", host);
		return 2;
	}
	if (ts_target_port_differs(t, opt->port)) {
		fprintf(stderr, "tsecho bench: '%s' names port %s and -p says %u: which one?\n",
			host, t->port, (unsigned)opt->port);
		return 2;
	}
	t->family = family;
	t->socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
	err = ts_target_resolve(t, &sys_errno);
	if (err != TS_TARGET_OK) {
		fprintf(stderr, "tsecho bench: %s: %s\n", host,
			ts_target_strerror(err, sys_errno, buf, sizeof buf));
		return 2;
	}
	memcpy(&run->addr, &t->addr, t->addr_len);
	run->addr_len = t->addr_len;
	return -1;
}

/* The CPUs this process may run on (taskset, cgroups), not all the
 * machine has: a worker thread per CPU it cannot use only competes. */
static long usable_cpus(void)
{
#ifdef __linux__
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
#endif
	return sysconf(_SC_NPROCESSORS_ONLN);
}

/* --report: the page, whatever the run came to (Ctrl+C, no reply, no
 * connection); returns rc, or 2 when the file could not be written. */
static int write_html(struct ts_bench_result *r, const struct ts_bench_opts *opt, const char *host,
		      FILE *f, int argc, char **argv, int rc)
{
	if (!r->opt) { /* it never ran: the page says nothing was measured */
		r->opt = opt;
		r->target = host;
		r->threads = opt->threads;
	}
	if (ts_report_html_close(f, ts_bench_write_html(f, r, argc, argv), "bench",
				 opt->report_path) != 0)
		return 2;
	return rc;
}

/* Starts the workers and runs; *w is theirs (NULL when it could not be
 * allocated), for the caller to free.  Returns 0 or an exit status. */
int ts_bench_measure(struct ts_bench_shared *run, struct ts_bench_worker **w,
		     struct ts_bench_result *r, struct ts_bench_timeline *timeline)
{
	int threads = run->opt->threads;

	*w = calloc((size_t)threads, sizeof **w);
	if (!*w ||
	    workers_init(*w, threads, run->opt->rate_per_s > 0, run->opt->kernel_timestamps) != 0) {
		fprintf(stderr, "tsecho bench: out of memory\n");
		return 2;
	}
	share_out(*w, threads, run);
	return run_bench(run, *w, threads, r, timeline);
}

/* The result on stdout (and --hgrm, into hgrm, opened before the run);
 * the exit status: 0 when replies came and the run went as asked, 3 when
 * it did not (ts_bench_fault, said on stderr too), 1 when no reply came,
 * 2 when the histogram could not be written. */
static int print_result(const struct ts_bench_result *r, const struct ts_bench_opts *opt,
			FILE *hgrm)
{
	const char *fault = ts_bench_fault(r);
	int rc;

	if (opt->json)
		ts_bench_print_json(stdout, r);
	else
		ts_bench_print_text(stdout, r);
	if (hgrm && (rc = ts_bench_write_hgrm(hgrm, r->hist)) != 0) {
		fprintf(stderr, "tsecho bench: cannot write %s: %s\n", opt->hgrm_path,
			strerror(-rc));
		return 2;
	}
	if (r->counts.messages == 0)
		return 1;
	if (fault && !r->interrupted) {
		fprintf(stderr, "tsecho bench: %s: %s\n", r->target, fault);
		return 3;
	}
	return 0;
}

/* --report and --hgrm, opened before anything is measured: a path that
 * cannot be written costs nothing.  0, or -1 (the reason is on stderr,
 * and neither is left open). */
static int open_outputs(const struct ts_bench_opts *opt, FILE **report, FILE **hgrm)
{
	*report = *hgrm = NULL;
	if (opt->report_path && !(*report = ts_report_html_open("bench", opt->report_path)))
		return -1;
	if (opt->hgrm_path && !(*hgrm = ts_report_html_open("bench", opt->hgrm_path))) {
		if (*report)
			fclose(*report);
		*report = NULL;
		return -1;
	}
	return 0;
}

int ts_cmd_bench(int argc, char **argv)
{
	struct ts_bench_opts opt = {
		.connections = 16,
		.duration_ns = 10 * TS_NS_PER_S,
		.size = 0, /* 64, or the STAMP base packet's 44 */
		.timeout_ns = 2 * TS_NS_PER_S,
	};
	struct ts_bench_shared run;
	struct ts_bench_result r;
	struct ts_builtin builtin = { 0 };
	struct ts_target t;
	struct ts_bench_worker *w = NULL;
	struct ts_bench_timeline timeline = { 0 };
	FILE *report = NULL, *hgrm = NULL;
	const char *host = NULL;
	char builtin_host[32];
	int family = AF_UNSPEC, rc;
	long cores = usable_cpus();

	memset(&t, 0, sizeof t);
	memset(&r, 0, sizeof r);
	memset(&run, 0, sizeof run);
	opt.threads = cores > 0 ? (int)(cores < MAX_THREADS ? cores : MAX_THREADS) : 1;
	rc = parse_args(argc, argv, &opt, &host, &family);
	if (rc >= 0)
		return rc;
	if ((uint64_t)opt.threads > opt.connections)
		opt.threads = (int)opt.connections;
	if (ts_signals_install(ts_bench_on_signal) != 0) {
		fprintf(stderr, "tsecho bench: cannot set up signals\n");
		return 2;
	}
	if (ts_bench_engine_check("tsecho bench", opt.engine) != 0 ||
	    open_outputs(&opt, &report, &hgrm) != 0)
		return 2;
	run.opt = &opt;
	run.max_fds = ts_raise_nofile();
	if (!host) {
		if (ts_builtin_start(&builtin, 0, opt.kernel_timestamps) != 0) {
			rc = 2;
			goto done;
		}
		snprintf(builtin_host, sizeof builtin_host, "127.0.0.1:%d", builtin.port);
		host = builtin_host;
	}
	rc = resolve(&t, host, family, &opt, &run);
	if (rc < 0 && !builtin.srv)
		rc = choose_protocol(&t, &opt);
	if (rc < 0) {
		r.target = t.addr_text;
		r.opt = &opt;
		r.threads = opt.threads;
		rc = ts_bench_measure(&run, &w, &r, report ? &timeline : NULL);
	}
	if (rc == 0) {
		rc = print_result(&r, &opt, hgrm); /* which closes hgrm */
		hgrm = NULL;
	}
	r.timeline = &timeline;
	if (report) {
		rc = write_html(&r, &opt, host, report, argc, argv, rc); /* and report */
		report = NULL;
	}
done:
	if (report)
		fclose(report);
	if (hgrm)
		fclose(hgrm);
	ts_bench_timeline_fini(&timeline);
	if (w)
		ts_bench_workers_free(w, opt.threads);
	ts_builtin_stop(&builtin);
	return rc;
}
