/* Event loop, backend-independent part: see evloop.h. */
#include "config.h"

#include <tsecho/evloop.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evloop_impl.h"

enum { FIRED_MAX = 512 }; /* events taken from the backend per wait */

/* Every backend this build has, the default (configure --with-evloop)
 * first.  io_uring comes last and is never the default: a ring may be
 * denied (seccomp, kernel.io_uring_disabled), and the caller that asks for
 * it by name decides what to fall back to. */
static const struct ts_evbackend *const backends[] = {
#ifdef TS_EVLOOP_DEFAULT_POLL
	&ts_evbackend_poll,
#endif
#ifdef HAVE_EPOLL
	&ts_evbackend_epoll,
#endif
#ifndef TS_EVLOOP_DEFAULT_POLL
	&ts_evbackend_poll,
#endif
	&ts_evbackend_select,
#ifdef HAVE_LIBURING
	&ts_evbackend_uring,
#endif
};

static const struct ts_evbackend *find_backend(const char *name)
{
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
		if (!name || strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

struct ts_evloop *ts_evloop_new_named(const char *name, int max_fds)
{
	const struct ts_evbackend *ops = find_backend(name);
	struct ts_evloop *loop;
	int rc = -ENOMEM;

	if (!ops) {
		errno = ENOENT;
		return NULL;
	}
	if (max_fds <= 0) {
		errno = EINVAL;
		return NULL;
	}
	loop = calloc(1, sizeof *loop);
	if (!loop)
		return NULL;
	loop->ops = ops;
	loop->max_fds = max_fds;
	loop->fired_cap = FIRED_MAX;
	loop->slots = calloc((size_t)max_fds, sizeof *loop->slots);
	loop->fired = calloc(FIRED_MAX, sizeof *loop->fired);
	if (!loop->slots || !loop->fired || (rc = ops->init(loop)) != 0) {
		free(loop->slots);
		free(loop->fired);
		free(loop);
		errno = -rc;
		return NULL;
	}
	return loop;
}

struct ts_evloop *ts_evloop_new(int max_fds)
{
	return ts_evloop_new_named(NULL, max_fds);
}

int ts_evloop_has(const char *name)
{
	return find_backend(name) != NULL;
}

const char *ts_evloop_name(const struct ts_evloop *loop)
{
	return loop->ops->name;
}

int ts_evloop_fd(const struct ts_evloop *loop)
{
	return loop->ops->fd ? loop->ops->fd(loop) : -1;
}

void ts_evloop_free(struct ts_evloop *loop)
{
	if (!loop)
		return;
	loop->ops->fini(loop);
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
	rc = loop->ops->change(loop, fd, 0, events);
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
	rc = loop->ops->change(loop, fd, s->events, events);
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
	rc = loop->ops->change(loop, fd, s->events, 0);
	s->cb = NULL;
	s->arg = NULL;
	s->events = 0;
	return rc;
}

int ts_evloop_run_once(struct ts_evloop *loop, int timeout_ms)
{
	int n = loop->ops->wait(loop, timeout_ms);

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
	return backends[0]->name;
}
