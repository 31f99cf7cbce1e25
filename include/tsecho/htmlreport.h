/* A run's report as one self-contained HTML page (--report FILE.html):
 * a header (command line, host, date, version), the summary as tables,
 * and three charts drawn as inline SVG: latency over time, the percentile
 * spectrum on HdrHistogram's log "1/(1-p)" scale, and the histogram with
 * log-spaced buckets; with the round trip's parts, two more: the parts
 * stacked over time and a bar of their medians.  No scripts, no external
 * resources, no web fonts: the page opens from a file with no network,
 * and prints.
 *
 * The writer is a formatter over the plain struct below; the commands
 * fill it (client/report_html.c, bench/result.c).  It never prints to
 * stdout or stderr and never exits. */
#ifndef TSECHO_HTMLREPORT_H
#define TSECHO_HTMLREPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <tsecho/hist.h>

/* One line of the summary.  value NULL: label starts a new section (its
 * own table under that heading). */
struct ts_html_row {
	const char *label;
	const char *value;
};

/* ping: one probe.  sent_ns is its send time since the first probe's;
 * rtt_ns is meaningless when lost. */
struct ts_html_probe {
	int64_t sent_ns;
	int64_t rtt_ns;
	int lost;
};

/* bench: one progress interval, [end_ns - length_ns, end_ns] since the
 * start of the run.  p50/p99 are meaningless when messages is 0. */
struct ts_html_interval {
	int64_t end_ns;
	int64_t length_ns;
	uint64_t messages;
	double messages_per_s;
	int64_t p50_ns;
	int64_t p99_ns;
};

/* ping --kernel-timestamps: each round trip in parts (breakdown.h), for
 * a stacked chart of the parts over time and a bar of their medians.
 * part[0] is the bottom of the stack.  A probe's part_ns[i] means nothing
 * where have[i] is 0 (it could not be measured: left out of the chart,
 * never drawn as 0); a negative one is drawn as 0. */
#define TS_HTML_PARTS_MAX 8

struct ts_html_part {
	const char *name; /* "client send path" */
	uint64_t count;   /* probes that had it; 0: unavailable */
	int64_t p50_ns;   /* meaningless when count is 0 */
};

struct ts_html_part_probe {
	int64_t sent_ns; /* since the first probe's */
	int64_t part_ns[TS_HTML_PARTS_MAX];
	uint8_t have[TS_HTML_PARTS_MAX];
};

struct ts_html_breakdown {
	size_t n_parts; /* at most TS_HTML_PARTS_MAX */
	struct ts_html_part part[TS_HTML_PARTS_MAX];
	const struct ts_html_part_probe *probes;
	size_t n_probes;
};

enum ts_html_series {
	TS_HTML_SERIES_NONE,
	TS_HTML_SERIES_PROBES,    /* ping: probes[] */
	TS_HTML_SERIES_INTERVALS, /* bench: intervals[] */
};

struct ts_html_report {
	const char *title;   /* "tsecho ping 127.0.0.1:12345" */
	const char *command; /* the command line, as typed (ts_html_command_line) */
	const char *host;    /* where it ran (gethostname) */
	const char *version; /* tsecho's */
	int64_t generated_wall_ns;
	const struct ts_html_row *rows;
	size_t n_rows;
	enum ts_html_series series;
	const struct ts_html_probe *probes;
	size_t n_probes;
	const struct ts_html_interval *intervals;
	size_t n_intervals;
	/* The latency distribution; NULL or empty: nothing to chart. */
	const struct ts_hist *hist;
	const char *hist_label; /* "round trip", "latency" */
	/* Optional second distribution on the spectrum (bench's open loop:
	 * the uncorrected latency), NULL when there is none. */
	const struct ts_hist *hist_alt;
	const char *hist_alt_label;
	/* The round trip's parts (ping --kernel-timestamps), or NULL: two
	 * more charts when set. */
	const struct ts_html_breakdown *breakdown;
	const char *note; /* optional paragraph under the summary, or NULL */
	/* How the run ended when not as asked ("failed: ...", "interrupted
	 * after ..."), shown above the summary, or NULL. */
	const char *status;

	/* Storage behind command and host when ts_html_report_begin set them. */
	char *command_buf;
	char host_buf[256];
};

/* Starts r for a command's page: zeroes it and sets its title, version,
 * generation time, command line ("tsecho" and argv[0..argc), allocated)
 * and host name ("unknown" when it has none).  Returns 0, or -ENOMEM;
 * either way ts_html_report_end frees what it took. */
int ts_html_report_begin(struct ts_html_report *r, const char *title, const char *version, int argc,
			 char *const argv[]);
void ts_html_report_end(struct ts_html_report *r);

/* A table's rows with room for their values, for the commands to fill:
 * at most TS_HTML_ROWS_MAX rows (more are left out), each value at most
 * TS_HTML_VALUE_MAX - 1 bytes (truncated).  Labels are not copied: they
 * must outlive the report (string literals). */
#define TS_HTML_ROWS_MAX 64
#define TS_HTML_VALUE_MAX 96

struct ts_html_rows {
	struct ts_html_row row[TS_HTML_ROWS_MAX];
	char value[TS_HTML_ROWS_MAX][TS_HTML_VALUE_MAX];
	size_t n;
};

void ts_html_rows_section(struct ts_html_rows *rs, const char *label);
void ts_html_rows_add(struct ts_html_rows *rs, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A row whose value is not copied (so not truncated either): it must
 * outlive the report, as labels do. */
void ts_html_rows_text(struct ts_html_rows *rs, const char *label, const char *value);

/* Writes the page to out.  Every string in r is escaped.  Returns 0, or
 * -errno when writing failed (-EIO when the stream says only that). */
int ts_html_report_write(FILE *out, const struct ts_html_report *r);

/* The pieces with logic, for tests. */

/* s with & < > " ' escaped, into buf (cap bytes including the NUL;
 * truncated, never mid-entity).  Returns the length the whole of it
 * needs, as snprintf does. */
size_t ts_html_escape(char *buf, size_t cap, const char *s);

/* program and argv[0..argc) joined with spaces, each argument quoted for
 * a POSIX shell when it needs it ('it'\''s'), so the line can be pasted
 * back.  Into buf (cap bytes, NUL included, truncated); returns the
 * length the whole line needs. */
size_t ts_html_command_line(char *buf, size_t cap, const char *program, int argc,
			    char *const argv[]);

/* The step of "nice" ticks (1, 2 or 5 times a power of ten) that cuts
 * range (> 0) into at most max_ticks (>= 1) intervals; 1 for a range
 * <= 0 or not finite. */
double ts_html_nice_step(double range, int max_ticks);

/* Decimals that print every multiple of a nice step exactly (0..9). */
int ts_html_step_decimals(double step);

/* The unit for latencies up to max_ns: "µs" below 1 ms, "ms" below 10 s,
 * else "s"; *ns_per_unit is its size in ns. */
const char *ts_html_time_unit(double max_ns, double *ns_per_unit);

/* HdrHistogram's percentile axis: fraction f (0..1) at x = log10(1/(1-f)),
 * so 90% is at 1, 99% at 2, 99.9% at 3; clamped to [0, x_max] (f >= 1 is
 * x_max). */
double ts_html_pct_x(double f, double x_max);

/* The right end of that axis for n values: the number of nines that
 * shows the n-th largest, ceil(log10(n)), at least 1 and at most 12. */
int ts_html_pct_x_max(uint64_t n);

/* The label of x = nines on that axis: 0 "0%", 1 "90%", 2 "99%", 3
 * "99.9%", 4 "99.99%"...  Into buf; returns snprintf's. */
int ts_html_pct_label(char *buf, size_t cap, int nines);

#endif
