/* `tsecho compare`: the command line, the plan of steps and servers, and
 * where the result goes (docs/compare.md). */
#define _GNU_SOURCE
#include "config.h"

#include "compare.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bench/bench.h"
#include "../client/commands.h"
#include "../client/report.h"
#include <tsecho/clock.h>
#include <tsecho/evloop.h>
#include <tsecho/parse.h>
#include <tsecho/proto.h>
#include <tsecho/sig.h>

#define LIST_MAX 16
#define SERVERS_MAX 16
/* select() takes descriptors below FD_SETSIZE; the server keeps this
 * many of them for itself (stdio, the listener, its loop, the pipe). */
#define SELECT_OWN_FDS 16

static const char usage[] =
    "usage: tsecho compare [options]                   built-in servers, one per engine\n"
    "       tsecho compare [options] NAME=HOST[:PORT]... servers already running\n"
    "       tsecho compare [options] FILE.json...        saved results, nothing run\n"
    "\n"
    "The same workloads against several servers, side by side, with ratios to\n"
    "a baseline and their 95% intervals over interleaved repetitions\n"
    "(docs/compare.md).\n"
    "\n"
    "  -e, --engines LIST       built-in servers (default io_uring,epoll,select;\n"
    "                           poll too)\n"
    "  -w, --workloads LIST     pingpong, closed, open (default all three)\n"
    "  -c, --connections LIST   closed loop's connection counts\n"
    "                           (default 1,16,64,256,1000)\n"
    "  -r, --rates LIST         open loop's rates, messages a second in all\n"
    "                           (default 10000,50000)\n"
    "      --rate-connections N open loop's connections (default 64)\n"
    "  -s, --size LIST          message sizes in bytes (default 64)\n"
    "  -t, --duration DUR       each step, each repetition (default 2s)\n"
    "      --warmup DUR         before each, left out (default 500ms)\n"
    "  -n, --repeat N           repetitions (default 3)\n"
    "      --busy-poll          also ping-pong with both ends spinning\n"
    "      --baseline NAME      what the ratios are to (default select, else the first)\n"
    "      --load-engine NAME   the load generator's event loop (default epoll)\n"
    "      --server-cpu N|none  the CPU of the built-in servers (default: the first\n"
    "                           this process may use, when it may use two or more)\n"
    "  -q, --quiet              no progress\n"
    "      --json FILE          the result as JSON, histograms included ('-': stdout)\n"
    "      --csv FILE           one row per server and step ('-': stdout)\n"
    "      --hgrm DIR           one HdrHistogram file per server and step\n"
    "      --report FILE        an HTML page with the tables and charts\n"
    "      --svg DIR            the charts as SVG files\n"
    "  -h, --help               this help\n"
    "\n"
    "Exit status: 0 when every step went as asked, 1 when nothing was measured,\n"
    "2 on errors, 3 when a step did not go as asked (a server that failed or\n"
    "went away, a rate not met, errors); Ctrl+C stops and reports what ran.\n";

enum {
	OPT_RATE_CONNS = 256,
	OPT_WARMUP,
	OPT_BUSY_POLL,
	OPT_BASELINE,
	OPT_LOAD_ENGINE,
	OPT_SERVER_CPU,
	OPT_JSON,
	OPT_CSV,
	OPT_HGRM,
	OPT_REPORT,
	OPT_SVG,
};

static const struct option options[] = {
	{ "engines", required_argument, NULL, 'e' },
	{ "workloads", required_argument, NULL, 'w' },
	{ "connections", required_argument, NULL, 'c' },
	{ "rates", required_argument, NULL, 'r' },
	{ "rate-connections", required_argument, NULL, OPT_RATE_CONNS },
	{ "size", required_argument, NULL, 's' },
	{ "duration", required_argument, NULL, 't' },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "repeat", required_argument, NULL, 'n' },
	{ "busy-poll", no_argument, NULL, OPT_BUSY_POLL },
	{ "baseline", required_argument, NULL, OPT_BASELINE },
	{ "load-engine", required_argument, NULL, OPT_LOAD_ENGINE },
	{ "server-cpu", required_argument, NULL, OPT_SERVER_CPU },
	{ "quiet", no_argument, NULL, 'q' },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "hgrm", required_argument, NULL, OPT_HGRM },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "svg", required_argument, NULL, OPT_SVG },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct list {
	double v[LIST_MAX];
	size_t n;
};

struct opts {
	char engines[256];
	int engines_given;
	int pingpong, closed, open;
	struct list conns, rates, sizes;
	uint64_t rate_conns;
	int64_t duration_ns, warmup_ns;
	uint64_t repeat;
	int busy_poll;
	const char *baseline;
	const char *load_engine;
	int server_cpu; /* -2: the default */
	int quiet;
	const char *json, *csv, *hgrm, *report, *svg;
};

static int bad_value(const char *opt, const char *value, const char *want)
{
	fprintf(stderr, "tsecho compare: invalid %s '%s': %s\n", opt, value, want);
	return 2;
}

/* A comma-separated list of numbers in [min, max] (sizes when size). */
static int parse_list(const char *opt, const char *arg, double min, double max, int size,
		      struct list *out)
{
	char buf[512], *save = NULL, *tok;

	if (strlen(arg) >= sizeof buf)
		return bad_value(opt, arg, "too long");
	snprintf(buf, sizeof buf, "%s", arg);
	out->n = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t u;
		double d;
		char *end;
		if (out->n == LIST_MAX)
			return bad_value(opt, arg, "at most 16 values");
		if (size) {
			if (ts_parse_size(tok, (uint64_t)min, (uint64_t)max, &u) != 0)
				return bad_value(opt, arg, "want sizes such as 64,1k");
			d = (double)u;
		} else {
			errno = 0;
			d = strtod(tok, &end);
			if (errno || *end || !isfinite(d) || d < min || d > max)
				return bad_value(opt, arg,
						 "want numbers in range, comma-separated");
		}
		out->v[out->n++] = d;
	}
	if (out->n == 0)
		return bad_value(opt, arg, "want at least one value");
	return -1;
}

static int parse_workloads(const char *arg, struct opts *o)
{
	char buf[128], *save = NULL, *tok;

	snprintf(buf, sizeof buf, "%s", arg);
	o->pingpong = o->closed = o->open = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "pingpong") == 0)
			o->pingpong = 1;
		else if (strcmp(tok, "closed") == 0)
			o->closed = 1;
		else if (strcmp(tok, "open") == 0)
			o->open = 1;
		else
			return bad_value("workloads", arg, "want pingpong, closed and/or open");
	}
	if (!o->pingpong && !o->closed && !o->open)
		return bad_value("workloads", arg, "want pingpong, closed and/or open");
	return -1;
}

static int parse_one(int c, const char *arg, struct opts *o)
{
	uint64_t v;

	switch (c) {
	case 'e':
		if (strlen(arg) >= sizeof o->engines)
			return bad_value("engines", arg, "too long");
		snprintf(o->engines, sizeof o->engines, "%s", arg);
		o->engines_given = 1;
		return -1;
	case 'w':
		return parse_workloads(arg, o);
	case 'c':
		return parse_list("connections", arg, 1, 100000, 0, &o->conns);
	case 'r':
		return parse_list("rates", arg, 1, 1e8, 0, &o->rates);
	case 's':
		return parse_list("size", arg, TS_PROTO_HDR_LEN, TS_PROTO_FRAME_MAX, 1, &o->sizes);
	case OPT_RATE_CONNS:
		if (ts_parse_u64(arg, 1, 100000, &o->rate_conns) != 0)
			return bad_value("rate-connections", arg, "want 1..100000");
		return -1;
	case 't':
		if (ts_parse_duration_ns(arg, 100 * TS_NS_PER_MS, 3600 * TS_NS_PER_S,
					 &o->duration_ns) != 0)
			return bad_value("duration", arg, "want 100ms..1h");
		return -1;
	case OPT_WARMUP:
		if (ts_parse_duration_ns(arg, 0, 600 * TS_NS_PER_S, &o->warmup_ns) != 0)
			return bad_value("warmup", arg, "want 0..10m");
		return -1;
	case 'n':
		if (ts_parse_u64(arg, 1, 50, &o->repeat) != 0)
			return bad_value("repeat", arg, "want 1..50");
		return -1;
	case OPT_BUSY_POLL:
		o->busy_poll = 1;
		return -1;
	case OPT_BASELINE:
		o->baseline = arg;
		return -1;
	case OPT_LOAD_ENGINE:
		if (!ts_evloop_has(arg))
			return bad_value(
			    "load-engine", arg,
			    "want epoll, poll, select or io_uring (as this build has)");
		o->load_engine = arg;
		return -1;
	case OPT_SERVER_CPU:
		if (strcmp(arg, "none") == 0)
			o->server_cpu = -1;
		else if (ts_parse_u64(arg, 0, CPU_SETSIZE - 1, &v) == 0)
			o->server_cpu = (int)v;
		else
			return bad_value("server-cpu", arg, "want a CPU number or none");
		return -1;
	case 'q':
		o->quiet = 1;
		return -1;
	case OPT_JSON:
		o->json = arg;
		return -1;
	case OPT_CSV:
		o->csv = arg;
		return -1;
	case OPT_HGRM:
		o->hgrm = arg;
		return -1;
	case OPT_REPORT:
		o->report = arg;
		return -1;
	case OPT_SVG:
		o->svg = arg;
		return -1;
	case 'h':
		fputs(usage, stdout);
		return 0;
	default:
		return 2;
	}
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "e:w:c:r:s:t:n:qh", options, NULL)) != -1) {
		rc = parse_one(c, optarg, o);
		if (rc == 2 && (c == '?' || c == ':'))
			fprintf(stderr,
				"tsecho compare: bad option or missing value: %s (see --help)\n",
				argv[optind - 1]);
		if (rc >= 0)
			return rc;
	}
	if (o->json && o->csv && strcmp(o->json, "-") == 0 && strcmp(o->csv, "-") == 0) {
		fprintf(stderr, "tsecho compare: --json - and --csv - would share stdout\n");
		return 2;
	}
	return -1;
}

/* Adds a step named by fmt. */
static void add_step(struct cmp_result *r, enum cmp_kind kind, uint64_t conns, double rate,
		     uint64_t size, int busy)
{
	struct cmp_step *s = &r->steps[r->n_steps++];

	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->connections = conns;
	s->rate = rate;
	s->size = size;
	s->busy_poll = busy;
	if (kind == CMP_PINGPONG)
		snprintf(s->name, sizeof s->name, "ping-pong%s %llu B", busy ? " busy" : "",
			 (unsigned long long)size);
	else if (kind == CMP_CLOSED)
		snprintf(s->name, sizeof s->name, "closed %llu conns %llu B",
			 (unsigned long long)conns, (unsigned long long)size);
	else
		snprintf(s->name, sizeof s->name, "open %.0f/s %llu B", rate,
			 (unsigned long long)size);
}

static int plan_steps(struct cmp_result *r, const struct opts *o)
{
	size_t max = o->sizes.n * (2 + o->conns.n + o->rates.n);

	r->steps = calloc(max, sizeof *r->steps);
	if (!r->steps)
		return -1;
	for (size_t i = 0; i < o->sizes.n && o->pingpong; i++) {
		add_step(r, CMP_PINGPONG, 1, 0, (uint64_t)o->sizes.v[i], 0);
		if (o->busy_poll)
			add_step(r, CMP_PINGPONG, 1, 0, (uint64_t)o->sizes.v[i], 1);
	}
	for (size_t i = 0; i < o->sizes.n && o->closed; i++)
		for (size_t k = 0; k < o->conns.n; k++)
			add_step(r, CMP_CLOSED, (uint64_t)o->conns.v[k], 0, (uint64_t)o->sizes.v[i],
				 0);
	for (size_t i = 0; i < o->sizes.n && o->open; i++)
		for (size_t k = 0; k < o->rates.n; k++)
			add_step(r, CMP_OPEN, o->rate_conns, o->rates.v[k], (uint64_t)o->sizes.v[i],
				 0);
	return 0;
}

/* The built-in servers, from --engines; 0 or 2 (printed). */
static int plan_engines(struct cmp_result *r, const struct opts *o)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof buf, "%s", o->engines);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct cmp_server *s;
		if (r->n_servers == SERVERS_MAX)
			return bad_value("engines", o->engines, "at most 16");
		if (strcmp(tok, "io_uring") != 0 && strcmp(tok, "epoll") != 0 &&
		    strcmp(tok, "poll") != 0 && strcmp(tok, "select") != 0)
			return bad_value("engines", o->engines,
					 "want io_uring, epoll, poll and/or select");
		s = &r->servers[r->n_servers++];
		snprintf(s->name, sizeof s->name, "%s", tok);
		snprintf(s->engine, sizeof s->engine, "%s", tok);
		s->optional = !o->engines_given;
		if (strcmp(tok, "select") == 0)
			s->max_connections = FD_SETSIZE - SELECT_OWN_FDS;
	}
	return 0;
}

/* NAME=HOST[:PORT] arguments; 0 or 2 (printed). */
static int plan_remotes(struct cmp_result *r, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		struct cmp_server *s;
		size_t len = eq ? (size_t)(eq - argv[i]) : 0;

		if (!eq || len == 0 || len >= sizeof s->name || !eq[1] ||
		    strlen(eq + 1) >= sizeof s->target) {
			fprintf(stderr, "tsecho compare: '%s': want NAME=HOST[:PORT]\n", argv[i]);
			return 2;
		}
		if (r->n_servers == SERVERS_MAX) {
			fprintf(stderr, "tsecho compare: at most %d servers\n", SERVERS_MAX);
			return 2;
		}
		s = &r->servers[r->n_servers++];
		snprintf(s->name, sizeof s->name, "%.*s", (int)len, argv[i]);
		snprintf(s->target, sizeof s->target, "%s", eq + 1);
		s->remote = 1;
	}
	return 0;
}

/* The steps a server cannot take (select past FD_SETSIZE) skipped. */
static void skip_limits(struct cmp_result *r)
{
	for (size_t si = 0; si < r->n_servers; si++)
		for (size_t st = 0; st < r->n_steps; st++) {
			const struct cmp_server *s = &r->servers[si];
			if (s->max_connections && r->steps[st].connections > s->max_connections)
				snprintf(cmp_cell(r, si, st)->skipped,
					 sizeof cmp_cell(r, si, st)->skipped,
					 "past select's limit: it watches descriptors below "
					 "FD_SETSIZE (%d), %llu connections at most",
					 FD_SETSIZE, (unsigned long long)s->max_connections);
		}
}

static int pick_baseline(struct cmp_result *r, const char *name)
{
	const char *want = name ? name : "select";

	r->baseline = 0;
	for (size_t i = 0; i < r->n_servers; i++)
		if (strcmp(r->servers[i].name, want) == 0) {
			r->baseline = i;
			return 0;
		}
	if (name) {
		fprintf(stderr, "tsecho compare: --baseline %s: no such server\n", name);
		return 2;
	}
	return 0;
}

/* Pins this process (and so the load's threads) off the server's CPU;
 * returns the server's CPU, or -1 when not pinned. */
static int pin(struct cmp_result *r, int want)
{
	cpu_set_t set;
	int cpu = want, n = 0;

	r->sys.load_cpus[0] = '\0';
	if (want == -1 || sched_getaffinity(0, sizeof set, &set) != 0)
		return -1;
	if (want == -2) {
		if (CPU_COUNT(&set) < 2)
			return -1;
		for (cpu = 0; cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set); cpu++)
			;
	}
	if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &set) || CPU_COUNT(&set) < 2)
		return -1;
	CPU_CLR(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++) {
		size_t len = strlen(r->sys.load_cpus);
		if (CPU_ISSET(i, &set) && len + 8 < sizeof r->sys.load_cpus)
			snprintf(r->sys.load_cpus + len, sizeof r->sys.load_cpus - len, "%s%d",
				 n++ ? "," : "", i);
	}
	return cpu;
}

static int is_json_path(const char *s)
{
	size_t n = strlen(s);

	return n > 5 && strcmp(s + n - 5, ".json") == 0 && !strchr(s, '=');
}

/* 0, 1 (no replies at all) or 3 (a step that did not go as asked). */
static int status_of(const struct cmp_result *r)
{
	int any = 0, fault = 0;

	for (size_t i = 0; i < r->n_servers * r->n_steps; i++) {
		const struct cmp_cell *c = &r->cells[i];
		fault |= c->failed; /* a server that did not start */
		for (size_t k = 0; k < r->repeat; k++) {
			any |= c->rep[k].messages > 0;
			fault |= c->rep[k].fault[0] != '\0';
		}
	}
	return !any ? 1 : fault ? 3 : 0;
}

/* Where --json or --csv goes: stdout for "-", else the file (opened
 * before anything runs). */
static FILE *open_out(const char *path)
{
	FILE *f;

	if (!path)
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "tsecho compare: cannot write %s: %s\n", path, strerror(errno));
	return f;
}

static int close_out(FILE *f, const char *path)
{
	int bad;

	if (!f)
		return 0;
	bad = ferror(f);
	if (f == stdout)
		bad |= fflush(f) != 0;
	else
		bad |= fclose(f) != 0;
	if (bad) {
		fprintf(stderr, "tsecho compare: cannot write %s\n", path);
		return 2;
	}
	return 0;
}

static int make_dir(const char *dir)
{
	if (!dir || mkdir(dir, 0777) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "tsecho compare: cannot make %s: %s\n", dir, strerror(errno));
	return 2;
}

struct outs {
	FILE *json, *csv, *report;
};

static int open_outputs(const struct opts *o, struct outs *out)
{
	memset(out, 0, sizeof *out);
	if ((o->json && !(out->json = open_out(o->json))) ||
	    (o->csv && !(out->csv = open_out(o->csv))) ||
	    (o->report && !(out->report = ts_report_html_open("compare", o->report))) ||
	    make_dir(o->hgrm) != 0 || make_dir(o->svg) != 0)
		return 2;
	return 0;
}

static int write_outputs(const struct cmp_result *r, const struct opts *o, struct outs *out,
			 const char *command)
{
	int rc = 0;
	char why[512];

	if (!(o->json && strcmp(o->json, "-") == 0) && !(o->csv && strcmp(o->csv, "-") == 0))
		cmp_print_text(stdout, r);
	if (out->json)
		cmp_print_json(out->json, r);
	if (out->csv)
		cmp_print_csv(out->csv, r);
	rc |= close_out(out->json, o->json);
	rc |= close_out(out->csv, o->csv);
	if (out->report &&
	    ts_report_html_close(out->report, cmp_write_html(out->report, r, command), "compare",
				 o->report) != 0)
		rc = 2;
	if (o->hgrm && cmp_write_hgrm_dir(r, o->hgrm, why, sizeof why) != 0) {
		fprintf(stderr, "tsecho compare: cannot write %s\n", why);
		rc = 2;
	}
	if (o->svg && cmp_write_svg_dir(r, o->svg, why, sizeof why) != 0) {
		fprintf(stderr, "tsecho compare: cannot write %s\n", why);
		rc = 2;
	}
	memset(out, 0, sizeof *out);
	return rc;
}

static void title_of(struct cmp_result *r, int remote)
{
	size_t len = (size_t)snprintf(r->title, sizeof r->title, "tsecho compare:");

	for (size_t i = 0; i < r->n_servers && len < sizeof r->title; i++)
		len += (size_t)snprintf(r->title + len, sizeof r->title - len, "%s %s",
					i ? "," : "", r->servers[i].name);
	if (len < sizeof r->title)
		snprintf(r->title + len, sizeof r->title - len, "%s",
			 remote ? "" : " (built-in servers, loopback)");
}

/* Builds the plan and measures it. */
static int measure_all(struct cmp_result *r, const struct opts *o, int argc, char **argv)
{
	struct cmp_run_opts ro = { 0 };
	int rc;

	r->servers = calloc(SERVERS_MAX, sizeof *r->servers);
	if (!r->servers || plan_steps(r, o) != 0) {
		fprintf(stderr, "tsecho compare: out of memory\n");
		return 2;
	}
	rc = argc > 0 ? plan_remotes(r, argc, argv) : plan_engines(r, o);
	if (rc == 0)
		rc = pick_baseline(r, o->baseline);
	if (rc != 0)
		return rc;
	r->repeat = o->repeat;
	r->duration_s = (double)o->duration_ns / TS_NS_PER_S;
	r->warmup_s = (double)o->warmup_ns / TS_NS_PER_S;
	snprintf(r->load_engine, sizeof r->load_engine, "%s",
		 o->load_engine ? o->load_engine : ts_evloop_backend_name());
	if (cmp_result_alloc(r) != 0) {
		fprintf(stderr, "tsecho compare: out of memory\n");
		return 2;
	}
	skip_limits(r);
	title_of(r, argc > 0);
	cmp_system_read(&r->sys);
	r->sys.server_cpu = argc > 0 ? -1 : pin(r, o->server_cpu);
	if (ts_bench_engine_check("tsecho compare", o->load_engine) != 0)
		return 2;
	ro.duration_s = r->duration_s;
	ro.warmup_s = r->warmup_s;
	ro.load_engine = o->load_engine;
	ro.server_cpu = r->sys.server_cpu;
	ro.quiet = o->quiet;
	return cmp_run(r, &ro);
}

int ts_cmd_compare(int argc, char **argv)
{
	struct opts o = {
		.engines = "io_uring,epoll,select",
		.pingpong = 1,
		.closed = 1,
		.open = 1,
		.conns = { { 1, 16, 64, 256, 1000 }, 5 },
		.rates = { { 10000, 50000 }, 2 },
		.sizes = { { 64 }, 1 },
		.rate_conns = 64,
		.duration_ns = 2 * TS_NS_PER_S,
		.warmup_ns = 500 * TS_NS_PER_MS,
		.repeat = 3,
		.server_cpu = -2,
	};
	struct cmp_result r;
	struct outs out;
	char command[1024];
	int rc, files = 0, rest;

	memset(&r, 0, sizeof r);
	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	rest = argc - optind;
	for (int i = optind; i < argc; i++)
		files += is_json_path(argv[i]);
	if (files && files != rest) {
		fprintf(stderr, "tsecho compare: saved results (.json) and servers do not mix\n");
		return 2;
	}
	if (ts_signals_install(ts_bench_on_signal) != 0) {
		fprintf(stderr, "tsecho compare: cannot set up signals\n");
		return 2;
	}
	if (open_outputs(&o, &out) != 0)
		return 2;
	ts_html_command_line(command, sizeof command, "tsecho", argc, argv);
	if (files)
		rc = cmp_load(&r, argv + optind, (size_t)rest, stderr) == 0 ? 0 : 2;
	else
		rc = measure_all(&r, &o, rest, argv + optind);
	if (rc == 0 && files)
		rc = pick_baseline(&r, o.baseline);
	if (rc == 0) {
		cmp_result_merge(&r);
		rc = write_outputs(&r, &o, &out, command);
		if (rc == 0 && !files)
			rc = status_of(&r);
	}
	if (out.json && out.json != stdout)
		fclose(out.json);
	if (out.csv && out.csv != stdout)
		fclose(out.csv);
	if (out.report)
		fclose(out.report);
	cmp_result_free(&r);
	return rc;
}
