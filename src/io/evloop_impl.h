/* Between evloop.c and its backends (evloop_epoll.c, evloop_poll.c,
 * evloop_select.c, evloop_uring.c). */
#ifndef TSECHO_EVLOOP_IMPL_H
#define TSECHO_EVLOOP_IMPL_H

#include <stdint.h>

#include <tsecho/evloop.h>

struct ts_ev_slot {
	ts_ev_cb *cb; /* NULL: fd not registered */
	void *arg;
	int events;   /* what the caller asked for */
	uint32_t gen; /* bumped on add, so a stale event is recognised */
};

struct ts_ev_fired {
	int fd;
	int events;
	uint32_t gen;
};

/* A backend, chosen when the loop is made (libevent's eventops). */
struct ts_evbackend {
	const char *name;
	/* 0 or -errno; sets loop->backend. */
	int (*init)(struct ts_evloop *loop);
	void (*fini)(struct ts_evloop *loop);
	/* old and new are TS_EV_* sets; either may be 0.  0 or -errno. */
	int (*change)(struct ts_evloop *loop, int fd, int old_events, int new_events);
	/* Fills loop->fired (at most fired_cap); the count or -errno. */
	int (*wait)(struct ts_evloop *loop, int timeout_ms);
	/* A descriptor readable when events are waiting, or NULL. */
	int (*fd)(const struct ts_evloop *loop);
};

extern const struct ts_evbackend ts_evbackend_epoll; /* where HAVE_EPOLL */
extern const struct ts_evbackend ts_evbackend_poll;
extern const struct ts_evbackend ts_evbackend_select;
#ifdef HAVE_LIBURING
extern const struct ts_evbackend ts_evbackend_uring;
#endif

struct ts_evloop {
	const struct ts_evbackend *ops;
	int max_fds;
	struct ts_ev_slot *slots; /* max_fds entries, indexed by fd */
	struct ts_ev_fired *fired;
	int fired_cap;
	void *backend;
};

#endif
