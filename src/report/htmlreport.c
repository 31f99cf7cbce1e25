/* The HTML report page: see htmlreport.h.  The charts are htmlchart.c. */
#include "config.h"

#include <tsecho/htmlreport.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include "htmlchart.h"

/* Light, quiet, and the same on paper: system fonts only, no background
 * when printed, charts never split over pages.  Under 700px one column,
 * and charts keep a readable size and scroll sideways. */
static const char style[] =
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#f4f5f7;color:#1f2933;"
    "font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,"
    "sans-serif}\n"
    "main{max-width:1160px;margin:0 auto;padding:24px 20px 40px}\n"
    "h1{font-size:22px;font-weight:600;margin:0 0 14px}\n"
    "h2{font-size:16px;font-weight:600;margin:0 0 10px}\n"
    ".card{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:18px 22px;"
    "margin:0 0 16px}\n"
    ".meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}\n"
    ".meta dt{color:#616e7c}\n"
    ".meta dd{margin:0;min-width:0}\n"
    "code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,\"Liberation Mono\","
    "monospace;background:#f4f5f7;padding:2px 6px;border-radius:4px;"
    "overflow-wrap:anywhere}\n"
    ".tables{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));"
    "gap:4px 32px;align-items:start}\n"
    "@media (min-width:700px){table.wide{grid-column:span 2}}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "caption{text-align:left;font-weight:600;color:#3e4c59;padding:8px 0 4px}\n"
    "th,td{padding:3px 0;border-top:1px solid #eceef1;text-align:left;font-weight:400}\n"
    "th{color:#52606d;padding-right:12px}\n"
    "td{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "td.text{text-align:left;white-space:normal}\n"
    ".note{color:#616e7c;font-size:13px;margin:12px 0 0}\n"
    ".status{font-weight:600;border:2px solid #9b2c2c;color:#9b2c2c;padding:6px 10px;"
    "margin:0 0 12px}\n"
    ".charts{display:grid;grid-template-columns:1fr 1fr;gap:0 16px}\n"
    ".chart.wide{grid-column:1/-1}\n"
    ".chart{min-width:0}\n"
    "figcaption{color:#616e7c;font-size:13px;margin-top:6px}\n"
    ".empty{color:#616e7c;font-style:italic;margin:24px 0}\n"
    "svg{display:block;width:100%;height:auto}\n"
    "svg text{font-size:13px;fill:#52606d}\n"
    "svg text.title{fill:#3e4c59}\n"
    ".grid{stroke:#eceef1;stroke-width:1}\n"
    ".axis{fill:none;stroke:#9aa5b1;stroke-width:1}\n"
    ".line{fill:none;stroke-width:2;stroke-linejoin:round}\n"
    ".line.s1{stroke:#2563eb}.line.s2{stroke:#d97706}\n"
    ".dots.s1{fill:#2563eb}.dots.s2{fill:#d97706}\n"
    ".band{fill:none;stroke:#93b4f5;stroke-width:2.5}\n"
    ".lost{fill:none;stroke:#dc2626;stroke-width:2}\n"
    ".bars rect{fill:#2563eb;fill-opacity:.85}\n"
    /* The parts of the round trip: Okabe and Ito's colours, which stay
     * apart in every common colour blindness; every one takes black text. */
    ".p0{fill:#e69f00}.p1{fill:#56b4e9}.p2{fill:#009e73}.p3{fill:#f0e442}"
    ".p4{fill:#0072b2}.p5{fill:#d55e00}.p6{fill:#cc79a7}.p7{fill:#999}\n"
    ".stack rect{stroke:#fff;stroke-width:1}\n"
    ".cut{fill:none;stroke:#1f2933;stroke-width:2}\n"
    "svg text.num{fill:#000;font-size:11px}\n"
    "footer{color:#7b8794;font-size:12px;text-align:center;margin-top:8px}\n"
    "@media (max-width:700px){main{padding:12px 8px}.card{padding:14px 12px}"
    ".charts{grid-template-columns:1fr}.plot{overflow-x:auto}svg{min-width:480px}"
    ".wide svg{min-width:720px}"
    ".meta{grid-template-columns:1fr}.meta dt{margin-top:6px}td{white-space:normal}}\n"
    "@media print{body{background:none;color:#000}main{max-width:none;padding:0}"
    ".card{border:none;border-radius:0;padding:0;margin:0 0 18px}code{background:none}"
    ".charts{display:block}figure,table,svg{break-inside:avoid;page-break-inside:avoid}}\n";

static const char *entity(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		/* Control characters are not text: one replacement mark. */
		return (unsigned char)c < 0x20 && c != '\t' && c != '\n' ? "&#xFFFD;" : NULL;
	}
}

size_t ts_html_escape(char *buf, size_t cap, const char *s)
{
	size_t need = 0, len = 0;
	int full = cap == 0;

	for (; *s; s++) {
		const char *e = entity(*s);
		size_t n = e ? strlen(e) : 1;
		if (!full && len + n < cap) {
			memcpy(buf + len, e ? e : s, n);
			len += n;
		} else {
			full = 1;
		}
		need += n;
	}
	if (cap > 0)
		buf[len] = '\0';
	return need;
}

void ts_html_put(FILE *out, const char *s)
{
	for (; *s; s++) {
		const char *e = entity(*s);
		if (e)
			fputs(e, out);
		else
			fputc(*s, out);
	}
}

/* Appends n bytes of s to buf at *len, as far as cap allows (a NUL kept). */
static void append(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	if (*len < cap) {
		size_t room = cap - 1 - *len;
		memcpy(buf + *len, s, n < room ? n : room);
		buf[*len + (n < room ? n : room)] = '\0';
	}
	*len += n;
}

static int shell_safe(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!strchr(
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-",
			*s))
			return 0;
	return 1;
}

size_t ts_html_command_line(char *buf, size_t cap, const char *program, int argc,
			    char *const argv[])
{
	size_t len = 0;

	if (cap > 0)
		buf[0] = '\0';
	append(buf, cap, &len, program, strlen(program));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		append(buf, cap, &len, " ", 1);
		if (shell_safe(a)) {
			append(buf, cap, &len, a, strlen(a));
			continue;
		}
		append(buf, cap, &len, "'", 1);
		for (; *a; a++) {
			if (*a == '\'')
				append(buf, cap, &len, "'\\''", 4);
			else
				append(buf, cap, &len, a, 1);
		}
		append(buf, cap, &len, "'", 1);
	}
	return len;
}

double ts_html_nice_step(double range, int max_ticks)
{
	double raw, mag, f;

	if (!(range > 0) || !isfinite(range) || max_ticks < 1)
		return 1;
	raw = range / max_ticks;
	mag = pow(10.0, floor(log10(raw)));
	f = raw / mag;
	if (f <= 1 + 1e-9)
		return mag;
	if (f <= 2 + 1e-9)
		return 2 * mag;
	if (f <= 5 + 1e-9)
		return 5 * mag;
	return 10 * mag;
}

int ts_html_step_decimals(double step)
{
	int d;

	if (!(step > 0) || !isfinite(step))
		return 0;
	d = -(int)floor(log10(step) + 1e-9);
	return d < 0 ? 0 : d > 9 ? 9 : d;
}

const char *ts_html_time_unit(double max_ns, double *ns_per_unit)
{
	if (max_ns < 1e6) {
		*ns_per_unit = 1e3;
		return "\u00b5s";
	}
	if (max_ns < 1e10) {
		*ns_per_unit = 1e6;
		return "ms";
	}
	*ns_per_unit = 1e9;
	return "s";
}

double ts_html_pct_x(double f, double x_max)
{
	double x;

	if (!(f < 1))
		return x_max;
	if (f <= 0)
		return 0;
	x = -log10(1.0 - f);
	return x > x_max ? x_max : x;
}

int ts_html_pct_x_max(uint64_t n)
{
	int k;

	if (n <= 10)
		return 1;
	k = (int)ceil(log10((double)n) - 1e-12);
	return k > 12 ? 12 : k;
}

int ts_html_pct_label(char *buf, size_t cap, int nines)
{
	char frac[16] = "";

	if (nines <= 0)
		return snprintf(buf, cap, "0%%");
	if (nines == 1)
		return snprintf(buf, cap, "90%%");
	if (nines > 14)
		nines = 14;
	for (int i = 0; i < nines - 2; i++)
		frac[i] = '9';
	return snprintf(buf, cap, "99%s%s%%", nines > 2 ? "." : "", frac);
}

void ts_html_rows_section(struct ts_html_rows *rs, const char *label)
{
	if (rs->n < TS_HTML_ROWS_MAX)
		rs->row[rs->n++] = (struct ts_html_row){ label, NULL };
}

void ts_html_rows_add(struct ts_html_rows *rs, const char *label, const char *fmt, ...)
{
	va_list ap;

	if (rs->n >= TS_HTML_ROWS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(rs->value[rs->n], TS_HTML_VALUE_MAX, fmt, ap);
	va_end(ap);
	rs->row[rs->n] = (struct ts_html_row){ label, rs->value[rs->n] };
	rs->n++;
}

void ts_html_rows_text(struct ts_html_rows *rs, const char *label, const char *value)
{
	if (rs->n < TS_HTML_ROWS_MAX)
		rs->row[rs->n++] = (struct ts_html_row){ label, value };
}

/* ISO 8601, UTC, to the second: "2025-11-25T14:03:09Z". */
static void format_date(char *buf, size_t cap, int64_t wall_ns)
{
	time_t t = (time_t)(wall_ns / 1000000000LL);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, cap, "unknown");
}

static void put_or(FILE *out, const char *s, const char *fallback)
{
	ts_html_put(out, s ? s : fallback);
}

static void write_head(FILE *out, const struct ts_html_report *r)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"tsecho ",
	      out);
	put_or(out, r->version, "");
	fputs("\">\n<title>", out);
	put_or(out, r->title, "tsecho report");
	fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n", style);
}

static void write_header(FILE *out, const struct ts_html_report *r)
{
	char date[40];

	format_date(date, sizeof date, r->generated_wall_ns);
	fputs("<header class=\"card\" id=\"header\">\n<h1>", out);
	put_or(out, r->title, "tsecho report");
	fputs("</h1>\n<dl class=\"meta\">\n<dt>Command</dt><dd><code id=\"command\">", out);
	put_or(out, r->command, "");
	fputs("</code></dd>\n<dt>Host</dt><dd id=\"host\">", out);
	put_or(out, r->host, "unknown");
	fprintf(out, "</dd>\n<dt>Date</dt><dd><time id=\"date\" datetime=\"%s\">%s</time></dd>\n",
		date, date);
	fputs("<dt>tsecho</dt><dd id=\"version\">", out);
	put_or(out, r->version, "");
	fputs("</dd>\n</dl>\n</header>\n", out);
}

/* One section's table: rows [from, to), a caption when rows[from] is a
 * heading.  Long values get a table twice as wide. */
static void write_table(FILE *out, const struct ts_html_row *rows, size_t from, size_t to)
{
	size_t longest = 0;

	for (size_t i = from; i < to; i++)
		if (rows[i].value && strlen(rows[i].value) > longest)
			longest = strlen(rows[i].value);
	fprintf(out, "<table%s>", longest > 24 ? " class=\"wide\"" : "");
	if (!rows[from].value) {
		fputs("<caption>", out);
		put_or(out, rows[from].label, "");
		fputs("</caption>", out);
		from++;
	}
	fputs("<tbody>\n", out);
	for (size_t i = from; i < to; i++) {
		fputs("<tr><th scope=\"row\">", out);
		put_or(out, rows[i].label, "");
		/* Prose (a note) wraps; figures never do. */
		fputs(rows[i].value && strlen(rows[i].value) > 48 ? "</th><td class=\"text\">"
								  : "</th><td>",
		      out);
		put_or(out, rows[i].value, "");
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
}

static void write_summary(FILE *out, const struct ts_html_report *r)
{
	size_t from = 0;

	fputs("<section class=\"card\" id=\"summary\">\n<h2>Summary</h2>\n", out);
	if (r->status) {
		fputs("<p class=\"status\" id=\"status\">", out);
		ts_html_put(out, r->status);
		fputs("</p>\n", out);
	}
	fputs("<div class=\"tables\">\n", out);
	for (size_t i = 1; i <= r->n_rows; i++) {
		if (i == r->n_rows || !r->rows[i].value) {
			write_table(out, r->rows, from, i);
			from = i;
		}
	}
	if (r->n_rows == 0)
		fputs("<p class=\"empty\">Nothing was measured.</p>\n", out);
	fputs("</div>\n", out);
	if (r->note) {
		fputs("<p class=\"note\">", out);
		ts_html_put(out, r->note);
		fputs("</p>\n", out);
	}
	fputs("</section>\n", out);
}

int ts_html_report_write(FILE *out, const struct ts_html_report *r)
{
	write_head(out, r);
	fputs("<body>\n<main>\n", out);
	write_header(out, r);
	write_summary(out, r);
	fputs("<section class=\"charts\" id=\"charts\">\n", out);
	ts_htmlchart_time(out, r);
	ts_htmlchart_spectrum(out, r);
	ts_htmlchart_hist(out, r);
	if (r->breakdown) {
		ts_htmlchart_parts_time(out, r->breakdown);
		ts_htmlchart_parts_median(out, r->breakdown);
	}
	fputs("</section>\n<footer>Written by tsecho ", out);
	put_or(out, r->version, "");
	fputs(". Self-contained: no scripts, nothing loaded from elsewhere.</footer>\n"
	      "</main>\n</body>\n</html>\n",
	      out);
	if (fflush(out) != 0)
		return errno ? -errno : -EIO;
	return ferror(out) ? -EIO : 0;
}

int ts_html_report_begin(struct ts_html_report *r, const char *title, const char *version, int argc,
			 char *const argv[])
{
	size_t len = ts_html_command_line(NULL, 0, "tsecho", argc, argv);

	memset(r, 0, sizeof *r);
	r->title = title;
	r->version = version;
	r->generated_wall_ns = ts_wall_ns();
	if (gethostname(r->host_buf, sizeof r->host_buf - 1) != 0)
		snprintf(r->host_buf, sizeof r->host_buf, "unknown");
	r->host = r->host_buf;
	r->command_buf = malloc(len + 1);
	if (!r->command_buf)
		return -ENOMEM;
	ts_html_command_line(r->command_buf, len + 1, "tsecho", argc, argv);
	r->command = r->command_buf;
	return 0;
}

void ts_html_report_end(struct ts_html_report *r)
{
	free(r->command_buf);
	r->command_buf = NULL;
	r->command = NULL;
}
