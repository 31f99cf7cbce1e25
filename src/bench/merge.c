/* `tsecho merge`: several `tsecho bench --json` results as one.  Counts
 * add, rates add (each run's over its own duration), the duration is the
 * longest, and the histograms add bucket by bucket, so the percentiles are
 * exactly those of one histogram of every sample (docs/bench.md). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/hist.h>
#include <tsecho/jsonparse.h>
#include "bench.h"

#define FILE_MAX                                                                                   \
	(8u << 20) /* a result is a few hundred KB at most, and parsing
			     * costs some 30 bytes of memory a byte */

static const char usage[] = "usage: tsecho merge [--json] FILE.json...\n"
			    "\n"
			    "Merges results of 'tsecho bench --json' (several load generators\n"
			    "against one server, say) into one result.\n";

struct merged {
	struct ts_bench_opts opt;
	struct ts_bench_result r;
	struct ts_hist *hist;
	struct ts_hist *hist_unc;
	int all_unc; /* every file has the uncorrected histogram */
	int all_met;
	char target[128];
	/* What every result must share with the first, to add up. */
	char loop[16], transport[8], mode[16];
	uint64_t size;
	double rate_per_host;
};

/* The first of the fields that make two runs the same kind of run on
 * which doc differs from m's first, described into why; 0 when none. */
static int differs(struct merged *m, const struct ts_jv *doc, const char *loop,
		   const char *transport, uint64_t size, double rate, char *why, size_t cap)
{
	const struct ts_jv *mode = ts_jv_get(doc, "mode");
	const char *mode_s = mode && mode->type == TS_JV_STR ? mode->str : "probe";

	if (strcmp(loop, m->loop) != 0)
		snprintf(why, cap, "loop is %s, the first result's is %s", loop, m->loop);
	else if (strcmp(transport, m->transport) != 0)
		snprintf(why, cap, "transport is %s, the first result's is %s", transport,
			 m->transport);
	else if (strcmp(mode_s, m->mode) != 0)
		snprintf(why, cap, "mode (protocol) is %s, the first result's is %s", mode_s,
			 m->mode);
	else if (size != m->size)
		snprintf(why, cap, "size is %llu, the first result's is %llu",
			 (unsigned long long)size, (unsigned long long)m->size);
	else if (rate != m->rate_per_host)
		snprintf(why, cap, "rate_target is %g, the first result's is %g", rate,
			 m->rate_per_host);
	else
		return 0;
	return 1;
}

char *ts_bench_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t got;
		if (n + 1 >= cap) {
			char *grown;
			cap = cap ? 2 * cap : 65536;
			if (cap > FILE_MAX + 1) {
				errno = EFBIG;
				goto fail;
			}
			grown = realloc(buf, cap);
			if (!grown)
				goto fail;
			buf = grown;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		errno = EIO;
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

static int get_u64(const struct ts_jv *obj, const char *key, uint64_t *out)
{
	return ts_jv_u64(ts_jv_get(obj, key), out);
}

static int get_num(const struct ts_jv *obj, const char *key, double *out)
{
	return ts_jv_num(ts_jv_get(obj, key), out);
}

struct ts_hist *ts_bench_load_hist(const struct ts_jv *doc, const char *key, int *bad)
{
	const struct ts_jv *h = ts_jv_get(doc, key);
	const struct ts_jv *counts = ts_jv_get(h, "counts");
	struct ts_hist *out;
	double min_ns, max_ns, sum, sum_sq;
	uint64_t bits;

	if (!h || h->type == TS_JV_NULL)
		return NULL;
	if (!counts || counts->type != TS_JV_ARR || get_u64(h, "sub_bucket_bits", &bits) != 0 ||
	    bits != 10 || get_num(h, "min_ns", &min_ns) != 0 ||
	    get_num(h, "max_ns", &max_ns) != 0 || get_num(h, "sum_ns", &sum) != 0 ||
	    get_num(h, "sum_sq_ns2", &sum_sq) != 0) {
		*bad = 1;
		return NULL;
	}
	out = ts_hist_new();
	if (!out) {
		*bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < counts->n; i++) {
		const struct ts_jv *pair = &counts->items[i];
		uint64_t index, n;
		if (pair->type != TS_JV_ARR || pair->n != 2 || ts_jv_u64(&pair->items[0], &index) ||
		    ts_jv_u64(&pair->items[1], &n) || index >= ts_hist_buckets()) {
			*bad = 1;
			ts_hist_free(out);
			return NULL;
		}
		ts_hist_add_bucket(out, (size_t)index, n);
	}
	ts_hist_set_exact(out, (int64_t)min_ns, (int64_t)max_ns, sum, sum_sq);
	return out;
}

/* The fields a result has when tsecho 0.4 or later wrote it: error
 * kinds, connections that came up, ended early, interrupted. */
static void add_faults(struct merged *m, const struct ts_jv *doc, uint64_t connections)
{
	const struct ts_jv *kinds = ts_jv_get(doc, "error_kinds");
	const struct ts_jv *intr = ts_jv_get(doc, "interrupted");
	uint64_t v;

	for (int k = 0; kinds && k < TS_BERR_KINDS; k++)
		if (get_u64(kinds, ts_bench_err_names[k], &v) == 0)
			m->r.counts.error_kinds[k] += v;
	m->r.connections_opened += get_u64(doc, "connections_opened", &v) == 0 ? v : connections;
	if (get_u64(doc, "ended_early", &v) == 0)
		m->r.counts.ended_early += v;
	m->r.interrupted |= intr && intr->type == TS_JV_BOOL && intr->boolean;
}

/* Adds one parsed result to m; returns 0, -1 (not a bench result) or -2
 * (another kind of run than the first: why says how). */
static int add_result(struct merged *m, const struct ts_jv *doc, int first, char *why, size_t cap)
{
	uint64_t schema, messages, errors, timeouts, lost, connections, threads, size;
	double duration_s, mps, rate_target = 0;
	const struct ts_jv *kind = ts_jv_get(doc, "kind");
	const struct ts_jv *loop = ts_jv_get(doc, "loop");
	const struct ts_jv *transport = ts_jv_get(doc, "transport");
	const struct ts_jv *target = ts_jv_get(doc, "target");
	const struct ts_jv *met = ts_jv_get(doc, "rate_met");
	struct ts_hist *h, *hu;
	int bad = 0;

	if (!doc || doc->type != TS_JV_OBJ || get_u64(doc, "schema", &schema) || schema != 1 ||
	    !kind || kind->type != TS_JV_STR || strcmp(kind->str, "bench") != 0 ||
	    get_u64(doc, "messages", &messages) || get_u64(doc, "errors", &errors) ||
	    get_u64(doc, "timeouts", &timeouts) || get_u64(doc, "lost", &lost) ||
	    get_u64(doc, "connections", &connections) || get_u64(doc, "threads", &threads) ||
	    get_u64(doc, "size", &size) || get_num(doc, "duration_s", &duration_s) ||
	    get_num(doc, "messages_per_s", &mps) || !loop || loop->type != TS_JV_STR ||
	    !transport || transport->type != TS_JV_STR)
		return -1;
	h = ts_bench_load_hist(doc, "histogram", &bad);
	hu = ts_bench_load_hist(doc, "uncorrected_histogram", &bad);
	if (bad || !h) {
		ts_hist_free(h);
		ts_hist_free(hu);
		return -1;
	}
	get_num(doc, "rate_target", &rate_target);
	if (first) {
		const struct ts_jv *mode = ts_jv_get(doc, "mode");
		m->opt.size = size;
		m->opt.udp = strcmp(transport->str, "udp") == 0;
		if (target && target->type == TS_JV_STR)
			snprintf(m->target, sizeof m->target, "%s", target->str);
		snprintf(m->loop, sizeof m->loop, "%s", loop->str);
		snprintf(m->transport, sizeof m->transport, "%s", transport->str);
		snprintf(m->mode, sizeof m->mode, "%s",
			 mode && mode->type == TS_JV_STR ? mode->str : "probe");
		m->size = size;
		m->rate_per_host = rate_target;
	} else if (differs(m, doc, loop->str, transport->str, size, rate_target, why, cap)) {
		ts_hist_free(h);
		ts_hist_free(hu);
		return -2;
	}
	m->opt.rate_per_s += strcmp(loop->str, "open") == 0 ? rate_target : 0;
	m->all_met &= !met || met->type != TS_JV_BOOL || met->boolean;
	m->opt.connections += connections;
	m->r.threads += (int)threads;
	m->r.counts.messages += messages;
	m->r.counts.errors += errors;
	m->r.counts.timeouts += timeouts;
	m->r.counts.lost += lost;
	add_faults(m, doc, connections);
	m->r.messages_per_s += mps;
	if (duration_s > m->r.duration_s)
		m->r.duration_s = duration_s;
	ts_hist_merge(m->hist, h);
	if (hu)
		ts_hist_merge(m->hist_unc, hu);
	else
		m->all_unc = 0;
	ts_hist_free(h);
	ts_hist_free(hu);
	return 0;
}

static int merge_file(struct merged *m, const char *path, int first, const char *first_path)
{
	char err[160];
	size_t len;
	char *text = ts_bench_slurp(path, &len);
	struct ts_jv *doc;
	int rc;

	if (!text) {
		fprintf(stderr, "tsecho merge: %s: %s\n", path, strerror(errno));
		return -1;
	}
	doc = ts_jv_parse(text, len, err, sizeof err);
	free(text);
	if (!doc) {
		fprintf(stderr, "tsecho merge: %s: not JSON: %s\n", path, err);
		return -1;
	}
	rc = add_result(m, doc, first, err, sizeof err);
	ts_jv_free(doc);
	if (rc == -1)
		fprintf(stderr, "tsecho merge: %s: not a tsecho bench result (schema 1)\n", path);
	else if (rc == -2)
		fprintf(stderr,
			"tsecho merge: %s: not the same kind of run as %s: %s (results add up "
			"only when loop, transport, mode, size and rate per host agree)\n",
			path, first_path, err);
	return rc;
}

int ts_cmd_merge(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct merged m;
	int json = 0, c, rc = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		} else {
			fprintf(stderr, "tsecho merge: bad option %s (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	memset(&m, 0, sizeof m);
	m.all_unc = 1;
	m.all_met = 1;
	m.hist = ts_hist_new();
	m.hist_unc = ts_hist_new();
	if (!m.hist || !m.hist_unc) {
		fprintf(stderr, "tsecho merge: out of memory\n");
		rc = 2;
	}
	for (int i = optind; i < argc && rc == 0; i++)
		if (merge_file(&m, argv[i], i == optind, argv[optind]) != 0)
			rc = 2;
	if (rc == 0) {
		m.r.opt = &m.opt;
		m.r.target = m.target;
		m.r.hist = m.hist;
		m.r.hist_unc = m.all_unc ? m.hist_unc : NULL;
		m.r.rate_met = m.all_met;
		m.r.achieved_rate_per_s = m.r.messages_per_s;
		if (m.r.hist_unc && m.opt.rate_per_s <= 0)
			m.r.hist_unc = NULL;
		if (json)
			ts_bench_print_json(stdout, &m.r);
		else
			ts_bench_print_text(stdout, &m.r);
	}
	ts_hist_free(m.hist);
	ts_hist_free(m.hist_unc);
	return rc;
}
