/* The built-in server `tsecho ping` measures against when given no host:
 * a tsecho server on 127.0.0.1 with a free port, in a thread of the same
 * process. */
#ifndef TSECHO_BUILTIN_H
#define TSECHO_BUILTIN_H

#include <pthread.h>
#include <stdio.h>

#include "../server/server.h"

struct ts_builtin {
	struct ts_server_config cfg;
	struct ts_server *srv;
	FILE *log;
	pthread_t thread;
	int port;
};

/* Starts it, busy-polling its ring for busy_poll_ns (0: not), with
 * kernel timestamps when kernel_timestamps; 0, or -1 with a line on
 * stderr. */
int ts_builtin_start(struct ts_builtin *b, int64_t busy_poll_ns, int kernel_timestamps);

/* Stops the thread and frees everything. */
void ts_builtin_stop(struct ts_builtin *b);

#endif
