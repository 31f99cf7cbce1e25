/* tsecho compare's outputs: the terminal's tables, JSON (docs/compare.md
 * gives the schema), CSV, and .hgrm files.  See compare.h. */
#include "config.h"

#include "compare.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../bench/bench.h"
#include <tsecho/clock.h>
#include <tsecho/json.h>

static const double pcts[] = { 50, 90, 99, 99.9, 99.99 };
#define N_PCTS (sizeof pcts / sizeof pcts[0])

/* The table's columns of figures: what, its percentile, its decimals. */
static const struct {
	enum cmp_fig what;
	double pct;
	int decimals;
} cols[] = {
	{ CMP_FIG_MPS, 0, 0 },        { CMP_FIG_LATENCY, 50, 1 },  { CMP_FIG_LATENCY, 99, 1 },
	{ CMP_FIG_LATENCY, 99.9, 1 }, { CMP_FIG_LATENCY, 100, 1 }, { CMP_FIG_SERVER_CPU, 0, 2 },
	{ CMP_FIG_SYSCALLS, 0, 2 },
};

/* One cell of a table: value with decimals, '*' when best, "-" unknown. */
static void put_col(FILE *out, int width, double v, int decimals, int best)
{
	char buf[32];

	if (v < 0)
		snprintf(buf, sizeof buf, "-");
	else
		snprintf(buf, sizeof buf, "%.*f%s", decimals, v, best ? "*" : "");
	fprintf(out, " %*s", width, buf);
}

static void format_ratio(char *buf, size_t cap, const struct ts_ratio *q)
{
	if (q->n == 0)
		snprintf(buf, cap, "-");
	else if (!q->has_interval)
		snprintf(buf, cap, "%.2f (1 rep)", q->ratio);
	else
		snprintf(buf, cap, "%.2f [%.2f-%.2f]%s", q->ratio, q->lo, q->hi,
			 q->significant ? "" : " noise");
}

static void print_row(FILE *out, const struct cmp_result *r, size_t si, size_t st, int first)
{
	const struct cmp_cell *cell = cmp_cell(r, si, st);
	struct cmp_figures f = cmp_figures_of(r, si, st);
	char a[48], b[48];

	fprintf(out, "%-22s %-10s", first ? r->steps[st].name : "", r->servers[si].name);
	if (cell->skipped[0]) {
		fprintf(out, " skipped: %s\n", cell->skipped);
		return;
	}
	if (f.n == 0) {
		fprintf(out, " %s%s%s\n", f.ran ? "no replies" : "not run", f.fault ? ": " : "",
			f.fault ? f.fault : "");
		return;
	}
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
		double v = cmp_figure(r, si, st, cols[c].what, cols[c].pct);
		if (cols[c].what == CMP_FIG_LATENCY && v >= 0)
			v /= TS_NS_PER_US;
		put_col(out, c == 0 ? 10 : 8, v, cols[c].decimals,
			cmp_is_best(r, si, st, cols[c].what, cols[c].pct));
	}
	if (f.client_busy >= 0)
		fprintf(out, " %5.0f%%%s", 100.0 * f.client_busy, f.client_saturated ? "!" : " ");
	else
		fprintf(out, " %6s ", "-");
	if (si == r->baseline) {
		fprintf(out, " %-22s %s", "baseline", "baseline");
	} else {
		struct ts_ratio q0 = cmp_ratio(r, si, st, 0), q1 = cmp_ratio(r, si, st, 1);
		format_ratio(a, sizeof a, &q0);
		format_ratio(b, sizeof b, &q1);
		fprintf(out, " %-22s %s", a, b);
	}
	if (f.fault)
		fprintf(out, "  (%s)", f.fault);
	fputc('\n', out);
}

static void print_group(FILE *out, const struct cmp_result *r, const char *group)
{
	char name[96], vs[80];

	fprintf(out, "\n%s\n", group);
	snprintf(vs, sizeof vs, "vs %s", r->servers[r->baseline].name);
	fprintf(out, "%-22s %-10s %10s %8s %8s %8s %8s %8s %8s %6s  msg/s %-16s p99 %s\n", "step",
		"server", "msg/s", "p50 us", "p99 us", "p99.9 us", "max us", "srv us", "calls",
		"load", vs, vs);
	for (size_t st = 0; st < r->n_steps; st++) {
		cmp_group_name(&r->steps[st], name, sizeof name);
		if (strcmp(name, group) != 0)
			continue;
		for (size_t si = 0; si < r->n_servers; si++)
			print_row(out, r, si, st, si == 0);
	}
}

void cmp_print_text(FILE *out, const struct cmp_result *r)
{
	char group[96];
	int saturated = 0;

	fprintf(out, "--- %s ---\n", r->title);
	if (r->duration_s >= 0 && r->warmup_s >= 0 && r->wall_s >= 0)
		fprintf(out,
			"%zu repetition%s of %.1f s each (%.1f s warm-up), interleaved; wall time "
			"%.1f s%s\n",
			r->repeat, r->repeat == 1 ? "" : "s", r->duration_s, r->warmup_s, r->wall_s,
			r->interrupted ? "; interrupted" : "");
	else
		fprintf(out, "%zu repetition%s%s\n", r->repeat, r->repeat == 1 ? "" : "s",
			r->interrupted ? "; interrupted" : "");
	for (size_t si = 0; si < r->n_servers; si++)
		if (r->servers[si].setup[0])
			fprintf(out, "%-10s %s\n", r->servers[si].name, r->servers[si].setup);
	for (size_t st = 0; st < r->n_steps; st++) {
		if (!cmp_group_first(r, st))
			continue;
		cmp_group_name(&r->steps[st], group, sizeof group);
		print_group(out, r, group);
	}
	for (size_t i = 0; i < r->n_servers * r->n_steps; i++)
		for (size_t k = 0; k < r->repeat; k++)
			saturated |= r->cells[i].rep[k].client_saturated;
	fprintf(out,
		"\nmsg/s: mean over repetitions; latencies: all repetitions merged; * best in its "
		"column.\nsrv us: the server's CPU (user + system) per message; calls: its "
		"system calls per message (%s);\nload: the load generator's busy share of its "
		"threads (%s loop).\n"
		"vs %s: ratio of the mean, [95%% interval over paired repetitions]; \"noise\": "
		"the interval holds 1.\n",
		r->sys.syscalls_how, r->load_engine[0] ? r->load_engine : "epoll",
		r->servers[r->baseline].name);
	if (saturated)
		fprintf(out,
			"warning: ! marks steps where the load generator was busy %.0f%% or "
			"more of its time: the figures may be its limit, not the server's.\n",
			100 * TS_BENCH_SATURATED);
}

static void json_known(struct ts_json *j, const char *key, double v, int decimals)
{
	if (v < 0)
		ts_json_null(j, key);
	else
		ts_json_num(j, key, v, decimals);
}

static void json_sample(struct ts_json *j, const struct cmp_sample *s)
{
	ts_json_open(j, NULL, '{');
	ts_json_bool(j, "done", s->done);
	ts_json_num(j, "messages_per_s", s->messages_per_s, 3);
	ts_json_u64(j, "sent", s->sent);
	ts_json_u64(j, "messages", s->messages);
	ts_json_u64(j, "errors", s->errors);
	json_known(j, "server_cpu_s", s->server_cpu_s, 3);
	json_known(j, "server_user_s", s->server_user_s, 3);
	json_known(j, "server_sys_s", s->server_sys_s, 3);
	json_known(j, "syscalls", s->syscalls, 0);
	ts_json_num(j, "client_cpu_s", s->client_cpu_s, 6);
	ts_json_num(j, "client_busy", s->client_busy, 4);
	ts_json_bool(j, "client_saturated", s->client_saturated);
	if (s->fault[0])
		ts_json_str(j, "fault", s->fault);
	else
		ts_json_null(j, "fault");
	ts_bench_json_latency(j, "latency_ms", ts_hist_count(s->hist) ? s->hist : NULL);
	ts_bench_json_histogram(j, "histogram", s->hist);
	ts_json_close(j, '}');
}

static void json_ratio(struct ts_json *j, const char *key, const struct ts_ratio *q)
{
	if (q->n == 0) {
		ts_json_null(j, key);
		return;
	}
	ts_json_open(j, key, '{');
	ts_json_num(j, "ratio", q->ratio, 4);
	if (q->has_interval) {
		ts_json_num(j, "lo", q->lo, 4);
		ts_json_num(j, "hi", q->hi, 4);
	} else {
		ts_json_null(j, "lo");
		ts_json_null(j, "hi");
	}
	ts_json_u64(j, "pairs", q->n);
	ts_json_bool(j, "significant", q->significant);
	ts_json_close(j, '}');
}

static void json_cell(struct ts_json *j, const struct cmp_result *r, size_t si, size_t st)
{
	const struct cmp_cell *c = cmp_cell(r, si, st);
	struct cmp_figures f = cmp_figures_of(r, si, st);
	struct ts_ratio q0 = cmp_ratio(r, si, st, 0), q1 = cmp_ratio(r, si, st, 1);

	ts_json_open(j, NULL, '{');
	ts_json_str(j, "server", r->servers[si].name);
	ts_json_str(j, "step", r->steps[st].name);
	if (c->skipped[0])
		ts_json_str(j, "skipped", c->skipped);
	else
		ts_json_null(j, "skipped");
	json_known(j, "messages_per_s", f.n ? f.messages_per_s : CMP_UNKNOWN, 3);
	ts_bench_json_latency(j, "latency_ms", ts_hist_count(c->all) ? c->all : NULL);
	json_known(j, "server_cpu_us_per_message", f.server_us_per_message, 4);
	json_known(j, "syscalls_per_message", f.syscalls_per_message, 4);
	json_known(j, "client_cpu_us_per_message", f.client_us_per_message, 4);
	json_known(j, "client_busy", f.client_busy, 4);
	ts_json_bool(j, "client_saturated", f.client_saturated);
	json_ratio(j, "messages_per_s_vs_baseline", &q0);
	json_ratio(j, "p99_vs_baseline", &q1);
	ts_json_open(j, "repeats", '[');
	for (size_t k = 0; k < r->repeat; k++)
		json_sample(j, &c->rep[k]);
	ts_json_close(j, ']');
	ts_json_close(j, '}');
}

static void json_system(struct ts_json *j, const struct cmp_system *s)
{
	ts_json_open(j, "system", '{');
	ts_json_str(j, "kernel", s->kernel);
	ts_json_str(j, "cpu_model", s->cpu_model);
	ts_json_i64(j, "cores", s->cores);
	ts_json_str(j, "governor", s->governor);
	ts_json_str(j, "tsecho_version", s->version);
	ts_json_str(j, "configure", s->configure);
	ts_json_i64(j, "server_cpu", s->server_cpu);
	ts_json_str(j, "load_cpus", s->load_cpus);
	ts_json_str(j, "syscalls", s->syscalls_how);
	ts_json_close(j, '}');
}

static const char *const kind_names[] = { "pingpong", "closed", "open" };

void cmp_print_json(FILE *out, const struct cmp_result *r)
{
	struct ts_json j;

	ts_json_init(&j, out);
	ts_json_open(&j, NULL, '{');
	ts_json_u64(&j, "schema", 1);
	ts_json_str(&j, "kind", "compare");
	ts_json_str(&j, "tsecho_version", PACKAGE_VERSION);
	ts_json_str(&j, "title", r->title);
	json_system(&j, &r->sys);
	ts_json_num(&j, "duration_s", r->duration_s, 3);
	ts_json_num(&j, "warmup_s", r->warmup_s, 3);
	ts_json_u64(&j, "repeat", r->repeat);
	ts_json_str(&j, "load_engine", r->load_engine);
	ts_json_str(&j, "baseline", r->servers[r->baseline].name);
	ts_json_num(&j, "wall_s", r->wall_s, 3);
	ts_json_bool(&j, "interrupted", r->interrupted);
	ts_json_open(&j, "servers", '[');
	for (size_t si = 0; si < r->n_servers; si++) {
		const struct cmp_server *s = &r->servers[si];
		ts_json_open(&j, NULL, '{');
		ts_json_str(&j, "name", s->name);
		ts_json_str(&j, "engine", s->engine);
		ts_json_bool(&j, "remote", s->remote);
		ts_json_str(&j, "target", s->target);
		ts_json_str(&j, "setup", s->setup);
		ts_json_close(&j, '}');
	}
	ts_json_close(&j, ']');
	ts_json_open(&j, "steps", '[');
	for (size_t st = 0; st < r->n_steps; st++) {
		const struct cmp_step *s = &r->steps[st];
		ts_json_open(&j, NULL, '{');
		ts_json_str(&j, "name", s->name);
		ts_json_str(&j, "workload", kind_names[s->kind]);
		ts_json_u64(&j, "connections", s->connections);
		ts_json_num(&j, "rate", s->rate, 3);
		ts_json_u64(&j, "size", s->size);
		ts_json_bool(&j, "busy_poll", s->busy_poll);
		ts_json_close(&j, '}');
	}
	ts_json_close(&j, ']');
	ts_json_open(&j, "results", '[');
	for (size_t si = 0; si < r->n_servers; si++)
		for (size_t st = 0; st < r->n_steps; st++)
			json_cell(&j, r, si, st);
	ts_json_close(&j, ']');
	ts_json_close(&j, '}');
	fputc('\n', out);
	fflush(out);
}

/* A CSV field: quoted when it needs to be (RFC 4180). */
static void csv_str(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\n\r")) {
		fputc('"', out);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', out);
			fputc(*s, out);
		}
		fputc('"', out);
	} else {
		fputs(s, out);
	}
}

static void csv_num(FILE *out, double v, int decimals)
{
	fputc(',', out);
	if (v >= 0)
		fprintf(out, "%.*f", decimals, v);
}

static void csv_ratio(FILE *out, const struct ts_ratio *q)
{
	csv_num(out, q->n ? q->ratio : CMP_UNKNOWN, 4);
	csv_num(out, q->has_interval ? q->lo : CMP_UNKNOWN, 4);
	csv_num(out, q->has_interval ? q->hi : CMP_UNKNOWN, 4);
}

void cmp_print_csv(FILE *out, const struct cmp_result *r)
{
	fputs("server,step,workload,connections,rate,size,busy_poll,repeats,messages_per_s,"
	      "p50_ms,p90_ms,p99_ms,p99_9_ms,p99_99_ms,max_ms,server_cpu_us_per_message,"
	      "syscalls_per_message,client_cpu_us_per_message,client_busy,client_saturated,"
	      "errors,mps_vs_baseline,mps_lo,mps_hi,p99_vs_baseline,p99_lo,p99_hi,skipped,"
	      "fault\n",
	      out);
	for (size_t si = 0; si < r->n_servers; si++)
		for (size_t st = 0; st < r->n_steps; st++) {
			const struct cmp_step *s = &r->steps[st];
			const struct cmp_cell *c = cmp_cell(r, si, st);
			struct cmp_figures f = cmp_figures_of(r, si, st);
			struct ts_ratio q0 = cmp_ratio(r, si, st, 0);
			struct ts_ratio q1 = cmp_ratio(r, si, st, 1);
			int have = f.n > 0;

			csv_str(out, r->servers[si].name);
			fputc(',', out);
			csv_str(out, s->name);
			fprintf(out, ",%s,%llu,%.3f,%llu,%d,%zu", kind_names[s->kind],
				(unsigned long long)s->connections, s->rate,
				(unsigned long long)s->size, s->busy_poll, f.n);
			csv_num(out, have ? f.messages_per_s : CMP_UNKNOWN, 3);
			for (size_t i = 0; i < N_PCTS; i++)
				csv_num(out,
					have ? (double)ts_hist_percentile(c->all, pcts[i]) /
						   TS_NS_PER_MS
					     : CMP_UNKNOWN,
					6);
			csv_num(out,
				have ? (double)ts_hist_max(c->all) / TS_NS_PER_MS : CMP_UNKNOWN, 6);
			csv_num(out, f.server_us_per_message, 4);
			csv_num(out, f.syscalls_per_message, 4);
			csv_num(out, f.client_us_per_message, 4);
			csv_num(out, f.client_busy, 4);
			fprintf(out, ",%d,%llu", f.client_saturated, (unsigned long long)f.errors);
			csv_ratio(out, &q0);
			csv_ratio(out, &q1);
			fputc(',', out);
			csv_str(out, c->skipped);
			fputc(',', out);
			csv_str(out, f.fault ? f.fault : "");
			fputc('\n', out);
		}
	fflush(out);
}

int cmp_write_hgrm_dir(const struct cmp_result *r, const char *dir, char *why, size_t cap)
{
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		snprintf(why, cap, "%s", dir);
		return -errno;
	}
	for (size_t si = 0; si < r->n_servers; si++)
		for (size_t st = 0; st < r->n_steps; st++) {
			const struct cmp_cell *c = cmp_cell(r, si, st);
			char step[96], server[80];
			FILE *f;
			int rc;

			if (!ts_hist_count(c->all))
				continue;
			cmp_slug(r->steps[st].name, step, sizeof step);
			cmp_slug(r->servers[si].name, server, sizeof server);
			snprintf(why, cap, "%s/%s-%s.hgrm", dir, server, step);
			f = fopen(why, "w");
			if (!f)
				return -errno;
			rc = ts_bench_write_hgrm(f, c->all); /* which closes f */
			if (rc != 0)
				return rc;
		}
	return 0;
}
