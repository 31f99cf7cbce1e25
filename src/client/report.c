/* Ping reports: see report.h. */
#include "config.h"

#include "report.h"

#include <inttypes.h>
#include <string.h>

#include <tsecho/clock.h>
#include <tsecho/json.h>

double ts_round_zero(double v, int decimals)
{
	double half = 0.5;

	for (int i = 0; i < decimals; i++)
		half /= 10;
	return v > -half && v < half ? 0.0 : v;
}

static struct ts_summary3 summary3(const struct ts_minmax *m, double shift_ns)
{
	struct ts_summary3 s = { 0 };

	if (m->n == 0)
		return s;
	s.valid = 1;
	s.min_ns = (double)m->min + shift_ns;
	s.mean_ns = ts_minmax_mean(m) + shift_ns;
	s.max_ns = (double)m->max + shift_ns;
	return s;
}

void ts_report_from_session(struct ts_ping_report *r, const struct ts_session *s, int server_times,
			    int full)
{
	const struct ts_hist *h = s->rtt;
	double offset_ns = 0, bound_ns = 0;

	r->sent = s->sent;
	r->received = s->received;
	r->duplicates = s->duplicates;
	r->reordered = s->reordered;
	r->have_rtt = ts_hist_count(h) > 0;
	if (r->have_rtt) {
		r->rtt_min_ns = (double)ts_hist_min(h);
		r->rtt_mean_ns = ts_hist_mean(h);
		r->rtt_max_ns = (double)ts_hist_max(h);
		r->rtt_stddev_ns = ts_hist_stddev(h);
		r->rtt_p50_ns = (double)ts_hist_percentile(h, 50);
		r->rtt_p90_ns = (double)ts_hist_percentile(h, 90);
		r->rtt_p99_ns = (double)ts_hist_percentile(h, 99);
		r->rtt_p999_ns = (double)ts_hist_percentile(h, 99.9);
		r->jitter_rtt = s->jit_rtt;
	}
	if (!server_times || !ts_session_offset(s, &offset_ns, &bound_ns))
		return;
	if (full) {
		r->net_rtt = summary3(&s->net_rtt, 0);
		r->residence = summary3(&s->residence, 0);
		r->have_dir_jitter = 1;
		r->jitter_fwd = s->jit_fwd;
		r->jitter_bwd = s->jit_bwd;
	}
	/* forward = t2 - t1 - offset, backward = t4 - t3 + offset
	 * (docs/measurement.md); --synced trusts the clocks as they are. */
	if (r->synced) {
		offset_ns = 0;
		bound_ns = 0;
	} else {
		r->have_offset = 1;
		r->offset_ns = offset_ns;
		r->offset_bound_ns = bound_ns;
	}
	r->have_one_way = 1;
	r->fwd = summary3(&s->fwd_raw, -offset_ns);
	r->bwd = summary3(&s->bwd_raw, offset_ns);
	r->one_way_bound_ns = bound_ns;
}

static double ms(double ns)
{
	return ns / (double)TS_NS_PER_MS;
}

double ts_report_loss_pct(const struct ts_ping_report *r)
{
	if (r->sent == 0 || r->received >= r->sent)
		return 0.0;
	return 100.0 * (double)(r->sent - r->received) / (double)r->sent;
}

static void print_summary3(FILE *out, const char *what, const struct ts_summary3 *s,
			   const char *tail)
{
	if (s->valid)
		fprintf(out, "%s min/avg/max = %.3f/%.3f/%.3f ms%s\n", what, ms(s->min_ns),
			ms(s->mean_ns), ms(s->max_ns), tail);
}

const char *ts_report_mode_label(const char *mode)
{
	static const struct {
		const char *mode, *label;
	} labels[] = {
		{ "probe", "binary protocol" }, { "text", "text protocol" },
		{ "connect", "TCP handshake" }, { "echo", "RFC 862 echo" },
		{ "stamp", "STAMP" },
	};

	for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
		if (strcmp(labels[i].mode, mode) == 0)
			return labels[i].label;
	return mode;
}

/* The final estimate on one line, as RFC 3550 defines the figure; its
 * mean and maximum over the run on the next, where a stall the final
 * value has forgotten still shows. */
static void print_jitter(FILE *out, const struct ts_ping_report *r)
{
	const struct ts_jitter *js[] = { &r->jitter_rtt, &r->jitter_fwd, &r->jitter_bwd };
	const char *names[] = { "rtt", "forward", "backward" };
	int n = r->have_dir_jitter ? 3 : 1;

	fprintf(out, "jitter (RFC 3550, final estimate)");
	for (int i = 0; i < n; i++)
		fprintf(out, "%s %s %.3f ms", i ? "," : "", names[i], ms(js[i]->jitter_ns));
	fprintf(out, "\njitter over the run mean/max =");
	for (int i = 0; i < n; i++)
		fprintf(out, "%s %s %.3f/%.3f ms", i ? "," : "", names[i],
			ms(ts_jitter_mean_ns(js[i])), ms(js[i]->max_ns));
	fputc('\n', out);
}

/* --kernel-timestamps: ping's bookkeeping as the breakdown writers take
 * it; NULL without it. */
static const struct ts_kt_view *kt_view(const struct ts_ping_report *r, struct ts_kt_view *v)
{
	const struct ts_ping_kt *kt = r->kt;

	if (!kt)
		return NULL;
	*v = (struct ts_kt_view){
		.stats = &kt->stats,
		.clock = kt->same_clock ? TS_KT_ONE_CLOCK
			 : r->synced    ? TS_KT_SYNCED
					: TS_KT_CORRECTED,
		.bound_ns = r->offset_bound_ns,
		.refused = kt->refused,
		.server_flags = kt->server_flags,
		.note = ts_ping_kt_note(kt),
		.with_samples = r->with_samples,
		.samples = kt->kept,
		.n_samples = kt->n_kept,
	};
	return v;
}

void ts_report_print_text(FILE *out, const struct ts_ping_report *r)
{
	struct ts_kt_view v;
	char bound[64] = "";

	fprintf(out, "--- %s ping statistics (%s, %s) ---\n", r->target, r->transport,
		ts_report_mode_label(r->mode));
	fprintf(out,
		"%" PRIu64 " sent, %" PRIu64 " received, %.1f%% loss, %" PRIu64
		" duplicates, %" PRIu64 " reordered, time %.3f s\n",
		r->sent, r->received, ts_report_loss_pct(r), r->duplicates, r->reordered,
		(double)r->duration_ns / TS_NS_PER_S);
	if (r->have_loss_split)
		fprintf(out,
			"lost forward %" PRIu64 ", backward %" PRIu64 " (stateful reflector)\n",
			r->lost_forward, r->lost_backward);
	if (!r->have_rtt)
		return;
	fprintf(out, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", ms(r->rtt_min_ns),
		ms(r->rtt_mean_ns), ms(r->rtt_max_ns), ms(r->rtt_stddev_ns));
	fprintf(out, "rtt p50/p90/p99/p99.9 = %.3f/%.3f/%.3f/%.3f ms\n", ms(r->rtt_p50_ns),
		ms(r->rtt_p90_ns), ms(r->rtt_p99_ns), ms(r->rtt_p999_ns));
	if (kt_view(r, &v))
		ts_report_kt_text(out, &v);
	print_summary3(out, "network rtt", &r->net_rtt, " (server residence removed)");
	print_summary3(out,
		       r->residence_from_kernel ? "reflector residence (kernel receive to send)"
						: "server residence (read to send, user space)",
		       &r->residence, "");
	print_jitter(out, r);
	if (r->have_offset)
		fprintf(out, "clock offset %+.3f ms +/- %.3f ms (server minus client)\n",
			ts_round_zero(ms(r->offset_ns), 3), ms(r->offset_bound_ns));
	if (!r->have_one_way)
		return;
	if (!r->synced)
		snprintf(bound, sizeof bound, " +/- %.3f ms", ms(r->one_way_bound_ns));
	print_summary3(out, "one-way forward", &r->fwd, bound);
	print_summary3(out, "one-way backward", &r->bwd, bound);
	if (r->synced)
		fprintf(out, "note: --synced: one-way delays trust both clocks as they are\n");
	else
		fprintf(out,
			"note: one-way delays split the best round trip evenly; path asymmetry "
			"cannot be seen without synchronised clocks (--synced)\n");
}

static void json_summary3(struct ts_json *j, const char *key, const struct ts_summary3 *s)
{
	if (!s->valid) {
		ts_json_null(j, key);
		return;
	}
	ts_json_open(j, key, '{');
	ts_json_num(j, "min", ms(s->min_ns), 6);
	ts_json_num(j, "mean", ms(s->mean_ns), 6);
	ts_json_num(j, "max", ms(s->max_ns), 6);
	ts_json_close(j, '}');
}

static void json_samples(struct ts_json *j, const struct ts_ping_report *r)
{
	ts_json_open(j, "samples", '[');
	for (size_t i = 0; i < r->n_samples; i++) {
		const struct ts_sample *s = &r->samples[i];
		ts_json_open(j, NULL, '{');
		ts_json_u64(j, "seq", s->seq);
		ts_json_num(j, "rtt_ms", ms((double)s->rtt_ns), 6);
		ts_json_i64(j, "t1_ns", s->t1_wall_ns);
		if (s->server_times) {
			ts_json_i64(j, "t2_ns", s->t2_wall_ns);
			ts_json_i64(j, "t3_ns", s->t3_wall_ns);
		} else {
			ts_json_null(j, "t2_ns");
			ts_json_null(j, "t3_ns");
		}
		ts_json_i64(j, "t4_ns", s->t4_wall_ns);
		ts_json_close(j, '}');
	}
	ts_json_close(j, ']');
}

static void json_packets(struct ts_json *j, const struct ts_ping_report *r)
{
	ts_json_open(j, "packets", '{');
	ts_json_u64(j, "sent", r->sent);
	ts_json_u64(j, "received", r->received);
	ts_json_u64(j, "lost", r->sent > r->received ? r->sent - r->received : 0);
	ts_json_num(j, "loss_pct", ts_report_loss_pct(r), 3);
	ts_json_u64(j, "duplicates", r->duplicates);
	ts_json_u64(j, "reordered", r->reordered);
	if (r->have_loss_split) {
		ts_json_u64(j, "lost_forward", r->lost_forward);
		ts_json_u64(j, "lost_backward", r->lost_backward);
	} else {
		ts_json_null(j, "lost_forward");
		ts_json_null(j, "lost_backward");
	}
	ts_json_close(j, '}');
}

/* The jitter estimate's mean and maximum over the run, per direction. */
static void json_jitter_run(struct ts_json *j, const struct ts_ping_report *r)
{
	const struct ts_jitter *js[] = { &r->jitter_rtt, &r->jitter_fwd, &r->jitter_bwd };
	const char *names[] = { "rtt", "forward", "backward" };

	ts_json_open(j, "jitter_run_ms", '{');
	for (int i = 0; i < 3; i++) {
		if (i > 0 && !r->have_dir_jitter) {
			ts_json_null(j, names[i]);
			continue;
		}
		ts_json_open(j, names[i], '{');
		ts_json_num(j, "mean", ms(ts_jitter_mean_ns(js[i])), 6);
		ts_json_num(j, "max", ms(js[i]->max_ns), 6);
		ts_json_close(j, '}');
	}
	ts_json_close(j, '}');
}

static void json_rtt(struct ts_json *j, const struct ts_ping_report *r)
{
	if (!r->have_rtt) {
		ts_json_null(j, "rtt_ms");
		ts_json_null(j, "jitter_ms");
		ts_json_null(j, "jitter_run_ms");
		return;
	}
	ts_json_open(j, "rtt_ms", '{');
	ts_json_num(j, "min", ms(r->rtt_min_ns), 6);
	ts_json_num(j, "mean", ms(r->rtt_mean_ns), 6);
	ts_json_num(j, "max", ms(r->rtt_max_ns), 6);
	ts_json_num(j, "stddev", ms(r->rtt_stddev_ns), 6);
	ts_json_num(j, "p50", ms(r->rtt_p50_ns), 6);
	ts_json_num(j, "p90", ms(r->rtt_p90_ns), 6);
	ts_json_num(j, "p99", ms(r->rtt_p99_ns), 6);
	ts_json_num(j, "p99_9", ms(r->rtt_p999_ns), 6);
	ts_json_close(j, '}');
	ts_json_open(j, "jitter_ms", '{');
	ts_json_num(j, "rtt", ms(r->jitter_rtt.jitter_ns), 6);
	if (r->have_dir_jitter) {
		ts_json_num(j, "forward", ms(r->jitter_fwd.jitter_ns), 6);
		ts_json_num(j, "backward", ms(r->jitter_bwd.jitter_ns), 6);
	} else {
		ts_json_null(j, "forward");
		ts_json_null(j, "backward");
	}
	ts_json_close(j, '}');
	json_jitter_run(j, r);
}

static void json_offset(struct ts_json *j, const struct ts_ping_report *r)
{
	if (r->have_offset) {
		ts_json_open(j, "offset_ms", '{');
		ts_json_num(j, "estimate", ts_round_zero(ms(r->offset_ns), 6), 6);
		ts_json_num(j, "bound", ms(r->offset_bound_ns), 6);
		ts_json_close(j, '}');
	} else {
		ts_json_null(j, "offset_ms");
	}
	if (r->have_one_way) {
		ts_json_open(j, "one_way_ms", '{');
		json_summary3(j, "forward", &r->fwd);
		json_summary3(j, "backward", &r->bwd);
		ts_json_num(j, "bound", ms(r->one_way_bound_ns), 6);
		ts_json_close(j, '}');
	} else {
		ts_json_null(j, "one_way_ms");
	}
}

void ts_report_print_json(FILE *out, const struct ts_ping_report *r, const char *version)
{
	struct ts_kt_view v;
	struct ts_json j;

	ts_json_init(&j, out);
	ts_json_open(&j, NULL, '{');
	ts_json_u64(&j, "schema", 1);
	ts_json_str(&j, "tsecho_version", version);
	ts_json_str(&j, "mode", r->mode);
	ts_json_str(&j, "transport", r->transport);
	ts_json_str(&j, "target", r->target);
	ts_json_u64(&j, "size", r->size);
	ts_json_num(&j, "interval_ms", ms((double)r->interval_ns), 3);
	ts_json_bool(&j, "synced", r->synced);
	json_packets(&j, r);
	ts_json_num(&j, "duration_ms", ms((double)r->duration_ns), 3);
	json_rtt(&j, r);
	json_summary3(&j, "net_rtt_ms", &r->net_rtt);
	json_summary3(&j, "residence_ms", &r->residence);
	if (r->residence.valid)
		ts_json_str(&j, "residence_from", r->residence_from_kernel ? "kernel" : "user");
	else
		ts_json_null(&j, "residence_from");
	json_offset(&j, r);
	ts_report_kt_json(&j, kt_view(r, &v));
	if (r->with_samples)
		json_samples(&j, r);
	ts_json_close(&j, '}');
	fputc('\n', out);
}
