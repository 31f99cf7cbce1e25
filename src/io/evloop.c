/* Event loop, backend-independent part: see evloop.h. */
#include "config.h"

#include <tsecho/evloop.h>

#include <errno.h>
#include <stdlib.h>

#include "evloop_impl.h"

enum { FIRED_MAX = 512 }; /* events taken from the backend per wait */

struct ts_evloop *ts_evloop_new(int max_fds)
{
	struct ts_evloop *loop;

	if (max_fds <= 0) {
		errno = EINVAL;
		return NULL;
	}
	loop = calloc(1, sizeof *loop);
	if (!loop)
		return NULL;
	loop->max_fds = max_fds;
	loop->fired_cap = FIRED_MAX;
	loop->slots = calloc((size_t)max_fds, sizeof *loop->slots);
	loop->fired = calloc(FIRED_MAX, sizeof *loop->fired);
	if (!loop->slots || !loop->fired || ts_evbackend_init(loop) != 0) {
		int saved = errno;
		free(loop->slots);
		free(loop->fired);
		free(loop);
		errno = saved;
		return NULL;
	}
	return loop;
}

void ts_evloop_free(struct ts_evloop *loop)
{
	if (!loop)
		return;
	ts_evbackend_fini(loop);
	free(loop->slots);
	free(loop->fired);
	free(loop);
}

static struct ts_ev_slot *slot_of(struct ts_evloop *loop, int fd)
{
	if (fd < 0 || fd >= loop->max_fds)
		return NULL;
	return &loop->slots[fd];
}

int ts_evloop_add(struct ts_evloop *loop, int fd, int events, ts_ev_cb *cb, void *arg)
{
	struct ts_ev_slot *s = slot_of(loop, fd);
	int rc;

	if (!s || !cb)
		return -EBADF;
	if (s->cb)
		return -EEXIST;
	rc = ts_evbackend_change(loop, fd, 0, events);
	if (rc != 0)
		return rc;
	s->cb = cb;
	s->arg = arg;
	s->events = events;
	s->gen++;
	return 0;
}

int ts_evloop_set(struct ts_evloop *loop, int fd, int events)
{
	struct ts_ev_slot *s = slot_of(loop, fd);
	int rc;

	if (!s || !s->cb)
		return -EBADF;
	if (s->events == events)
		return 0;
	rc = ts_evbackend_change(loop, fd, s->events, events);
	if (rc != 0)
		return rc;
	s->events = events;
	return 0;
}

int ts_evloop_del(struct ts_evloop *loop, int fd)
{
	struct ts_ev_slot *s = slot_of(loop, fd);
	int rc;

	if (!s || !s->cb)
		return -EBADF;
	rc = ts_evbackend_change(loop, fd, s->events, 0);
	s->cb = NULL;
	s->arg = NULL;
	s->events = 0;
	return rc;
}

int ts_evloop_run_once(struct ts_evloop *loop, int timeout_ms)
{
	int n = ts_evbackend_wait(loop, timeout_ms);

	if (n == -EINTR)
		return 0;
	if (n < 0)
		return n;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			const struct ts_ev_fired *f = &loop->fired[i];
			struct ts_ev_slot *s = &loop->slots[f->fd];
			int events;

			/* An earlier callback of this round may have deleted
			 * this fd, or deleted it and registered a new one with
			 * the same number: the generation tells. */
			if (!s->cb || s->gen != f->gen)
				continue;
			if (!!(s->events & TS_EV_DEFER) != pass)
				continue;
			events = f->events & s->events & (TS_EV_READ | TS_EV_WRITE);
			if (events)
				s->cb(loop, f->fd, events, s->arg);
		}
	}
	return n;
}

const char *ts_evloop_backend_name(void)
{
	return ts_evbackend_name;
}
