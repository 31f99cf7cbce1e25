/* The round trip in parts: see breakdown.h and docs/measurement.md. */
#include "config.h"

#include <tsecho/breakdown.h>

#include <math.h>
#include <string.h>

/* Each part runs from one time to the next; which times, in order. */
static const struct {
	const char *name;
	const char *key;
	size_t from, to; /* offsets in struct ts_kts_probe */
	int sign;        /* how the offset enters: from client to server -1 */
} parts[TS_PART_COUNT] = {
	[TS_PART_CLIENT_SEND] = { "client send path", "client_send",
				  offsetof(struct ts_kts_probe, t1),
				  offsetof(struct ts_kts_probe, client_tx), 0 },
	[TS_PART_NET_OUT] = { "network out", "network_out",
			      offsetof(struct ts_kts_probe, client_tx),
			      offsetof(struct ts_kts_probe, server_rx), -1 },
	[TS_PART_SERVER_WAKE] = { "server wake-up", "server_wakeup",
				  offsetof(struct ts_kts_probe, server_rx),
				  offsetof(struct ts_kts_probe, t2), 0 },
	[TS_PART_SERVER_PROC] = { "server processing", "server_processing",
				  offsetof(struct ts_kts_probe, t2),
				  offsetof(struct ts_kts_probe, t3), 0 },
	[TS_PART_SERVER_SEND] = { "server send path", "server_send",
				  offsetof(struct ts_kts_probe, t3),
				  offsetof(struct ts_kts_probe, server_tx), 0 },
	[TS_PART_NET_BACK] = { "network back", "network_back",
			       offsetof(struct ts_kts_probe, server_tx),
			       offsetof(struct ts_kts_probe, client_rx), +1 },
	[TS_PART_CLIENT_WAKE] = { "client wake-up", "client_wakeup",
				  offsetof(struct ts_kts_probe, client_rx),
				  offsetof(struct ts_kts_probe, t4), 0 },
};

static int64_t time_at(const struct ts_kts_probe *p, size_t off)
{
	int64_t v;

	memcpy(&v, (const char *)p + off, sizeof v);
	return v;
}

void ts_breakdown_of(const struct ts_kts_probe *p, double offset_ns, struct ts_breakdown *out)
{
	int64_t sum = 0;

	memset(out, 0, sizeof *out);
	out->complete = 1;
	for (int i = 0; i < TS_PART_COUNT; i++) {
		int64_t from = time_at(p, parts[i].from), to = time_at(p, parts[i].to);

		if (from <= 0 || to <= 0) {
			out->complete = 0;
			continue;
		}
		/* Server time minus offset is client time: a part that
		 * crosses from client to server subtracts the offset, one
		 * that crosses back adds it. */
		out->part_ns[i] = to - from + (int64_t)llround(parts[i].sign * offset_ns);
		out->have[i] = 1;
		sum += out->part_ns[i];
	}
	out->remainder_ns = p->rtt_ns - sum;
}

const char *ts_part_name(enum ts_part part)
{
	return part < TS_PART_COUNT ? parts[part].name : "?";
}

const char *ts_part_key(enum ts_part part)
{
	return part < TS_PART_COUNT ? parts[part].key : "?";
}

int ts_breakdown_stats_init(struct ts_breakdown_stats *s)
{
	memset(s, 0, sizeof *s);
	for (int i = 0; i < TS_PART_COUNT; i++) {
		if (!(s->hist[i] = ts_hist_new())) {
			ts_breakdown_stats_fini(s);
			return -1;
		}
	}
	return 0;
}

void ts_breakdown_stats_fini(struct ts_breakdown_stats *s)
{
	for (int i = 0; i < TS_PART_COUNT; i++) {
		ts_hist_free(s->hist[i]);
		s->hist[i] = NULL;
	}
}

void ts_breakdown_stats_add(struct ts_breakdown_stats *s, const struct ts_breakdown *b)
{
	s->probes++;
	for (int i = 0; i < TS_PART_COUNT; i++) {
		if (!b->have[i])
			continue;
		ts_hist_record(s->hist[i], b->part_ns[i] > 0 ? b->part_ns[i] : 0);
		ts_minmax_add(&s->mm[i], b->part_ns[i]);
	}
	if (b->complete) {
		s->complete++;
		ts_minmax_add(&s->remainder, b->remainder_ns);
	}
}

static void minmax_merge(struct ts_minmax *dst, const struct ts_minmax *src)
{
	if (src->n == 0)
		return;
	if (dst->n == 0 || src->min < dst->min)
		dst->min = src->min;
	if (dst->n == 0 || src->max > dst->max)
		dst->max = src->max;
	dst->n += src->n;
	dst->sum += src->sum;
}

void ts_breakdown_stats_merge(struct ts_breakdown_stats *dst, const struct ts_breakdown_stats *src)
{
	for (int i = 0; i < TS_PART_COUNT; i++) {
		ts_hist_merge(dst->hist[i], src->hist[i]);
		minmax_merge(&dst->mm[i], &src->mm[i]);
	}
	minmax_merge(&dst->remainder, &src->remainder);
	dst->probes += src->probes;
	dst->complete += src->complete;
}
