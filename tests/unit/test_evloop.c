/* The event loop, whichever backend was built, over pipes. */
#include "config.h"

#include <errno.h>
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

Test(evloop, read_write_and_interest)
{
	struct ts_evloop *loop = ts_evloop_new(1024);
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

Test(evloop, delete_during_dispatch)
{
	struct ts_evloop *loop = ts_evloop_new(1024);
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

Test(evloop, hangup_reported)
{
	struct ts_evloop *loop = ts_evloop_new(1024);
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

Test(evloop, deferred_run_last)
{
	struct ts_evloop *loop = ts_evloop_new(1024);
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
