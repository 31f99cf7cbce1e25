/* tsecho compare FILE.json...: saved results back into a cmp_result, to
 * compare before and after a change without running anything.  With more
 * than one file, each server's name is prefixed by its file's ("before:
 * io_uring"); steps are matched by name, and a step one file lacks is
 * skipped for its servers.  See compare.h. */
#include "config.h"

#include "compare.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../bench/bench.h"
#include <tsecho/jsonparse.h>

#define FILES_MAX 16
#define SERVERS_MAX 64
#define STEPS_MAX 256
#define REPEAT_MAX 50

struct file {
	const char *path;
	char *text;
	struct ts_jv *doc;
};

static const char *str_of(const struct ts_jv *obj, const char *key)
{
	const struct ts_jv *v = ts_jv_get(obj, key);

	return v && v->type == TS_JV_STR ? v->str : NULL;
}

static double num_or_unknown(const struct ts_jv *obj, const char *key)
{
	double v;

	return ts_jv_num(ts_jv_get(obj, key), &v) == 0 ? v : CMP_UNKNOWN;
}

static int bool_of(const struct ts_jv *obj, const char *key)
{
	const struct ts_jv *v = ts_jv_get(obj, key);

	return v && v->type == TS_JV_BOOL && v->boolean;
}

static const struct ts_jv *array_of(const struct ts_jv *obj, const char *key)
{
	const struct ts_jv *v = ts_jv_get(obj, key);

	return v && v->type == TS_JV_ARR ? v : NULL;
}

/* Reads and parses one file; 0, or -1 after a message. */
static int read_file(struct file *f, FILE *err)
{
	char why[160];
	size_t len;
	const char *kind;

	f->text = ts_bench_slurp(f->path, &len);
	if (!f->text) {
		fprintf(err, "tsecho compare: cannot read %s: %s\n", f->path, strerror(errno));
		return -1;
	}
	f->doc = ts_jv_parse(f->text, len, why, sizeof why);
	if (!f->doc) {
		fprintf(err, "tsecho compare: %s: not JSON: %s\n", f->path, why);
		return -1;
	}
	kind = str_of(f->doc, "kind");
	if (f->doc->type != TS_JV_OBJ || !kind || strcmp(kind, "compare") != 0 ||
	    !array_of(f->doc, "servers") || !array_of(f->doc, "steps") ||
	    !array_of(f->doc, "results")) {
		fprintf(err, "tsecho compare: %s: not a result of tsecho compare --json\n",
			f->path);
		return -1;
	}
	return 0;
}

static long find_step(const struct cmp_result *r, const char *name)
{
	for (size_t i = 0; i < r->n_steps; i++)
		if (strcmp(r->steps[i].name, name) == 0)
			return (long)i;
	return -1;
}

static long find_server(const struct cmp_result *r, size_t from, const char *name, int prefixed)
{
	for (size_t i = from; i < r->n_servers; i++) {
		const char *n = r->servers[i].name;
		const char *colon = prefixed ? strstr(n, ": ") : NULL;
		if (strcmp(colon ? colon + 2 : n, name) == 0)
			return (long)i;
	}
	return -1;
}

static enum cmp_kind kind_of(const char *s)
{
	return s && strcmp(s, "pingpong") == 0 ? CMP_PINGPONG
	       : s && strcmp(s, "open") == 0   ? CMP_OPEN
					       : CMP_CLOSED;
}

/* path's last part without ".json": the servers' prefix. */
static void file_label(const char *path, char *buf, size_t cap)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	size_t len = strlen(name);

	if (len > 5 && strcmp(name + len - 5, ".json") == 0)
		len -= 5;
	snprintf(buf, cap, "%.*s", (int)len, name);
}

/* The file's steps (new ones) and servers into r. */
static int add_plan(struct cmp_result *r, const struct file *f, int prefixed)
{
	const struct ts_jv *steps = array_of(f->doc, "steps");
	const struct ts_jv *servers = array_of(f->doc, "servers");
	char label[32];
	uint64_t u;

	file_label(f->path, label, sizeof label);
	for (size_t i = 0; i < steps->n; i++) {
		const struct ts_jv *s = &steps->items[i];
		const char *name = str_of(s, "name");
		struct cmp_step *st;
		if (!name || strlen(name) >= sizeof st->name)
			return -1;
		if (find_step(r, name) >= 0)
			continue;
		if (r->n_steps == STEPS_MAX)
			return -1;
		st = &r->steps[r->n_steps++];
		snprintf(st->name, sizeof st->name, "%s", name);
		st->kind = kind_of(str_of(s, "workload"));
		st->connections = ts_jv_u64(ts_jv_get(s, "connections"), &u) == 0 ? u : 1;
		st->size = ts_jv_u64(ts_jv_get(s, "size"), &u) == 0 ? u : 0;
		st->rate = num_or_unknown(s, "rate");
		st->busy_poll = bool_of(s, "busy_poll");
	}
	for (size_t i = 0; i < servers->n; i++) {
		const struct ts_jv *s = &servers->items[i];
		const char *name = str_of(s, "name"), *setup = str_of(s, "setup");
		const char *engine = str_of(s, "engine"), *target = str_of(s, "target");
		struct cmp_server *sv;
		if (!name || r->n_servers == SERVERS_MAX)
			return -1;
		sv = &r->servers[r->n_servers++];
		if (prefixed)
			snprintf(sv->name, sizeof sv->name, "%s: %.28s", label, name);
		else
			snprintf(sv->name, sizeof sv->name, "%s", name);
		snprintf(sv->engine, sizeof sv->engine, "%s", engine ? engine : "");
		snprintf(sv->target, sizeof sv->target, "%s", target ? target : "");
		snprintf(sv->setup, sizeof sv->setup, "%s", setup ? setup : "");
		sv->remote = bool_of(s, "remote");
	}
	return 0;
}

static void load_sample(struct cmp_sample *sm, const struct ts_jv *j, int *bad)
{
	const char *fault = str_of(j, "fault");
	struct ts_hist *h;
	uint64_t u;

	sm->done = bool_of(j, "done");
	sm->messages_per_s = num_or_unknown(j, "messages_per_s");
	sm->sent = ts_jv_u64(ts_jv_get(j, "sent"), &u) == 0 ? u : 0;
	sm->messages = ts_jv_u64(ts_jv_get(j, "messages"), &u) == 0 ? u : 0;
	sm->errors = ts_jv_u64(ts_jv_get(j, "errors"), &u) == 0 ? u : 0;
	sm->server_cpu_s = num_or_unknown(j, "server_cpu_s");
	sm->server_user_s = num_or_unknown(j, "server_user_s");
	sm->server_sys_s = num_or_unknown(j, "server_sys_s");
	sm->syscalls = num_or_unknown(j, "syscalls");
	sm->client_cpu_s = num_or_unknown(j, "client_cpu_s");
	sm->client_busy = num_or_unknown(j, "client_busy");
	sm->client_saturated = bool_of(j, "client_saturated");
	snprintf(sm->fault, sizeof sm->fault, "%s", fault ? fault : "");
	h = ts_bench_load_hist(j, "histogram", bad);
	if (h) {
		ts_hist_merge(sm->hist, h);
		ts_hist_free(h);
	}
}

/* The file's results into the cells of its servers (from first on). */
static int add_results(struct cmp_result *r, const struct file *f, size_t first, int prefixed)
{
	const struct ts_jv *results = array_of(f->doc, "results");
	int bad = 0;

	for (size_t i = 0; i < results->n; i++) {
		const struct ts_jv *c = &results->items[i];
		const char *server = str_of(c, "server"), *step = str_of(c, "step");
		const char *skipped = str_of(c, "skipped");
		const struct ts_jv *reps = array_of(c, "repeats");
		long si = server ? find_server(r, first, server, prefixed) : -1;
		long st = step ? find_step(r, step) : -1;
		struct cmp_cell *cell;
		if (si < 0 || st < 0 || !reps)
			return -1;
		cell = cmp_cell(r, (size_t)si, (size_t)st);
		cell->skipped[0] = '\0';
		if (skipped)
			snprintf(cell->skipped, sizeof cell->skipped, "%s", skipped);
		for (size_t k = 0; k < reps->n && k < r->repeat; k++)
			load_sample(&cell->rep[k], &reps->items[k], &bad);
	}
	return bad ? -1 : 0;
}

static void copy_str(char *dst, size_t cap, const struct ts_jv *obj, const char *key)
{
	const char *s = str_of(obj, key);

	snprintf(dst, cap, "%s", s ? s : "");
}

static void load_header(struct cmp_result *r, const struct ts_jv *doc)
{
	const struct ts_jv *sys = ts_jv_get(doc, "system");
	double v;

	copy_str(r->sys.kernel, sizeof r->sys.kernel, sys, "kernel");
	copy_str(r->sys.cpu_model, sizeof r->sys.cpu_model, sys, "cpu_model");
	copy_str(r->sys.governor, sizeof r->sys.governor, sys, "governor");
	copy_str(r->sys.version, sizeof r->sys.version, sys, "tsecho_version");
	copy_str(r->sys.configure, sizeof r->sys.configure, sys, "configure");
	copy_str(r->sys.load_cpus, sizeof r->sys.load_cpus, sys, "load_cpus");
	copy_str(r->sys.syscalls_how, sizeof r->sys.syscalls_how, sys, "syscalls");
	copy_str(r->load_engine, sizeof r->load_engine, doc, "load_engine");
	r->sys.cores = (long)num_or_unknown(sys, "cores");
	r->sys.server_cpu = ts_jv_num(ts_jv_get(sys, "server_cpu"), &v) == 0 ? (int)v : -1;
	r->duration_s = num_or_unknown(doc, "duration_s");
	r->warmup_s = num_or_unknown(doc, "warmup_s");
	r->wall_s = num_or_unknown(doc, "wall_s");
	r->interrupted = bool_of(doc, "interrupted");
}

/* Every file's repeat count and step names, then the cells. */
static int build(struct cmp_result *r, struct file *files, size_t n, FILE *err)
{
	int prefixed = n > 1;
	size_t *first = calloc(n, sizeof *first);
	int rc = -1;

	r->servers = calloc(SERVERS_MAX, sizeof *r->servers);
	r->steps = calloc(STEPS_MAX, sizeof *r->steps);
	if (!first || !r->servers || !r->steps)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint64_t rep;
		first[i] = r->n_servers;
		if (add_plan(r, &files[i], prefixed) != 0)
			goto out;
		if (ts_jv_u64(ts_jv_get(files[i].doc, "repeat"), &rep) == 0 && rep > r->repeat)
			r->repeat = rep > REPEAT_MAX ? REPEAT_MAX : rep;
	}
	if (cmp_result_alloc(r) != 0)
		goto out;
	/* A step a file lacks is skipped for its servers, until its results say otherwise. */
	for (size_t i = 0; i < r->n_servers * r->n_steps; i++)
		snprintf(r->cells[i].skipped, sizeof r->cells[i].skipped, "not in that result");
	for (size_t i = 0; i < n; i++)
		if (add_results(r, &files[i], first[i], prefixed) != 0) {
			fprintf(err, "tsecho compare: %s: a result that does not decode\n",
				files[i].path);
			goto out;
		}
	load_header(r, files[0].doc);
	snprintf(r->title, sizeof r->title, "tsecho compare: %zu saved result%s", n,
		 n == 1 ? "" : "s");
	rc = 0;
out:
	free(first);
	return rc;
}

int cmp_load(struct cmp_result *r, char *const *paths, size_t n, FILE *err)
{
	struct file files[FILES_MAX];
	int rc = -1;

	if (n > FILES_MAX) {
		fprintf(err, "tsecho compare: at most %d saved results\n", FILES_MAX);
		return -1;
	}
	memset(files, 0, sizeof files);
	for (size_t i = 0; i < n; i++) {
		files[i].path = paths[i];
		if (read_file(&files[i], err) != 0)
			goto out;
	}
	rc = build(r, files, n, err);
	if (rc != 0 && !r->servers)
		fprintf(err, "tsecho compare: out of memory\n");
	else if (rc != 0 && r->cells == NULL)
		fprintf(err, "tsecho compare: a saved result with too many or unnamed "
			     "servers or steps\n");
out:
	for (size_t i = 0; i < n; i++) {
		ts_jv_free(files[i].doc);
		free(files[i].text);
	}
	return rc;
}
