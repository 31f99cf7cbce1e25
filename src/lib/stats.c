/* Session measurement: see stats.h and docs/measurement.md. */
#include "config.h"

#include <tsecho/stats.h>

#include <string.h>

void ts_jitter_add(struct ts_jitter *j, int64_t transit_ns)
{
	if (j->have_prev) {
		int64_t d = transit_ns - j->prev_transit_ns;
		double abs_d = d < 0 ? -(double)d : (double)d;
		j->jitter_ns += (abs_d - j->jitter_ns) / 16.0;
		j->n_estimates++;
		j->sum_ns += j->jitter_ns;
		if (j->jitter_ns > j->max_ns)
			j->max_ns = j->jitter_ns;
	}
	j->prev_transit_ns = transit_ns;
	j->have_prev = 1;
}

double ts_jitter_mean_ns(const struct ts_jitter *j)
{
	return j->n_estimates ? j->sum_ns / (double)j->n_estimates : 0.0;
}

void ts_minmax_add(struct ts_minmax *m, int64_t v)
{
	if (m->n == 0 || v < m->min)
		m->min = v;
	if (m->n == 0 || v > m->max)
		m->max = v;
	m->n++;
	m->sum += (double)v;
}

double ts_minmax_mean(const struct ts_minmax *m)
{
	return m->n ? m->sum / (double)m->n : 0.0;
}

double ts_offset_ns(const struct ts_sample *s)
{
	/* Differences first: each fits in 64 bits, their sum may not. */
	double fwd = (double)(s->t2_wall_ns - s->t1_wall_ns);
	double bwd = (double)(s->t3_wall_ns - s->t4_wall_ns);
	return (fwd + bwd) / 2.0;
}

int64_t ts_residence_ns(const struct ts_sample *s)
{
	int64_t r = s->t3_wall_ns - s->t2_wall_ns;
	return r > 0 ? r : 0;
}

int64_t ts_net_rtt_ns(const struct ts_sample *s)
{
	int64_t n = s->rtt_ns - ts_residence_ns(s);
	return n > 0 ? n : 0;
}

int ts_session_init(struct ts_session *s)
{
	memset(s, 0, sizeof *s);
	s->rtt = ts_hist_new();
	return s->rtt ? 0 : -1;
}

void ts_session_fini(struct ts_session *s)
{
	ts_hist_free(s->rtt);
	s->rtt = NULL;
}

static int seen_get(const struct ts_session *s, uint64_t seq)
{
	size_t bit = (size_t)(seq % TS_SEQ_WINDOW);
	return (s->seen[bit / 8] >> (bit % 8)) & 1;
}

static void seen_set(struct ts_session *s, uint64_t seq, int on)
{
	size_t bit = (size_t)(seq % TS_SEQ_WINDOW);

	if (on)
		s->seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
	else
		s->seen[bit / 8] &= (uint8_t) ~(1u << (bit % 8));
}

void ts_session_sent(struct ts_session *s, uint64_t seq)
{
	/* Reusing the window slot forgets the probe sent TS_SEQ_WINDOW
	 * earlier: a reply to that one is then UNKNOWN. */
	seen_set(s, seq, 0);
	s->sent++;
	if (seq >= s->next_seq)
		s->next_seq = seq + 1;
}

static int in_window(const struct ts_session *s, uint64_t seq)
{
	return seq < s->next_seq && s->next_seq - seq <= TS_SEQ_WINDOW;
}

int ts_session_answered(const struct ts_session *s, uint64_t seq)
{
	return in_window(s, seq) && seen_get(s, seq);
}

enum ts_reply_kind ts_session_reply(struct ts_session *s, const struct ts_sample *smp)
{
	if (!in_window(s, smp->seq))
		return TS_REPLY_UNKNOWN;
	if (seen_get(s, smp->seq)) {
		s->duplicates++;
		return TS_REPLY_DUPLICATE;
	}
	seen_set(s, smp->seq, 1);
	/* Reordered: it arrives after a probe sent later than it. */
	if (s->received > 0 && smp->seq < s->highest_rx)
		s->reordered++;
	if (s->received == 0 || smp->seq > s->highest_rx)
		s->highest_rx = smp->seq;
	s->received++;

	ts_hist_record(s->rtt, smp->rtt_ns);
	ts_jitter_add(&s->jit_rtt, smp->rtt_ns);
	if (smp->server_times) {
		int64_t net_ns = ts_net_rtt_ns(smp);
		int64_t fwd_ns = smp->t2_wall_ns - smp->t1_wall_ns;
		int64_t bwd_ns = smp->t4_wall_ns - smp->t3_wall_ns;

		ts_minmax_add(&s->net_rtt, net_ns);
		ts_minmax_add(&s->residence, ts_residence_ns(smp));
		ts_minmax_add(&s->fwd_raw, fwd_ns);
		ts_minmax_add(&s->bwd_raw, bwd_ns);
		ts_jitter_add(&s->jit_fwd, fwd_ns);
		ts_jitter_add(&s->jit_bwd, bwd_ns);
		if (!s->have_best || net_ns < s->best_net_rtt_ns) {
			s->have_best = 1;
			s->best_net_rtt_ns = net_ns;
			s->best_offset_ns = ts_offset_ns(smp);
		}
	}
	return TS_REPLY_NEW;
}

int ts_session_offset(const struct ts_session *s, double *offset_ns, double *bound_ns)
{
	if (!s->have_best)
		return 0;
	*offset_ns = s->best_offset_ns;
	*bound_ns = (double)s->best_net_rtt_ns / 2.0;
	return 1;
}
