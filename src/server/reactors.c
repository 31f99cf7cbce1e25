/* --threads: N reactors sharing the main port (server.h). */
#include "config.h"

#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ts_reactors {
	int n;
	int started; /* reactors past the first running on threads */
	struct ts_server_config cfg[TS_SERVER_MAX_THREADS];
	struct ts_server *srv[TS_SERVER_MAX_THREADS];
	pthread_t thread[TS_SERVER_MAX_THREADS];
};

/* A limit for all of them, shared: each takes its part, rounded up. */
static uint64_t share(uint64_t total, int n)
{
	return total == 0 ? 0 : (total + (uint64_t)n - 1) / (uint64_t)n;
}

struct ts_reactors *ts_reactors_start(const struct ts_server_config *cfg, int max_fds,
				      FILE *log_out)
{
	struct ts_reactors *r = calloc(1, sizeof *r);

	if (!r) {
		fprintf(stderr, "tsecho server: cannot start: out of memory\n");
		return NULL;
	}
	r->n = cfg->threads > 1 ? cfg->threads : 1;
	for (int i = 0; i < r->n; i++) {
		struct ts_server_config *c = &r->cfg[i];

		*c = *cfg;
		c->reactor = i;
		c->max_clients = share(cfg->max_clients, r->n);
		c->max_clients_per_source = share(cfg->max_clients_per_source, r->n);
		c->udp_budget_per_s = cfg->udp_budget_per_s / r->n;
		if (i > 0) {
			/* The first learnt the port; STAMP, echo and the
			 * metrics are its alone. */
			c->port = (uint16_t)ts_server_port(r->srv[0]);
			c->stamp = 0;
			c->echo = 0;
			c->metrics_addr = NULL;
		}
		r->srv[i] = ts_server_start(c, max_fds, log_out);
		if (!r->srv[i]) {
			ts_reactors_free(r, 0);
			return NULL;
		}
	}
	ts_server_set_peers(r->srv[0], r->srv + 1, r->n - 1);
	return r;
}

static void *serve(void *arg)
{
	return (void *)(intptr_t)ts_server_run(arg);
}

int ts_reactors_run(struct ts_reactors *r)
{
	int rc;

	for (; r->started < r->n - 1; r->started++) {
		int err =
		    pthread_create(&r->thread[r->started + 1], NULL, serve, r->srv[r->started + 1]);
		if (err != 0) {
			fprintf(stderr, "tsecho server: cannot start a reactor thread: %s\n",
				strerror(err));
			ts_reactors_stop(r);
			break;
		}
	}
	rc = r->started == r->n - 1 ? ts_server_run(r->srv[0]) : -1;
	/* One reactor stopping (a signal, a fatal error) stops them all. */
	ts_reactors_stop(r);
	for (int i = 1; i <= r->started; i++) {
		void *ret;
		pthread_join(r->thread[i], &ret);
		if ((intptr_t)ret != 0)
			rc = -1;
	}
	r->started = 0;
	return rc;
}

void ts_reactors_stop(struct ts_reactors *r)
{
	for (int i = 0; i < r->n; i++)
		if (r->srv[i])
			ts_server_stop(r->srv[i]);
}

void ts_reactors_free(struct ts_reactors *r, int summary)
{
	if (!r)
		return;
	for (int i = r->n - 1; i > 0; i--) {
		if (!r->srv[i])
			continue;
		ts_server_merge_into(r->srv[0], r->srv[i]);
		ts_server_free(r->srv[i], 0);
	}
	ts_server_free(r->srv[0], summary);
	free(r);
}
