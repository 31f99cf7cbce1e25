/* tsecho compare's measurements: every server on every step, repeat
 * times.  Repetition by repetition, step by step, the servers take turns,
 * the first of each turn rotating, so that drift over the run (thermal,
 * other load) falls on every server alike.  See compare.h. */
#define _GNU_SOURCE
#include "config.h"

#include "compare.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench/bench.h"
#include "../client/target.h"
#include <tsecho/clock.h>
#include <tsecho/net.h>

#define REPLY_TIMEOUT_NS (2 * TS_NS_PER_S)

struct plan {
	struct cmp_result *r;
	const struct cmp_run_opts *o;
	struct sockaddr_storage *addr; /* remote servers', by server */
	socklen_t *addr_len;
	int max_fds;
	int load_threads;
	size_t done, total;
	int64_t start_raw_ns;
	int tty;
};

/* Resolves the remote servers once; 0 or 2 (printed). */
static int resolve_remotes(struct plan *p)
{
	for (size_t i = 0; i < p->r->n_servers; i++) {
		const struct cmp_server *s = &p->r->servers[i];
		struct ts_target t;
		char buf[128];
		int sys_errno = 0;
		enum ts_target_err err;

		if (!s->remote)
			continue;
		memset(&t, 0, sizeof t);
		err = ts_target_parse(&t, s->target, 12345);
		if (err == TS_TARGET_OK) {
			t.socktype = SOCK_STREAM;
			err = ts_target_resolve(&t, &sys_errno);
		}
		if (err != TS_TARGET_OK) {
			fprintf(stderr, "tsecho compare: %s=%s: %s\n", s->name, s->target,
				ts_target_strerror(err, sys_errno, buf, sizeof buf));
			return 2;
		}
		memcpy(&p->addr[i], &t.addr, t.addr_len);
		p->addr_len[i] = t.addr_len;
	}
	return 0;
}

static void progress(struct plan *p, const struct cmp_server *s, const struct cmp_step *st,
		     size_t rep)
{
	double per_s;
	int left_s;

	if (p->o->quiet || !p->tty)
		return;
	per_s = p->done ? (double)(ts_raw_ns() - p->start_raw_ns) / TS_NS_PER_S / (double)p->done
			: p->o->duration_s + p->o->warmup_s + 0.2;
	left_s = (int)(per_s * (double)(p->total - p->done));
	fprintf(stderr, "\r\033[K[%zu/%zu] %s: %s, repetition %zu/%zu, about %dm%02ds left",
		p->done + 1, p->total, s->name, st->name, rep + 1, p->r->repeat, left_s / 60,
		left_s % 60);
	fflush(stderr);
}

static void bench_opts(const struct plan *p, const struct cmp_step *st, struct ts_bench_opts *bo)
{
	memset(bo, 0, sizeof *bo);
	bo->connections = st->connections;
	bo->threads = st->kind == CMP_PINGPONG ? 1 : p->load_threads;
	if ((uint64_t)bo->threads > bo->connections)
		bo->threads = (int)bo->connections;
	bo->duration_ns = (int64_t)(p->o->duration_s * TS_NS_PER_S);
	bo->warmup_ns = (int64_t)(p->o->warmup_s * TS_NS_PER_S);
	bo->size = st->size;
	bo->rate_per_s = st->kind == CMP_OPEN ? st->rate : 0;
	bo->timeout_ns = REPLY_TIMEOUT_NS;
	bo->quiet = 1;
	bo->engine = p->o->load_engine;
	bo->busy_poll = st->busy_poll;
}

/* What the measurement gave, into sample. */
static void take_result(struct cmp_sample *sm, const struct ts_bench_result *br)
{
	const char *fault = ts_bench_fault(br);

	sm->messages_per_s = br->messages_per_s;
	sm->sent = br->counts.sent;
	sm->messages = br->counts.messages;
	sm->errors = br->counts.errors;
	sm->client_cpu_s = br->client_cpu_s;
	sm->client_busy = br->client_busy;
	sm->client_saturated = ts_bench_saturated(br);
	if (br->hist)
		ts_hist_merge(sm->hist, br->hist);
	/* Ctrl+C is not the server's fault: the result says interrupted. */
	if (fault && !br->interrupted && !sm->fault[0])
		snprintf(sm->fault, sizeof sm->fault, "%s", fault);
}

/* Every step of server si is skipped, for why. */
static void skip_server(struct cmp_result *r, size_t si, const char *why, int failed)
{
	for (size_t st = 0; st < r->n_steps; st++) {
		struct cmp_cell *c = cmp_cell(r, si, st);
		if (!c->skipped[0]) {
			snprintf(c->skipped, sizeof c->skipped, "%s", why);
			c->failed = failed;
		}
	}
}

/* The server's CPU (user, system, total) and system calls now. */
static void server_counters(const struct cmp_child *c, double cpu[3], double *calls)
{
	if (cmp_child_cpu(c, &cpu[0], &cpu[1], &cpu[2]) != 0)
		cpu[0] = cpu[1] = cpu[2] = CMP_UNKNOWN;
	*calls = cmp_child_syscalls(c);
}

/* Starts the built-in server for si and step st; 0, or -1 (every one of
 * its steps skipped: a server that cannot start now will not later). */
static int start_server(struct plan *p, size_t si, const struct cmp_step *st,
			struct cmp_child *child, struct ts_bench_shared *run)
{
	struct cmp_server *s = &p->r->servers[si];
	struct sockaddr_in *sin = (struct sockaddr_in *)&run->addr;
	int busy = st->busy_poll && strcmp(s->engine, "io_uring") == 0;
	char why[160];

	if (cmp_spawn(child, s->engine, p->o->server_cpu, st->connections + 16, busy, why,
		      sizeof why) != 0) {
		skip_server(p->r, si, why, !s->optional);
		return -1;
	}
	if (!s->setup[0])
		snprintf(s->setup, sizeof s->setup, "%s", child->setup);
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)child->port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	run->addr_len = sizeof *sin;
	return 0;
}

/* One server, one step, one repetition. */
static void measure(struct plan *p, size_t si, size_t st, size_t rep)
{
	struct cmp_result *r = p->r;
	const struct cmp_server *s = &r->servers[si];
	struct cmp_sample *sm = &cmp_cell(r, si, st)->rep[rep];
	struct ts_bench_opts bo;
	struct ts_bench_shared run;
	struct ts_bench_result br;
	struct ts_bench_worker *w = NULL;
	struct cmp_child child = { 0 };
	double cpu0[3] = { CMP_UNKNOWN, CMP_UNKNOWN, CMP_UNKNOWN }, cpu1[3];
	double calls0 = CMP_UNKNOWN, calls1;
	char why[160];

	bench_opts(p, &r->steps[st], &bo);
	memset(&run, 0, sizeof run);
	memset(&br, 0, sizeof br);
	run.opt = &bo;
	run.max_fds = p->max_fds;
	if (s->remote) {
		memcpy(&run.addr, &p->addr[si], p->addr_len[si]);
		run.addr_len = p->addr_len[si];
	} else if (start_server(p, si, &r->steps[st], &child, &run) != 0) {
		return;
	} else {
		server_counters(&child, cpu0, &calls0);
	}
	br.target = s->remote ? s->target : s->name;
	br.opt = &bo;
	br.threads = bo.threads;
	sm->done = 1;
	sm->server_cpu_s = sm->server_user_s = sm->server_sys_s = sm->syscalls = CMP_UNKNOWN;
	if (ts_bench_measure(&run, &w, &br, NULL) == 0)
		take_result(sm, &br);
	else
		snprintf(sm->fault, sizeof sm->fault, "no connection came up");
	r->interrupted |= br.interrupted;
	if (!s->remote) {
		server_counters(&child, cpu1, &calls1);
		if (cpu0[0] >= 0 && cpu1[0] >= 0) {
			sm->server_user_s = cpu1[0] - cpu0[0];
			sm->server_sys_s = cpu1[1] - cpu0[1];
			sm->server_cpu_s = cpu1[2] - cpu0[2];
		}
		if (calls0 >= 0 && calls1 >= 0)
			sm->syscalls = calls1 - calls0;
		if (cmp_child_stop(&child, why, sizeof why) != 0 && !sm->fault[0])
			snprintf(sm->fault, sizeof sm->fault, "%s", why);
	}
	if (w)
		ts_bench_workers_free(w, bo.threads);
}

static void report_line(const struct plan *p, size_t si, size_t st, size_t rep)
{
	const struct cmp_sample *sm = &cmp_cell(p->r, si, st)->rep[rep];

	if (p->o->quiet || p->tty || !sm->done)
		return;
	fprintf(stderr, "compare: [%zu/%zu] %s: %s, repetition %zu: %.0f msg/s, p99 %.3f ms%s%s\n",
		p->done, p->total, p->r->servers[si].name, p->r->steps[st].name, rep + 1,
		sm->messages_per_s, (double)ts_hist_percentile(sm->hist, 99) / TS_NS_PER_MS,
		sm->fault[0] ? ": " : "", sm->fault);
}

static int load_threads(const struct cmp_run_opts *o)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 1;
	n = CPU_COUNT(&set) - (o->server_cpu >= 0 && CPU_ISSET(o->server_cpu, &set));
	return n > 0 ? n : 1;
}

static void run_all(struct plan *p)
{
	struct cmp_result *r = p->r;

	for (size_t rep = 0; rep < r->repeat && !r->interrupted; rep++)
		for (size_t st = 0; st < r->n_steps && !r->interrupted; st++)
			for (size_t k = 0; k < r->n_servers && !r->interrupted; k++) {
				size_t si = (k + rep + st) % r->n_servers;
				if (cmp_cell(r, si, st)->skipped[0]) {
					p->done++;
					continue;
				}
				progress(p, &r->servers[si], &r->steps[st], rep);
				measure(p, si, st, rep);
				p->done++;
				report_line(p, si, st, rep);
			}
}

int cmp_run(struct cmp_result *r, const struct cmp_run_opts *o)
{
	struct plan p = { .r = r, .o = o };
	int rc;

	p.addr = calloc(r->n_servers, sizeof *p.addr);
	p.addr_len = calloc(r->n_servers, sizeof *p.addr_len);
	if (!p.addr || !p.addr_len) {
		fprintf(stderr, "tsecho compare: out of memory\n");
		rc = 2;
		goto out;
	}
	rc = resolve_remotes(&p);
	if (rc != 0)
		goto out;
	p.max_fds = ts_raise_nofile();
	p.load_threads = load_threads(o);
	p.total = r->repeat * r->n_steps * r->n_servers;
	p.tty = isatty(STDERR_FILENO);
	p.start_raw_ns = ts_raw_ns();
	run_all(&p);
	if (p.tty && !o->quiet)
		fputs("\r\033[K", stderr);
	r->wall_s = (double)(ts_raw_ns() - p.start_raw_ns) / TS_NS_PER_S;
out:
	free(p.addr);
	free(p.addr_len);
	return rc;
}
