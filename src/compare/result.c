/* tsecho compare's result: its cells, and the figures and ratios every
 * output shows.  See compare.h. */
#include "config.h"

#include "compare.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/clock.h>

int cmp_result_alloc(struct cmp_result *r)
{
	size_t n = r->n_servers * r->n_steps;

	r->cells = calloc(n ? n : 1, sizeof *r->cells);
	if (!r->cells)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct cmp_cell *c = &r->cells[i];
		c->rep = calloc(r->repeat ? r->repeat : 1, sizeof *c->rep);
		c->all = ts_hist_new();
		if (!c->rep || !c->all)
			return -ENOMEM;
		for (size_t k = 0; k < r->repeat; k++)
			if (!(c->rep[k].hist = ts_hist_new()))
				return -ENOMEM;
	}
	return 0;
}

void cmp_result_free(struct cmp_result *r)
{
	for (size_t i = 0; r->cells && i < r->n_servers * r->n_steps; i++) {
		struct cmp_cell *c = &r->cells[i];
		for (size_t k = 0; c->rep && k < r->repeat; k++)
			ts_hist_free(c->rep[k].hist);
		free(c->rep);
		ts_hist_free(c->all);
	}
	free(r->cells);
	free(r->servers);
	free(r->steps);
	r->cells = NULL;
	r->servers = NULL;
	r->steps = NULL;
}

void cmp_result_merge(struct cmp_result *r)
{
	for (size_t i = 0; i < r->n_servers * r->n_steps; i++) {
		struct cmp_cell *c = &r->cells[i];
		ts_hist_reset(c->all);
		for (size_t k = 0; k < r->repeat; k++)
			if (c->rep[k].done)
				ts_hist_merge(c->all, c->rep[k].hist);
	}
}

/* The mean of the known values among n, or CMP_UNKNOWN. */
struct mean {
	double sum;
	size_t n;
};

static void mean_add(struct mean *m, double v)
{
	if (v >= 0) {
		m->sum += v;
		m->n++;
	}
}

static double mean_of(const struct mean *m)
{
	return m->n ? m->sum / (double)m->n : CMP_UNKNOWN;
}

struct cmp_figures cmp_figures_of(const struct cmp_result *r, size_t server, size_t step)
{
	const struct cmp_cell *c = cmp_cell(r, server, step);
	struct cmp_figures f = { 0 };
	struct mean mps = { 0 }, srv = { 0 }, sys = { 0 }, cli = { 0 }, busy = { 0 };

	for (size_t k = 0; k < r->repeat; k++) {
		const struct cmp_sample *s = &c->rep[k];
		double sent = (double)s->sent;
		if (!s->done)
			continue;
		f.ran++;
		if (s->fault[0] && !f.fault)
			f.fault = s->fault;
		f.errors += s->errors;
		if (s->messages == 0)
			continue;
		f.n++;
		f.client_saturated |= s->client_saturated;
		mean_add(&mps, s->messages_per_s);
		if (sent > 0) {
			mean_add(&srv,
				 s->server_cpu_s >= 0 ? s->server_cpu_s * 1e6 / sent : CMP_UNKNOWN);
			mean_add(&sys, s->syscalls >= 0 ? s->syscalls / sent : CMP_UNKNOWN);
			mean_add(&cli, s->client_cpu_s * 1e6 / sent);
		}
		mean_add(&busy, s->client_busy);
	}
	f.messages_per_s = mean_of(&mps);
	f.server_us_per_message = mean_of(&srv);
	f.syscalls_per_message = mean_of(&sys);
	f.client_us_per_message = mean_of(&cli);
	f.client_busy = mean_of(&busy);
	return f;
}

double cmp_figure(const struct cmp_result *r, size_t server, size_t step, enum cmp_fig what,
		  double pct)
{
	struct cmp_figures f = cmp_figures_of(r, server, step);

	if (f.n == 0)
		return CMP_UNKNOWN;
	switch (what) {
	case CMP_FIG_MPS:
		return f.messages_per_s;
	case CMP_FIG_LATENCY:
		return (double)ts_hist_percentile(cmp_cell(r, server, step)->all, pct);
	case CMP_FIG_SERVER_CPU:
		return f.server_us_per_message;
	case CMP_FIG_SYSCALLS:
		return f.syscalls_per_message;
	}
	return CMP_UNKNOWN;
}

int cmp_is_best(const struct cmp_result *r, size_t server, size_t step, enum cmp_fig what,
		double pct)
{
	double mine = cmp_figure(r, server, step, what, pct);

	if (mine < 0)
		return 0;
	for (size_t k = 0; k < r->n_servers; k++) {
		double v = cmp_figure(r, k, step, what, pct);
		if (v >= 0 && (what == CMP_FIG_MPS ? v > mine : v < mine))
			return 0;
	}
	return 1;
}

/* The figure of one repetition that a ratio compares; 0 when it has none. */
static double figure(const struct cmp_sample *s, int which)
{
	if (!s->done || s->messages == 0)
		return 0;
	if (which == 0)
		return s->messages_per_s;
	return (double)ts_hist_percentile(s->hist, 99);
}

struct ts_ratio cmp_ratio(const struct cmp_result *r, size_t server, size_t step, int which)
{
	double a[64], b[64];
	size_t n = r->repeat < 64 ? r->repeat : 64;
	const struct cmp_cell *x = cmp_cell(r, server, step);
	const struct cmp_cell *base = cmp_cell(r, r->baseline, step);

	for (size_t k = 0; k < n; k++) {
		a[k] = figure(&x->rep[k], which);
		b[k] = figure(&base->rep[k], which);
	}
	return ts_ratio_of(a, b, n);
}

void cmp_group_name(const struct cmp_step *s, char *buf, size_t cap)
{
	switch (s->kind) {
	case CMP_PINGPONG:
		snprintf(buf, cap, "ping-pong%s, %llu B", s->busy_poll ? " busy-poll" : "",
			 (unsigned long long)s->size);
		break;
	case CMP_CLOSED:
		snprintf(buf, cap, "closed loop, %llu B", (unsigned long long)s->size);
		break;
	case CMP_OPEN:
		snprintf(buf, cap, "open loop, %llu connections, %llu B",
			 (unsigned long long)s->connections, (unsigned long long)s->size);
		break;
	}
}

int cmp_group_first(const struct cmp_result *r, size_t st)
{
	char a[96], b[96];

	cmp_group_name(&r->steps[st], a, sizeof a);
	for (size_t k = 0; k < st; k++) {
		cmp_group_name(&r->steps[k], b, sizeof b);
		if (strcmp(a, b) == 0)
			return 0;
	}
	return 1;
}

void cmp_slug(const char *name, char *buf, size_t cap)
{
	size_t n = 0;
	int dash = 0;

	for (; *name && n + 1 < cap; name++) {
		unsigned char ch = (unsigned char)*name;
		if (isalnum(ch) || ch == '_') {
			if (dash && n > 0 && n + 2 < cap)
				buf[n++] = '-';
			buf[n++] = (char)ch;
			dash = 0;
		} else {
			dash = 1;
		}
	}
	if (cap)
		buf[n < cap ? n : cap - 1] = '\0';
}
