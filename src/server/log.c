/* The server's event log: see log.h. */
#include "config.h"

#include "log.h"

#include <inttypes.h>

#include <tsecho/clock.h>
#include <tsecho/net.h>
#include <tsecho/text.h>

/* How much of a message a log line shows. */
enum { LOG_MSG_MAX = 512 };

void ts_log_init(struct ts_log *log, FILE *out, enum ts_log_format format, int quiet)
{
	log->out = out;
	log->format = format;
	log->quiet = quiet;
	log->tokens = TS_LOG_BURST;
	log->refill_mono_ns = ts_mono_ns();
	log->reported_mono_ns = log->refill_mono_ns;
	log->suppressed = 0;
}

/* Takes a token for one per-peer line; false when the line must be
 * dropped (quiet, or over the rate). */
static int take_token(struct ts_log *log)
{
	int64_t now_mono_ns;

	if (log->quiet)
		return 0;
	now_mono_ns = ts_mono_ns();
	log->tokens +=
	    (double)(now_mono_ns - log->refill_mono_ns) / TS_NS_PER_S * TS_LOG_RATE_PER_S;
	log->refill_mono_ns = now_mono_ns;
	if (log->tokens > TS_LOG_BURST)
		log->tokens = TS_LOG_BURST;
	if (log->tokens < 1.0) {
		log->suppressed++;
		return 0;
	}
	log->tokens -= 1.0;
	return 1;
}

/* Writes s as a JSON string.  s is printable ASCII (escaped already). */
static void put_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* A line is written under the stream's lock, in one piece, though the
 * reactors of --threads share the stream. */
static void line_begin(struct ts_log *log)
{
	flockfile(log->out);
}

static void line_end(struct ts_log *log)
{
	fputc('\n', log->out);
	/* Every line goes out at once: tests and log collectors read it
	 * live, and the rate limit keeps the cost bounded. */
	fflush(log->out);
	funlockfile(log->out);
}

void ts_log_engine(struct ts_log *log, const char *name, const char *kind, const char *setup)
{
	line_begin(log);
	if (log->format == TS_LOG_JSON)
		fprintf(log->out,
			"{\"event\":\"engine\",\"name\":\"%s\",\"kind\":\"%s\",\"setup\":\"%s\"}",
			name, kind, setup);
	else
		fprintf(log->out, "engine %s (%s, %s)", name, kind, setup);
	line_end(log);
}

void ts_log_listening(struct ts_log *log, const char *proto, const struct sockaddr *sa)
{
	char addr[TS_ADDR_TEXT_MAX];

	ts_net_addr_text(sa, addr, sizeof addr);
	line_begin(log);
	if (log->format == TS_LOG_JSON)
		fprintf(log->out, "{\"event\":\"listening\",\"proto\":\"%s\",\"addr\":\"%s\"}",
			proto, addr);
	else
		fprintf(log->out, "listening on %s %s", proto, addr);
	line_end(log);
}

static void peer_event(struct ts_log *log, const struct sockaddr *peer, const char *event,
		       const char *reason)
{
	char ip[TS_ADDR_TEXT_MAX];
	unsigned port;

	if (!take_token(log))
		return;
	ts_net_addr_ip(peer, ip, sizeof ip, &port);
	line_begin(log);
	if (log->format == TS_LOG_JSON) {
		fprintf(log->out, "{\"event\":\"%s\",\"ip\":\"%s\",\"port\":%u", event, ip, port);
		if (reason)
			fprintf(log->out, ",\"reason\":\"%s\"", reason);
		fputc('}', log->out);
	} else if (reason) {
		/* The seed prints a Python tuple; keep its shape. */
		fprintf(log->out, "Closed connection from ('%s', %u): %s", ip, port, reason);
	} else {
		fprintf(log->out, "Accepted connection from ('%s', %u)", ip, port);
	}
	line_end(log);
}

void ts_log_accept(struct ts_log *log, const struct sockaddr *peer)
{
	peer_event(log, peer, "accept", NULL);
}

void ts_log_close(struct ts_log *log, const struct sockaddr *peer, const char *reason)
{
	peer_event(log, peer, "close", reason);
}

void ts_log_message(struct ts_log *log, const struct sockaddr *peer, const char *proto,
		    int64_t wall_ns, const uint8_t *msg, size_t len)
{
	char addr[TS_ADDR_TEXT_MAX];
	char when[32];
	char text[LOG_MSG_MAX];

	if (!take_token(log))
		return;
	ts_net_addr_text(peer, addr, sizeof addr);
	ts_format_wall(when, sizeof when, wall_ns);
	ts_text_escape(text, sizeof text, msg, len);
	line_begin(log);
	if (log->format == TS_LOG_JSON) {
		fprintf(log->out,
			"{\"event\":\"message\",\"proto\":\"%s\",\"peer\":\"%s\",\"time\":%s,"
			"\"message\":",
			proto, addr, when);
		put_json_str(log->out, text);
		fputc('}', log->out);
	} else {
		fprintf(log->out, "[%s] %s:%s", addr, when, text);
	}
	line_end(log);
}

void ts_log_event(struct ts_log *log, const char *what)
{
	if (!take_token(log))
		return;
	line_begin(log);
	if (log->format == TS_LOG_JSON) {
		fputs("{\"event\":\"notice\",\"what\":", log->out);
		put_json_str(log->out, what);
		fputc('}', log->out);
	} else {
		fputs(what, log->out);
	}
	line_end(log);
}

void ts_log_summary(struct ts_log *log, const struct ts_server_stats *st, int64_t uptime_ns)
{
	double uptime_s = (double)uptime_ns / TS_NS_PER_S;
	struct ts_server_totals t = ts_server_stats_totals(st);

	line_begin(log);
	if (log->format == TS_LOG_JSON)
		fprintf(log->out,
			"{\"event\":\"summary\",\"connections\":%" PRIu64 ",\"rejected\":%" PRIu64
			",\"messages\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
			",\"errors\":%" PRIu64 ",\"uptime_s\":%.2f}",
			st->conns_total, t.rejected, t.messages, t.bytes_in, t.bytes_out, t.errors,
			uptime_s);
	else
		fprintf(log->out,
			"summary: connections %" PRIu64 ", rejected %" PRIu64 ", messages %" PRIu64
			", bytes in %" PRIu64 ", bytes out %" PRIu64 ", errors %" PRIu64
			", uptime %.2f s",
			st->conns_total, t.rejected, t.messages, t.bytes_in, t.bytes_out, t.errors,
			uptime_s);
	line_end(log);
}

void ts_log_tick(struct ts_log *log, int64_t now_mono_ns)
{
	if (log->suppressed == 0 || now_mono_ns - log->reported_mono_ns < TS_NS_PER_S)
		return;
	line_begin(log);
	if (log->format == TS_LOG_JSON)
		fprintf(log->out, "{\"event\":\"suppressed\",\"lines\":%" PRIu64 "}",
			log->suppressed);
	else
		fprintf(log->out, "(%" PRIu64 " log lines suppressed)", log->suppressed);
	line_end(log);
	log->suppressed = 0;
	log->reported_mono_ns = now_mono_ns;
}
