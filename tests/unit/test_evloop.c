/* The event loop over pipes, every test on every backend this build has. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include <tsecho/evloop.h>
#include "unit.h"

struct seen {
	int calls;
	int events;
	int fd;
	int other_fd; /* deleted by the callback when >= 0 */
};

static void record(struct ts_evloop *loop, int fd, int events, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->events = events;
	s->fd = fd;
	if (s->other_fd >= 0) {
		ts_evloop_del(loop, s->other_fd);
		s->other_fd = -1;
	}
}

static const char *const backends[] = { "epoll", "poll", "select", "io_uring" };

ParameterizedTestParameters(evloop, read_write_and_interest)
{
	TS_TABLE_ROWS(backends);
}
ParameterizedTestParameters(evloop, delete_during_dispatch)
{
	TS_TABLE_ROWS(backends);
}
ParameterizedTestParameters(evloop, hangup_reported)
{
	TS_TABLE_ROWS(backends);
}
ParameterizedTestParameters(evloop, deferred_run_last)
{
	TS_TABLE_ROWS(backends);
}
ParameterizedTestParameters(evloop, level_triggered_partial_read)
{
	TS_TABLE_ROWS(backends);
}
ParameterizedTestParameters(evloop, interest_flips_report_only_asked)
{
	TS_TABLE_ROWS(backends);
}
ParameterizedTestParameters(evloop, delete_while_watched_then_reuse)
{
	TS_TABLE_ROWS(backends);
}
ParameterizedTestParameters(evloop, more_ready_than_one_wait_takes)
{
	TS_TABLE_ROWS(backends);
}

/* A loop on backend row, or the test skipped when this build lacks it. */
static struct ts_evloop *loop_on(size_t row, int max_fds)
{
	struct ts_evloop *loop;

	if (!ts_evloop_has(backends[row]))
		cr_skip("no %s backend in this build", backends[row]);
	loop = ts_evloop_new_named(backends[row], max_fds);
	/* Built, but the kernel or a seccomp filter (Docker's default
	 * profile) refuses io_uring here. */
	if (!loop && strcmp(backends[row], "io_uring") == 0 && (errno == EPERM || errno == ENOSYS))
		cr_skip("io_uring denied here: %s", strerror(errno));
	cr_assert(loop != NULL, "%s: cannot make a loop: %s", backends[row], strerror(errno));
	cr_expect_str_eq(ts_evloop_name(loop), backends[row]);
	return loop;
}

ParameterizedTest(size_t *row, evloop, read_write_and_interest)
{
	struct ts_evloop *loop = loop_on(*row, 1024);
	int p[2];
	struct seen r = { 0, 0, -1, -1 }, w = { 0, 0, -1, -1 };

	cr_expect(loop != NULL);
	cr_expect(eq(i64, pipe(p), 0));
	cr_expect(eq(i64, ts_evloop_add(loop, p[0], TS_EV_READ, record, &r), 0));
	cr_expect(eq(i64, ts_evloop_add(loop, p[0], TS_EV_READ, record, &r), -EEXIST));
	/* Nothing to read yet: the wait times out. */
	cr_expect(eq(i64, ts_evloop_run_once(loop, 10), 0));
	cr_expect(eq(i64, r.calls, 0));
	cr_expect(eq(i64, write(p[1], "x", 1), 1));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, r.calls, 1));
	cr_expect(eq(i64, r.events, TS_EV_READ));
	cr_expect(eq(i64, r.fd, p[0]));
	/* Level-triggered: still readable, reported again. */
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, r.calls, 2));
	/* Interest off: not reported, though readable. */
	cr_expect(eq(i64, ts_evloop_set(loop, p[0], 0), 0));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 10), 0));
	cr_expect(eq(i64, r.calls, 2));
	cr_expect(eq(i64, ts_evloop_set(loop, p[0], TS_EV_READ), 0));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, r.calls, 3));
	/* The write end of an empty pipe is writable. */
	cr_expect(eq(i64, ts_evloop_add(loop, p[1], TS_EV_WRITE, record, &w), 0));
	cr_expect(eq(i64, ts_evloop_del(loop, p[0]), 0));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, w.calls, 1));
	cr_expect(eq(i64, w.events, TS_EV_WRITE));
	cr_expect(eq(i64, ts_evloop_del(loop, p[1]), 0));
	cr_expect(eq(i64, ts_evloop_del(loop, p[1]), -EBADF));
	cr_expect(eq(i64, ts_evloop_add(loop, 5000, TS_EV_READ, record, &w), -EBADF));
	close(p[0]);
	close(p[1]);
	ts_evloop_free(loop);
}

ParameterizedTest(size_t *row, evloop, delete_during_dispatch)
{
	struct ts_evloop *loop = loop_on(*row, 1024);
	int a[2], b[2];
	struct seen sa = { 0, 0, -1, -1 }, sb = { 0, 0, -1, -1 };

	cr_expect(eq(i64, pipe(a), 0));
	cr_expect(eq(i64, pipe(b), 0));
	/* Both ready; whichever runs first deletes the other, which must
	 * then not run in the same round. */
	sa.other_fd = b[0];
	sb.other_fd = a[0];
	cr_expect(eq(i64, ts_evloop_add(loop, a[0], TS_EV_READ, record, &sa), 0));
	cr_expect(eq(i64, ts_evloop_add(loop, b[0], TS_EV_READ, record, &sb), 0));
	cr_expect(eq(i64, write(a[1], "x", 1), 1));
	cr_expect(eq(i64, write(b[1], "x", 1), 1));
	ts_evloop_run_once(loop, 1000);
	cr_expect(eq(i64, sa.calls + sb.calls, 1));
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	ts_evloop_free(loop);
}

ParameterizedTest(size_t *row, evloop, hangup_reported)
{
	struct ts_evloop *loop = loop_on(*row, 1024);
	int p[2];
	struct seen r = { 0, 0, -1, -1 };

	cr_expect(eq(i64, pipe(p), 0));
	cr_expect(eq(i64, ts_evloop_add(loop, p[0], TS_EV_READ, record, &r), 0));
	close(p[1]);
	/* The writer is gone: the reader learns it through a read event. */
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, r.events & TS_EV_READ, TS_EV_READ));
	close(p[0]);
	ts_evloop_free(loop);
}

static int order[4];
static int n_order;

static void note_order(struct ts_evloop *loop, int fd, int events, void *arg)
{
	char c;

	(void)loop;
	(void)events;
	if (read(fd, &c, 1) != 1)
		cr_fail("read from a ready pipe failed");
	if (n_order < 4)
		order[n_order++] = *(int *)arg;
}

ParameterizedTest(size_t *row, evloop, deferred_run_last)
{
	struct ts_evloop *loop = loop_on(*row, 1024);
	int p[3][2];
	int ids[3] = { 0, 1, 2 };

	n_order = 0;
	/* The first registered is deferred: it must run after the others,
	 * whatever order the backend reports them in. */
	for (int i = 0; i < 3; i++) {
		cr_expect(eq(i64, pipe(p[i]), 0));
		cr_expect(eq(i64,
			     ts_evloop_add(loop, p[i][0], TS_EV_READ | (i == 0 ? TS_EV_DEFER : 0),
					   note_order, &ids[i]),
			     0));
		cr_expect(eq(i64, write(p[i][1], "x", 1), 1));
	}
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 3));
	cr_expect(eq(i64, n_order, 3));
	cr_expect(eq(i64, order[2], 0));
	/* Deferred alone, interest off: not reported. */
	cr_expect(eq(i64, ts_evloop_set(loop, p[0][0], TS_EV_DEFER), 0));
	cr_expect(eq(i64, write(p[0][1], "x", 1), 1));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 10), 0));
	for (int i = 0; i < 3; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	ts_evloop_free(loop);
}

/* select() cannot watch a descriptor at or past FD_SETSIZE: it is refused
 * before anything touches an fd_set, and the others go on. */
Test(evloop, select_refuses_past_fd_setsize)
{
	struct rlimit rl;
	struct ts_evloop *loop;
	struct seen r = { .other_fd = -1 };
	int p[2], high = FD_SETSIZE + 10;

	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= (rlim_t)high)
		cr_skip("RLIMIT_NOFILE hard limit %llu is below %d",
			(unsigned long long)rl.rlim_max, high + 1);
	rl.rlim_cur = (rlim_t)high + 1;
	cr_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	cr_assert(pipe(p) == 0);
	cr_assert(dup2(p[0], high) == high);
	loop = ts_evloop_new_named("select", high + 1);
	cr_assert(loop != NULL);
	cr_expect(eq(i64, ts_evloop_add(loop, high, TS_EV_READ, record, &r), -EMFILE));
	cr_expect(eq(i64, ts_evloop_add(loop, p[0], TS_EV_READ, record, &r), 0));
	cr_expect(eq(i64, write(p[1], "x", 1), 1));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(int, r.fd, p[0]));
	ts_evloop_free(loop);
	close(high);
	close(p[0]);
	close(p[1]);
}

Test(evloop, unknown_backend)
{
	cr_expect(ts_evloop_new_named("kqueue-on-linux", 16) == NULL);
	cr_expect(eq(int, errno, ENOENT));
	cr_expect(ts_evloop_has("poll"));
	cr_expect(ts_evloop_has("select"));
}

struct reader {
	int calls;
	int events; /* of the last call */
	int asked;  /* the interest the test last set */
	int bad;    /* calls with an event not asked for */
	int got;    /* bytes read */
};

/* A pipe whose read end does not block, so that an event reported by
 * mistake fails the test rather than hanging it. */
static void nb_pipe(int p[2])
{
	int flags;

	cr_assert(eq(i64, pipe(p), 0));
	flags = fcntl(p[0], F_GETFL);
	cr_assert(flags >= 0);
	cr_assert(eq(i64, fcntl(p[0], F_SETFL, flags | O_NONBLOCK), 0));
}

/* Reads one byte per call, whatever is left. */
static void read_one(struct ts_evloop *loop, int fd, int events, void *arg)
{
	struct reader *r = arg;
	char c;

	(void)loop;
	r->calls++;
	r->events = events;
	if (events & ~r->asked)
		r->bad++;
	if ((events & TS_EV_READ) && read(fd, &c, 1) == 1)
		r->got++;
}

/* A callback that leaves data unread is called again on the next wait
 * (an edge-triggered backend, or a multishot poll, would wait for more). */
ParameterizedTest(size_t *row, evloop, level_triggered_partial_read)
{
	struct ts_evloop *loop = loop_on(*row, 1024);
	struct reader r = { .asked = TS_EV_READ };
	int p[2];

	nb_pipe(p);
	cr_expect(eq(i64, ts_evloop_add(loop, p[0], TS_EV_READ, read_one, &r), 0));
	cr_expect(eq(i64, write(p[1], "xy", 2), 2));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, r.got, 1));
	/* One byte left, nothing new written: reported again. */
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, r.got, 2));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 10), 0));
	cr_expect(eq(i64, r.calls, 2));
	/* And so again after a write that finds the watch already there. */
	cr_expect(eq(i64, write(p[1], "zw", 2), 2));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, r.got, 4));
	close(p[0]);
	close(p[1]);
	ts_evloop_free(loop);
}

static int set_interest(struct ts_evloop *loop, int fd, struct reader *r, int events)
{
	r->asked = events;
	return ts_evloop_set(loop, fd, events);
}

/* Interest turned from read to write (never true of a pipe's read end),
 * or off, after a read watch was in place and data came: the read that the
 * old watch may have seen is not reported, nor counted as fired.  Done many
 * times, with flips between two waits too, it leaves no watch behind. */
ParameterizedTest(size_t *row, evloop, interest_flips_report_only_asked)
{
	struct ts_evloop *loop = loop_on(*row, 1024);
	struct reader r = { .asked = TS_EV_READ };
	int p[2];

	nb_pipe(p);
	cr_assert(eq(i64, ts_evloop_add(loop, p[0], TS_EV_READ, read_one, &r), 0));
	for (int i = 0; i < 1000; i++) {
		/* Watching an empty pipe. */
		cr_assert(eq(i64, ts_evloop_run_once(loop, 0), 0));
		cr_assert(eq(i64, write(p[1], "x", 1), 1));
		cr_assert(eq(i64, set_interest(loop, p[0], &r, TS_EV_WRITE), 0));
		cr_assert(eq(i64, ts_evloop_run_once(loop, 0), 0), "round %d", i);
		/* Flips between two waits, ending on write. */
		for (int k = 0; k < 3; k++) {
			cr_assert(eq(i64, set_interest(loop, p[0], &r, TS_EV_READ), 0));
			cr_assert(eq(i64, set_interest(loop, p[0], &r, TS_EV_WRITE), 0));
		}
		cr_assert(eq(i64, ts_evloop_run_once(loop, 0), 0), "round %d", i);
		cr_assert(eq(i64, set_interest(loop, p[0], &r, TS_EV_READ), 0));
		/* Exactly one event, the read, which empties the pipe. */
		cr_assert(eq(i64, ts_evloop_run_once(loop, 1000), 1), "round %d", i);
		cr_assert(eq(i64, r.events, TS_EV_READ));
		cr_assert(eq(i64, r.got, 2 * i + 1));
		/* The same with the interest turned off. */
		cr_assert(eq(i64, ts_evloop_run_once(loop, 0), 0));
		cr_assert(eq(i64, write(p[1], "x", 1), 1));
		cr_assert(eq(i64, set_interest(loop, p[0], &r, 0), 0));
		cr_assert(eq(i64, ts_evloop_run_once(loop, 0), 0), "round %d", i);
		cr_assert(eq(i64, set_interest(loop, p[0], &r, TS_EV_READ), 0));
		cr_assert(eq(i64, ts_evloop_run_once(loop, 1000), 1), "round %d", i);
		cr_assert(eq(i64, r.got, 2 * i + 2));
	}
	cr_expect(eq(i64, r.calls, 2000));
	cr_expect(eq(i64, r.bad, 0));
	close(p[0]);
	close(p[1]);
	ts_evloop_free(loop);
}

/* An fd deleted while watched, closed, and its number given to another
 * pipe: the new registration hears the new pipe, the old one nothing. */
ParameterizedTest(size_t *row, evloop, delete_while_watched_then_reuse)
{
	struct ts_evloop *loop = loop_on(*row, 1024);
	struct reader old = { .asked = TS_EV_READ }, fresh = { .asked = TS_EV_READ };
	int p[2], q[2], fd, keep;

	nb_pipe(p);
	nb_pipe(q);
	fd = p[0];
	cr_assert(eq(i64, ts_evloop_add(loop, fd, TS_EV_READ, read_one, &old), 0));
	cr_assert(eq(i64, ts_evloop_run_once(loop, 0), 0));
	/* Deleted and added again before any wait: the same watch, once. */
	cr_expect(eq(i64, ts_evloop_del(loop, fd), 0));
	cr_expect(eq(i64, ts_evloop_add(loop, fd, TS_EV_READ, read_one, &old), 0));
	cr_expect(eq(i64, write(p[1], "x", 1), 1));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, old.calls, 1));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 0), 0));
	/* Now the number names q's read end.  p keeps a reader (keep), so
	 * that a write into it is no SIGPIPE but data nobody watches. */
	keep = dup(p[0]);
	cr_assert(keep >= 0);
	cr_expect(eq(i64, ts_evloop_del(loop, fd), 0));
	cr_assert(eq(i64, dup2(q[0], fd), fd));
	cr_expect(eq(i64, ts_evloop_add(loop, fd, TS_EV_READ, read_one, &fresh), 0));
	cr_expect(eq(i64, write(p[1], "x", 1), 1));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 10), 0));
	cr_expect(eq(i64, write(q[1], "y", 1), 1));
	cr_expect(eq(i64, ts_evloop_run_once(loop, 1000), 1));
	cr_expect(eq(i64, fresh.calls, 1));
	cr_expect(eq(i64, fresh.got, 1));
	cr_expect(eq(i64, old.calls, 1));
	close(fd);
	close(keep);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	ts_evloop_free(loop);
}

enum { MANY = 600 }; /* past what one wait takes (evloop.c's FIRED_MAX, 512) */

static int calls_of[1024];

static void count_calls(struct ts_evloop *loop, int fd, int events, void *arg)
{
	(void)loop;
	(void)events;
	(void)arg;
	calls_of[fd]++;
}

/* More fds ready than one wait takes: what is left over comes first in
 * the next wait, so that every fd has run after two. */
ParameterizedTest(size_t *row, evloop, more_ready_than_one_wait_takes)
{
	struct ts_evloop *loop = loop_on(*row, 1024);
	int p[2], fds[MANY], n;

	memset(calls_of, 0, sizeof calls_of);
	nb_pipe(p);
	cr_assert(eq(i64, write(p[1], "x", 1), 1));
	/* The read end many times over: every one is readable. */
	for (int i = 0; i < MANY; i++) {
		fds[i] = dup(p[0]);
		cr_assert(fds[i] >= 0 && fds[i] < 1024);
		cr_assert(eq(i64, ts_evloop_add(loop, fds[i], TS_EV_READ, count_calls, NULL), 0));
	}
	for (int round = 0; round < 2; round++) {
		n = ts_evloop_run_once(loop, 1000);
		cr_expect(n > 0 && n <= 512, "round %d: %d fired", round, n);
	}
	for (int i = 0; i < MANY; i++)
		cr_expect(calls_of[fds[i]] >= 1, "fd %d never ran", fds[i]);
	for (int i = 0; i < MANY; i++)
		close(fds[i]);
	close(p[0]);
	close(p[1]);
	ts_evloop_free(loop);
}

/* io_uring is chosen only by name: never the default. */
Test(evloop, io_uring_never_default)
{
	struct ts_evloop *loop = ts_evloop_new(16);

	cr_expect_str_neq(ts_evloop_backend_name(), "io_uring");
	cr_assert(loop != NULL);
	cr_expect_str_eq(ts_evloop_name(loop), ts_evloop_backend_name());
	ts_evloop_free(loop);
#ifdef HAVE_LIBURING
	cr_expect(ts_evloop_has("io_uring"));
#else
	cr_expect(ts_evloop_has("io_uring") == 0);
#endif
}
