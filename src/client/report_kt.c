/* The parts of the round trip in ping's summary: see report.h and
 * docs/measurement.md, "Kernel timestamps". */
#include "config.h"

#include "report.h"

#include <inttypes.h>

#include <tsecho/clock.h>
#include <tsecho/json.h>

static double ms(double ns)
{
	return ns / (double)TS_NS_PER_MS;
}

static const char *clock_note(const struct ts_ping_kt *kt)
{
	return kt->same_clock ? "both ends on one clock: exact"
			      : "network parts corrected by the clock offset estimate";
}

void ts_report_kt_text(FILE *out, const struct ts_ping_kt *kt)
{
	const struct ts_breakdown_stats *s = &kt->stats;

	fprintf(out,
		"kernel timestamps (software; %s): %" PRIu64 " probes, %" PRIu64
		" with every part\n",
		clock_note(kt), s->probes, s->complete);
	fprintf(out, "  %-18s %9s %9s %9s %9s %9s %7s\n", "part, ms", "min", "avg", "p50", "p99",
		"max", "probes");
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
			"over %" PRIu64 " probes\n",
			ts_round_zero(ms((double)s->remainder.min), 4),
			ts_round_zero(ms(ts_minmax_mean(&s->remainder)), 4),
			ts_round_zero(ms((double)s->remainder.max), 4), s->complete);
	fprintf(out, "  note: %s\n", ts_ping_kt_note(kt));
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

void ts_report_kt_json(struct ts_json *j, const struct ts_ping_kt *kt, int with_samples)
{
	const struct ts_breakdown_stats *s;

	if (!kt) {
		ts_json_null(j, "breakdown_ms");
		return;
	}
	s = &kt->stats;
	ts_json_open(j, "breakdown_ms", '{');
	ts_json_str(j, "clock", kt->same_clock ? "one host" : "offset corrected");
	if (kt->refused[0])
		ts_json_str(j, "refused", kt->refused);
	else
		ts_json_null(j, "refused");
	ts_json_bool(j, "server_rx", (kt->server_flags & TS_KTS_F_RX) != 0);
	ts_json_bool(j, "server_tx", (kt->server_flags & TS_KTS_F_TX) != 0);
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
	ts_json_str(j, "note", ts_ping_kt_note(kt));
	if (with_samples) {
		ts_json_open(j, "samples", '[');
		for (size_t i = 0; i < kt->n_kept; i++)
			json_sample(j, &kt->kept[i]);
		ts_json_close(j, ']');
	}
	ts_json_close(j, '}');
}
