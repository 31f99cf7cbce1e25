/* The protocol core of a TCP connection, shared by every engine (conn.h).
 *
 * Flow control, per connection:
 * - Each batch of input (one read, or one receive completion) is answered
 *   into the shared tx scratch, and the replies go to the engine's send.
 *   What the kernel does not take at once waits in the connection's out
 *   buffer.  Answering stops when out would pass --max-output; the input
 *   not yet answered waits in the in buffer, and the engine does not read
 *   from the connection until out drains.  A peer that never reads its
 *   replies thus costs at most max_output + max_message bytes and no CPU,
 *   and is closed by the idle timeout since it makes no progress.
 * - Only progress, a message answered or a reply taken by the peer, starts
 *   the idle timeout again; bytes that do not finish a message do not.  A
 *   message begun must be complete within --message-timeout, so a peer
 *   that trickles a frame a byte at a time holds its slot for that long at
 *   most.  No address holds more than --max-clients-per-source slots.
 * - After an error frame the server stops answering, shuts down its
 *   sending side once the frame is out, and reads and discards what the
 *   peer still sends until it closes (so that closing with unread data
 *   does not turn into a reset that could destroy the error frame), for
 *   at most TS_DRAIN_TIMEOUT_NS.
 */
#define _GNU_SOURCE
#include "config.h"

#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include <tsecho/net.h>
#include <tsecho/proto.h>
#include <tsecho/text.h>

enum { DRAIN_MAX_BYTES = 1 << 20 };

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

struct ts_traffic *ts_conn_traffic(struct conn *c, uint8_t first_byte)
{
	enum ts_stat_proto p = TS_STAT_TEXT;

	if (c->proto == PROTO_ECHO)
		p = TS_STAT_ECHO;
	else if (c->proto == PROTO_BINARY ||
		 (c->proto == PROTO_UNKNOWN && first_byte == TS_PROTO_MAGIC0))
		p = TS_STAT_BINARY;
	return &c->srv->stats.traffic[p][TS_STAT_TCP];
}

void ts_conn_touch(struct conn *c)
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
 * room to send, which is the idle timeout's business). */
static void conn_partial(struct conn *c, size_t pending)
{
	struct ts_server *srv = c->srv;
	bool waiting =
	    c->in.len > 0 && c->state == ST_OPEN && !c->eof && pending < srv->cfg->max_output;

	if (!waiting || srv->cfg->message_timeout_ns <= 0)
		list_remove(&c->partial);
	else if (!c->partial.list)
		list_push(&srv->partial, &c->partial, ts_mono_ns() + srv->cfg->message_timeout_ns);
}

bool ts_conn_admit(struct ts_server *srv, int fd, const struct sockaddr_storage *peer)
{
	const char *why = NULL;

	if (srv->stats.conns_current >= srv->cfg->max_clients) {
		srv->stats.limits[TS_LIMIT_MAX_CLIENTS]++;
		why = "too many clients";
	} else if (!ts_guard_conn_open(&srv->guard, peer, srv->cfg->max_clients_per_source)) {
		srv->stats.limits[TS_LIMIT_PER_SOURCE]++;
		why = "too many connections from this address";
	}
	if (!why)
		return true;
	ts_log_close(&srv->log, (const struct sockaddr *)peer, why);
	close(fd);
	return false;
}

struct conn *ts_conn_new(struct ts_server *srv, int fd, const struct sockaddr_storage *peer,
			 enum listener_role role)
{
	struct conn *c = calloc(1, sizeof *c);

	if (!c) {
		srv->stats.errors[TS_ERR_RESOURCE]++;
		ts_guard_conn_close(&srv->guard, peer);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->srv = srv;
	c->peer = *peer;
	c->idle.conn = c;
	c->partial.conn = c;
	c->proto = role == ROLE_ECHO ? PROTO_ECHO : PROTO_UNKNOWN;
	c->u.send_bid = -1;
	/* A latency tool must not let Nagle hold small replies back. */
	if (ts_net_set_nodelay(fd) != 0)
		srv->stats.errors[TS_ERR_IO]++;
	/* Before any byte is sent: the transmit keys count from here. */
	if (srv->cfg->kernel_timestamps == TS_KT_ON) {
		c->kt.on = ts_server_kt_enable(srv, fd) == 0;
		c->kt.refused = !c->kt.on;
	}
	return c;
}

void ts_conn_opened(struct conn *c)
{
	struct ts_server *srv = c->srv;

	srv->stats.conns_total++;
	srv->stats.conns_current++;
	ts_conn_touch(c);
	ts_log_accept(&srv->log, (const struct sockaddr *)&c->peer);
}

void ts_conn_detach(struct conn *c, const char *reason)
{
	struct ts_server *srv = c->srv;

	ts_log_close(&srv->log, (struct sockaddr *)&c->peer, reason);
	list_remove(&c->idle);
	list_remove(&c->partial);
	ts_guard_conn_close(&srv->guard, &c->peer);
	srv->stats.conns_current--;
}

void ts_conn_free(struct conn *c)
{
	ts_buf_free(&c->in);
	ts_buf_free(&c->out);
	ts_buf_free(&c->u.next);
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

/* --kernel-timestamps auto: the first probe that asks turns them on, at
 * a moment when every byte handed to the engine has been written (idle),
 * so that the kernel's keys start at c->kt.stream.  The engine must be
 * able to (io_uring: buffers with room for recvmsg's header). */
static void kt_auto(struct conn *c, bool idle)
{
	struct ts_server *srv = c->srv;

	if (c->kt.on || c->kt.refused || !idle || srv->cfg->kernel_timestamps != TS_KT_AUTO)
		return;
	if (!srv->tcp->kt_ok || !srv->tcp->kt_ok(srv) || ts_server_kt_enable(srv, c->fd) != 0) {
		c->kt.refused = true;
		return;
	}
	c->kt.on = true;
	c->kt.base = c->kt.stream;
}

/* The kernel-timestamp extension of the probe frame at p (header h, at
 * offset at of the stream of replies), when it has one.  ends_read: the
 * frame's last byte is the read's, so the kernel's receive time of the
 * read (that of its newest segment) is this probe's; the others in the
 * same read get none.  idle: nothing handed to the engine waits to be
 * written (kt_auto).  Out of line: most probes have no extension, and
 * their path stays as short as before. */
static __attribute__((noinline)) void stamp_kt(struct conn *c, uint8_t *p,
					       const struct ts_proto_hdr *h, uint64_t at,
					       bool ends_read, bool idle)
{
	if (!c->kt.on)
		kt_auto(c, idle);
	if (ts_kt_fill(p, h->hdr_len, c->kt.on, ends_read ? c->kt.cur_rx_ns : 0, &c->kt.last) &&
	    c->kt.on) {
		ts_kt_sent(&c->kt.recent, (uint32_t)(at + h->frame_len - 1 - c->kt.base), h->seq,
			   0);
		c->kt.want_tx = true;
	}
}

/* Turns the probe frame at p (header h), which is at offset at of the
 * stream of replies, into its reply, where it is.  t3 is t2 plus the
 * residence measured on the raw clock (docs/measurement.md).  ends_read,
 * idle: for stamp_kt. */
static inline void stamp_probe(struct conn *c, uint8_t *p, const struct ts_proto_hdr *h,
			       uint64_t at, bool ends_read, bool idle, int64_t rx_wall_ns,
			       int64_t rx_raw_ns)
{
	struct ts_server *srv = c->srv;
	int64_t t3_wall_ns;

	if (h->hdr_len > TS_PROTO_HDR_LEN)
		stamp_kt(c, p, h, at, ends_read, idle);
	t3_wall_ns = rx_wall_ns + (ts_raw_ns() - rx_raw_ns);
	ts_proto_make_reply(p, (uint64_t)rx_wall_ns, (uint64_t)t3_wall_ns);
	srv->stats.traffic[TS_STAT_BINARY][TS_STAT_TCP].messages++;
	ts_server_stats_residence(&srv->stats, rx_wall_ns, t3_wall_ns);
}

/* Decodes the frame at p; the kind of result, with *h and *status. */
static enum ts_decode decode_probe(struct conn *c, const uint8_t *p, size_t n,
				   struct ts_proto_hdr *h, enum ts_proto_status *status)
{
	enum ts_decode r = ts_proto_decode(p, n, c->srv->cfg->max_message, h, status);

	if (r == TS_DECODE_OK && h->type != TS_MSG_PROBE) {
		r = TS_DECODE_BAD;
		*status = TS_STATUS_TYPE;
	}
	return r;
}

size_t ts_conn_answer_in_place(struct conn *c, uint8_t *p, size_t n, int64_t rx_wall_ns,
			       int64_t rx_raw_ns)
{
	size_t used = 0;

	c->kt.cur_rx_ns = c->kt.rx_ns;
	if (c->proto == PROTO_UNKNOWN && n > 0 && p[0] == TS_PROTO_MAGIC0)
		c->proto = PROTO_BINARY;
	if (c->proto == PROTO_ECHO && c->state == ST_OPEN) {
		size_t room = c->srv->cfg->max_output;
		used = n < room ? n : room;
		c->srv->stats.traffic[TS_STAT_ECHO][TS_STAT_TCP].messages++;
	}
	while (c->proto == PROTO_BINARY && c->state == ST_OPEN && used < n &&
	       used < c->srv->cfg->max_output) {
		struct ts_proto_hdr h;
		enum ts_proto_status status = TS_STATUS_OK;

		if (decode_probe(c, p + used, n - used, &h, &status) != TS_DECODE_OK)
			break;
		stamp_probe(c, p + used, &h, c->kt.stream + used, used + h.frame_len == n, true,
			    rx_wall_ns, rx_raw_ns);
		used += h.frame_len;
	}
	if (used > 0)
		ts_conn_touch(c); /* progress: a message answered */
	c->kt.stream += used;     /* the engine sends these bytes next */
	return used;
}

/* Answers one binary frame at p; returns the bytes it used (0: need more).
 * pending: bytes handed to the engine before this batch, not yet sent. */
static size_t answer_binary(struct conn *c, const uint8_t *p, size_t n, int64_t rx_wall_ns,
			    int64_t rx_raw_ns, size_t pending, size_t *tx_len)
{
	struct ts_server *srv = c->srv;
	struct ts_proto_hdr h;
	enum ts_proto_status status = TS_STATUS_OK;
	enum ts_decode r = decode_probe(c, p, n, &h, &status);

	if (r == TS_DECODE_NEED_MORE)
		return 0;
	if (r == TS_DECODE_BAD) {
		conn_fail(c, tx_len, status, p, n);
		return n;
	}
	memcpy(srv->tx + *tx_len, p, h.frame_len);
	stamp_probe(c, srv->tx + *tx_len, &h, c->kt.stream + *tx_len, h.frame_len == n,
		    pending == 0, rx_wall_ns, rx_raw_ns);
	*tx_len += h.frame_len;
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

/* RFC 862: the bytes go back as they came, as many as there is room for. */
static size_t answer_echo(struct conn *c, const uint8_t *p, size_t n, size_t pending,
			  size_t *tx_len)
{
	struct ts_server *srv = c->srv;
	size_t room = srv->cfg->max_output - pending - *tx_len;
	size_t k = n < room ? n : room;

	memcpy(srv->tx + *tx_len, p, k);
	*tx_len += k;
	srv->stats.traffic[TS_STAT_ECHO][TS_STAT_TCP].messages++;
	return k;
}

/* Answers the messages in p[0..n) until output reaches its cap or the
 * connection stops answering; sends the replies.  Returns the bytes used,
 * or -errno when the connection broke. */
static ssize_t conn_answer(struct conn *c, const uint8_t *p, size_t n, int64_t rx_wall_ns,
			   int64_t rx_raw_ns, size_t pending)
{
	struct ts_server *srv = c->srv;
	size_t used = 0;
	size_t tx_len = 0;
	int rc;

	while (used < n && c->state == ST_OPEN && pending + tx_len < srv->cfg->max_output) {
		size_t k;

		if (c->proto == PROTO_UNKNOWN)
			c->proto = p[used] == TS_PROTO_MAGIC0 ? PROTO_BINARY : PROTO_TEXT;
		if (c->proto == PROTO_ECHO)
			k = answer_echo(c, p + used, n - used, pending, &tx_len);
		else if (c->proto == PROTO_BINARY)
			k = answer_binary(c, p + used, n - used, rx_wall_ns, rx_raw_ns, pending,
					  &tx_len);
		else
			k = answer_text(c, p + used, n - used, rx_wall_ns, &tx_len);
		if (k == 0)
			break;
		used += k;
	}
	if (used > 0)
		ts_conn_touch(c); /* progress: a message answered */
	c->kt.stream += tx_len;
	if (tx_len > 0 && (rc = srv->tcp->send(c, srv->tx, tx_len)) != 0)
		return rc;
	return (ssize_t)used;
}

/* What waits to be sent: pending, outside out, plus out. */
static size_t waiting(const struct conn *c, size_t pending_outside)
{
	return pending_outside + c->out.len;
}

int ts_conn_input(struct conn *c, const uint8_t *data, size_t len, int64_t rx_wall_ns,
		  int64_t rx_raw_ns, size_t pending)
{
	struct ts_server *srv = c->srv;
	size_t in_max = srv->cfg->max_message + srv->in_slack;
	ssize_t used;
	int rc;

	if (len > 0) {
		if (c->in.len == 0) {
			/* The common case: answer straight from the read. */
			c->kt.cur_rx_ns = c->kt.rx_ns;
			used =
			    conn_answer(c, data, len, rx_wall_ns, rx_raw_ns, waiting(c, pending));
			if (used < 0)
				return (int)used;
			data += used;
			len -= (size_t)used;
		}
		if ((rc = ts_buf_append(&c->in, data, len, in_max)) != 0)
			return rc;
		if (len > 0) {
			c->in_wall_ns = rx_wall_ns;
			c->in_raw_ns = rx_raw_ns;
			c->kt.in_rx_ns = c->kt.rx_ns;
		}
	}
	c->kt.cur_rx_ns = c->kt.in_rx_ns;
	while (c->in.len > 0 && c->state == ST_OPEN && waiting(c, pending) < srv->cfg->max_output) {
		used = conn_answer(c, ts_buf_bytes(&c->in), c->in.len, c->in_wall_ns, c->in_raw_ns,
				   waiting(c, pending));
		if (used <= 0)
			return (int)used;
		ts_buf_consume(&c->in, (size_t)used);
	}
	return 0;
}

bool ts_conn_drain(struct conn *c, size_t n)
{
	c->drained += (uint32_t)(n < DRAIN_MAX_BYTES ? n : DRAIN_MAX_BYTES);
	if (c->drained <= DRAIN_MAX_BYTES)
		return true;
	c->srv->tcp->close(c, "protocol error");
	return false;
}

int ts_conn_kt_drain(struct conn *c, int cap)
{
	struct ts_kts_tx tx[TS_KT_RECENT];
	int n = ts_kts_read_tx(c->fd, tx, cap < TS_KT_RECENT ? cap : TS_KT_RECENT);

	for (int i = 0; i < n; i++) {
		uint64_t seq;
		uint32_t slot;
		if (ts_kt_match(&c->kt.recent, &tx[i], &seq, &slot))
			c->kt.last = (struct ts_kt_last){ seq, tx[i].ns };
	}
	return n;
}

void ts_conn_fail_input(struct conn *c, int rc)
{
	struct ts_server *srv = c->srv;

	if (rc == -ENOBUFS)
		srv->stats.limits[TS_LIMIT_INPUT]++;
	else
		srv->stats.errors[TS_ERR_RESOURCE]++;
	srv->tcp->close(c, rc == -ENOBUFS ? "input cap exceeded" : strerror(-rc));
}

bool ts_conn_settle(struct conn *c, size_t pending, bool *want_read)
{
	struct ts_server *srv = c->srv;
	size_t total = waiting(c, pending);

	if (total == 0) {
		if (c->state == ST_QUIT || (c->eof && c->state != ST_DRAINING)) {
			srv->tcp->close(c, c->state == ST_QUIT ? "quit" : "end of file");
			return false;
		}
		if (c->state == ST_ERROR) {
			if (shutdown(c->fd, SHUT_WR) != 0) {
				srv->tcp->close(c, "protocol error");
				return false;
			}
			c->state = ST_DRAINING;
			list_push(&srv->draining, &c->idle, ts_mono_ns() + TS_DRAIN_TIMEOUT_NS);
		}
	}
	conn_partial(c, total);
	if (c->state == ST_OPEN && !c->out_full && total >= srv->cfg->max_output)
		srv->stats.limits[TS_LIMIT_OUTPUT]++;
	c->out_full = total >= srv->cfg->max_output;
	*want_read = !c->eof && (c->state == ST_DRAINING ||
				 (c->state == ST_OPEN && total < srv->cfg->max_output));
	return true;
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
			srv->tcp->close(l->head->conn, lists[i].reason);
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
			/* One last try, unless a send from the ring is still
			 * on its way (it would go twice). */
			if (c->out.len > 0 && !c->u.sending)
				w = send(c->fd, ts_buf_bytes(&c->out), c->out.len,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				ts_conn_traffic(c, 0)->bytes_out += (uint64_t)w;
			srv->tcp->close(c, "server shutting down");
		}
	}
}
