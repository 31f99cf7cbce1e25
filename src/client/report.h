/* The result of a ping session as one plain struct, and its two formats:
 * the text summary and the JSON document (docs/ping.md, schema 1).  All
 * times in nanoseconds here; the formats print milliseconds. */
#ifndef TSECHO_REPORT_H
#define TSECHO_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <tsecho/stats.h>
#include "ktimes.h"

struct ts_summary3 {
	int valid;
	double min_ns;
	double mean_ns;
	double max_ns;
};

struct ts_ping_report {
	const char *mode;      /* probe, text, connect, echo */
	const char *transport; /* tcp, udp */
	const char *target;    /* "127.0.0.1:12345" */
	uint64_t size;
	int64_t interval_ns;
	int synced;
	uint64_t sent;
	uint64_t received;
	uint64_t duplicates;
	uint64_t reordered;
	/* STAMP with a stateful reflector: lost on the way out / back. */
	int have_loss_split;
	uint64_t lost_forward;
	uint64_t lost_backward;
	int64_t duration_ns;

	int have_rtt;
	double rtt_min_ns, rtt_mean_ns, rtt_max_ns, rtt_stddev_ns;
	double rtt_p50_ns, rtt_p90_ns, rtt_p99_ns, rtt_p999_ns;
	struct ts_summary3 net_rtt;
	struct ts_summary3 residence;
	/* RFC 3550 jitter: the final estimate, and its mean and maximum over
	 * the run. */
	struct ts_jitter jitter_rtt;
	int have_dir_jitter;
	struct ts_jitter jitter_fwd, jitter_bwd;
	/* What the residence t3 - t2 spans: from the server's read of the
	 * probe in user space (tsecho's binary protocol), or from the
	 * reflector's kernel receive timestamp (STAMP). */
	int residence_from_kernel;
	int have_offset;
	double offset_ns, offset_bound_ns;
	int have_one_way;
	struct ts_summary3 fwd, bwd;
	double one_way_bound_ns;

	/* --kernel-timestamps: the parts of the round trip, or NULL. */
	const struct ts_ping_kt *kt;

	int with_samples; /* JSON: the samples array (maybe empty) */
	const struct ts_sample *samples;
	size_t n_samples;
};

/* Fills r's measurement fields from a session.  server_times: the mode
 * carries t2/t3 (probe, text); full: they are distinct (probe: residence
 * and per-direction jitter are meaningful). */
void ts_report_from_session(struct ts_ping_report *r, const struct ts_session *s, int server_times,
			    int full);

void ts_report_print_text(FILE *out, const struct ts_ping_report *r);
void ts_report_print_json(FILE *out, const struct ts_ping_report *r, const char *version);

/* The lost share of the probes sent, 0..100 (0 when none was sent). */
double ts_report_loss_pct(const struct ts_ping_report *r);
/* "binary protocol", "TCP handshake"... for a mode's name. */
const char *ts_report_mode_label(const char *mode);

/* --report (report_html.c): r as a self-contained HTML page
 * (lib/htmlreport.h), with the charts drawn from p's histogram, samples
 * (kept with --report) and send log; argv is the command's, for the page's
 * header.  Returns 0 or -errno (out is the caller's to close). */
struct ts_pinger;
/* failure: why the run failed (shown at the top of the page), or NULL. */
int ts_report_write_html(FILE *out, const struct ts_ping_report *r, const struct ts_pinger *p,
			 const char *failure, int argc, char **argv);

/* --report FILE for ping and bench: opened before the run (NULL after the
 * one-line error "tsecho CMD: cannot write FILE: reason"), and closed
 * after writing, write_rc being the writer's 0 or -errno.  Close returns 0,
 * or -1 after that same error line. */
FILE *ts_report_html_open(const char *cmd, const char *path);
int ts_report_html_close(FILE *f, int write_rc, const char *cmd, const char *path);

/* How the network parts of a breakdown stand to the two clocks. */
enum ts_kt_clock {
	TS_KT_ONE_CLOCK,   /* both ends on one host: exact */
	TS_KT_CORRECTED,   /* by the clock offset estimate (ping), +/- bound_ns */
	TS_KT_UNCORRECTED, /* the offset is in them, not estimated (bench) */
	TS_KT_SYNCED,      /* --synced: the clocks trusted as they are */
};

/* The parts of the round trip as ping and bench print them. */
struct ts_kt_view {
	const struct ts_breakdown_stats *stats;
	enum ts_kt_clock clock;
	double bound_ns;       /* TS_KT_CORRECTED: the offset estimate's error bound */
	const char *refused;   /* why the socket refused timestamps, or "" */
	uint32_t server_flags; /* TS_KTS_F_* of the server's replies */
	const char *note;      /* why a part may be missing, or "" */
	uint64_t sample_every; /* bench: one message in this many; 0: ping's probes */
	int with_samples;      /* JSON: samples[] */
	const struct ts_kt_sample *samples;
	size_t n_samples;
};

/* The parts of the round trip (kernel timestamps) as text lines, and as
 * the JSON member breakdown_ms (null for v NULL). */
void ts_report_kt_text(FILE *out, const struct ts_kt_view *v);
struct ts_json;
void ts_report_kt_json(struct ts_json *j, const struct ts_kt_view *v);

/* v with a value that rounds to zero at `decimals` places made +0, so
 * that a figure never prints as "-0.000". */
double ts_round_zero(double v, int decimals);

#endif
