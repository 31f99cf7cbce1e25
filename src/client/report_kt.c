/* The parts of the round trip in ping's summary and bench's result: see
 * report.h and docs/measurement.md, "Kernel timestamps". */
#include "config.h"

#include "report.h"

#include <inttypes.h>

#include <tsecho/clock.h>
#include <tsecho/json.h>

static double ms(double ns)
{
	return ns / (double)TS_NS_PER_MS;
}

/* How the network parts relate to the clocks, for the header line. */
static void clock_note(char *buf, size_t cap, const struct ts_kt_view *v)
{
	switch (v->clock) {
	case TS_KT_ONE_CLOCK:
		snprintf(buf, cap, "both ends on one clock: exact");
		break;
	case TS_KT_CORRECTED:
		snprintf(buf, cap,
			 "network parts corrected by the clock offset estimate, each +/- %.3f ms",
			 ms(v->bound_ns));
		break;
	case TS_KT_SYNCED:
		snprintf(buf, cap, "network parts as the clocks give them: --synced");
		break;
	default:
		snprintf(buf, cap, "network parts include the clock offset, not estimated");
		break;
	}
}

static const char *clock_key(enum ts_kt_clock clock)
{
	switch (clock) {
	case TS_KT_ONE_CLOCK:
		return "one host";
	case TS_KT_CORRECTED:
		return "offset corrected";
	case TS_KT_SYNCED:
		return "synced";
	default:
		return "offset included";
	}
}

/* What one accounted trip is called: ping's probes, bench's samples. */
static const char *noun(const struct ts_kt_view *v)
{
	return v->sample_every ? "samples" : "probes";
}

void ts_report_kt_text(FILE *out, const struct ts_kt_view *v)
{
	const struct ts_breakdown_stats *s = v->stats;
	char how[96];

	clock_note(how, sizeof how, v);
	fprintf(out, "kernel timestamps (software; %s): ", how);
	if (v->sample_every)
		fprintf(out, "sampled every %" PRIu64 " messages: ", v->sample_every);
	fprintf(out, "%" PRIu64 " %s, %" PRIu64 " with every part\n", s->probes, noun(v),
		s->complete);
	fprintf(out, "  %-18s %9s %9s %9s %9s %9s %7s\n", "part, ms", "min", "avg", "p50", "p99",
		"max", noun(v));
	for (int i = 0; i < TS_PART_COUNT; i++) {
		const struct ts_minmax *m = &s->mm[i];
		if (m->n == 0) {
			fprintf(out, "  %-18s %9s %9s %9s %9s %9s %7d\n", ts_part_name(i),
				"unavail.", "-", "-", "-", "-", 0);
			continue;
		}
		fprintf(out, "  %-18s %9.4f %9.4f %9.4f %9.4f %9.4f %7" PRIu64 "\n",
			ts_part_name(i), ms((double)m->min), ms(ts_minmax_mean(m)),
			ms((double)ts_hist_percentile(s->hist[i], 50)),
			ms((double)ts_hist_percentile(s->hist[i], 99)), ms((double)m->max), m->n);
	}
	if (s->complete > 0)
		fprintf(out,
			"  the parts add up to the rtt: remainder min/avg/max = %.4f/%.4f/%.4f ms "
			"over %" PRIu64 " %s\n",
			ts_round_zero(ms((double)s->remainder.min), 4),
			ts_round_zero(ms(ts_minmax_mean(&s->remainder)), 4),
			ts_round_zero(ms((double)s->remainder.max), 4), s->complete, noun(v));
	if (v->note && v->note[0])
		fprintf(out, "  note: %s\n", v->note);
}

static void json_time(struct ts_json *j, const char *key, int64_t ns)
{
	if (ns > 0)
		ts_json_i64(j, key, ns);
	else
		ts_json_null(j, key);
}

static void json_sample(struct ts_json *j, const struct ts_kt_sample *k)
{
	const struct ts_kts_probe *p = &k->p;
	const struct ts_breakdown *b = &k->b;

	ts_json_open(j, NULL, '{');
	ts_json_u64(j, "seq", p->seq);
	ts_json_num(j, "rtt", ms((double)p->rtt_ns), 6);
	for (int i = 0; i < TS_PART_COUNT; i++) {
		if (b->have[i])
			ts_json_num(j, ts_part_key(i), ms((double)b->part_ns[i]), 6);
		else
			ts_json_null(j, ts_part_key(i));
	}
	ts_json_num(j, "remainder", ms((double)b->remainder_ns), 6);
	json_time(j, "client_sched_ns", p->client_sched);
	json_time(j, "client_tx_ns", p->client_tx);
	json_time(j, "server_rx_ns", p->server_rx);
	json_time(j, "server_tx_ns", p->server_tx);
	json_time(j, "client_rx_ns", p->client_rx);
	ts_json_close(j, '}');
}

void ts_report_kt_json(struct ts_json *j, const struct ts_kt_view *v)
{
	const struct ts_breakdown_stats *s;

	if (!v) {
		ts_json_null(j, "breakdown_ms");
		return;
	}
	s = v->stats;
	ts_json_open(j, "breakdown_ms", '{');
	ts_json_str(j, "clock", clock_key(v->clock));
	if (v->clock == TS_KT_CORRECTED)
		ts_json_num(j, "network_bound", ms(v->bound_ns), 6);
	else
		ts_json_null(j, "network_bound");
	if (v->refused && v->refused[0])
		ts_json_str(j, "refused", v->refused);
	else
		ts_json_null(j, "refused");
	ts_json_bool(j, "server_rx", (v->server_flags & TS_KTS_F_RX) != 0);
	ts_json_bool(j, "server_tx", (v->server_flags & TS_KTS_F_TX) != 0);
	ts_json_u64(j, "probes", s->probes);
	ts_json_u64(j, "complete", s->complete);
	for (int i = 0; i < TS_PART_COUNT; i++) {
		const struct ts_minmax *m = &s->mm[i];
		if (m->n == 0) {
			ts_json_null(j, ts_part_key(i));
			continue;
		}
		ts_json_open(j, ts_part_key(i), '{');
		ts_json_num(j, "min", ms((double)m->min), 6);
		ts_json_num(j, "mean", ms(ts_minmax_mean(m)), 6);
		ts_json_num(j, "p50", ms((double)ts_hist_percentile(s->hist[i], 50)), 6);
		ts_json_num(j, "p99", ms((double)ts_hist_percentile(s->hist[i], 99)), 6);
		ts_json_num(j, "max", ms((double)m->max), 6);
		ts_json_u64(j, "count", m->n);
		ts_json_close(j, '}');
	}
	if (s->remainder.n > 0) {
		ts_json_open(j, "remainder", '{');
		ts_json_num(j, "min", ms((double)s->remainder.min), 6);
		ts_json_num(j, "mean", ms(ts_minmax_mean(&s->remainder)), 6);
		ts_json_num(j, "max", ms((double)s->remainder.max), 6);
		ts_json_u64(j, "count", s->remainder.n);
		ts_json_close(j, '}');
	} else {
		ts_json_null(j, "remainder");
	}
	ts_json_str(j, "note", v->note ? v->note : "");
	if (v->sample_every)
		ts_json_u64(j, "sample_every", v->sample_every);
	if (v->with_samples) {
		ts_json_open(j, "samples", '[');
		for (size_t i = 0; i < v->n_samples; i++)
			json_sample(j, &v->samples[i]);
		ts_json_close(j, ']');
	}
	ts_json_close(j, '}');
}
