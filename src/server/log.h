/* The server's event log on stdout: text like the seed's, or one JSON object
 * a line.  Per-peer events are rate-limited (a token bucket) so that a flood
 * cannot turn the server into a log writer; what was dropped is counted and
 * reported once a second.  Listening lines and the summary are never
 * dropped, even with -q. */
#ifndef TSECHO_SERVER_LOG_H
#define TSECHO_SERVER_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "metrics.h"

enum ts_log_format {
	TS_LOG_TEXT,
	TS_LOG_JSON,
};

struct ts_log {
	FILE *out;
	enum ts_log_format format;
	int quiet;
	double tokens;            /* lines that may be written now */
	int64_t refill_mono_ns;   /* when tokens were last topped up */
	int64_t reported_mono_ns; /* when a suppressed count was last written */
	uint64_t suppressed;      /* dropped since the last report */
};

/* Rate limit: a sustained LOG_RATE lines a second, bursts of LOG_BURST. */
#define TS_LOG_RATE_PER_S 50.0
#define TS_LOG_BURST 100.0

void ts_log_init(struct ts_log *log, FILE *out, enum ts_log_format format, int quiet);

/* The engine the server runs on, once, before the listening lines. */
/* The engine line: its name, its kind ("completion ring", "readiness
 * loop") and its setup, all plain text without quotes. */
void ts_log_engine(struct ts_log *log, const char *name, const char *kind, const char *setup);
void ts_log_listening(struct ts_log *log, const char *proto, const struct sockaddr *sa);
void ts_log_accept(struct ts_log *log, const struct sockaddr *peer);
void ts_log_close(struct ts_log *log, const struct sockaddr *peer, const char *reason);
void ts_log_message(struct ts_log *log, const struct sockaddr *peer, const char *proto,
		    int64_t wall_ns, const uint8_t *msg, size_t len);
/* A server-wide condition worth a line ("out of file descriptors"). */
void ts_log_event(struct ts_log *log, const char *what);
void ts_log_summary(struct ts_log *log, const struct ts_server_stats *st, int64_t uptime_ns);

/* Writes the count of suppressed lines if there is one and a second has
 * passed since the last such report. */
void ts_log_tick(struct ts_log *log, int64_t now_mono_ns);

#endif
