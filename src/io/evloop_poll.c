/* Event loop backend: poll(2), for systems without epoll.  The pollfd array
 * stays dense: a deleted entry is replaced by the last one. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "evloop_impl.h"

struct poll_backend {
	struct pollfd *pfds; /* n used, max_fds room */
	int *index;          /* fd -> position in pfds, -1 when absent */
	int n;
	int start; /* where the next scan begins, so that no fd starves when
		    * more than fired_cap are ready */
};

static int backend_init(struct ts_evloop *loop)
{
	struct poll_backend *b = calloc(1, sizeof *b);

	if (!b)
		return -ENOMEM;
	b->pfds = calloc((size_t)loop->max_fds, sizeof *b->pfds);
	b->index = malloc((size_t)loop->max_fds * sizeof *b->index);
	if (!b->pfds || !b->index) {
		free(b->pfds);
		free(b->index);
		free(b);
		errno = ENOMEM;
		return -ENOMEM;
	}
	for (int i = 0; i < loop->max_fds; i++)
		b->index[i] = -1;
	loop->backend = b;
	return 0;
}

static void backend_fini(struct ts_evloop *loop)
{
	struct poll_backend *b = loop->backend;

	if (!b)
		return;
	free(b->pfds);
	free(b->index);
	free(b);
	loop->backend = NULL;
}

static short poll_events(int events)
{
	short e = 0;

	if (events & TS_EV_READ)
		e |= POLLIN;
	if (events & TS_EV_WRITE)
		e |= POLLOUT;
	return e;
}

static int backend_change(struct ts_evloop *loop, int fd, int old_events, int new_events)
{
	struct poll_backend *b = loop->backend;
	int at = b->index[fd];

	(void)old_events;
	new_events &= TS_EV_READ | TS_EV_WRITE;
	if (new_events == 0) {
		if (at >= 0) {
			b->n--;
			b->pfds[at] = b->pfds[b->n];
			b->index[b->pfds[at].fd] = at;
			b->index[fd] = -1;
		}
		return 0;
	}
	if (at < 0) {
		at = b->n++;
		b->index[fd] = at;
		b->pfds[at].fd = fd;
	}
	b->pfds[at].events = poll_events(new_events);
	b->pfds[at].revents = 0;
	return 0;
}

static int backend_wait(struct ts_evloop *loop, int timeout_ms)
{
	struct poll_backend *b = loop->backend;
	int n = poll(b->pfds, (nfds_t)b->n, timeout_ms);
	int out = 0;
	int base = b->start;

	if (n < 0)
		return -errno;
	/* Copy what fired before any callback reorders pfds. */
	for (int j = 0; j < b->n && out < loop->fired_cap && n > 0; j++) {
		int i = (base + j) % b->n;
		short r = b->pfds[i].revents;
		int events = 0;

		if (!r)
			continue;
		n--;
		if (r & (POLLERR | POLLHUP | POLLNVAL))
			events = TS_EV_READ | TS_EV_WRITE;
		if (r & POLLIN)
			events |= TS_EV_READ;
		if (r & POLLOUT)
			events |= TS_EV_WRITE;
		loop->fired[out].fd = b->pfds[i].fd;
		loop->fired[out].events = events;
		loop->fired[out].gen = loop->slots[b->pfds[i].fd].gen;
		out++;
		b->start = i + 1;
	}
	return out;
}

const struct ts_evbackend ts_evbackend_poll = {
	.name = "poll",
	.init = backend_init,
	.fini = backend_fini,
	.change = backend_change,
	.wait = backend_wait,
};
