/* `tsecho ping --report`: the ping report as the plain struct of
 * lib/htmlreport.h.  The rows say what the text summary says, in the same
 * units and digits (report.c); the probes come from the samples ping
 * keeps with --report, and the lost ones from the send log; with
 * --kernel-timestamps, the parts of every probe accounted. */
#include "config.h"

#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include <tsecho/htmlreport.h>
#include "commands.h"
#include "pinger.h"

static double ms(double ns)
{
	return ns / (double)TS_NS_PER_MS;
}

static void row3(struct ts_html_rows *rs, const char *label, const struct ts_summary3 *s,
		 const char *tail)
{
	if (s->valid)
		ts_html_rows_add(rs, label, "%.3f / %.3f / %.3f ms%s", ms(s->min_ns),
				 ms(s->mean_ns), ms(s->max_ns), tail);
}

static void rows_run(struct ts_html_rows *rs, const struct ts_ping_report *r)
{
	ts_html_rows_section(rs, "Run");
	ts_html_rows_add(rs, "target", "%s", r->target);
	ts_html_rows_add(rs, "protocol", "%s, %s", r->transport, ts_report_mode_label(r->mode));
	ts_html_rows_add(rs, "probe size", "%llu bytes", (unsigned long long)r->size);
	ts_html_rows_add(rs, "interval", "%.3f s", (double)r->interval_ns / TS_NS_PER_S);
	ts_html_rows_add(rs, "time", "%.3f s", (double)r->duration_ns / TS_NS_PER_S);
	ts_html_rows_section(rs, "Probes");
	ts_html_rows_add(rs, "sent", "%llu", (unsigned long long)r->sent);
	ts_html_rows_add(rs, "received", "%llu", (unsigned long long)r->received);
	if (r->sent > 0)
		ts_html_rows_add(rs, "loss", "%.1f%%", ts_report_loss_pct(r));
	else
		ts_html_rows_add(rs, "loss", "none sent");
	ts_html_rows_add(rs, "duplicates", "%llu", (unsigned long long)r->duplicates);
	ts_html_rows_add(rs, "reordered", "%llu", (unsigned long long)r->reordered);
	if (r->have_loss_split) {
		ts_html_rows_add(rs, "lost forward", "%llu", (unsigned long long)r->lost_forward);
		ts_html_rows_add(rs, "lost backward", "%llu", (unsigned long long)r->lost_backward);
	}
}

static void rows_rtt(struct ts_html_rows *rs, const struct ts_ping_report *r)
{
	ts_html_rows_section(rs, "Round trip");
	ts_html_rows_add(rs, "min", "%.3f ms", ms(r->rtt_min_ns));
	ts_html_rows_add(rs, "avg", "%.3f ms", ms(r->rtt_mean_ns));
	ts_html_rows_add(rs, "max", "%.3f ms", ms(r->rtt_max_ns));
	ts_html_rows_add(rs, "mdev", "%.3f ms", ms(r->rtt_stddev_ns));
	ts_html_rows_add(rs, "p50", "%.3f ms", ms(r->rtt_p50_ns));
	ts_html_rows_add(rs, "p90", "%.3f ms", ms(r->rtt_p90_ns));
	ts_html_rows_add(rs, "p99", "%.3f ms", ms(r->rtt_p99_ns));
	ts_html_rows_add(rs, "p99.9", "%.3f ms", ms(r->rtt_p999_ns));
	ts_html_rows_add(rs, "jitter (RFC 3550, final estimate)", "%.3f ms",
			 ms(r->jitter_rtt.jitter_ns));
	ts_html_rows_add(rs, "jitter over the run mean/max", "%.3f/%.3f ms",
			 ms(ts_jitter_mean_ns(&r->jitter_rtt)), ms(r->jitter_rtt.max_ns));
}

static void rows_server(struct ts_html_rows *rs, const struct ts_ping_report *r, char *bound,
			size_t cap)
{
	if (!r->net_rtt.valid && !r->have_dir_jitter && !r->have_offset && !r->have_one_way)
		return;
	ts_html_rows_section(rs, "Server and clocks");
	row3(rs, "network rtt min/avg/max", &r->net_rtt, "");
	row3(rs,
	     r->residence_from_kernel ? "reflector residence (kernel receive to send) min/avg/max"
				      : "server residence (read to send) min/avg/max",
	     &r->residence, "");
	if (r->have_dir_jitter) {
		ts_html_rows_add(rs, "jitter forward, final", "%.3f ms",
				 ms(r->jitter_fwd.jitter_ns));
		ts_html_rows_add(rs, "jitter backward, final", "%.3f ms",
				 ms(r->jitter_bwd.jitter_ns));
	}
	if (r->have_offset)
		ts_html_rows_add(rs, "clock offset (server - client)", "%+.3f ms \u00b1 %.3f ms",
				 ts_round_zero(ms(r->offset_ns), 3), ms(r->offset_bound_ns));
	if (!r->have_one_way)
		return;
	bound[0] = '\0';
	if (!r->synced)
		snprintf(bound, cap, " \u00b1 %.3f ms", ms(r->one_way_bound_ns));
	row3(rs, "one-way forward min/avg/max", &r->fwd, bound);
	row3(rs, "one-way backward min/avg/max", &r->bwd, bound);
}

/* Each probe seq (1..n) lost unless a sample answers it. */
static void mark_answered(struct ts_html_probe *pr, uint64_t n, const struct ts_pinger *p)
{
	for (uint64_t i = 0; i < n; i++)
		pr[i].lost = 1;
	for (size_t i = 0; i < p->n_samples; i++) {
		const struct ts_sample *s = &p->samples[i];
		if (s->seq >= 1 && s->seq <= n) {
			pr[s->seq - 1].lost = 0;
			pr[s->seq - 1].sent_ns = s->t1_wall_ns;
			pr[s->seq - 1].rtt_ns = s->rtt_ns;
		}
	}
}

/* Every probe sent, in order of seq, send times since the first.  A lost
 * probe's time is in the send log while it is in the window; an older
 * one takes the time of the probe before it.  Caller frees; NULL when
 * none was sent, or memory ran out (now, or for a sample: then lost and
 * answered cannot be told apart). */
static struct ts_html_probe *probes_of(const struct ts_pinger *p, uint64_t *n_out)
{
	uint64_t n = p->sess.next_seq > 0 ? p->sess.next_seq - 1 : 0;
	struct ts_html_probe *pr = NULL;
	int64_t prev_ns = INT64_MIN, origin_ns;

	*n_out = 0;
	if (n > 0 && n < SIZE_MAX / sizeof *pr && p->n_samples >= p->sess.received)
		pr = calloc(n, sizeof *pr);
	if (!pr)
		return NULL;
	mark_answered(pr, n, p);
	for (uint64_t seq = 1; seq <= n; seq++) {
		struct ts_html_probe *x = &pr[seq - 1];
		const struct ts_send_slot *slot = ts_pinger_slot(p, seq);
		if (x->lost)
			x->sent_ns = slot ? slot->wall_ns : prev_ns;
		prev_ns = x->sent_ns;
	}
	origin_ns = INT64_MAX;
	for (uint64_t i = 0; i < n; i++)
		if (pr[i].sent_ns != INT64_MIN && pr[i].sent_ns < origin_ns)
			origin_ns = pr[i].sent_ns;
	for (uint64_t i = 0; i < n; i++)
		pr[i].sent_ns = pr[i].sent_ns == INT64_MIN ? 0 : pr[i].sent_ns - origin_ns;
	*n_out = n;
	return pr;
}

/* --kernel-timestamps: a row a part, all in the unit of the largest
 * median (a stall's maximum does not turn the rest into 0.00x ms). */
static void rows_kt(struct ts_html_rows *rs, const struct ts_ping_kt *kt)
{
	const struct ts_breakdown_stats *s = &kt->stats;
	double unit_ns, p50_ns = 0;
	const char *unit;
	int dec;

	for (int i = 0; i < TS_PART_COUNT; i++)
		if (s->mm[i].n > 0 && (double)ts_hist_percentile(s->hist[i], 50) > p50_ns)
			p50_ns = (double)ts_hist_percentile(s->hist[i], 50);
	unit = ts_html_time_unit(p50_ns, &unit_ns);
	dec = unit_ns <= 1e3 ? 1 : 3;
	ts_html_rows_section(rs, "Kernel timestamps: p50 / p99 / max (probes)");
	ts_html_rows_add(rs, "probes accounted", "%" PRIu64 ", %" PRIu64 " with every part",
			 s->probes, s->complete);
	for (int i = 0; i < TS_PART_COUNT; i++) {
		const struct ts_minmax *m = &s->mm[i];
		if (m->n == 0) {
			ts_html_rows_add(rs, ts_part_name(i), "unavailable");
			continue;
		}
		ts_html_rows_add(rs, ts_part_name(i), "%.*f / %.*f / %.*f %s (%" PRIu64 ")", dec,
				 (double)ts_hist_percentile(s->hist[i], 50) / unit_ns, dec,
				 (double)ts_hist_percentile(s->hist[i], 99) / unit_ns, dec,
				 (double)m->max / unit_ns, unit, m->n);
	}
	if (s->remainder.n > 0)
		ts_html_rows_add(rs, "remainder min/avg/max (rtt less the parts)",
				 "%.*f / %.*f / %.*f %s (%" PRIu64 ")", dec,
				 ts_round_zero((double)s->remainder.min / unit_ns, dec), dec,
				 ts_round_zero(ts_minmax_mean(&s->remainder) / unit_ns, dec), dec,
				 ts_round_zero((double)s->remainder.max / unit_ns, dec), unit,
				 s->remainder.n);
	else
		ts_html_rows_add(rs, "remainder (rtt less the parts)", "no probe had every part");
	ts_html_rows_text(rs, "note", ts_ping_kt_note(kt));
}

/* The parts' charts: each accounted probe's parts, its send time since
 * the first's, and each part's median.  0, or -ENOMEM (*pr NULL). */
static int breakdown_of(const struct ts_ping_kt *kt, struct ts_html_breakdown *b,
			struct ts_html_part_probe **pr)
{
	const struct ts_breakdown_stats *s = &kt->stats;
	int64_t origin = INT64_MAX;

	_Static_assert(TS_PART_COUNT <= TS_HTML_PARTS_MAX, "every part has its place");
	memset(b, 0, sizeof *b);
	*pr = NULL;
	b->n_parts = TS_PART_COUNT;
	for (int i = 0; i < TS_PART_COUNT; i++) {
		b->part[i].name = ts_part_name(i);
		b->part[i].count = s->mm[i].n;
		if (s->mm[i].n > 0)
			b->part[i].p50_ns = ts_hist_percentile(s->hist[i], 50);
	}
	if (kt->n_kept == 0)
		return 0;
	*pr = calloc(kt->n_kept, sizeof **pr);
	if (!*pr)
		return -ENOMEM;
	for (size_t j = 0; j < kt->n_kept; j++)
		if (kt->kept[j].p.t1 > 0 && kt->kept[j].p.t1 < origin)
			origin = kt->kept[j].p.t1;
	for (size_t j = 0; j < kt->n_kept; j++) {
		const struct ts_kt_sample *k = &kt->kept[j];
		struct ts_html_part_probe *x = &(*pr)[j];
		x->sent_ns = k->p.t1 > 0 ? k->p.t1 - origin : 0;
		for (int i = 0; i < TS_PART_COUNT; i++) {
			x->have[i] = k->b.have[i];
			x->part_ns[i] = k->b.part_ns[i];
		}
	}
	b->probes = *pr;
	b->n_probes = kt->n_kept;
	return 0;
}

static const char *note_of(const struct ts_ping_report *r)
{
	if (!r->have_one_way)
		return NULL;
	if (r->synced)
		return "--synced: one-way delays trust both clocks as they are.";
	return "One-way delays split the best round trip evenly; path asymmetry cannot be "
	       "seen without synchronised clocks (--synced). docs/measurement.md says how "
	       "each number is computed.";
}

int ts_report_write_html(FILE *out, const struct ts_ping_report *r, const struct ts_pinger *p,
			 const char *failure, int argc, char **argv)
{
	struct ts_html_report h;
	struct ts_html_rows *rs = calloc(1, sizeof *rs);
	char title[200], bound[48], status[sizeof p->error + 16];
	uint64_t n_probes = 0;
	struct ts_html_probe *probes = probes_of(p, &n_probes);
	struct ts_html_breakdown bd;
	struct ts_html_part_probe *bd_probes = NULL;
	int rc;

	snprintf(title, sizeof title, "tsecho ping %s (%s, %s)", r->target, r->transport,
		 ts_report_mode_label(r->mode));
	rc = ts_html_report_begin(&h, title, PACKAGE_VERSION, argc, argv);
	if (rc == 0 && !rs)
		rc = -ENOMEM;
	if (rc != 0)
		goto done;
	rows_run(rs, r);
	if (r->have_rtt)
		rows_rtt(rs, r);
	rows_server(rs, r, bound, sizeof bound);
	if (r->kt) {
		rows_kt(rs, r->kt);
		rc = breakdown_of(r->kt, &bd, &bd_probes);
		if (rc != 0)
			goto done;
		h.breakdown = &bd;
	}
	h.rows = rs->row;
	h.n_rows = rs->n;
	h.series = TS_HTML_SERIES_PROBES;
	h.probes = probes;
	h.n_probes = (size_t)n_probes;
	h.hist = p->sess.rtt;
	h.hist_label = "round trip";
	h.note = note_of(r);
	if (failure) {
		snprintf(status, sizeof status, "The run failed: %s", failure);
		h.status = status;
	}
	rc = ts_html_report_write(out, &h);
done:
	ts_html_report_end(&h);
	free(bd_probes);
	free(probes);
	free(rs);
	return rc;
}

FILE *ts_report_html_open(const char *cmd, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fprintf(stderr, "tsecho %s: cannot write %s: %s\n", cmd, path, strerror(errno));
	return f;
}

int ts_report_html_close(FILE *f, int write_rc, const char *cmd, const char *path)
{
	int rc = write_rc;

	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0)
		return 0;
	fprintf(stderr, "tsecho %s: cannot write %s: %s\n", cmd, path, strerror(-rc));
	return -1;
}
