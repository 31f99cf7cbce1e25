/* The server's TCP connections: accept, read, answer, write, close.
 *
 * Flow control, per connection:
 * - Each readable event does one read (a bounded share of work), and its
 *   messages are answered into the shared tx scratch, then written at once.
 * - What the kernel does not take goes to the connection's out buffer.
 *   Answering stops when out would pass --max-output; the input not yet
 *   answered waits in the in buffer, and the connection is not read from
 *   until out drains.  A peer that never reads its replies thus costs at
 *   most max_output + max_message bytes and no CPU, and is closed by the
 *   idle timeout since it makes no progress.
 * - Only progress, a message answered or a reply taken by the peer, starts
 *   the idle timeout again; bytes that do not finish a message do not.  A
 *   message begun must be complete within --message-timeout, so a peer
 *   that trickles a frame a byte at a time holds its slot for that long at
 *   most.  No address holds more than --max-clients-per-source slots.
 * - After an error frame the server stops answering, shuts down its
 *   sending side once the frame is out, and reads and discards what the
 *   peer still sends until it closes (so that closing with unread data
 *   does not turn into a reset that could destroy the error frame), for
 *   at most DRAIN_TIMEOUT.
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
#include <tsecho/net.h>
#include <tsecho/proto.h>
#include <tsecho/text.h>
#include "server_int.h"

enum {
	ACCEPTS_PER_EVENT = 64,
	DRAIN_MAX_BYTES = 1 << 20,
};
#define DRAIN_TIMEOUT_NS (2 * TS_NS_PER_S)
#define ACCEPT_PAUSE_NS (100 * TS_NS_PER_MS)

enum conn_proto {
	PROTO_UNKNOWN, /* nothing read yet */
	PROTO_TEXT,
	PROTO_BINARY,
	PROTO_ECHO, /* RFC 862, on the echo listener */
};

enum conn_state {
	ST_OPEN,     /* answering */
	ST_QUIT,     /* close once out is sent (0xFF or end of file) */
	ST_ERROR,    /* error frame queued: shut down once out is sent */
	ST_DRAINING, /* shut down; discarding input until the peer closes */
};

struct conn {
	int fd;
	uint8_t proto;
	uint8_t state;
	bool eof;           /* the peer will send nothing more */
	bool out_full;      /* not read from: out is at max_output */
	int64_t in_wall_ns; /* when the bytes waiting in in were read (t2) */
	uint32_t drained;   /* bytes discarded while draining */
	struct ts_server *srv;
	struct ts_buf in;         /* read, not yet answered */
	struct ts_buf out;        /* answered, not yet sent */
	struct conn_node idle;    /* on open (idle timeout) or draining */
	struct conn_node partial; /* on partial while a message is begun */
	struct sockaddr_storage peer;
};

static void list_remove(struct conn_node *n)
{
	struct conn_list *l = n->list;

	if (!l)
		return;
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
	n->list = NULL;
}

/* Moves n to the tail of l with the given deadline. */
static void list_push(struct conn_list *l, struct conn_node *n, int64_t deadline_mono_ns)
{
	list_remove(n);
	n->deadline_mono_ns = deadline_mono_ns;
	n->list = l;
	n->prev = l->tail;
	n->next = NULL;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
}

/* The counters a connection's bytes go to: those of the protocol it
 * speaks or, before it has chosen, of the one first_byte will choose. */
static struct ts_traffic *conn_traffic_in(struct conn *c, uint8_t first_byte)
{
	enum ts_stat_proto p = TS_STAT_TEXT;

	if (c->proto == PROTO_ECHO)
		p = TS_STAT_ECHO;
	else if (c->proto == PROTO_BINARY ||
		 (c->proto == PROTO_UNKNOWN && first_byte == TS_PROTO_MAGIC0))
		p = TS_STAT_BINARY;
	return &c->srv->stats.traffic[p][TS_STAT_TCP];
}

static struct ts_traffic *conn_traffic(struct conn *c)
{
	return conn_traffic_in(c, 0);
}

/* Records progress: the idle timeout starts again. */
static void conn_touch(struct conn *c)
{
	struct ts_server *srv = c->srv;

	if (c->state == ST_DRAINING)
		return;
	/* A message that begins after this progress gets its own time:
	 * conn_partial starts the clock again when the connection settles. */
	list_remove(&c->partial);
	/* Every open connection is on the list, so shutdown finds it. */
	list_push(&srv->open, &c->idle,
		  srv->cfg->idle_timeout_ns > 0 ? ts_mono_ns() + srv->cfg->idle_timeout_ns
						: INT64_MAX);
}

/* Starts or stops the message timeout: it runs while c holds the start of
 * a message and waits for the rest from the peer (not while it waits for
 * room in out, which is the idle timeout's business). */
static void conn_partial(struct conn *c)
{
	struct ts_server *srv = c->srv;
	bool waiting =
	    c->in.len > 0 && c->state == ST_OPEN && !c->eof && c->out.len < srv->cfg->max_output;

	if (!waiting || srv->cfg->message_timeout_ns <= 0)
		list_remove(&c->partial);
	else if (!c->partial.list)
		list_push(&srv->partial, &c->partial, ts_mono_ns() + srv->cfg->message_timeout_ns);
}

static void conn_close(struct conn *c, const char *reason)
{
	struct ts_server *srv = c->srv;

	ts_log_close(&srv->log, (struct sockaddr *)&c->peer, reason);
	list_remove(&c->idle);
	list_remove(&c->partial);
	ts_guard_conn_close(&srv->guard, &c->peer);
	if (ts_evloop_del(srv->loop, c->fd) != 0)
		srv->stats.errors[TS_ERR_RESOURCE]++;
	close(c->fd);
	ts_buf_free(&c->in);
	ts_buf_free(&c->out);
	srv->stats.conns_current--;
	free(c);
}

/* Queues an error frame and stops answering. */
static void conn_fail(struct conn *c, size_t *tx_len, enum ts_proto_status status, const uint8_t *p,
		      size_t n)
{
	uint64_t seq = ts_proto_error_seq(p, n);

	*tx_len += ts_proto_encode_error(c->srv->tx + *tx_len, status, seq);
	c->srv->stats.errors[TS_ERR_MALFORMED]++;
	c->state = ST_ERROR;
}

/* Answers one binary frame at p; returns the bytes it used (0: need more). */
static size_t answer_binary(struct conn *c, const uint8_t *p, size_t n, int64_t rx_wall_ns,
			    size_t *tx_len)
{
	struct ts_server *srv = c->srv;
	struct ts_proto_hdr h;
	enum ts_proto_status status = TS_STATUS_OK;
	enum ts_decode r = ts_proto_decode(p, n, srv->cfg->max_message, &h, &status);
	int64_t t3_wall_ns;

	if (r == TS_DECODE_NEED_MORE)
		return 0;
	if (r == TS_DECODE_OK && h.type != TS_MSG_PROBE) {
		r = TS_DECODE_BAD;
		status = TS_STATUS_TYPE;
	}
	if (r == TS_DECODE_BAD) {
		conn_fail(c, tx_len, status, p, n);
		return n;
	}
	memcpy(srv->tx + *tx_len, p, h.frame_len);
	t3_wall_ns = ts_wall_ns();
	ts_proto_make_reply(srv->tx + *tx_len, (uint64_t)rx_wall_ns, (uint64_t)t3_wall_ns);
	*tx_len += h.frame_len;
	srv->stats.traffic[TS_STAT_BINARY][TS_STAT_TCP].messages++;
	ts_server_stats_residence(&srv->stats, rx_wall_ns, t3_wall_ns);
	return h.frame_len;
}

static bool is_hello(const uint8_t *p, size_t len)
{
	size_t n = strlen(TS_HELLO_ASK);
	return len == n && memcmp(p, TS_HELLO_ASK, n) == 0;
}

/* Answers one text message at p; returns the bytes it used. */
static size_t answer_text(struct conn *c, const uint8_t *p, size_t n, int64_t rx_wall_ns,
			  size_t *tx_len)
{
	struct ts_server *srv = c->srv;
	size_t limit = n < srv->cfg->max_message ? n : srv->cfg->max_message;
	size_t len = ts_text_message_len(p, limit);

	if (p[0] == TS_TEXT_QUIT_BYTE) {
		c->state = ST_QUIT;
		return n;
	}
	if (is_hello(p, len)) {
		/* A client asks what we speak: say so, and let its next
		 * bytes choose the protocol again (docs/ping.md). */
		*tx_len += ts_text_reply(srv->tx + *tx_len, srv->tx_cap - *tx_len, rx_wall_ns,
					 (const uint8_t *)TS_HELLO_ANSWER, strlen(TS_HELLO_ANSWER));
		c->proto = PROTO_UNKNOWN;
		return len;
	}
	/* tx_cap leaves room for one reply beyond max_output, so this fits. */
	*tx_len += ts_text_reply(srv->tx + *tx_len, srv->tx_cap - *tx_len, rx_wall_ns, p, len);
	srv->stats.traffic[TS_STAT_TEXT][TS_STAT_TCP].messages++;
	ts_log_message(&srv->log, (struct sockaddr *)&c->peer, "tcp", rx_wall_ns, p, len);
	return len;
}

/* RFC 862: the bytes go back as they came, as many as out has room for. */
static size_t answer_echo(struct conn *c, const uint8_t *p, size_t n, size_t *tx_len)
{
	struct ts_server *srv = c->srv;
	size_t room = srv->cfg->max_output - c->out.len - *tx_len;
	size_t k = n < room ? n : room;

	memcpy(srv->tx + *tx_len, p, k);
	*tx_len += k;
	srv->stats.traffic[TS_STAT_ECHO][TS_STAT_TCP].messages++;
	return k;
}

/* Sends tx[0..tx_len), behind whatever out already holds. */
static int conn_send(struct conn *c, size_t tx_len)
{
	struct ts_server *srv = c->srv;
	size_t sent = 0;

	if (c->out.len == 0) {
		ssize_t w = send(c->fd, srv->tx, tx_len, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (w > 0) {
			sent = (size_t)w;
			conn_traffic(c)->bytes_out += sent;
		}
	}
	/* No max here: answering already stopped at max_output. */
	return ts_buf_append(&c->out, srv->tx + sent, tx_len - sent, SIZE_MAX);
}

/* Answers the messages in p[0..n) until output reaches its cap or the
 * connection stops answering; sends the replies.  Returns the bytes used,
 * or -errno when the connection broke. */
static ssize_t conn_answer(struct conn *c, const uint8_t *p, size_t n, int64_t rx_wall_ns)
{
	struct ts_server *srv = c->srv;
	size_t used = 0;
	size_t tx_len = 0;
	int rc;

	while (used < n && c->state == ST_OPEN && c->out.len + tx_len < srv->cfg->max_output) {
		size_t k;

		if (c->proto == PROTO_UNKNOWN)
			c->proto = p[used] == TS_PROTO_MAGIC0 ? PROTO_BINARY : PROTO_TEXT;
		if (c->proto == PROTO_ECHO)
			k = answer_echo(c, p + used, n - used, &tx_len);
		else if (c->proto == PROTO_BINARY)
			k = answer_binary(c, p + used, n - used, rx_wall_ns, &tx_len);
		else
			k = answer_text(c, p + used, n - used, rx_wall_ns, &tx_len);
		if (k == 0)
			break;
		used += k;
	}
	if (used > 0)
		conn_touch(c); /* progress: a message answered */
	if (tx_len > 0 && (rc = conn_send(c, tx_len)) != 0)
		return rc;
	return (ssize_t)used;
}

/* Answers new input data[0..len) (which may be empty) and then what waits
 * in c->in, for as long as that makes progress and out has room; keeps the
 * rest in c->in.  Returns 0 or -errno.
 *
 * Invariant on return: when out is empty, c->in holds at most one
 * incomplete frame, so nothing waits for a write event that will not come. */
static int conn_input(struct conn *c, const uint8_t *data, size_t len, int64_t rx_wall_ns)
{
	struct ts_server *srv = c->srv;
	size_t in_max = srv->cfg->max_message + srv->rx_cap;
	ssize_t used;
	int rc;

	if (len > 0) {
		if (c->in.len == 0) {
			/* The common case: answer straight from the read. */
			used = conn_answer(c, data, len, rx_wall_ns);
			if (used < 0)
				return (int)used;
			data += used;
			len -= (size_t)used;
		}
		if ((rc = ts_buf_append(&c->in, data, len, in_max)) != 0)
			return rc;
		if (len > 0)
			c->in_wall_ns = rx_wall_ns;
	}
	while (c->in.len > 0 && c->state == ST_OPEN && c->out.len < srv->cfg->max_output) {
		used = conn_answer(c, ts_buf_bytes(&c->in), c->in.len, c->in_wall_ns);
		if (used <= 0)
			return (int)used;
		ts_buf_consume(&c->in, (size_t)used);
	}
	return 0;
}

/* After any event: close, shut down, or choose what to wait for.  Returns
 * false when the connection was closed. */
static bool conn_settle(struct conn *c)
{
	struct ts_server *srv = c->srv;
	int events = 0;

	if (c->out.len == 0) {
		if (c->state == ST_QUIT || (c->eof && c->state != ST_DRAINING)) {
			conn_close(c, c->state == ST_QUIT ? "quit" : "end of file");
			return false;
		}
		if (c->state == ST_ERROR) {
			if (shutdown(c->fd, SHUT_WR) != 0) {
				conn_close(c, "protocol error");
				return false;
			}
			c->state = ST_DRAINING;
			list_push(&srv->draining, &c->idle, ts_mono_ns() + DRAIN_TIMEOUT_NS);
		}
	}
	conn_partial(c);
	if (c->out.len > 0)
		events |= TS_EV_WRITE;
	if (c->state == ST_OPEN && !c->out_full && c->out.len >= srv->cfg->max_output)
		srv->stats.limits[TS_LIMIT_OUTPUT]++;
	c->out_full = c->out.len >= srv->cfg->max_output;
	if (!c->eof &&
	    (c->state == ST_DRAINING || (c->state == ST_OPEN && c->out.len < srv->cfg->max_output)))
		events |= TS_EV_READ;
	if (ts_evloop_set(srv->loop, c->fd, events) != 0) {
		srv->stats.errors[TS_ERR_RESOURCE]++;
		conn_close(c, "event loop error");
		return false;
	}
	return true;
}

/* Reads once.  Returns false when the connection was closed. */
static bool conn_on_read(struct conn *c)
{
	struct ts_server *srv = c->srv;
	ssize_t n = recv(c->fd, srv->rx, srv->rx_cap, 0);
	int64_t rx_wall_ns = ts_wall_ns(); /* t2: right after the read */
	int rc;

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		conn_close(c, strerror(errno));
		return false;
	}
	if (n == 0) {
		if (c->state == ST_DRAINING) {
			conn_close(c, "protocol error");
			return false;
		}
		/* Replies still owed are sent first: a half-closed peer
		 * still reads. */
		c->eof = true;
		return true;
	}
	conn_traffic_in(c, srv->rx[0])->bytes_in += (uint64_t)n;
	if (c->state == ST_DRAINING) {
		c->drained += (uint32_t)n;
		if (c->drained <= DRAIN_MAX_BYTES)
			return true;
		conn_close(c, "protocol error");
		return false;
	}
	rc = conn_input(c, srv->rx, (size_t)n, rx_wall_ns);
	if (rc != 0) {
		if (rc == -ENOBUFS)
			srv->stats.limits[TS_LIMIT_INPUT]++;
		else
			srv->stats.errors[TS_ERR_RESOURCE]++;
		conn_close(c, rc == -ENOBUFS ? "input cap exceeded" : strerror(-rc));
		return false;
	}
	return true;
}

/* Writes what out holds, then answers what waited for room.  Returns false
 * when the connection was closed. */
static bool conn_on_write(struct conn *c)
{
	struct ts_server *srv = c->srv;
	ssize_t w = send(c->fd, ts_buf_bytes(&c->out), c->out.len, MSG_NOSIGNAL);
	int rc;

	if (w < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		conn_close(c, strerror(errno));
		return false;
	}
	conn_traffic(c)->bytes_out += (uint64_t)w;
	ts_buf_consume(&c->out, (size_t)w);
	conn_touch(c);
	rc = conn_input(c, NULL, 0, 0);
	if (rc != 0) {
		srv->stats.errors[TS_ERR_RESOURCE]++;
		conn_close(c, strerror(-rc));
		return false;
	}
	return true;
}

static void conn_on_event(struct ts_evloop *loop, int fd, int events, void *arg)
{
	struct conn *c = arg;

	(void)loop;
	(void)fd;
	if ((events & TS_EV_WRITE) && !conn_on_write(c))
		return;
	if ((events & TS_EV_READ) && !conn_on_read(c))
		return;
	conn_settle(c);
}

static void conn_open(struct ts_server *srv, int fd, const struct sockaddr_storage *peer,
		      enum listener_role role)
{
	struct conn *c = calloc(1, sizeof *c);
	int rc;

	if (!c) {
		srv->stats.errors[TS_ERR_RESOURCE]++;
		ts_guard_conn_close(&srv->guard, peer);
		close(fd);
		return;
	}
	c->fd = fd;
	c->srv = srv;
	c->peer = *peer;
	c->idle.conn = c;
	c->partial.conn = c;
	c->proto = role == ROLE_ECHO ? PROTO_ECHO : PROTO_UNKNOWN;
	/* A latency tool must not let Nagle hold small replies back. */
	if (ts_net_set_nodelay(fd) != 0)
		srv->stats.errors[TS_ERR_IO]++;
	rc = ts_evloop_add(srv->loop, fd, TS_EV_READ, conn_on_event, c);
	if (rc != 0) {
		/* select() takes no descriptor past FD_SETSIZE: that peer is
		 * turned away like one over the descriptor limit. */
		if (rc == -EMFILE) {
			srv->stats.limits[TS_LIMIT_FDS]++;
			ts_log_close(
			    &srv->log, (const struct sockaddr *)peer,
			    "descriptor past what the engine can watch (select: FD_SETSIZE)");
		}
		srv->stats.errors[TS_ERR_RESOURCE]++;
		ts_guard_conn_close(&srv->guard, peer);
		close(fd);
		free(c);
		return;
	}
	srv->stats.conns_total++;
	srv->stats.conns_current++;
	conn_touch(c);
	ts_log_accept(&srv->log, (const struct sockaddr *)peer);
}

void ts_tcp_listeners_watch(struct ts_server *srv, int on)
{
	for (int i = 0; i < srv->n_listeners; i++) {
		if (srv->listeners[i].type != SOCK_STREAM)
			continue;
		if (ts_evloop_set(srv->loop, srv->listeners[i].fd,
				  on ? TS_EV_READ | TS_EV_DEFER : TS_EV_DEFER) != 0)
			srv->stats.errors[TS_ERR_RESOURCE]++;
	}
}

/* accept() failed for want of descriptors.  Free the reserve, accept and
 * close one waiting peer (it sees the connection closed instead of waiting
 * in the backlog), take the reserve back.  When even that fails, stop
 * watching the listeners for a moment so the loop does not spin. */
static void shed_one(struct ts_server *srv, int listen_fd)
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
	ts_tcp_listeners_watch(srv, 0);
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
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			shed_one(srv, listen_fd);
			if (srv->accept_paused_until_mono_ns)
				return;
			continue;
		}
		if (fd < 0) {
			srv->stats.errors[TS_ERR_IO]++;
			return;
		}
		if (srv->stats.conns_current >= srv->cfg->max_clients) {
			srv->stats.limits[TS_LIMIT_MAX_CLIENTS]++;
			ts_log_close(&srv->log, (struct sockaddr *)&peer, "too many clients");
			close(fd);
			continue;
		}
		if (!ts_guard_conn_open(&srv->guard, &peer, srv->cfg->max_clients_per_source)) {
			srv->stats.limits[TS_LIMIT_PER_SOURCE]++;
			ts_log_close(&srv->log, (struct sockaddr *)&peer,
				     "too many connections from this address");
			close(fd);
			continue;
		}
		conn_open(srv, fd, &peer, l->role);
	}
}

int64_t ts_tcp_sweep(struct ts_server *srv, int64_t now_mono_ns)
{
	const struct {
		struct conn_list *list;
		int limit; /* counted when its deadline closes one, or -1 */
		const char *reason;
	} lists[] = {
		{ &srv->open, TS_LIMIT_IDLE, "idle timeout" },
		{ &srv->partial, TS_LIMIT_MESSAGE_TIMEOUT, "message not complete in time" },
		{ &srv->draining, -1, "protocol error" },
	};
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		struct conn_list *l = lists[i].list;
		while (l->head && l->head->deadline_mono_ns <= now_mono_ns) {
			if (lists[i].limit >= 0)
				srv->stats.limits[lists[i].limit]++;
			conn_close(l->head->conn, lists[i].reason);
		}
		if (l->head && l->head->deadline_mono_ns < next)
			next = l->head->deadline_mono_ns;
	}
	return next;
}

void ts_tcp_close_all(struct ts_server *srv)
{
	struct conn_list *lists[] = { &srv->open, &srv->draining };

	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		while (lists[i]->head) {
			struct conn *c = lists[i]->head->conn;
			ssize_t w = 0;
			if (c->out.len > 0)
				w = send(c->fd, ts_buf_bytes(&c->out), c->out.len, MSG_NOSIGNAL);
			if (w > 0)
				conn_traffic(c)->bytes_out += (uint64_t)w;
			conn_close(c, "server shutting down");
		}
	}
}
