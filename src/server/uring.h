/* The io_uring engine (uring.c): the server's TCP connections on one
 * submission/completion ring, the rest on its nested epoll loop. */
#ifndef TSECHO_SERVER_URING_H
#define TSECHO_SERVER_URING_H

#include "server_int.h"

/* A multishot receive cannot be paused: when it is cancelled at the output
 * cap, the completions the kernel had posted by then (a burst bounded by
 * what the socket held) still arrive, and are kept.  Past this much beyond
 * a message the connection is over its input cap all the same. */
#define TS_URING_IN_SLACK (1u << 20)

/* Sets up the ring and its provided buffers for srv (whose loop must be
 * epoll).  NULL when it cannot, with errno and *why, one line naming the
 * cause (a seccomp filter, an old kernel, memory). */
struct ts_uring *ts_uring_new(struct ts_server *srv, const char **why);

/* The setup in effect, for the engine line: ring sizes, flags, buffers. */
const char *ts_uring_setup(const struct ts_uring *u);

/* Arms accept on srv's TCP listeners and the watch on its loop. */
void ts_uring_start(struct ts_uring *u);

/* Waits up to timeout_ms (-1: no limit; busy polling first when asked)
 * and handles what completed.  How many completions, or -errno. */
int ts_uring_run_once(struct ts_uring *u, int timeout_ms);

/* Cancels what is in flight, waits briefly for it, frees u. */
void ts_uring_free(struct ts_uring *u);

#endif
