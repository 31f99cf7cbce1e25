/* The formats of a bench result: text for people, JSON for machines (with
 * the histogram, so results merge exactly), and HdrHistogram's percentile
 * distribution (.hgrm) for its plotters. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include <tsecho/json.h>
#include <tsecho/proto.h>
#include "../client/report.h"
#include "bench.h"

static double ms(double ns)
{
	return ns / (double)TS_NS_PER_MS;
}

static double pct(const struct ts_hist *h, double p)
{
	return ms((double)ts_hist_percentile(h, p));
}

static void print_spectrum(FILE *out, const char *what, const struct ts_hist *h)
{
	if (ts_hist_count(h) == 0) {
		fprintf(out, "%-11s no replies\n", what);
		return;
	}
	fprintf(out,
		"%-11s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  p99.99 %.3f  max %.3f  "
		"mean %.3f ms\n",
		what, pct(h, 50), pct(h, 90), pct(h, 99), pct(h, 99.9), pct(h, 99.99),
		ms((double)ts_hist_max(h)), ms(ts_hist_mean(h)));
}

/* --kernel-timestamps: why a part may be missing. */
static const char *kt_note(const struct ts_bench_result *r)
{
	if (r->kt_refused[0])
		return r->kt->probes == 0
			   ? "the sockets refused kernel timestamps: every part is unavailable"
			   : "some sockets refused kernel timestamps: their connections were not "
			     "sampled";
	if (r->kt->probes == 0)
		return "no sampled reply came inside the measured window";
	if (!(r->kt_server_flags & TS_KTS_F_SERVER))
		return "the server fills in no kernel times (not a tsecho server that knows the "
		       "extension): only the client's parts and the server's processing are "
		       "available";
	if (!(r->kt_server_flags & TS_KTS_F_RX))
		return "the server's kernel timestamps are off (tsecho server "
		       "--kernel-timestamps): only the client's parts and the server's "
		       "processing are available";
	if (r->kt->mm[TS_PART_SERVER_WAKE].n == 0)
		return "the server says its kernel timestamps are on but sent no kernel times: "
		       "only the client's parts and the server's processing are available";
	return "each connection's last sample has no server send path or network back (no "
	       "later reply carried the server's send time); against a server in its "
	       "default auto mode, each connection's first sample has no server receive time";
}

/* The breakdown as the writers take it; NULL without --kernel-timestamps. */
static const struct ts_kt_view *kt_view(const struct ts_bench_result *r, struct ts_kt_view *v)
{
	if (!r->kt)
		return NULL;
	*v = (struct ts_kt_view){
		.stats = r->kt,
		.clock = r->kt_one_clock ? TS_KT_ONE_CLOCK : TS_KT_UNCORRECTED,
		.refused = r->kt_refused,
		.server_flags = r->kt_server_flags,
		.note = kt_note(r),
		.sample_every = r->opt->sample_every,
	};
	return v;
}

/* The kinds of error as a person reads them, in ts_bench_err's order. */
static const char *const err_labels[TS_BERR_KINDS] = {
	"could not connect", "closed by the server",       "reset by the server",
	"port unreachable",  "error frame: frame too big", "error frame",
	"not a reply",       "out of resources",
};

int ts_bench_saturated(const struct ts_bench_result *r)
{
	return !r->opt->busy_poll && r->client_busy >= TS_BENCH_SATURATED;
}

double ts_bench_client_us_per_message(const struct ts_bench_result *r)
{
	return r->counts.sent ? r->client_cpu_s * 1e6 / (double)r->counts.sent : 0.0;
}

const char *ts_bench_fault(const struct ts_bench_result *r)
{
	const struct ts_bench_opts *opt = r->opt;

	if (r->interrupted)
		return "interrupted";
	if (r->server_gone)
		return "the server went away";
	if (r->counts.ended_early > 0)
		return "the server ended connections early";
	if (r->connections_opened < opt->connections && !opt->allow_fewer)
		return "fewer connections came up than asked (--allow-fewer to go on with fewer)";
	if (opt->rate_per_s > 0 && !r->rate_met)
		return "target rate not met";
	return NULL;
}

/* The lines that say how the run went when not as asked. */
static void print_faults(FILE *out, const struct ts_bench_result *r)
{
	const struct ts_bench_opts *opt = r->opt;

	if (r->counts.errors > 0) {
		const char *sep = "errors by kind:";
		for (int k = 0; k < TS_BERR_KINDS; k++) {
			if (!r->counts.error_kinds[k])
				continue;
			fprintf(out, "%s %s %llu", sep, err_labels[k],
				(unsigned long long)r->counts.error_kinds[k]);
			sep = ",";
		}
		fputc('\n', out);
	}
	if (r->connections_opened < opt->connections)
		fprintf(out, "connections: %llu of %llu came up (%s)%s\n",
			(unsigned long long)r->connections_opened,
			(unsigned long long)opt->connections,
			r->connect_error ? r->connect_error : "see the errors",
			opt->allow_fewer ? "; --allow-fewer" : "; the run is short of its load");
	if (r->server_gone)
		fprintf(out,
			"the server went away %.3f s into the run: it ended all %llu connections; "
			"the rate is over the time it was there\n",
			r->server_gone_s, (unsigned long long)r->counts.ended_early);
	else if (r->counts.ended_early > 0)
		fprintf(out, "the server ended %llu of %llu connections early\n",
			(unsigned long long)r->counts.ended_early,
			(unsigned long long)r->connections_opened);
	if (r->interrupted) {
		if (opt->duration_ns)
			fprintf(out, "interrupted after %.3f s of %.3f s asked\n", r->elapsed_s,
				(double)(opt->duration_ns + opt->warmup_ns) / TS_NS_PER_S);
		else
			fprintf(out, "interrupted after %.3f s, %llu of %llu messages asked sent\n",
				r->elapsed_s, (unsigned long long)r->counts.sent,
				(unsigned long long)opt->count);
	}
}

void ts_bench_print_text(FILE *out, const struct ts_bench_result *r)
{
	const struct ts_bench_opts *opt = r->opt;
	double mps = r->messages_per_s;
	struct ts_kt_view v;

	fprintf(out,
		"--- tsecho bench %s (%s, %s loop, %llu connections, %d threads, %llu bytes) ---\n",
		r->target, opt->udp ? "udp" : "tcp", opt->rate_per_s > 0 ? "open" : "closed",
		(unsigned long long)opt->connections, r->threads, (unsigned long long)opt->size);
	fprintf(out, "duration %.3f s, %llu messages, %.1f msg/s, %.2f MB/s each way\n",
		r->duration_s, (unsigned long long)r->counts.messages, mps,
		mps * (double)opt->size / 1e6);
	fprintf(out, "errors %llu, timeouts %llu, lost %llu\n",
		(unsigned long long)r->counts.errors, (unsigned long long)r->counts.timeouts,
		(unsigned long long)r->counts.lost);
	print_faults(out, r);
	fprintf(out,
		"load generator: %s loop, CPU %.3f s, %.2f us per message, busy %.0f%% of %d "
		"threads%s\n",
		r->engine ? r->engine : "?", r->client_cpu_s, ts_bench_client_us_per_message(r),
		100.0 * r->client_busy, r->threads,
		ts_bench_saturated(r)
		    ? ": saturated, the figures may be its limit, not the server's"
		    : "");
	print_spectrum(out, "latency", r->hist);
	if (r->hist_unc) {
		print_spectrum(out, "uncorrected", r->hist_unc);
		fprintf(out, "target rate %.1f msg/s, sent %.1f msg/s%s\n", opt->rate_per_s,
			r->achieved_rate_per_s,
			r->rate_met ? ""
				    : ": target rate not met (too few connections or threads, or "
				      "a slow server)");
	}
	if (kt_view(r, &v))
		ts_report_kt_text(out, &v);
}

void ts_bench_json_latency(struct ts_json *j, const char *key, const struct ts_hist *h)
{
	if (!h) {
		ts_json_null(j, key);
		return;
	}
	ts_json_open(j, key, '{');
	ts_json_u64(j, "count", ts_hist_count(h));
	ts_json_num(j, "min", ms((double)ts_hist_min(h)), 6);
	ts_json_num(j, "mean", ms(ts_hist_mean(h)), 6);
	ts_json_num(j, "stddev", ms(ts_hist_stddev(h)), 6);
	ts_json_num(j, "max", ms((double)ts_hist_max(h)), 6);
	ts_json_num(j, "p50", pct(h, 50), 6);
	ts_json_num(j, "p90", pct(h, 90), 6);
	ts_json_num(j, "p99", pct(h, 99), 6);
	ts_json_num(j, "p99_9", pct(h, 99.9), 6);
	ts_json_num(j, "p99_99", pct(h, 99.99), 6);
	ts_json_close(j, '}');
}

void ts_bench_json_histogram(struct ts_json *j, const char *key, const struct ts_hist *h)
{
	if (!h) {
		ts_json_null(j, key);
		return;
	}
	ts_json_open(j, key, '{');
	ts_json_str(j, "unit", "ns");
	ts_json_u64(j, "sub_bucket_bits", 10);
	ts_json_open(j, "counts", '[');
	for (size_t i = 0; i < ts_hist_buckets(); i++) {
		uint64_t n = ts_hist_bucket_count(h, i);
		if (n == 0)
			continue;
		ts_json_open(j, NULL, '[');
		ts_json_u64(j, NULL, i);
		ts_json_u64(j, NULL, n);
		ts_json_close(j, ']');
	}
	ts_json_close(j, ']');
	ts_json_i64(j, "min_ns", ts_hist_min(h));
	ts_json_i64(j, "max_ns", ts_hist_max(h));
	ts_json_num(j, "sum_ns", ts_hist_sum(h), 0);
	ts_json_num(j, "sum_sq_ns2", ts_hist_sum_sq(h), 0);
	ts_json_close(j, '}');
}

void ts_bench_print_json(FILE *out, const struct ts_bench_result *r)
{
	const struct ts_bench_opts *opt = r->opt;
	struct ts_kt_view v;
	struct ts_json j;
	double mps = r->messages_per_s;

	ts_json_init(&j, out);
	ts_json_open(&j, NULL, '{');
	ts_json_u64(&j, "schema", 1);
	ts_json_str(&j, "tsecho_version", PACKAGE_VERSION);
	ts_json_str(&j, "kind", "bench");
	ts_json_str(&j, "target", r->target);
	ts_json_str(&j, "transport", opt->udp ? "udp" : "tcp");
	ts_json_str(&j, "mode",
		    opt->echo    ? "echo"
		    : opt->stamp ? "stamp"
		    : opt->text  ? "text"
				 : "probe");
	ts_json_str(&j, "loop", opt->rate_per_s > 0 ? "open" : "closed");
	ts_json_u64(&j, "connections", opt->connections);
	ts_json_u64(&j, "threads", (uint64_t)r->threads);
	ts_json_u64(&j, "size", opt->size);
	if (opt->rate_per_s > 0) {
		ts_json_num(&j, "rate_target", opt->rate_per_s, 3);
		ts_json_bool(&j, "rate_met", r->rate_met);
	} else {
		ts_json_null(&j, "rate_target");
		ts_json_null(&j, "rate_met");
	}
	ts_json_num(&j, "duration_s", r->duration_s, 6);
	ts_json_u64(&j, "messages", r->counts.messages);
	ts_json_u64(&j, "bytes", r->counts.messages * opt->size);
	ts_json_num(&j, "messages_per_s", mps, 3);
	ts_json_num(&j, "bytes_per_s", mps * (double)opt->size, 3);
	ts_json_u64(&j, "errors", r->counts.errors);
	ts_json_open(&j, "error_kinds", '{');
	for (int k = 0; k < TS_BERR_KINDS; k++)
		ts_json_u64(&j, ts_bench_err_names[k], r->counts.error_kinds[k]);
	ts_json_close(&j, '}');
	ts_json_u64(&j, "timeouts", r->counts.timeouts);
	ts_json_u64(&j, "lost", r->counts.lost);
	ts_json_u64(&j, "connections_opened", r->connections_opened);
	ts_json_u64(&j, "ended_early", r->counts.ended_early);
	if (r->server_gone)
		ts_json_num(&j, "server_gone_s", r->server_gone_s, 6);
	else
		ts_json_null(&j, "server_gone_s");
	ts_json_bool(&j, "interrupted", r->interrupted);
	ts_json_str(&j, "engine", r->engine ? r->engine : "");
	ts_json_num(&j, "client_cpu_s", r->client_cpu_s, 6);
	ts_json_num(&j, "client_cpu_us_per_message", ts_bench_client_us_per_message(r), 4);
	ts_json_num(&j, "client_busy", r->client_busy, 4);
	ts_json_bool(&j, "client_saturated", ts_bench_saturated(r));
	ts_json_num(&j, "elapsed_s", r->elapsed_s, 6);
	if (ts_bench_fault(r))
		ts_json_str(&j, "fault", ts_bench_fault(r));
	else
		ts_json_null(&j, "fault");
	ts_bench_json_latency(&j, "latency_ms", ts_hist_count(r->hist) ? r->hist : NULL);
	ts_bench_json_latency(&j, "uncorrected_ms",
			      r->hist_unc && ts_hist_count(r->hist_unc) ? r->hist_unc : NULL);
	ts_report_kt_json(&j, kt_view(r, &v));
	ts_bench_json_histogram(&j, "histogram", r->hist);
	ts_bench_json_histogram(&j, "uncorrected_histogram", r->hist_unc);
	ts_json_close(&j, '}');
	fputc('\n', out);
	fflush(out);
}

/* Counts at or below value v. */
static uint64_t count_upto(const struct ts_hist *h, int64_t v)
{
	uint64_t n = 0;

	for (size_t i = 0; i < ts_hist_buckets() && ts_hist_bucket_low(i) <= v; i++)
		n += ts_hist_bucket_count(h, i);
	return n;
}

int ts_bench_write_hgrm(FILE *f, const struct ts_hist *h)
{
	/* HdrHistogram's percentile iteration: the step halves with each
	 * halving of the distance to 100%, five steps per half. */
	const double ticks_per_half = 5.0;
	uint64_t total = ts_hist_count(h);
	double p = 0.0;
	int rc = 0;

	fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
		"1/(1-Percentile)");
	while (total > 0) {
		int64_t v = ts_hist_percentile(h, p);
		uint64_t n = count_upto(h, v);
		double ticks;

		if (n >= total || p >= 100.0)
			break;
		fprintf(f, "%12.3f %2.12f %10llu %14.2f\n", ms((double)v), p / 100.0,
			(unsigned long long)n, 1.0 / (1.0 - p / 100.0));
		ticks = ticks_per_half * pow(2.0, floor(log2(100.0 / (100.0 - p))) + 1);
		p += 100.0 / ticks;
	}
	if (total > 0)
		fprintf(f, "%12.3f %2.12f %10llu\n", ms((double)ts_hist_max(h)), 1.0,
			(unsigned long long)total);
	fprintf(f, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", ms(ts_hist_mean(h)),
		ms(ts_hist_stddev(h)));
	fprintf(f, "#[Max     = %12.3f, Total count    = %12llu]\n", ms((double)ts_hist_max(h)),
		(unsigned long long)total);
	fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", 34, 1024);
	if (ferror(f))
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

void ts_bench_timeline_add(struct ts_bench_timeline *t, const struct ts_html_interval *pt)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct ts_html_interval *grown;
		if (cap > TS_BENCH_TIMELINE_MAX)
			cap = TS_BENCH_TIMELINE_MAX;
		grown = cap > t->cap ? realloc(t->points, cap * sizeof *grown) : NULL;
		if (!grown) {
			t->dropped++;
			return;
		}
		t->points = grown;
		t->cap = cap;
	}
	t->points[t->n++] = *pt;
}

void ts_bench_timeline_fini(struct ts_bench_timeline *t)
{
	free(t->points);
	memset(t, 0, sizeof *t);
}

/* The spectrum's figures, as the text result prints them. */
static void rows_spectrum(struct ts_html_rows *rs, const char *section, const struct ts_hist *h)
{
	ts_html_rows_section(rs, section);
	if (!h || ts_hist_count(h) == 0) {
		ts_html_rows_add(rs, "replies", "none");
		return;
	}
	ts_html_rows_add(rs, "p50", "%.3f ms", pct(h, 50));
	ts_html_rows_add(rs, "p90", "%.3f ms", pct(h, 90));
	ts_html_rows_add(rs, "p99", "%.3f ms", pct(h, 99));
	ts_html_rows_add(rs, "p99.9", "%.3f ms", pct(h, 99.9));
	ts_html_rows_add(rs, "p99.99", "%.3f ms", pct(h, 99.99));
	ts_html_rows_add(rs, "max", "%.3f ms", ms((double)ts_hist_max(h)));
	ts_html_rows_add(rs, "mean", "%.3f ms", ms(ts_hist_mean(h)));
}

static void html_rows(struct ts_html_rows *rs, const struct ts_bench_result *r)
{
	const struct ts_bench_opts *opt = r->opt;
	double mps = r->messages_per_s;

	ts_html_rows_section(rs, "Run");
	ts_html_rows_add(rs, "target", "%s", r->target);
	ts_html_rows_add(rs, "transport", "%s, %s", opt->udp ? "udp" : "tcp",
			 opt->echo    ? "echo"
			 : opt->stamp ? "stamp"
				      : "probe");
	ts_html_rows_add(rs, "loop", "%s", opt->rate_per_s > 0 ? "open" : "closed");
	ts_html_rows_add(rs, "connections", "%llu", (unsigned long long)opt->connections);
	ts_html_rows_add(rs, "threads", "%d", r->threads);
	ts_html_rows_add(rs, "message size", "%llu bytes", (unsigned long long)opt->size);
	ts_html_rows_section(rs, "Messages");
	ts_html_rows_add(rs, "duration", "%.3f s", r->duration_s);
	ts_html_rows_add(rs, "messages", "%llu", (unsigned long long)r->counts.messages);
	ts_html_rows_add(rs, "throughput", "%.1f msg/s", mps);
	ts_html_rows_add(rs, "each way", "%.2f MB/s", mps * (double)opt->size / 1e6);
	ts_html_rows_add(rs, "errors", "%llu", (unsigned long long)r->counts.errors);
	ts_html_rows_add(rs, "timeouts", "%llu", (unsigned long long)r->counts.timeouts);
	ts_html_rows_add(rs, "lost", "%llu", (unsigned long long)r->counts.lost);
	if (opt->rate_per_s > 0) {
		ts_html_rows_add(rs, "target rate", "%.1f msg/s", opt->rate_per_s);
		ts_html_rows_add(rs, "sent", "%.1f msg/s%s", r->achieved_rate_per_s,
				 r->rate_met ? "" : " (target not met)");
	}
	rows_spectrum(rs, "Latency", r->hist);
	if (r->hist_unc)
		rows_spectrum(rs, "Uncorrected latency", r->hist_unc);
}

/* The page's status line: how the run went when not as asked. */
static const char *html_status(const struct ts_bench_result *r, char *buf, size_t cap)
{
	const struct ts_bench_opts *opt = r->opt;
	const char *fault = ts_bench_fault(r);

	if (!fault)
		return NULL;
	if (r->interrupted && opt->duration_ns)
		snprintf(buf, cap, "Interrupted after %.3f s of %.3f s asked.", r->elapsed_s,
			 (double)(opt->duration_ns + opt->warmup_ns) / TS_NS_PER_S);
	else if (r->server_gone)
		snprintf(buf, cap,
			 "The server went away %.3f s into the run, ending all %llu connections; "
			 "the rate is over the time it was there.",
			 r->server_gone_s, (unsigned long long)r->counts.ended_early);
	else if (r->connections_opened < opt->connections && !opt->allow_fewer)
		snprintf(buf, cap, "Only %llu of %llu connections came up (%s).",
			 (unsigned long long)r->connections_opened,
			 (unsigned long long)opt->connections,
			 r->connect_error ? r->connect_error : "see the errors");
	else
		snprintf(buf, cap, "The run did not go as asked: %s.", fault);
	return buf;
}

int ts_bench_write_html(FILE *out, const struct ts_bench_result *r, int argc, char **argv)
{
	struct ts_html_report h;
	struct ts_html_rows *rs = calloc(1, sizeof *rs);
	char title[200], status[256];
	int rc;

	snprintf(title, sizeof title, "tsecho bench %s (%s, %s loop)", r->target,
		 r->opt->udp ? "udp" : "tcp", r->opt->rate_per_s > 0 ? "open" : "closed");
	rc = ts_html_report_begin(&h, title, PACKAGE_VERSION, argc, argv);
	if (rc == 0 && !rs)
		rc = -ENOMEM;
	if (rc == 0) {
		html_rows(rs, r);
		h.rows = rs->row;
		h.n_rows = rs->n;
		h.series = TS_HTML_SERIES_INTERVALS;
		h.intervals = r->timeline ? r->timeline->points : NULL;
		h.n_intervals = r->timeline ? r->timeline->n : 0;
		h.hist = r->hist;
		h.hist_label = "latency";
		h.hist_alt = r->hist_unc;
		h.hist_alt_label = "uncorrected";
		h.status = html_status(r, status, sizeof status);
		if (r->hist_unc)
			h.note = "Open loop: latency is measured from when each message was due, "
				 "so a stall shows in the tail (coordinated omission); the "
				 "uncorrected figures, from the actual send, are beside it.";
		rc = ts_html_report_write(out, &h);
	}
	ts_html_report_end(&h);
	free(rs);
	return rc;
}
