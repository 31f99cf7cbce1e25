/* tsecho compare's built-in servers: `tsecho server` on one engine, in a
 * child process of its own so that its CPU time (from /proc) and its
 * system calls (a perf counter on the raw_syscalls:sys_enter tracepoint)
 * are its alone.  See compare.h. */
#define _GNU_SOURCE
#include "config.h"

#include "compare.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tsecho/clock.h>

#define START_TIMEOUT_NS (10 * TS_NS_PER_S)
#define STOP_TIMEOUT_NS (5 * TS_NS_PER_S)

static const char *const tracepoint_ids[] = {
	"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
	"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
};

/* The first line of path into buf, its newline dropped; 0 or -1. */
static int read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fgets(buf, (int)cap, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The tracepoint's id, or -1 when tracefs is not mounted. */
static long tracepoint_id(void)
{
	char buf[32];

	for (size_t i = 0; i < sizeof tracepoint_ids / sizeof tracepoint_ids[0]; i++)
		if (read_line(tracepoint_ids[i], buf, sizeof buf) == 0)
			return strtol(buf, NULL, 10);
	return -1;
}

static int perf_counter(pid_t pid, long id)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof a);
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof a;
	a.config = (uint64_t)id;
	a.inherit = 1; /* threads it starts too */
	return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

int cmp_syscalls_countable(char *why, size_t cap)
{
	long id = tracepoint_id();
	int fd;

	if (id < 0) {
		snprintf(why, cap,
			 "not counted: tracefs is not mounted (mount -t tracefs "
			 "nodev /sys/kernel/tracing)");
		return 0;
	}
	fd = perf_counter(getpid(), id);
	if (fd < 0) {
		snprintf(why, cap, "not counted: perf_event_open: %s (kernel.perf_event_paranoid)",
			 strerror(errno));
		return 0;
	}
	close(fd);
	snprintf(why, cap, "counted by a perf counter on raw_syscalls:sys_enter");
	return 1;
}

/* The child: stdout and stderr into the pipe, pinned, then the server. */
static void exec_server(int out, const char *engine, int cpu, uint64_t max_clients, int busy_poll)
{
	/* execv takes char *const[]: the arguments live in arrays of our own. */
	char a_name[] = "tsecho", a_server[] = "server", a_quiet[] = "-q", a_udp[] = "--no-udp";
	char a_l[] = "-l", a_addr[] = "127.0.0.1", a_p[] = "-p", a_port[] = "0";
	char a_engine[] = "--engine", a_clients[] = "--max-clients", a_busy[] = "--busy-poll";
	char a_per_source[] = "--max-clients-per-source"; /* all of them come from 127.0.0.1 */
	char engine_buf[16], clients[32];
	char *argv[16];
	int n = 0;

	if (dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
		_exit(127);
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			fprintf(stderr, "cannot pin to CPU %d: %s\n", cpu, strerror(errno));
			_exit(127);
		}
	}
	snprintf(engine_buf, sizeof engine_buf, "%s", engine);
	snprintf(clients, sizeof clients, "%llu", (unsigned long long)max_clients);
	argv[n++] = a_name;
	argv[n++] = a_server;
	argv[n++] = a_quiet;
	argv[n++] = a_udp;
	argv[n++] = a_l;
	argv[n++] = a_addr;
	argv[n++] = a_p;
	argv[n++] = a_port;
	argv[n++] = a_engine;
	argv[n++] = engine_buf;
	argv[n++] = a_clients;
	argv[n++] = clients;
	argv[n++] = a_per_source;
	argv[n++] = clients;
	if (busy_poll)
		argv[n++] = a_busy;
	argv[n] = NULL;
	execv("/proc/self/exe", argv);
	fprintf(stderr, "cannot run /proc/self/exe: %s\n", strerror(errno));
	_exit(127);
}

/* Reads the child's lines until it listens: 0, or -1 with why. */
static int await_listening(struct cmp_child *c, char *why, size_t cap)
{
	char buf[4096];
	size_t len = 0;
	int64_t deadline = ts_mono_ns() + START_TIMEOUT_NS;

	why[0] = '\0';
	for (;;) {
		struct pollfd pfd = { .fd = c->out_fd, .events = POLLIN };
		int64_t left_ms = (deadline - ts_mono_ns()) / TS_NS_PER_MS;
		char *nl;
		ssize_t n;

		if (left_ms <= 0) {
			snprintf(why, cap, "the server did not start within %d s",
				 (int)(START_TIMEOUT_NS / TS_NS_PER_S));
			return -1;
		}
		if (poll(&pfd, 1, (int)left_ms) < 0 && errno != EINTR) {
			snprintf(why, cap, "poll: %s", strerror(errno));
			return -1;
		}
		n = read(c->out_fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			buf[len] = '\0';
			snprintf(why, cap, "the server exited: %.*s", (int)strcspn(buf, "\n"),
				 len ? buf : "(no output)");
			return -1;
		}
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			const char *colon;
			*nl = '\0';
			if (strncmp(buf, "engine ", 7) == 0)
				snprintf(c->setup, sizeof c->setup, "%.255s", buf);
			if (strncmp(buf, "listening on tcp ", 17) == 0 &&
			    (colon = strrchr(buf, ':')) != NULL) {
				c->port = atoi(colon + 1);
				return c->port > 0 ? 0 : -1;
			}
			if (strncmp(buf, "tsecho server: ", 15) == 0)
				snprintf(why, cap, "%s", buf + 15);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof buf - 1)
			len = 0; /* a line too long to be one of ours */
	}
}

int cmp_spawn(struct cmp_child *c, const char *engine, int cpu, uint64_t max_clients, int busy_poll,
	      char *why, size_t why_cap)
{
	int pipefd[2];
	long id;

	memset(c, 0, sizeof *c);
	c->out_fd = c->perf_fd = -1;
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		snprintf(why, why_cap, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		snprintf(why, why_cap, "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (c->pid == 0) {
		close(pipefd[0]);
		exec_server(pipefd[1], engine, cpu, max_clients, busy_poll);
	}
	close(pipefd[1]);
	c->out_fd = pipefd[0];
	if (await_listening(c, why, why_cap) != 0) {
		char ignored[64];
		if (!why[0])
			snprintf(why, why_cap, "the server did not say where it listens");
		cmp_child_stop(c, ignored, sizeof ignored);
		return -1;
	}
	id = tracepoint_id();
	if (id >= 0)
		c->perf_fd = perf_counter(c->pid, id);
	return 0;
}

int cmp_child_stop(struct cmp_child *c, char *why, size_t why_cap)
{
	int64_t deadline = ts_mono_ns() + STOP_TIMEOUT_NS;
	int status = 0, rc = 0;
	pid_t got = 0;

	why[0] = '\0';
	if (c->pid > 0) {
		if (kill(c->pid, SIGTERM) != 0)
			rc = -1;
		while ((got = waitpid(c->pid, &status, WNOHANG)) == 0 && ts_mono_ns() < deadline) {
			struct timespec nap = { 0, 5 * TS_NS_PER_MS };
			nanosleep(&nap, NULL);
		}
		if (got == 0) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &status, 0);
			snprintf(why, why_cap, "the server did not stop within 5 s");
			rc = -1;
		} else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM) {
			snprintf(why, why_cap, "the server died of signal %d", WTERMSIG(status));
			rc = -1;
		} else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
			snprintf(why, why_cap, "the server exited with status %d",
				 WEXITSTATUS(status));
			rc = -1;
		}
	}
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->perf_fd >= 0)
		close(c->perf_fd);
	c->out_fd = c->perf_fd = -1;
	c->pid = 0;
	return rc;
}

/* pid's CPU time, every thread of it (io_uring's workers too), in ns:
 * its process CPU clock, exact where /proc/PID/stat counts 10 ms ticks.
 * -1 when unreadable. */
static double process_cpu_ns(pid_t pid)
{
	clockid_t clock;
	struct timespec ts;

	if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0)
		return -1;
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int cmp_child_cpu(const struct cmp_child *c, double *user_s, double *sys_s, double *total_s)
{
	double ns = process_cpu_ns(c->pid);

	char path[64], buf[1024];
	unsigned long long utime, stime;
	long hz = sysconf(_SC_CLK_TCK);
	const char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)c->pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name in parentheses may hold anything: fields follow the last. */
	p = strrchr(buf, ')');
	if (!p || hz <= 0 ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
		   &stime) != 2)
		return -1;
	*user_s = (double)utime / (double)hz;
	*sys_s = (double)stime / (double)hz;
	*total_s = ns >= 0 ? ns / 1e9 : *user_s + *sys_s;
	return 0;
}

double cmp_child_syscalls(const struct cmp_child *c)
{
	uint64_t count;

	if (c->perf_fd < 0 || read(c->perf_fd, &count, sizeof count) != (ssize_t)sizeof count)
		return CMP_UNKNOWN;
	return (double)count;
}

/* "model name : X" of /proc/cpuinfo into buf. */
static void cpu_model(char *buf, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, cap, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (colon && strncmp(line, "model name", 10) == 0) {
			colon += 1 + strspn(colon + 1, " \t");
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(buf, cap, "%s", colon);
			break;
		}
	}
	fclose(f);
}

void cmp_system_read(struct cmp_system *sys)
{
	struct utsname u;

	if (uname(&u) == 0)
		snprintf(sys->kernel, sizeof sys->kernel, "%s %s %s", u.sysname, u.release,
			 u.machine);
	else
		snprintf(sys->kernel, sizeof sys->kernel, "unknown");
	cpu_model(sys->cpu_model, sizeof sys->cpu_model);
	sys->cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", sys->governor,
		      sizeof sys->governor) != 0)
		snprintf(sys->governor, sizeof sys->governor, "not readable");
	snprintf(sys->version, sizeof sys->version, "%s", PACKAGE_VERSION);
	snprintf(sys->configure, sizeof sys->configure, "%s", TS_CONFIGURE_ARGS);
	cmp_syscalls_countable(sys->syscalls_how, sizeof sys->syscalls_how);
}
