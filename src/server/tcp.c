/* The readiness engines' TCP side (epoll, poll, select): accept, read,
 * write, close.  What to answer is conn.c's business.
 *
 * Each readable event does one read (a bounded share of work) into the
 * shared rx scratch; the replies to it are written at once, and what the
 * kernel does not take waits in the connection's out buffer for a
 * writable event.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tsecho/buf.h>
#include <tsecho/clock.h>
#include <tsecho/kts.h>
#include <tsecho/net.h>
#include "conn.h"

enum { ACCEPTS_PER_EVENT = 64 };
#define ACCEPT_PAUSE_NS (100 * TS_NS_PER_MS)

static void ready_close(struct conn *c, const char *reason)
{
	struct ts_server *srv = c->srv;

	ts_conn_detach(c, reason);
	if (ts_evloop_del(srv->loop, c->fd) != 0)
		srv->stats.errors[TS_ERR_RESOURCE]++;
	close(c->fd);
	ts_conn_free(c);
}

/* One send; the one that carries a reply that asked for kernel
 * timestamps asks for its transmit time, which is read back at once (on
 * loopback it is there as the send returns). */
static ssize_t send_once(struct conn *c, const uint8_t *p, size_t n)
{
	ssize_t w;

	if (!c->kt.want_tx)
		return send(c->fd, p, n, MSG_NOSIGNAL);
	w = ts_kts_send_stamped(c->fd, p, n, MSG_NOSIGNAL, TS_KTS_TX);
	if (w > 0) {
		c->kt.want_tx = false;
		ts_conn_kt_drain(c, 1);
	}
	return w;
}

/* Sends p[0..n), behind whatever out already holds. */
static int ready_send(struct conn *c, const uint8_t *p, size_t n)
{
	size_t sent = 0;

	if (c->out.len == 0) {
		ssize_t w = send_once(c, p, n);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (w > 0) {
			sent = (size_t)w;
			ts_conn_traffic(c, 0)->bytes_out += sent;
		}
	}
	/* No max here: answering already stopped at max_output. */
	return ts_buf_append(&c->out, p + sent, n - sent, SIZE_MAX);
}

/* After any event: close, or choose what to wait for. */
static void conn_settle(struct conn *c)
{
	struct ts_server *srv = c->srv;
	bool want_read;
	int events = 0;

	if (!ts_conn_settle(c, 0, &want_read))
		return;
	if (c->out.len > 0)
		events |= TS_EV_WRITE;
	if (want_read)
		events |= TS_EV_READ;
	if (ts_evloop_set(srv->loop, c->fd, events) != 0) {
		srv->stats.errors[TS_ERR_RESOURCE]++;
		ready_close(c, "event loop error");
	}
}

/* Reads once.  Returns false when the connection was closed. */
static bool conn_on_read(struct conn *c)
{
	struct ts_server *srv = c->srv;
	ssize_t n = c->kt.on ? ts_kts_recv(c->fd, srv->rx, srv->rx_cap, 0, NULL, NULL, &c->kt.rx_ns)
			     : recv(c->fd, srv->rx, srv->rx_cap, 0);
	int64_t rx_wall_ns, rx_raw_ns;
	int rc;

	ts_clock_pair(&rx_wall_ns, &rx_raw_ns); /* t2: right after the read */
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		ready_close(c, strerror(errno));
		return false;
	}
	if (n == 0) {
		if (c->state == ST_DRAINING) {
			ready_close(c, "protocol error");
			return false;
		}
		/* Replies still owed are sent first: a half-closed peer
		 * still reads. */
		c->eof = true;
		return true;
	}
	ts_conn_traffic(c, srv->rx[0])->bytes_in += (uint64_t)n;
	if (c->state == ST_DRAINING)
		return ts_conn_drain(c, (size_t)n);
	rc = ts_conn_input(c, srv->rx, (size_t)n, rx_wall_ns, rx_raw_ns, 0);
	if (rc != 0) {
		ts_conn_fail_input(c, rc);
		return false;
	}
	return true;
}

/* Writes what out holds, then answers what waited for room.  Returns false
 * when the connection was closed. */
static bool conn_on_write(struct conn *c)
{
	ssize_t w = send_once(c, ts_buf_bytes(&c->out), c->out.len);
	int rc;

	if (w < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		ready_close(c, strerror(errno));
		return false;
	}
	ts_conn_traffic(c, 0)->bytes_out += (uint64_t)w;
	ts_buf_consume(&c->out, (size_t)w);
	ts_conn_touch(c);
	rc = ts_conn_input(c, NULL, 0, 0, 0, 0);
	if (rc != 0) {
		ts_conn_fail_input(c, rc);
		return false;
	}
	return true;
}

static void conn_on_event(struct ts_evloop *loop, int fd, int events, void *arg)
{
	struct conn *c = arg;

	(void)loop;
	(void)fd;
	/* Writable with nothing to write: an error event, which a transmit
	 * timestamp waiting on the error queue raises. */
	if (c->kt.on && (events & TS_EV_WRITE) && c->out.len == 0) {
		ts_conn_kt_drain(c, TS_KT_RECENT);
		events &= ~TS_EV_WRITE;
	}
	if ((events & TS_EV_WRITE) && !conn_on_write(c))
		return;
	if ((events & TS_EV_READ) && !conn_on_read(c))
		return;
	conn_settle(c);
}

static void conn_open(struct ts_server *srv, int fd, const struct sockaddr_storage *peer,
		      enum listener_role role)
{
	struct conn *c;
	int rc;

	c = ts_conn_new(srv, fd, peer, role);
	if (!c)
		return;
	rc = ts_evloop_add(srv->loop, fd, TS_EV_READ, conn_on_event, c);
	if (rc == 0) {
		ts_conn_opened(c);
		return;
	}
	/* select() takes no descriptor past FD_SETSIZE: that peer is turned
	 * away like one over the descriptor limit. */
	if (rc == -EMFILE) {
		srv->stats.limits[TS_LIMIT_FDS]++;
		ts_log_close(&srv->log, (const struct sockaddr *)peer,
			     "descriptor past what the engine can watch (select: FD_SETSIZE)");
	}
	srv->stats.errors[TS_ERR_RESOURCE]++;
	ts_guard_conn_close(&srv->guard, peer);
	close(fd);
	ts_conn_free(c);
}

static void ready_listen(struct ts_server *srv, int on)
{
	for (int i = 0; i < srv->n_listeners; i++) {
		if (srv->listeners[i].type != SOCK_STREAM)
			continue;
		if (ts_evloop_set(srv->loop, srv->listeners[i].fd,
				  on ? TS_EV_READ | TS_EV_DEFER : TS_EV_DEFER) != 0)
			srv->stats.errors[TS_ERR_RESOURCE]++;
	}
}

static bool ready_kt_ok(struct ts_server *srv)
{
	(void)srv;
	return true;
}

const struct ts_tcp_engine ts_tcp_readiness = { ready_send, ready_close, ready_listen,
						ready_kt_ok };

void ts_tcp_shed_one(struct ts_server *srv, int listen_fd)
{
	struct sockaddr_storage peer;
	socklen_t len;
	int fd;

	if (srv->reserve_fd >= 0) {
		close(srv->reserve_fd);
		srv->reserve_fd = -1;
		fd = ts_net_accept(listen_fd, &peer, &len);
		if (fd >= 0) {
			/* A peer turned away for want of descriptors: counted
			 * once as shed and once as a resource error, whatever
			 * number of accept calls failed before. */
			close(fd);
			srv->stats.limits[TS_LIMIT_FDS]++;
			srv->stats.errors[TS_ERR_RESOURCE]++;
		}
		srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (srv->reserve_fd >= 0)
			return;
	}
	ts_log_event(&srv->log, "out of file descriptors: pausing accept");
	srv->accept_paused_until_mono_ns = ts_mono_ns() + ACCEPT_PAUSE_NS;
}

void ts_tcp_on_accept(struct ts_evloop *loop, int listen_fd, int events, void *arg)
{
	struct listener *l = arg;
	struct ts_server *srv = l->srv;

	(void)loop;
	(void)events;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t len;
		int fd = ts_net_accept(listen_fd, &peer, &len);

		if (fd == -EAGAIN)
			return;
		if (fd == -EINTR || fd == -ECONNABORTED || fd == -EPROTO)
			continue;
		if (ts_tcp_accept_starved(fd)) {
			ts_tcp_shed_one(srv, listen_fd);
			if (srv->accept_paused_until_mono_ns) {
				ready_listen(srv, 0);
				return;
			}
			continue;
		}
		if (fd < 0) {
			srv->stats.errors[TS_ERR_IO]++;
			return;
		}
		if (ts_conn_admit(srv, fd, &peer))
			conn_open(srv, fd, &peer, l->role);
	}
}
