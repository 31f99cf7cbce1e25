/* `tsecho probe`: probes many targets all the time and serves what it
 * measures as Prometheus metrics (docs/probe.md).  The main thread owns
 * the target list, the signals and the HTTP endpoint, on one event loop;
 * each target is probed by a thread of its own (prober.c). */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include <tsecho/httpd.h>
#include <tsecho/net.h>
#include <tsecho/parse.h>
#include <tsecho/sig.h>
#include "probe.h"
#include "prober.h"

#define MAX_TARGETS 1024
#define LINE_MAX_BYTES 1024
#define MAX_FDS (4 * MAX_TARGETS + 256)

static const char usage[] =
    "usage: tsecho probe --metrics ADDR:PORT [options] TARGET...\n"
    "       tsecho probe --metrics ADDR:PORT --targets FILE [options]\n"
    "\n"
    "Probes every target all the time and serves the results as Prometheus\n"
    "metrics at http://ADDR:PORT/metrics (docs/probe.md).\n"
    "\n"
    "TARGET is [MODE://]HOST[:PORT]; MODE is tcp (default: tsecho probes),\n"
    "udp, stamp (RFC 8762, port 862 by default) or connect (TCP handshakes).\n"
    "\n"
    "  -m, --metrics ADDR:PORT  serve the metrics here (required; port 0: any)\n"
    "  -f, --targets FILE       one target a line, # comments; reread on SIGHUP\n"
    "  -i, --interval DUR       between probes of a target (default 1s, >= 10ms),\n"
    "                           each shifted at random by up to 10%\n"
    "  -W, --timeout DUR        a later reply is lost (default 1s)\n"
    "  -s, --size BYTES         probe size (default 64; STAMP 44)\n"
    "      --synced             trust both clocks: raw one-way delays\n"
    "  -q, --quiet              no line when a target goes up or down\n"
    "  -h, --help               this help\n"
    "\n"
    "Prints 'listening on metrics ADDR:PORT' when ready. SIGHUP rereads\n"
    "FILE; SIGINT or SIGTERM stop. Exit status: 0 when stopped, 2 on errors.\n";

enum {
	OPT_SYNCED = 256,
};

static const struct option options[] = {
	{ "metrics", required_argument, NULL, 'm' },
	{ "targets", required_argument, NULL, 'f' },
	{ "interval", required_argument, NULL, 'i' },
	{ "timeout", required_argument, NULL, 'W' },
	{ "size", required_argument, NULL, 's' },
	{ "synced", no_argument, NULL, OPT_SYNCED },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct probe {
	struct ts_probe_config cfg;
	const char *metrics_addr;
	const char *targets_file;
	char **args; /* targets on the command line */
	int n_args;
	struct ts_probe_target *targets[MAX_TARGETS];
	size_t n_targets;
	struct ts_evloop *loop;
	struct ts_httpd *http;
};

static atomic_int stop_requested;
static atomic_int reload_requested;

static void on_stop(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, 1);
}

static void on_hup(int sig)
{
	(void)sig;
	atomic_store(&reload_requested, 1);
}

static int bad_value(const char *opt, const char *value, const char *want)
{
	fprintf(stderr, "tsecho probe: invalid %s '%s': %s\n", opt, value, want);
	return 2;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct probe *pr)
{
	struct ts_probe_config *cfg = &pr->cfg;
	int c;

	optind = 1;
	opterr = 0; /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "+m:f:i:W:s:qh", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			pr->metrics_addr = optarg;
			break;
		case 'f':
			pr->targets_file = optarg;
			break;
		case 'i':
			if (ts_parse_duration_ns(optarg, 10 * TS_NS_PER_MS, 3600 * TS_NS_PER_S,
						 &cfg->interval_ns) != 0)
				return bad_value("--interval", optarg, "want 10ms..1h");
			break;
		case 'W':
			if (ts_parse_duration_ns(optarg, TS_NS_PER_MS, 600 * TS_NS_PER_S,
						 &cfg->timeout_ns) != 0)
				return bad_value("--timeout", optarg, "want 1ms..600s");
			break;
		case 's':
			if (ts_parse_size(optarg, 1, 65507, &cfg->size) != 0)
				return bad_value("--size", optarg, "want 1..65507 bytes");
			break;
		case OPT_SYNCED:
			cfg->synced = 1;
			break;
		case 'q':
			cfg->quiet = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr,
				"tsecho probe: bad option or missing value: %s (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	pr->args = argv + optind;
	pr->n_args = argc - optind;
	if (!pr->metrics_addr) {
		fprintf(stderr, "tsecho probe: --metrics ADDR:PORT is required (see --help)\n");
		return 2;
	}
	if (pr->n_args == 0 && !pr->targets_file) {
		fprintf(stderr, "tsecho probe: no targets: give TARGET... or --targets FILE\n");
		return 2;
	}
	return -1;
}

/* The set of target specs being built: strings in one block. */
struct spec_set {
	char *specs[MAX_TARGETS];
	unsigned line[MAX_TARGETS]; /* in the targets file; 0: the command line */
	size_t n;
	char text[MAX_TARGETS * TS_PROBE_SPEC_MAX];
	size_t used;
};

/* Adds s, from line of the targets file (0: the command line), unless it
 * is there already; 0, or -1 when the set is full. */
static int add_spec(struct spec_set *set, const char *s, unsigned line)
{
	size_t len = strlen(s);

	for (size_t k = 0; k < set->n; k++)
		if (strcmp(set->specs[k], s) == 0)
			return 0;
	if (set->n == MAX_TARGETS || len >= TS_PROBE_SPEC_MAX)
		return -1;
	set->line[set->n] = line;
	set->specs[set->n++] = memcpy(set->text + set->used, s, len + 1);
	set->used += len + 1;
	return 0;
}

/* Adds the targets of the file, one a line: blanks and # comments
 * ignored.  0, or -1 after a message. */
static int read_targets_file(struct spec_set *set, const char *path)
{
	char line[LINE_MAX_BYTES];
	unsigned line_no = 0;
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (!f) {
		fprintf(stderr, "tsecho probe: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof line, f)) {
		char *start = line + strspn(line, " \t");
		size_t len;

		line_no++;
		start[strcspn(start, "#\r\n")] = '\0';
		for (len = strlen(start); len > 0 && strchr(" \t", start[len - 1]); len--)
			start[len - 1] = '\0';
		if (len > 0 && add_spec(set, start, line_no) != 0) {
			fprintf(stderr,
				"tsecho probe: %s:%u: too many targets (at most %d) or too long\n",
				path, line_no, MAX_TARGETS);
			rc = -1;
		}
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "tsecho probe: cannot read %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	fclose(f);
	return rc;
}

/* The targets wanted now: the command line's, then the file's. */
static int wanted_specs(const struct probe *pr, struct spec_set *set)
{
	set->n = set->used = 0;
	for (int i = 0; i < pr->n_args; i++) {
		if (add_spec(set, pr->args[i], 0) != 0) {
			fprintf(stderr, "tsecho probe: too many targets (at most %d) or too long\n",
				MAX_TARGETS);
			return -1;
		}
	}
	return pr->targets_file ? read_targets_file(set, pr->targets_file) : 0;
}

/* Whether a and b are the same series: the same mode and HOST:PORT,
 * however written (127.0.0.1:1, tcp://127.0.0.1:0001). */
static bool same_series(const struct ts_probe_target *a, const struct ts_probe_target *b)
{
	return strcmp(a->mode_name, b->mode_name) == 0 && strcmp(a->label, b->label) == 0;
}

static struct ts_probe_target *find_same(struct ts_probe_target *const *list, size_t n,
					 const struct ts_probe_target *t, bool *found)
{
	for (size_t i = 0; i < n; i++) {
		if (same_series(list[i], t)) {
			if (found)
				found[i] = true;
			return list[i];
		}
	}
	return NULL;
}

/* Stops and frees every target not kept (kept NULL: all of them); the
 * list is empty afterwards.  Stop first, then wait: the threads wind down
 * together. */
static void drop_targets(struct probe *pr, const bool *kept)
{
	for (size_t i = 0; i < pr->n_targets; i++)
		if (!kept || !kept[i])
			ts_probe_target_stop(pr->targets[i]);
	for (size_t i = 0; i < pr->n_targets; i++) {
		if (!kept || !kept[i]) {
			ts_probe_target_join(pr->targets[i]);
			free(pr->targets[i]);
		}
	}
	pr->n_targets = 0;
}

/* Makes the targets probed those of set: keeps those already probed
 * (their counters go on), starts the new, stops and drops the rest.  A
 * target that does not parse or start is reported; when strict (at start)
 * that fails the whole, else it is skipped.  Returns 0 or -1. */
static int apply_specs(struct probe *pr, const struct spec_set *set, bool strict)
{
	struct ts_probe_target *next[MAX_TARGETS];
	bool kept[MAX_TARGETS] = { false };
	size_t n = 0;
	char why[160];

	for (size_t i = 0; i < set->n; i++) {
		struct ts_probe_target *t = calloc(1, sizeof *t), *running;
		if (!t) {
			snprintf(why, sizeof why, "out of memory");
		} else if (ts_probe_target_parse(t, set->specs[i], &pr->cfg, why, sizeof why) !=
			   0) {
			free(t);
			t = NULL;
		}
		if (!t) {
			if (set->line[i])
				fprintf(stderr, "tsecho probe: %s:%u: target '%s': %s\n",
					pr->targets_file, set->line[i], set->specs[i], why);
			else
				fprintf(stderr, "tsecho probe: target '%s': %s\n", set->specs[i],
					why);
			if (strict) {
				while (n > 0)
					free(next[--n]);
				return -1;
			}
			continue;
		}
		if (find_same(next, n, t, NULL)) { /* listed twice: probed once */
			free(t);
			continue;
		}
		if ((running = find_same(pr->targets, pr->n_targets, t, kept)) != NULL) {
			free(t);
			t = running;
		}
		next[n++] = t;
	}
	drop_targets(pr, kept);
	for (size_t i = 0; i < n; i++) {
		int rc = next[i]->running ? 0 : ts_probe_target_start(next[i]);
		if (rc != 0) {
			fprintf(stderr, "tsecho probe: target '%s': cannot start: %s\n",
				next[i]->spec, strerror(-rc));
			free(next[i]);
			continue;
		}
		pr->targets[pr->n_targets++] = next[i];
	}
	return 0;
}

static int render(struct ts_buf *body, void *arg)
{
	struct probe *pr = arg;
	struct ts_prom p;

	ts_prom_begin(&p, body, TS_HTTPD_BODY_MAX);
	ts_prom_build_info(&p, PACKAGE_VERSION);
	ts_probe_render(&p, pr->targets, pr->n_targets);
	return ts_prom_end(&p);
}

/* SIGHUP: the file again.  A file that cannot be read keeps what runs. */
static void reload(struct probe *pr)
{
	struct spec_set *set = malloc(sizeof *set);

	if (!set) {
		fprintf(stderr, "tsecho probe: cannot reload: out of memory\n");
		return;
	}
	if (wanted_specs(pr, set) == 0) {
		apply_specs(pr, set, false);
		if (!pr->cfg.quiet)
			printf("reloaded: %zu targets\n", pr->n_targets);
	}
	free(set);
}

static int start(struct probe *pr)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char text[TS_ADDR_TEXT_MAX];
	struct spec_set *set = malloc(sizeof *set);
	int gai_err, fd, rc = -1;

	fd = ts_httpd_listen(pr->metrics_addr, &gai_err);
	if (fd < 0) {
		fprintf(stderr, "tsecho probe: cannot serve metrics on %s: %s\n", pr->metrics_addr,
			fd == -EINVAL ? "expected ADDR:PORT"
			: gai_err     ? gai_strerror(gai_err)
				      : strerror(-fd));
		goto out;
	}
	pr->http = ts_httpd_new(pr->loop, fd, render, pr);
	if (!pr->http || getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		fprintf(stderr, "tsecho probe: cannot serve metrics: %s\n", strerror(errno));
		if (!pr->http)
			close(fd);
		goto out;
	}
	if (!set || wanted_specs(pr, set) != 0 || apply_specs(pr, set, true) != 0)
		goto out;
	if (pr->n_targets == 0) {
		fprintf(stderr, "tsecho probe: no targets to probe\n");
		goto out;
	}
	ts_net_addr_text((struct sockaddr *)&ss, text, sizeof text);
	printf("listening on metrics %s\n", text);
	rc = 0;
out:
	free(set);
	return rc;
}

static int serve(struct probe *pr)
{
	while (!atomic_load(&stop_requested)) {
		int64_t now_mono_ns = ts_mono_ns();
		int64_t next_mono_ns = ts_httpd_sweep(pr->http, now_mono_ns);
		int rc = ts_evloop_run_once(pr->loop, ts_ms_until(next_mono_ns, now_mono_ns, 1000));

		if (rc < 0) {
			fprintf(stderr, "tsecho probe: event loop: %s\n", strerror(-rc));
			return 2;
		}
		if (atomic_exchange(&reload_requested, 0))
			reload(pr);
	}
	return 0;
}

int ts_cmd_probe(int argc, char **argv)
{
	struct probe *pr = calloc(1, sizeof *pr);
	struct sigaction sa;
	int max_fds, rc;

	if (!pr) {
		fprintf(stderr, "tsecho probe: out of memory\n");
		return 2;
	}
	pr->cfg.interval_ns = TS_NS_PER_S;
	pr->cfg.timeout_ns = TS_NS_PER_S;
	rc = parse_args(argc, argv, pr);
	if (rc >= 0)
		goto out;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	if (ts_signals_install(on_stop) != 0 || sigaction(SIGHUP, &sa, NULL) != 0) {
		fprintf(stderr, "tsecho probe: cannot set up signals: %s\n", strerror(errno));
		rc = 2;
		goto out;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The threads' sockets and the endpoint's share one descriptor
	 * table; the loop watches only the endpoint's, but their numbers
	 * can be as high as the targets' take them. */
	max_fds = ts_raise_nofile();
	pr->loop = ts_evloop_new(max_fds < MAX_FDS ? max_fds : MAX_FDS);
	if (!pr->loop) {
		fprintf(stderr, "tsecho probe: cannot start: %s\n", strerror(errno));
		rc = 2;
		goto out;
	}
	rc = start(pr) == 0 ? serve(pr) : 2;
out:
	drop_targets(pr, NULL);
	ts_httpd_free(pr->http);
	ts_evloop_free(pr->loop);
	free(pr);
	return rc;
}
