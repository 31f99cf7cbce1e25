/* Event loop backend: select(2), the tutorial's server in C, kept as the
 * baseline that the other engines are measured against.  An fd_set holds
 * descriptors below FD_SETSIZE only, and FD_SET past it writes out of
 * bounds: a descriptor at or over the limit is refused (-EMFILE) before it
 * is touched, and the caller turns its peer away. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>

#include "evloop_impl.h"

struct select_backend {
	fd_set read, write; /* what is watched */
	int max_fd;         /* highest watched, -1 for none */
	int start;          /* where the next scan begins (no fd starves) */
};

static int backend_init(struct ts_evloop *loop)
{
	struct select_backend *b = calloc(1, sizeof *b);

	if (!b)
		return -ENOMEM;
	FD_ZERO(&b->read);
	FD_ZERO(&b->write);
	b->max_fd = -1;
	loop->backend = b;
	return 0;
}

static void backend_fini(struct ts_evloop *loop)
{
	free(loop->backend);
	loop->backend = NULL;
}

static int backend_change(struct ts_evloop *loop, int fd, int old_events, int new_events)
{
	struct select_backend *b = loop->backend;

	(void)old_events;
	if (fd < 0 || fd >= FD_SETSIZE)
		return -EMFILE;
	if (new_events & TS_EV_READ)
		FD_SET(fd, &b->read);
	else
		FD_CLR(fd, &b->read);
	if (new_events & TS_EV_WRITE)
		FD_SET(fd, &b->write);
	else
		FD_CLR(fd, &b->write);
	if ((new_events & (TS_EV_READ | TS_EV_WRITE)) && fd > b->max_fd)
		b->max_fd = fd;
	while (b->max_fd >= 0 && !FD_ISSET(b->max_fd, &b->read) && !FD_ISSET(b->max_fd, &b->write))
		b->max_fd--;
	return 0;
}

static int backend_wait(struct ts_evloop *loop, int timeout_ms)
{
	struct select_backend *b = loop->backend;
	fd_set r = b->read, w = b->write;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int span = b->max_fd + 1;
	int n = select(span, &r, &w, NULL, timeout_ms < 0 ? NULL : &tv);
	int out = 0;
	int base = b->start;

	if (n < 0)
		return -errno;
	for (int j = 0; j < span && out < loop->fired_cap && n > 0; j++) {
		int fd = (base + j) % span;
		int events =
		    (FD_ISSET(fd, &r) ? TS_EV_READ : 0) | (FD_ISSET(fd, &w) ? TS_EV_WRITE : 0);

		if (!events)
			continue;
		n -= (events & TS_EV_READ ? 1 : 0) + (events & TS_EV_WRITE ? 1 : 0);
		loop->fired[out].fd = fd;
		loop->fired[out].events = events;
		loop->fired[out].gen = loop->slots[fd].gen;
		out++;
		b->start = fd + 1;
	}
	return out;
}

const struct ts_evbackend ts_evbackend_select = {
	.name = "select",
	.init = backend_init,
	.fini = backend_fini,
	.change = backend_change,
	.wait = backend_wait,
};
