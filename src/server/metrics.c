/* The server's counters and its metrics page: see metrics.h. */
#include "config.h"

#include "metrics.h"

#include <string.h>

#include <tsecho/clock.h>
#include <tsecho/httpd.h>

static const double residence_bounds_s[TS_RESIDENCE_BOUNDS] = {
	1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 1e-2, 1e-1, 1,
};

static const char *const proto_names[TS_STAT_PROTOS] = { "text", "binary", "stamp", "echo" };
static const char *const transport_names[TS_STAT_TRANSPORTS] = { "tcp", "udp" };
static const char *const error_names[TS_ERR_KINDS] = { "malformed", "io", "dropped", "resource" };
static const char *const limit_names[TS_LIMITS] = {
	"max_clients",     "fds",        "per_source", "max_message", "max_output",  "idle_timeout",
	"message_timeout", "stamp_rate", "udp_rate",   "udp_budget",  "loop_source", "loop_reply",
};

void ts_server_stats_init(struct ts_server_stats *st, int64_t start_wall_ns)
{
	memset(st, 0, sizeof *st);
	st->residence.bounds_s = residence_bounds_s;
	st->residence.n_bounds = TS_RESIDENCE_BOUNDS;
	st->residence.counts = st->residence_counts;
	st->start_wall_ns = start_wall_ns;
}

struct ts_server_totals ts_server_stats_totals(const struct ts_server_stats *st)
{
	struct ts_server_totals t = { 0 };

	for (int p = 0; p < TS_STAT_PROTOS; p++) {
		for (int x = 0; x < TS_STAT_TRANSPORTS; x++) {
			t.messages += st->traffic[p][x].messages;
			t.bytes_in += st->traffic[p][x].bytes_in;
			t.bytes_out += st->traffic[p][x].bytes_out;
		}
	}
	for (int k = 0; k < TS_ERR_KINDS; k++)
		t.errors += st->errors[k];
	for (int r = 0; r < TS_LIMIT_ACCEPT_REASONS; r++)
		t.rejected += st->limits[r];
	return t;
}

void ts_server_stats_add(struct ts_server_stats *dst, const struct ts_server_stats *src)
{
	dst->conns_total += src->conns_total;
	dst->conns_current += src->conns_current;
	for (int p = 0; p < TS_STAT_PROTOS; p++) {
		for (int x = 0; x < TS_STAT_TRANSPORTS; x++) {
			dst->traffic[p][x].messages += src->traffic[p][x].messages;
			dst->traffic[p][x].bytes_in += src->traffic[p][x].bytes_in;
			dst->traffic[p][x].bytes_out += src->traffic[p][x].bytes_out;
		}
	}
	for (int k = 0; k < TS_ERR_KINDS; k++)
		dst->errors[k] += src->errors[k];
	for (int k = 0; k < TS_LIMITS; k++)
		dst->limits[k] += src->limits[k];
	for (int b = 0; b <= TS_RESIDENCE_BOUNDS; b++)
		dst->residence_counts[b] += src->residence_counts[b];
	dst->residence.count += src->residence.count;
	dst->residence.sum_s += src->residence.sum_s;
}

void ts_server_stats_copy(struct ts_server_stats *dst, const struct ts_server_stats *src)
{
	ts_server_stats_init(dst, src->start_wall_ns);
	ts_server_stats_add(dst, src);
}

void ts_server_stats_residence(struct ts_server_stats *st, int64_t t2_wall_ns, int64_t t3_wall_ns)
{
	int64_t d = t3_wall_ns - t2_wall_ns;

	/* A wall clock stepped back between t2 and t3 gives no residence. */
	if (d >= 0)
		ts_prom_hist_observe(&st->residence, (double)d / TS_NS_PER_S);
}

enum traffic_field { F_MESSAGES, F_BYTES_IN, F_BYTES_OUT };

static uint64_t traffic_value(const struct ts_traffic *t, enum traffic_field f)
{
	return f == F_MESSAGES ? t->messages : f == F_BYTES_IN ? t->bytes_in : t->bytes_out;
}

/* One family with a sample per protocol and transport. */
static void traffic_family(struct ts_prom *p, const struct ts_server_stats *st, const char *name,
			   const char *help, enum traffic_field field)
{
	ts_prom_family(p, name, "counter", help);
	for (int i = 0; i < TS_STAT_PROTOS; i++) {
		for (int x = 0; x < TS_STAT_TRANSPORTS; x++) {
			char labels[64] = "";

			/* STAMP is UDP only: no empty tcp series. */
			if (i == TS_STAT_STAMP && x == TS_STAT_TCP)
				continue;
			ts_prom_label(labels, sizeof labels, "protocol", proto_names[i]);
			ts_prom_label(labels, sizeof labels, "transport", transport_names[x]);
			ts_prom_sample_u64(p, name, labels,
					   traffic_value(&st->traffic[i][x], field));
		}
	}
}

/* One family with a sample per name of a labelled array of counters. */
static void labelled_family(struct ts_prom *p, const char *name, const char *help,
			    const char *label, const char *const *names, const uint64_t *values,
			    int n)
{
	ts_prom_family(p, name, "counter", help);
	for (int i = 0; i < n; i++) {
		char labels[64] = "";
		ts_prom_label(labels, sizeof labels, label, names[i]);
		ts_prom_sample_u64(p, name, labels, values[i]);
	}
}

static void connection_families(struct ts_prom *p, const struct ts_server_stats *st)
{
	ts_prom_family(p, "tsecho_server_connections", "gauge", "Open TCP connections.");
	ts_prom_sample_u64(p, "tsecho_server_connections", NULL, st->conns_current);
	ts_prom_family(p, "tsecho_server_connections_total", "counter",
		       "TCP connections accepted.");
	ts_prom_sample_u64(p, "tsecho_server_connections_total", NULL, st->conns_total);
	labelled_family(p, "tsecho_server_connections_rejected_total",
			"TCP connections closed at accept, by reason.", "reason", limit_names,
			st->limits, TS_LIMIT_ACCEPT_REASONS);
}

static void http_families(struct ts_prom *p, const struct ts_httpd_stats *http)
{
	const char *names[] = { "ok", "error", "rejected", "timeout", "evicted" };
	uint64_t values[] = { http->ok, http->errors, http->rejected, http->timeouts,
			      http->evicted };

	labelled_family(p, "tsecho_server_metrics_requests_total",
			"Requests to this metrics endpoint, by outcome.", "outcome", names, values,
			5);
}

int ts_server_metrics_render(struct ts_buf *body, const struct ts_server_stats *st,
			     const struct ts_httpd_stats *http)
{
	struct ts_prom p;

	ts_prom_begin(&p, body, TS_HTTPD_BODY_MAX);
	ts_prom_build_info(&p, PACKAGE_VERSION);
	ts_prom_family(&p, "tsecho_server_start_time_seconds", "gauge",
		       "When the server started, seconds since the Unix epoch.");
	ts_prom_sample(&p, "tsecho_server_start_time_seconds", NULL,
		       (double)st->start_wall_ns / TS_NS_PER_S);
	connection_families(&p, st);
	traffic_family(&p, st, "tsecho_server_messages_total", "Messages answered.", F_MESSAGES);
	traffic_family(&p, st, "tsecho_server_received_bytes_total", "Bytes received.", F_BYTES_IN);
	traffic_family(&p, st, "tsecho_server_sent_bytes_total", "Bytes sent.", F_BYTES_OUT);
	labelled_family(&p, "tsecho_server_errors_total", "Errors, by kind.", "kind", error_names,
			st->errors, TS_ERR_KINDS);
	labelled_family(&p, "tsecho_server_limit_hits_total",
			"Times a configured limit was reached, by limit.", "limit", limit_names,
			st->limits, TS_LIMITS);
	ts_prom_family(&p, "tsecho_server_residence_seconds", "histogram",
		       "Server residence time t3 - t2 of binary probes and STAMP packets.");
	ts_prom_histogram(&p, "tsecho_server_residence_seconds", NULL, &st->residence);
	if (http)
		http_families(&p, http);
	return ts_prom_end(&p);
}
