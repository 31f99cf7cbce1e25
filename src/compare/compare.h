/* Between the parts of `tsecho compare` (docs/compare.md): cmd_compare.c
 * (the command line and the plan), spawn.c (a built-in server per engine
 * in a process of its own, its CPU time and system calls), run.c (the
 * measurements, interleaved), output.c (text, JSON, CSV, .hgrm), load.c
 * (saved results back), report.c (the HTML page and the SVG charts). */
#ifndef TSECHO_COMPARE_H
#define TSECHO_COMPARE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <tsecho/hist.h>
#include <tsecho/ratio.h>

enum cmp_kind {
	CMP_PINGPONG, /* one connection, one message in flight */
	CMP_CLOSED,   /* closed loop, N connections */
	CMP_OPEN,     /* open loop at a fixed rate */
};

/* One workload step, the same against every server. */
struct cmp_step {
	enum cmp_kind kind;
	uint64_t connections;
	double rate; /* CMP_OPEN: messages a second in all */
	uint64_t size;
	int busy_poll; /* CMP_PINGPONG: both ends spin */
	char name[64]; /* "closed 64 conns 64 B": unique, and the key of saved results */
};

/* A server compared: a built-in one on an engine, or one already running. */
struct cmp_server {
	char name[64];    /* the engine's name, or NAME of NAME=HOST */
	char engine[16];  /* built-in: the engine; else "" */
	char target[256]; /* remote: HOST[:PORT] as given */
	char setup[256];  /* its engine line ("engine io_uring (...)"), or "" */
	int remote;
	int optional;             /* of the default engines: not starting is a skip, not a fault */
	uint64_t max_connections; /* 0: no limit known */
};

#define CMP_UNKNOWN (-1.0) /* a figure that could not be measured */

/* One server, one step, one repetition. */
struct cmp_sample {
	int done; /* it ran (it may still have failed: fault) */
	double messages_per_s;
	struct ts_hist *hist; /* latency (open loop: corrected) */
	uint64_t sent;        /* warm-up included: the per-message divisor */
	uint64_t messages;    /* recorded, after warm-up */
	uint64_t errors;
	double server_cpu_s; /* CMP_UNKNOWN for a remote server */
	double server_user_s;
	double server_sys_s;
	double syscalls; /* the server's, CMP_UNKNOWN when they cannot be counted */
	double client_cpu_s;
	double client_busy;
	int client_saturated;
	char fault[160]; /* "" or why the measurement did not go as asked */
};

/* One server, one step. */
struct cmp_cell {
	struct cmp_sample *rep; /* [repeat] */
	struct ts_hist *all;    /* every repetition's, merged (computed) */
	char skipped[160];      /* "" or why it was not run */
	int failed;             /* skipped for a fault (the server did not start), not a limit */
};

struct cmp_system {
	char kernel[256];
	char cpu_model[160];
	long cores;
	char governor[64];
	char version[32];
	char configure[512];
	int server_cpu; /* the CPU the built-in servers were pinned to, -1: none */
	char load_cpus[64];
	char syscalls_how[160]; /* how system calls were counted, or why not */
};

struct cmp_result {
	struct cmp_server *servers;
	size_t n_servers;
	struct cmp_step *steps;
	size_t n_steps;
	size_t repeat;
	struct cmp_cell *cells; /* [server * n_steps + step] */
	size_t baseline;        /* the server the ratios are to */
	struct cmp_system sys;
	double duration_s;
	double warmup_s;
	char load_engine[16];
	double wall_s;
	int interrupted;
	char title[128];
};

static inline struct cmp_cell *cmp_cell(const struct cmp_result *r, size_t server, size_t step)
{
	return &r->cells[server * r->n_steps + step];
}

/* Allocates cells for the servers and steps already set; 0 or -ENOMEM. */
int cmp_result_alloc(struct cmp_result *r);
void cmp_result_free(struct cmp_result *r);
/* Merges each cell's repetitions into cell->all. */
void cmp_result_merge(struct cmp_result *r);

/* The figures the tables and charts show, of one cell over its
 * repetitions (means of what each measured), CMP_UNKNOWN where none did. */
struct cmp_figures {
	size_t ran; /* repetitions that ran */
	size_t n;   /* of them, those that gave replies */
	double messages_per_s;
	double server_us_per_message;
	double syscalls_per_message;
	double client_us_per_message;
	double client_busy;
	int client_saturated; /* in any repetition */
	uint64_t errors;
	const char *fault; /* the first repetition's fault, or NULL */
};
struct cmp_figures cmp_figures_of(const struct cmp_result *r, size_t server, size_t step);

/* One figure of a cell, CMP_UNKNOWN where it has none: messages a
 * second (higher is better), a latency percentile in ns (pct 100: the
 * maximum), server CPU µs or system calls per message. */
enum cmp_fig { CMP_FIG_MPS, CMP_FIG_LATENCY, CMP_FIG_SERVER_CPU, CMP_FIG_SYSCALLS };
double cmp_figure(const struct cmp_result *r, size_t server, size_t step, enum cmp_fig what,
		  double pct);
/* Whether no server did better in that figure on that step (ties all best). */
int cmp_is_best(const struct cmp_result *r, size_t server, size_t step, enum cmp_fig what,
		double pct);

/* A figure's ratio, server to the baseline, paired by repetition.  which:
 * 0 messages per second, 1 p99. */
struct ts_ratio cmp_ratio(const struct cmp_result *r, size_t server, size_t step, int which);

/* The workload group a step is shown in: one table and one set of charts
 * each ("ping-pong 64 B", "closed loop 64 B", "open loop 64 B"). */
void cmp_group_name(const struct cmp_step *s, char *buf, size_t cap);
/* Whether step st is the first of its group (the groups, in order). */
int cmp_group_first(const struct cmp_result *r, size_t st);

/* spawn.c: a built-in server on engine, in a child process pinned to cpu
 * (-1: not pinned), on 127.0.0.1 and a port of its own. */
struct cmp_child {
	pid_t pid;
	int out_fd; /* its stdout */
	int port;
	int perf_fd; /* its system calls, or -1 */
	char setup[256];
};
int cmp_spawn(struct cmp_child *c, const char *engine, int cpu, uint64_t max_clients, int busy_poll,
	      char *why, size_t why_cap);
/* Stops it (SIGTERM, then SIGKILL after 5 s); 0, or -1 when it had
 * already died or did not exit cleanly (why says how). */
int cmp_child_stop(struct cmp_child *c, char *why, size_t why_cap);
/* Its CPU time so far: user and system seconds (/proc/PID/stat, in ticks)
 * and their total (its process CPU clock, in ns); -1 when unreadable. */
int cmp_child_cpu(const struct cmp_child *c, double *user_s, double *sys_s, double *total_s);
/* Its system calls so far, or CMP_UNKNOWN. */
double cmp_child_syscalls(const struct cmp_child *c);
/* Whether system calls can be counted here; why says how, or why not. */
int cmp_syscalls_countable(char *why, size_t cap);
/* The system's description for the report. */
void cmp_system_read(struct cmp_system *sys);

/* run.c: measures every server on every step, repeat times, interleaved.
 * Returns 0, or 2 after a message when nothing could be measured. */
struct cmp_run_opts {
	double duration_s;
	double warmup_s;
	const char *load_engine; /* NULL: the default */
	int server_cpu;          /* -1: not pinned */
	int quiet;
};
int cmp_run(struct cmp_result *r, const struct cmp_run_opts *o);

/* output.c */
void cmp_print_text(FILE *out, const struct cmp_result *r);
void cmp_print_json(FILE *out, const struct cmp_result *r);
void cmp_print_csv(FILE *out, const struct cmp_result *r);
/* One .hgrm per server and step into dir; 0 or -errno (path in why). */
int cmp_write_hgrm_dir(const struct cmp_result *r, const char *dir, char *why, size_t cap);
/* A step's name as a file name ("closed-64-conns-64-B"). */
void cmp_slug(const char *name, char *buf, size_t cap);

/* load.c: saved results (one file each) into r.  0, or -1 after a message
 * on err. */
int cmp_load(struct cmp_result *r, char *const *paths, size_t n, FILE *err);

/* report.c: the HTML page; the charts as standalone SVG files into dir.
 * 0 or -errno. */
int cmp_write_html(FILE *out, const struct cmp_result *r, const char *command);
int cmp_write_svg_dir(const struct cmp_result *r, const char *dir, char *why, size_t cap);

int ts_cmd_compare(int argc, char **argv);

#endif
