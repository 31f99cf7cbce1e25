/* The built-in loopback server: see builtin.h. */
#include "config.h"

#include "builtin.h"

#include <string.h>

#include <tsecho/clock.h>
#include <tsecho/proto.h>

static void *serve(void *arg)
{
	struct ts_builtin *b = arg;

	ts_server_run(b->srv);
	return NULL;
}

int ts_builtin_start(struct ts_builtin *b, int64_t busy_poll_ns, int kernel_timestamps)
{
	int rc;

	memset(b, 0, sizeof *b);
	b->cfg.listen[0] = "127.0.0.1";
	b->cfg.n_listen = 1;
	b->cfg.port = 0;
	b->cfg.tcp = 1;
	b->cfg.udp = 1;
	b->cfg.max_clients = 16;
	b->cfg.max_message = TS_PROTO_FRAME_MAX;
	b->cfg.max_output = 2 * TS_PROTO_FRAME_MAX;
	b->cfg.idle_timeout_ns = 0;
	b->cfg.quiet = 1;
	b->cfg.log_format = TS_LOG_TEXT;
	b->cfg.uring_buffers = 64; /* a few clients: no need for the default pool */
	b->cfg.busy_poll_ns = busy_poll_ns;
	b->cfg.kernel_timestamps = kernel_timestamps ? TS_KT_ON : TS_KT_AUTO;
	/* Quiet still logs the listening lines: nobody wants them here. */
	b->log = fopen("/dev/null", "w");
	if (!b->log) {
		perror("tsecho ping: /dev/null");
		return -1;
	}
	b->srv = ts_server_start(&b->cfg, 1024, b->log);
	if (!b->srv)
		goto fail;
	b->port = ts_server_port(b->srv);
	rc = pthread_create(&b->thread, NULL, serve, b);
	if (rc != 0) {
		fprintf(stderr, "tsecho ping: cannot start the built-in server: %s\n",
			strerror(rc));
		goto fail;
	}
	return 0;
fail:
	ts_server_free(b->srv, 0);
	fclose(b->log);
	b->srv = NULL;
	b->log = NULL;
	return -1;
}

void ts_builtin_stop(struct ts_builtin *b)
{
	if (!b->srv)
		return;
	ts_server_stop(b->srv);
	pthread_join(b->thread, NULL);
	ts_server_free(b->srv, 0);
	fclose(b->log);
	b->srv = NULL;
	b->log = NULL;
}
