/* A small readiness event loop, after Redis' ae: one callback per file
 * descriptor, level-triggered, over a backend chosen when the loop is made
 * (libevent's eventops): epoll (Linux), poll, select (the tutorial's
 * design, kept as the baseline; it takes descriptors below FD_SETSIZE
 * only), or io_uring where built with liburing (one-shot poll requests on
 * a ring, armed again after each event and submitted in one batch at each
 * wait; never the default, and refused with EPERM or ENOSYS where
 * io_uring is denied).  configure --with-evloop sets the default.  No timers: the caller
 * passes how long to wait, computed from its own deadlines.  Never prints,
 * never exits. */
#ifndef TSECHO_EVLOOP_H
#define TSECHO_EVLOOP_H

enum {
	TS_EV_READ = 1,
	TS_EV_WRITE = 2,
	/* Not an event: with it, fd's callback runs after those of every
	 * other fd that fired in the same wait.  A server gives it to its
	 * listeners, so peers already admitted are served (and the
	 * descriptors of those that left are freed) before new ones come in. */
	TS_EV_DEFER = 4,
};

struct ts_evloop;

/* Called with the events that fired among those asked for.  An error or
 * hang-up on fd is reported as every event fd asked for, so the handler
 * finds it in its read or write.  The callback may add, change and delete
 * any descriptor, its own included. */
typedef void ts_ev_cb(struct ts_evloop *loop, int fd, int events, void *arg);

/* A loop for descriptors 0..max_fds-1 on the default backend.  Returns NULL
 * when out of memory or when the backend cannot start (errno tells).
 * Caller owns it. */
struct ts_evloop *ts_evloop_new(int max_fds);

/* The same on the backend called name ("epoll", "poll", "select",
 * "io_uring"; NULL: the default); NULL with errno ENOENT when this build
 * has no such one, or the backend's own errno when it cannot start. */
struct ts_evloop *ts_evloop_new_named(const char *name, int max_fds);

/* Whether this build has the backend called name. */
int ts_evloop_has(const char *name);

/* The backend loop runs on. */
const char *ts_evloop_name(const struct ts_evloop *loop);
void ts_evloop_free(struct ts_evloop *loop);

/* A descriptor that polls readable while loop has events waiting (epoll's
 * own), so that another loop (an io_uring ring) can nest this one; -1 on
 * backends without one (poll, select, io_uring: its fired polls are armed
 * again only by its own wait). */
int ts_evloop_fd(const struct ts_evloop *loop);

/* Watches fd for events (TS_EV_* bits, 0 allowed: registered, not
 * watched).  Returns 0 or -errno (-EBADF for an fd out of range, -EEXIST
 * when already added). */
int ts_evloop_add(struct ts_evloop *loop, int fd, int events, ts_ev_cb *cb, void *arg);

/* Changes what fd is watched for; 0 or -errno. */
int ts_evloop_set(struct ts_evloop *loop, int fd, int events);

/* Stops watching fd (call before closing it); 0 or -errno. */
int ts_evloop_del(struct ts_evloop *loop, int fd);

/* Waits up to timeout_ms (-1: no limit) and runs the callbacks of what
 * fired.  Returns how many ran (0 on timeout or EINTR) or -errno. */
int ts_evloop_run_once(struct ts_evloop *loop, int timeout_ms);

/* The default backend's name. */
const char *ts_evloop_backend_name(void);

#endif
