/* The charts of an HTML report (htmlreport.h), each one <figure> with an
 * inline <svg>, or a line saying there is nothing to chart.  Internal to
 * htmlreport.c and htmlchart.c. */
#ifndef TSECHO_HTMLCHART_H
#define TSECHO_HTMLCHART_H

#include <stdio.h>

#include <tsecho/htmlreport.h>

/* Latency over time: ping's probes, or bench's intervals. */
void ts_htmlchart_time(FILE *out, const struct ts_html_report *r);
/* The percentile spectrum, HdrHistogram's log "1/(1-p)" axis. */
void ts_htmlchart_spectrum(FILE *out, const struct ts_html_report *r);
/* The histogram: counts in log-spaced buckets. */
void ts_htmlchart_hist(FILE *out, const struct ts_html_report *r);
/* The round trip's parts: stacked over time, and a bar of their medians. */
void ts_htmlchart_parts_time(FILE *out, const struct ts_html_breakdown *b);
void ts_htmlchart_parts_median(FILE *out, const struct ts_html_breakdown *b);

/* s escaped for HTML text and attribute values (htmlreport.c). */
void ts_html_put(FILE *out, const char *s);

#endif
