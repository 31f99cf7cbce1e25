/* Between evloop.c and its backends (evloop_epoll.c, evloop_poll.c). */
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

struct ts_evloop {
	int max_fds;
	struct ts_ev_slot *slots; /* max_fds entries, indexed by fd */
	struct ts_ev_fired *fired;
	int fired_cap;
	void *backend;
};

/* Each backend: 0 or -errno. */
int ts_evbackend_init(struct ts_evloop *loop);
void ts_evbackend_fini(struct ts_evloop *loop);
/* old and new are TS_EV_* sets; either may be 0. */
int ts_evbackend_change(struct ts_evloop *loop, int fd, int old_events, int new_events);
/* Fills loop->fired (at most fired_cap); returns the count or -errno. */
int ts_evbackend_wait(struct ts_evloop *loop, int timeout_ms);
extern const char ts_evbackend_name[];

#endif
