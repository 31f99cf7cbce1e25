/* The event loop over pipes, every test on every backend this build has. */
#include "config.h"

#include <errno.h>
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

static const char *const backends[] = { "epoll", "poll", "select" };

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

/* A loop on backend row, or the test skipped when this build lacks it. */
static struct ts_evloop *loop_on(size_t row, int max_fds)
{
	struct ts_evloop *loop;

	if (!ts_evloop_has(backends[row]))
		cr_skip("no %s backend in this build", backends[row]);
	loop = ts_evloop_new_named(backends[row], max_fds);
	cr_assert(loop != NULL, "%s: cannot make a loop", backends[row]);
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
