/* The server: listeners, the loop, signals, shutdown.  Connections are in
 * tcp.c, datagrams in udp.c. */
#define _GNU_SOURCE
#include "config.h"

#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include <tsecho/httpd.h>
#include <tsecho/kts.h>
#include <tsecho/net.h>
#include <tsecho/text.h>
#include "conn.h"
#include "server_int.h"
#ifdef HAVE_LIBURING
#include "uring.h"
#endif

enum {
	RX_CAP = 65536, /* the largest UDP datagram fits */
	BACKLOG = 4096,
	PORT_RETRIES = 20,
	TICK_MS = 1000, /* the loop wakes at least this often */
};
#define PUBLISH_NS (100 * TS_NS_PER_MS)

static void on_wake(struct ts_evloop *loop, int fd, int events, void *arg)
{
	char buf[64];

	(void)loop;
	(void)events;
	(void)arg;
	while (read(fd, buf, sizeof buf) > 0)
		;
}

void ts_server_stop(struct ts_server *srv)
{
	int saved = errno;
	char b = 1;

	srv->stop = 1;
	/* Nothing to do on failure: a full pipe wakes the loop all the same. */
	if (write(srv->wake_pipe[1], &b, 1) < 0)
		(void)0;
	errno = saved;
}

static int open_wake_pipe(struct ts_server *srv)
{
	if (pipe(srv->wake_pipe) != 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		int rc = ts_net_set_nonblock(srv->wake_pipe[i]);
		if (rc != 0)
			return rc;
		if (fcntl(srv->wake_pipe[i], F_SETFD, FD_CLOEXEC) != 0)
			return -errno;
	}
	return ts_evloop_add(srv->loop, srv->wake_pipe[0], TS_EV_READ, on_wake, NULL);
}

int ts_server_kt_enable(struct ts_server *srv, int fd)
{
	/* Transmit times only for the sends that ask (ts_kts_send_stamped):
	 * replies to probes that did not ask cost nothing more. */
	int rc = ts_kts_enable(fd, TS_KTS_RX | TS_KTS_PER_SEND);

	if (rc != 0 && !srv->kt_refused) {
		char what[128];
		snprintf(what, sizeof what, "kernel timestamps refused: %s", strerror(-rc));
		ts_log_event(&srv->log, what);
		srv->kt_refused = true;
	}
	return rc;
}

int ts_server_kt_listener(struct listener *l)
{
	int rc = ts_server_kt_enable(l->srv, l->fd);

	if (rc != 0)
		return rc;
	l->kt = calloc(1, sizeof *l->kt);
	return l->kt ? 0 : -ENOMEM;
}

static void close_listeners(struct ts_server *srv)
{
	for (int i = 0; i < srv->n_listeners; i++) {
		if (srv->loop)
			ts_evloop_del(srv->loop, srv->listeners[i].fd);
		close(srv->listeners[i].fd);
		free(srv->listeners[i].kt);
		srv->listeners[i].kt = NULL;
	}
	srv->n_listeners = 0;
}

/* Binds one socket of type to sa at *port (learning the port when it is
 * 0) for role; returns 0 or -errno. */
static int bind_one(struct ts_server *srv, struct sockaddr *sa, socklen_t len, int v6only, int type,
		    enum listener_role role, uint16_t *port)
{
	struct listener *l;
	int fd, rc;

	if (srv->n_listeners >= (int)(sizeof srv->listeners / sizeof srv->listeners[0]))
		return -EMFILE;
	ts_net_set_port(sa, *port);
	fd =
	    ts_net_bind(sa, len, type, v6only, BACKLOG, srv->cfg->threads > 1 && role == ROLE_MAIN);
	if (fd < 0)
		return fd;
	l = &srv->listeners[srv->n_listeners++];
	l->fd = fd;
	l->type = type;
	l->role = role;
	l->srv = srv;
	if (role == ROLE_STAMP && (rc = ts_reflector_prepare(fd, sa->sa_family)) != 0)
		return rc;
	/* =on: the first probe of a connection may arrive before accept.
	 * Receive timestamps on the listener make the kernel stamp every
	 * packet from now on, so that it has its time when the connection,
	 * once accepted, asks (ts_conn_new; OPT_ID needs it connected).  A
	 * refusal shows there. */
	if (type == SOCK_STREAM && srv->cfg->kernel_timestamps == TS_KT_ON)
		(void)ts_kts_enable(fd, TS_KTS_RX);
	/* UDP keeps its per-peer transmit times; TCP's are per connection. */
	if (type == SOCK_DGRAM && role == ROLE_MAIN && srv->cfg->kernel_timestamps == TS_KT_ON &&
	    ts_server_kt_listener(l) == -ENOMEM)
		return -ENOMEM;
	if (*port == 0) {
		int p = ts_net_local_port(fd);
		if (p < 0)
			return p;
		*port = (uint16_t)p;
	}
	return 0;
}

/* The ports of each role; 0 until learnt when asked for 0. */
struct ports {
	uint16_t main;
	uint16_t stamp;
	uint16_t echo;
};

/* Binds every socket the configuration asks for to sa. */
static int bind_addr(struct ts_server *srv, struct sockaddr *sa, socklen_t len, int v6only,
		     struct ports *ports)
{
	const struct ts_server_config *cfg = srv->cfg;
	int rc = 0;

	if (cfg->tcp)
		rc = bind_one(srv, sa, len, v6only, SOCK_STREAM, ROLE_MAIN, &ports->main);
	if (rc == 0 && cfg->udp)
		rc = bind_one(srv, sa, len, v6only, SOCK_DGRAM, ROLE_MAIN, &ports->main);
	if (rc == 0 && cfg->stamp)
		rc = bind_one(srv, sa, len, v6only, SOCK_DGRAM, ROLE_STAMP, &ports->stamp);
	if (rc == 0 && cfg->echo)
		rc = bind_one(srv, sa, len, v6only, SOCK_STREAM, ROLE_ECHO, &ports->echo);
	if (rc == 0 && cfg->echo)
		rc = bind_one(srv, sa, len, v6only, SOCK_DGRAM, ROLE_ECHO, &ports->echo);
	return rc;
}

/* Binds every listener once.  Returns 0 or -errno, with *what naming the
 * address; when a name does not resolve, -ENOENT and *gai_err its
 * getaddrinfo code (glibc's EAI_* codes are negative, like -errno, so
 * they travel apart). */
static int bind_all_once(struct ts_server *srv, const char **what, int *gai_err)
{
	const struct ts_server_config *cfg = srv->cfg;
	struct ports ports = { cfg->port, cfg->stamp_port, cfg->echo_port };
	int rc;

	if (cfg->n_listen == 0) {
		struct sockaddr_in6 any6 = { .sin6_family = AF_INET6,
					     .sin6_addr = IN6ADDR_ANY_INIT };
		struct sockaddr_in any4 = { .sin_family = AF_INET };

		*what = "::";
		rc = bind_addr(srv, (struct sockaddr *)&any6, sizeof any6, 0, &ports);
		if (rc != -EAFNOSUPPORT)
			return rc;
		/* No IPv6 on this host: IPv4 alone. */
		*what = "0.0.0.0";
		close_listeners(srv);
		ports = (struct ports){ cfg->port, cfg->stamp_port, cfg->echo_port };
		return bind_addr(srv, (struct sockaddr *)&any4, sizeof any4, 0, &ports);
	}
	for (int i = 0; i < cfg->n_listen; i++) {
		struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM };
		struct addrinfo *res;

		*what = cfg->listen[i];
		rc = getaddrinfo(cfg->listen[i], NULL, &hints, &res);
		if (rc == EAI_SYSTEM)
			return -errno;
		if (rc != 0) {
			*gai_err = rc;
			return -ENOENT;
		}
		for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
			if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
				rc = bind_addr(srv, ai->ai_addr, ai->ai_addrlen, 1, &ports);
		}
		freeaddrinfo(res);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Binds every listener; with port 0, all of them on the same free port,
 * trying again when another program takes it between two binds. */
static int bind_all(struct ts_server *srv)
{
	const char *what = "";
	int gai_err = 0;
	int rc = 0;

	for (int attempt = 0; attempt < PORT_RETRIES; attempt++) {
		rc = bind_all_once(srv, &what, &gai_err);
		if (rc == 0)
			return 0;
		close_listeners(srv);
		if (!(rc == -EADDRINUSE &&
		      (srv->cfg->port == 0 || (srv->cfg->stamp && srv->cfg->stamp_port == 0) ||
		       (srv->cfg->echo && srv->cfg->echo_port == 0))))
			break;
	}
	if (gai_err != 0)
		fprintf(stderr, "tsecho server: cannot resolve %s: %s\n", what,
			gai_strerror(gai_err));
	else
		fprintf(stderr, "tsecho server: cannot listen on %s port %u: %s\n", what,
			(unsigned)srv->cfg->port, strerror(-rc));
	return -1;
}

static const char *listener_name(const struct listener *l)
{
	switch (l->role) {
	case ROLE_STAMP:
		return "stamp";
	case ROLE_ECHO:
		return l->type == SOCK_STREAM ? "echo-tcp" : "echo-udp";
	case ROLE_MAIN:
		break;
	}
	return l->type == SOCK_STREAM ? "tcp" : "udp";
}

static int start_listeners(struct ts_server *srv)
{
	for (int i = 0; i < srv->n_listeners; i++) {
		struct listener *l = &srv->listeners[i];
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		ts_ev_cb *cb = l->type == SOCK_STREAM  ? ts_tcp_on_accept
			       : l->role == ROLE_STAMP ? ts_reflector_on_readable
						       : ts_udp_on_readable;
		/* Listeners are deferred: admitted peers come first. */
		int events = TS_EV_READ | (l->type == SOCK_STREAM ? TS_EV_DEFER : 0);
		/* On io_uring the ring accepts (ts_uring_start). */
		int rc = srv->uring && l->type == SOCK_STREAM
			     ? 0
			     : ts_evloop_add(srv->loop, l->fd, events, cb, l);

		if (rc != 0 || getsockname(l->fd, (struct sockaddr *)&ss, &len) != 0) {
			fprintf(stderr, "tsecho server: cannot watch listener: %s\n",
				strerror(rc ? -rc : errno));
			return -1;
		}
		if (srv->cfg->reactor == 0)
			ts_log_listening(&srv->log, listener_name(l), (struct sockaddr *)&ss);
		if (l->type == SOCK_DGRAM)
			ts_guard_own_port(&srv->guard, (uint16_t)ts_net_local_port(l->fd));
	}
	return 0;
}

static int render_metrics(struct ts_buf *body, void *arg)
{
	struct ts_server *srv = arg;
	struct ts_server_stats sum;

	if (srv->n_peers == 0)
		return ts_server_metrics_render(body, &srv->stats, ts_httpd_stats(srv->metrics));
	ts_server_stats_copy(&sum, &srv->stats);
	for (int i = 0; i < srv->n_peers; i++) {
		struct ts_server *peer = srv->peers[i];
		pthread_mutex_lock(&peer->pub_lock);
		ts_server_stats_add(&sum, &peer->pub);
		pthread_mutex_unlock(&peer->pub_lock);
	}
	return ts_server_metrics_render(body, &sum, ts_httpd_stats(srv->metrics));
}

void ts_server_set_peers(struct ts_server *srv, struct ts_server *const *peers, int n)
{
	srv->peers = peers;
	srv->n_peers = n;
}

/* A reactor past the first: its counters, for the first's metrics. */
static void publish(struct ts_server *srv, int64_t now_mono_ns)
{
	if (srv->cfg->reactor == 0 || now_mono_ns - srv->pub_mono_ns < PUBLISH_NS)
		return;
	pthread_mutex_lock(&srv->pub_lock);
	ts_server_stats_copy(&srv->pub, &srv->stats);
	pthread_mutex_unlock(&srv->pub_lock);
	srv->pub_mono_ns = now_mono_ns;
}

void ts_server_merge_into(struct ts_server *into, struct ts_server *from)
{
	close_listeners(from);
	ts_tcp_close_all(from);
	ts_server_stats_add(&into->stats, &from->stats);
}

/* The --metrics endpoint, on the server's own loop. */
static int start_metrics(struct ts_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int gai_err;
	int fd = ts_httpd_listen(srv->cfg->metrics_addr, &gai_err);

	if (fd < 0) {
		fprintf(stderr, "tsecho server: cannot serve metrics on %s: %s\n",
			srv->cfg->metrics_addr,
			fd == -EINVAL  ? "expected ADDR:PORT"
			: gai_err != 0 ? gai_strerror(gai_err)
				       : strerror(-fd));
		return -1;
	}
	srv->metrics = ts_httpd_new(srv->loop, fd, render_metrics, srv);
	if (!srv->metrics || getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		fprintf(stderr, "tsecho server: cannot serve metrics: %s\n", strerror(errno));
		if (!srv->metrics)
			close(fd);
		return -1;
	}
	ts_log_listening(&srv->log, "metrics", (struct sockaddr *)&ss);
	return 0;
}

static int run_once(struct ts_server *srv, int timeout_ms)
{
#ifdef HAVE_LIBURING
	if (srv->uring)
		return ts_uring_run_once(srv->uring, timeout_ms);
#endif
	return ts_evloop_run_once(srv->loop, timeout_ms);
}

int ts_server_has_engine(const char *name)
{
#ifdef HAVE_LIBURING
	if (strcmp(name, "io_uring") == 0)
		return 1;
#endif
	return ts_evloop_has(name);
}

/* The engine line, from the first reactor only, with how many there are. */
static void log_engine(struct ts_server *srv, const char *name, const char *kind, const char *setup)
{
	char buf[256];

	if (srv->cfg->reactor > 0)
		return;
	if (srv->cfg->threads > 1) {
		snprintf(buf, sizeof buf, "%s, %d reactors", setup, srv->cfg->threads);
		setup = buf;
	}
	ts_log_engine(&srv->log, name, kind, setup);
}

/* Starts the engine cfg->engine names.  The default is io_uring where this
 * build has it; when the ring cannot be set up it falls back to epoll and
 * says why in one line, unless io_uring was asked for by name. */
static int start_engine(struct ts_server *srv, int max_fds)
{
	const char *name = srv->cfg->engine;
#ifdef HAVE_LIBURING
	bool uring = !name || strcmp(name, "io_uring") == 0;
#else
	bool uring = false;
#endif

	srv->tcp = &ts_tcp_readiness;
	srv->in_slack = srv->rx_cap;
	/* io_uring nests the loop of the other sockets, an epoll one. */
	srv->loop = ts_evloop_new_named(uring ? "epoll" : name, max_fds);
	if (!srv->loop) {
		fprintf(stderr, "tsecho server: cannot start the %s engine: %s\n",
			name ? name : ts_evloop_backend_name(), strerror(errno));
		return -1;
	}
#ifdef HAVE_LIBURING
	if (uring) {
		const char *why;
		srv->uring = ts_uring_new(srv, &why);
		if (srv->uring) {
			srv->tcp = &ts_tcp_uring;
			srv->in_slack = TS_URING_IN_SLACK;
			log_engine(srv, "io_uring", "completion ring", ts_uring_setup(srv->uring));
			return 0;
		}
		if (name) {
			fprintf(stderr, "tsecho server: cannot start the io_uring engine: %s\n",
				why);
			return -1;
		}
		if (srv->cfg->reactor == 0)
			fprintf(stderr,
				"tsecho server: io_uring unavailable (%s): falling back to epoll\n",
				why);
	}
#endif
	log_engine(srv, ts_evloop_name(srv->loop), "readiness loop", "level-triggered");
	return 0;
}

int ts_server_run(struct ts_server *srv)
{
	int64_t next_mono_ns = INT64_MAX;

	while (!srv->stop) {
		int64_t now_mono_ns = ts_mono_ns();
		int64_t wake_mono_ns = next_mono_ns;
		int rc;

		if (srv->accept_paused_until_mono_ns &&
		    srv->accept_paused_until_mono_ns < wake_mono_ns)
			wake_mono_ns = srv->accept_paused_until_mono_ns;
		rc = run_once(srv, ts_ms_until(wake_mono_ns, now_mono_ns, TICK_MS));
		if (rc < 0) {
			fprintf(stderr, "tsecho server: event loop: %s\n", strerror(-rc));
			return -1;
		}
		now_mono_ns = ts_mono_ns();
		next_mono_ns = ts_tcp_sweep(srv, now_mono_ns);
		if (srv->metrics) {
			int64_t next_http_mono_ns = ts_httpd_sweep(srv->metrics, now_mono_ns);
			if (next_http_mono_ns < next_mono_ns)
				next_mono_ns = next_http_mono_ns;
		}
		if (srv->accept_paused_until_mono_ns &&
		    srv->accept_paused_until_mono_ns <= now_mono_ns) {
			srv->accept_paused_until_mono_ns = 0;
			srv->tcp->listen(srv, 1);
		}
		ts_log_tick(&srv->log, now_mono_ns);
		publish(srv, now_mono_ns);
	}
	return 0;
}

struct ts_server *ts_server_start(const struct ts_server_config *cfg, int max_fds, FILE *log_out)
{
	struct ts_server *srv = calloc(1, sizeof *srv);
	int rc;

	if (!srv) {
		fprintf(stderr, "tsecho server: cannot start: out of memory\n");
		return NULL;
	}
	srv->cfg = cfg;
	srv->reserve_fd = -1;
	srv->wake_pipe[0] = srv->wake_pipe[1] = -1;
	srv->start_mono_ns = ts_mono_ns();
	pthread_mutex_init(&srv->pub_lock, NULL);
	ts_server_stats_init(&srv->stats, ts_wall_ns());
	ts_server_stats_init(&srv->pub, srv->stats.start_wall_ns);
	ts_log_init(&srv->log, log_out, cfg->log_format, cfg->quiet);
	srv->rx_cap = RX_CAP > cfg->max_message ? RX_CAP : cfg->max_message;
	/* Room for replies up to max_output plus one more, the largest. */
	srv->tx_cap = cfg->max_output + cfg->max_message + TS_TEXT_PREFIX_MAX;
	srv->rx = malloc(srv->rx_cap);
	srv->tx = malloc(srv->tx_cap);
	if (!srv->rx || !srv->tx) {
		fprintf(stderr, "tsecho server: cannot start: out of memory\n");
		goto fail;
	}
	if (start_engine(srv, max_fds) != 0)
		goto fail;
	if (open_wake_pipe(srv) != 0) {
		fprintf(stderr, "tsecho server: cannot open a pipe: %s\n", strerror(errno));
		goto fail;
	}
	srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (srv->reserve_fd < 0) {
		fprintf(stderr, "tsecho server: cannot open /dev/null: %s\n", strerror(errno));
		goto fail;
	}
	if (cfg->stamp && !(srv->stamp = ts_reflector_new(cfg))) {
		fprintf(stderr, "tsecho server: cannot start: out of memory\n");
		goto fail;
	}
	rc = ts_guard_init(&srv->guard, cfg, srv->start_mono_ns);
	if (rc != 0) {
		fprintf(stderr, "tsecho server: cannot start: %s\n", strerror(-rc));
		goto fail;
	}
	if (bind_all(srv) != 0 || start_listeners(srv) != 0)
		goto fail;
#ifdef HAVE_LIBURING
	if (srv->uring)
		ts_uring_start(srv->uring);
#endif
	if (cfg->metrics_addr && start_metrics(srv) != 0)
		goto fail;
	return srv;
fail:
	ts_server_free(srv, 0);
	return NULL;
}

int ts_server_port(const struct ts_server *srv)
{
	return srv->n_listeners > 0 ? ts_net_local_port(srv->listeners[0].fd) : -1;
}

void ts_server_free(struct ts_server *srv, int summary)
{
	if (!srv)
		return;
	close_listeners(srv);
	ts_httpd_free(srv->metrics);
	ts_tcp_close_all(srv);
	if (summary)
		ts_log_summary(&srv->log, &srv->stats, ts_mono_ns() - srv->start_mono_ns);
	if (srv->reserve_fd >= 0)
		close(srv->reserve_fd);
	for (int i = 0; i < 2; i++)
		if (srv->wake_pipe[i] >= 0)
			close(srv->wake_pipe[i]);
#ifdef HAVE_LIBURING
	ts_uring_free(srv->uring);
#endif
	ts_evloop_free(srv->loop);
	ts_reflector_free(srv->stamp);
	ts_guard_fini(&srv->guard);
	free(srv->rx);
	free(srv->tx);
	pthread_mutex_destroy(&srv->pub_lock);
	free(srv);
}
