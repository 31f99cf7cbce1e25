/* Event loop backend: Linux epoll, level-triggered. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "evloop_impl.h"

struct epoll_backend {
	int epfd;
	struct epoll_event *events; /* fired_cap entries */
};

static int backend_init(struct ts_evloop *loop)
{
	struct epoll_backend *b = calloc(1, sizeof *b);

	if (!b)
		return -ENOMEM;
	b->events = calloc((size_t)loop->fired_cap, sizeof *b->events);
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!b->events || b->epfd < 0) {
		int err = b->events ? errno : ENOMEM;
		if (b->epfd >= 0)
			close(b->epfd);
		free(b->events);
		free(b);
		errno = err;
		return -err;
	}
	loop->backend = b;
	return 0;
}

static void backend_fini(struct ts_evloop *loop)
{
	struct epoll_backend *b = loop->backend;

	if (!b)
		return;
	close(b->epfd);
	free(b->events);
	free(b);
	loop->backend = NULL;
}

static int backend_change(struct ts_evloop *loop, int fd, int old_events, int new_events)
{
	struct epoll_backend *b = loop->backend;
	struct epoll_event ev = { 0 };
	int op;

	old_events &= TS_EV_READ | TS_EV_WRITE;
	new_events &= TS_EV_READ | TS_EV_WRITE;
	if (old_events == 0 && new_events == 0)
		return 0;
	op = old_events == 0 ? EPOLL_CTL_ADD : new_events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
	if (new_events & TS_EV_READ)
		ev.events |= EPOLLIN;
	if (new_events & TS_EV_WRITE)
		ev.events |= EPOLLOUT;
	ev.data.fd = fd;
	if (epoll_ctl(b->epfd, op, fd, &ev) != 0)
		return -errno;
	return 0;
}

static int backend_wait(struct ts_evloop *loop, int timeout_ms)
{
	struct epoll_backend *b = loop->backend;
	int n = epoll_wait(b->epfd, b->events, loop->fired_cap, timeout_ms);

	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		uint32_t e = b->events[i].events;
		int fd = b->events[i].data.fd;
		int events = 0;

		if (e & (EPOLLERR | EPOLLHUP))
			events = TS_EV_READ | TS_EV_WRITE;
		if (e & EPOLLIN)
			events |= TS_EV_READ;
		if (e & EPOLLOUT)
			events |= TS_EV_WRITE;
		loop->fired[i].fd = fd;
		loop->fired[i].events = events;
		loop->fired[i].gen = loop->slots[fd].gen;
	}
	return n;
}

static int backend_fd(const struct ts_evloop *loop)
{
	const struct epoll_backend *b = loop->backend;
	return b->epfd;
}

const struct ts_evbackend ts_evbackend_epoll = {
	.name = "epoll",
	.init = backend_init,
	.fini = backend_fini,
	.change = backend_change,
	.wait = backend_wait,
	.fd = backend_fd,
};
