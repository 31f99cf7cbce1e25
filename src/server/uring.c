/* The io_uring engine: TCP connections on one submission/completion ring.
 *
 * - Each TCP listener has a multishot accept.  Each connection has a
 *   multishot receive into the provided buffer ring: the kernel picks the
 *   buffer, the completion names it.
 * - Whole binary probes (and echo bytes) are answered where they landed,
 *   stamped in place, and sent from that buffer with MSG_DONTWAIT; the
 *   buffer goes back to the ring when that send completes.  The send never
 *   waits on the peer: what the kernel does not take at once is copied to
 *   the connection's out buffer and the ring buffer returned, so a peer that
 *   never reads holds no ring buffer.  Text replies, error frames, and
 *   frames that straddle two receives go through conn.c's copy path.
 * - One send in flight per connection.  While a send from out is in flight
 *   out is not touched (the kernel may still read it); replies made
 *   meanwhile wait in next.
 * - A multishot receive cannot be paused: at the output cap it is
 *   cancelled, and armed again when the peer has read.  One that ends on
 *   -ENOBUFS (the ring is empty) is armed again once half the buffers are
 *   back: the bytes wait in the socket, none is lost or reordered.
 * - A connection with kernel timestamps on (from accept with
 *   --kernel-timestamps=on; in auto mode from its first probe that asks,
 *   when its plain receive is cancelled and armed again as this) receives
 *   with a multishot recvmsg: each buffer then opens with the kernel's
 *   io_uring_recvmsg_out and room for one SCM_TIMESTAMPING message (the
 *   receive time of those bytes, into c->kt.rx_ns), and the payload
 *   follows at KT_HDR_LEN, where it is answered and sent from as above.
 *   End of file is a payload of 0 bytes; buffers must be KT_MIN_BUFFER
 *   bytes or more.  A send that carries a reply that asked is a SENDMSG
 *   with the request for its transmit time (never zero-copy), after which
 *   the error queue is read for the record (on loopback it is queued by
 *   the time the send completes); the ring has no error events to say
 *   when one comes late, so a read that finds none makes the next one
 *   read up to TS_KT_RECENT (kt_drain).  Connections without kernel
 *   timestamps keep the plain multishot receive and sends, at no cost.
 * - UDP, STAMP, the metrics port and the wake-up pipe stay on the server's
 *   epoll loop, which the ring watches through epoll's own descriptor.
 *
 * A connection is freed only when no operation in flight names it
 * (u.refs), so no completion ever points at freed memory.
 */
#define _GNU_SOURCE
#include "config.h"

#include "uring.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/errqueue.h>
#include <liburing.h>

#include <tsecho/clock.h>
#include <tsecho/kts.h>
#include <tsecho/net.h>
#include "conn.h"

enum {
	SQ_ENTRIES = 1024,
	CQ_MIN = 4096,
	CQ_MAX = 65536, /* the kernel's largest: IORING_MAX_CQ_ENTRIES */
	BATCH = 64,
	BGID = 1,
	DEFAULT_BUFFERS = 1024,
	DEFAULT_BUFFER_SIZE = 8192,
	ZC_AUTO_MIN = 16384,    /* --zerocopy auto: replies this long or longer */
	REAP_SHARE = 4 * BATCH, /* completions handled per wait, at most */
	DRAIN_MS = 2000,        /* at shutdown, for the last completions */
};

/* With --kernel-timestamps, what opens each receive buffer: the recvmsg
 * header and the control data.  A TCP receive brings one control message,
 * the SCM_TIMESTAMPING that kts.c parses (no name: the socket is
 * connected), so that is all the room there is: it comes out of every
 * buffer.  A buffer must leave at least as much again for the payload. */
#define KT_CONTROL_LEN CMSG_SPACE(sizeof(struct scm_timestamping))
#define KT_HDR_LEN (sizeof(struct io_uring_recvmsg_out) + KT_CONTROL_LEN)
#define KT_MIN_BUFFER 256
#define KT_STR_(x) #x
#define KT_STR(x) KT_STR_(x)
#define KT_TOO_SMALL                                                                               \
	"--kernel-timestamps needs --uring-buffer-size " KT_STR(KT_MIN_BUFFER) " or more"
_Static_assert(KT_MIN_BUFFER >= 2 * KT_HDR_LEN, "KT_MIN_BUFFER too small for the header");

/* What a completion is for: the low bits of its user_data. */
enum tag {
	TAG_NONE,   /* a cancel: nothing to do */
	TAG_ACCEPT, /* struct listener */
	TAG_RECV,   /* struct conn */
	TAG_SEND,   /* struct conn */
	TAG_LOOP,   /* the nested epoll loop */
	TAG_LISTEN, /* struct listener: readable, after accept ran out of fds */
	TAG_ZC,     /* struct zc_slot: a zero-copy send, or its notification */
	TAG_MASK = 7,
};

/* A zero-copy send from ring buffer (slot - zc): its buffer stays the
 * kernel's until the notification, which can come after the connection
 * has sent again, so the completion names the buffer, not the send. */
struct zc_slot {
	struct conn *c;
};

struct ts_uring {
	struct ts_server *srv;
	struct io_uring ring;
	unsigned flags; /* setup flags in effect */
	unsigned cq_entries;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	uint8_t *bufs;
	unsigned nbufs;
	size_t buf_size;
	unsigned bufs_out;                         /* held by user space */
	struct conn *starved;                      /* receives waiting for buffers */
	unsigned zombies;                          /* closed, with operations in flight */
	int64_t busy_poll_ns;                      /* spin this long before sleeping */
	bool armed[10 * TS_SERVER_MAX_LISTEN];     /* accept or poll, per listener */
	bool wait_peer[10 * TS_SERVER_MAX_LISTEN]; /* poll, not accept */
	bool loop_armed;
	struct zc_slot *zc;    /* one per ring buffer; NULL: no SEND_ZC */
	bool zc_fixed;         /* the pool is registered: SEND_ZC from fixed buffers */
	unsigned inline_sends; /* prepared with MSG_DONTWAIT since the last submit */
	/* What a --kernel-timestamps receive asks for.  The kernel reads it
	 * as the request is submitted (namelen, controllen: the layout of
	 * every buffer), so one serves every connection. */
	struct msghdr kt_msg;
	bool ready;   /* set up in full */
	bool enabled; /* by the thread that serves */
	char setup[192];
};

static uint64_t udata(const void *p, enum tag t)
{
	return (uint64_t)(uintptr_t)p | (uint64_t)t;
}

/* Submits what is queued; what io_uring_submit returns.  The inline
 * sends' completions are then posted (run_once's wait counts on it). */
static int submit(struct ts_uring *u)
{
	u->inline_sends = 0;
	return io_uring_submit(&u->ring);
}

/* An SQE, submitting what is queued when the queue is full; NULL when even
 * that fails. */
static struct io_uring_sqe *get_sqe(struct ts_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe && submit(u) >= 0)
		sqe = io_uring_get_sqe(&u->ring);
	if (!sqe)
		u->srv->stats.errors[TS_ERR_RESOURCE]++;
	return sqe;
}

static uint8_t *buf_at(struct ts_uring *u, unsigned bid)
{
	return u->bufs + (size_t)bid * u->buf_size;
}

static void buf_recycle(struct ts_uring *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, buf_at(u, bid), (unsigned)u->buf_size, (unsigned short)bid,
			      io_uring_buf_ring_mask(u->nbufs), 0);
	io_uring_buf_ring_advance(u->br, 1);
	u->bufs_out--;
}

/* Bytes c has answered and not yet sent, outside c->out. */
static size_t pending(const struct conn *c)
{
	size_t n = c->u.next.len;

	if (c->u.sending && c->u.send_bid >= 0)
		n += c->u.send_len;
	return n;
}

static void free_if_done(struct conn *c)
{
	struct ts_uring *u = c->srv->uring;

	if (!c->u.closed || c->u.refs > 0)
		return;
	close(c->fd);
	ts_conn_free(c);
	u->zombies--;
}

static void starved_remove(struct ts_uring *u, struct conn *c)
{
	for (struct conn **pp = &u->starved; *pp; pp = &(*pp)->u.next_starved) {
		if (*pp == c) {
			*pp = c->u.next_starved;
			break;
		}
	}
	c->u.starved = false;
	c->u.next_starved = NULL;
}

static void uring_close(struct conn *c, const char *reason)
{
	struct ts_uring *u = c->srv->uring;
	struct io_uring_sqe *sqe;

	ts_conn_detach(c, reason);
	if (c->u.starved)
		starved_remove(u, c);
	c->u.closed = true;
	u->zombies++;
	if (c->u.refs == 0) {
		free_if_done(c);
		return;
	}
	/* Every operation on the socket ends, each with its completion. */
	sqe = get_sqe(u);
	if (sqe) {
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, udata(NULL, TAG_NONE));
		io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
	} else if (shutdown(c->fd, SHUT_RDWR) != 0) {
		c->srv->stats.errors[TS_ERR_IO]++;
	}
}

static int uring_send(struct conn *c, const uint8_t *p, size_t n)
{
	/* out is the kernel's while a send from it is in flight. */
	struct ts_buf *b = c->u.sending && c->u.send_bid < 0 ? &c->u.next : &c->out;

	return ts_buf_append(b, p, n, SIZE_MAX);
}

static void arm_accept(struct ts_uring *u, int i)
{
	struct listener *l = &u->srv->listeners[i];
	struct io_uring_sqe *sqe;

	if (u->armed[i] || l->type != SOCK_STREAM || u->srv->accept_paused_until_mono_ns)
		return;
	if (!(sqe = get_sqe(u)))
		return;
	if (u->wait_peer[i]) {
		/* Out of descriptors, the kernel's accept fails before it
		 * looks for a peer: wait for one, then shed it. */
		io_uring_prep_poll_add(sqe, l->fd, POLLIN);
		io_uring_sqe_set_data64(sqe, udata(l, TAG_LISTEN));
	} else {
		io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
		io_uring_sqe_set_data64(sqe, udata(l, TAG_ACCEPT));
	}
	u->armed[i] = true;
}

static void uring_listen(struct ts_server *srv, int on)
{
	struct ts_uring *u = srv->uring;

	for (int i = 0; i < srv->n_listeners; i++) {
		struct io_uring_sqe *sqe;

		if (on) {
			arm_accept(u, i);
		} else if (u->armed[i] && (sqe = get_sqe(u))) {
			io_uring_prep_cancel64(
			    sqe,
			    udata(&srv->listeners[i], u->wait_peer[i] ? TAG_LISTEN : TAG_ACCEPT),
			    0);
			io_uring_sqe_set_data64(sqe, udata(NULL, TAG_NONE));
			io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
		}
	}
}

/* Whether the buffers have room for recvmsg's header (KT_MIN_BUFFER). */
static bool uring_kt_ok(struct ts_server *srv)
{
	return srv->uring->buf_size >= KT_MIN_BUFFER;
}

const struct ts_tcp_engine ts_tcp_uring = { uring_send, uring_close, uring_listen, uring_kt_ok };

/* Whether c's in-place reply of n bytes goes out zero-copy: always with
 * --zerocopy on; with auto, a reply of ZC_AUTO_MIN bytes or more to a peer
 * that is not on this host (over loopback the kernel copies at the
 * receiving end all the same, so zero copy only adds the notification). */
static bool use_zc(const struct conn *c, size_t n)
{
	const struct ts_uring *u = c->srv->uring;

	switch (c->srv->cfg->zerocopy) {
	case TS_ZEROCOPY_ON:
		return u->zc != NULL;
	case TS_ZEROCOPY_AUTO:
		return u->zc != NULL && n >= ZC_AUTO_MIN && !c->u.local_peer;
	case TS_ZEROCOPY_OFF:
		break;
	}
	return false;
}

/* Sends p[0..n) for c; from ring buffer bid (or -1: from out), zero-copy
 * when zc.  False when c was closed. */
static bool submit_send(struct conn *c, const uint8_t *p, size_t n, int flags, int bid, bool zc)
{
	struct ts_uring *u = c->srv->uring;
	struct io_uring_sqe *sqe = get_sqe(u);

	if (!sqe) {
		uring_close(c, "submission queue full");
		return false;
	}
	c->u.send_stamped = c->kt.want_tx;
	if (c->kt.want_tx) {
		/* It carries a reply that asked for its transmit time: a
		 * sendmsg with the request, copied (never zero-copy). */
		c->kt.want_tx = false;
		zc = false;
		/* iov_base is not const; a send only reads it. */
		c->u.siov = (struct iovec){ (void *)(uintptr_t)p, n };
		c->u.smsg = (struct msghdr){ .msg_iov = &c->u.siov, .msg_iovlen = 1 };
		c->u.smsg.msg_control = c->u.sctl.bytes;
		ts_kts_ask_send(&c->u.smsg, TS_KTS_TX);
		io_uring_prep_sendmsg(sqe, c->fd, &c->u.smsg, MSG_NOSIGNAL | (unsigned)flags);
	} else if (zc && u->zc_fixed)
		io_uring_prep_send_zc_fixed(sqe, c->fd, p, n, MSG_NOSIGNAL | flags, 0, 0);
	else if (zc)
		io_uring_prep_send_zc(sqe, c->fd, p, n, MSG_NOSIGNAL | flags, 0);
	else
		io_uring_prep_send(sqe, c->fd, p, n, MSG_NOSIGNAL | flags);
	/* A send that may not wait completes as it is submitted, its
	 * completion posted at once. */
	if (flags & MSG_DONTWAIT)
		u->inline_sends++;
	if (zc) {
		u->zc[bid].c = c;
		io_uring_sqe_set_data64(sqe, udata(&u->zc[bid], TAG_ZC));
	} else {
		io_uring_sqe_set_data64(sqe, udata(c, TAG_SEND));
	}
	c->u.sending = true;
	c->u.refs++;
	return true;
}

/* After every event on c: close it, or arm what it needs next. */
static void settle(struct conn *c)
{
	struct ts_uring *u = c->srv->uring;
	struct io_uring_sqe *sqe;
	bool want_read;

	if (!ts_conn_settle(c, pending(c), &want_read))
		return;
	if (!c->u.sending && c->out.len > 0) {
		c->u.send_bid = -1;
		if (!submit_send(c, ts_buf_bytes(&c->out), c->out.len, 0, -1, false))
			return;
	}
	if (want_read && !c->u.recv_armed && !c->u.starved) {
		if (!(sqe = get_sqe(u))) {
			uring_close(c, "submission queue full");
			return;
		}
		c->u.recv_msg = c->kt.on;
		if (c->u.recv_msg)
			io_uring_prep_recvmsg_multishot(sqe, c->fd, &u->kt_msg, 0);
		else
			io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BGID;
		io_uring_sqe_set_data64(sqe, udata(c, TAG_RECV));
		c->u.recv_armed = true;
		c->u.refs++;
	} else if ((!want_read || c->u.recv_msg != c->kt.on) && c->u.recv_armed &&
		   !c->u.recv_cancel && (sqe = get_sqe(u))) {
		/* Not to read now, or kernel timestamps came on (auto) and
		 * the receive must become a recvmsg: re-armed once it ends. */
		io_uring_prep_cancel64(sqe, udata(c, TAG_RECV), 0);
		io_uring_sqe_set_data64(sqe, udata(NULL, TAG_NONE));
		io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
		c->u.recv_cancel = true;
	}
}

/* n bytes arrived in buffer bid, at off.  Returns false when c was
 * closed. */
static bool on_data(struct conn *c, unsigned bid, size_t off, size_t n)
{
	struct ts_uring *u = c->srv->uring;
	uint8_t *p = buf_at(u, bid) + off;
	int64_t rx_wall_ns, rx_raw_ns;
	size_t used = 0;
	int rc;

	ts_clock_pair(&rx_wall_ns, &rx_raw_ns); /* t2: the completion is in hand */
	ts_conn_traffic(c, p[0])->bytes_in += n;
	if (c->state == ST_DRAINING) {
		buf_recycle(u, bid);
		return ts_conn_drain(c, n);
	}
	if (c->in.len == 0 && c->out.len == 0 && !c->u.sending && c->state == ST_OPEN)
		used = ts_conn_answer_in_place(c, p, n, rx_wall_ns, rx_raw_ns);
	if (used > 0) {
		c->u.send_bid = (int)bid;
		c->u.send_off = (uint32_t)off;
		c->u.send_len = (uint32_t)used;
		if (!submit_send(c, p, used, MSG_DONTWAIT, (int)bid, use_zc(c, used))) {
			buf_recycle(u, bid);
			return false;
		}
	}
	/* The rest (a frame begun, text, an error) takes the copy path. */
	rc = ts_conn_input(c, p + used, n - used, rx_wall_ns, rx_raw_ns, pending(c));
	if (used == 0)
		buf_recycle(u, bid);
	if (rc != 0) {
		ts_conn_fail_input(c, rc);
		return false;
	}
	return true;
}

/* A recvmsg completion of res bytes in buffer bid: sets c->kt.rx_ns from
 * its control data (0 when it has none, or it was cut short) and *off to
 * where the payload starts.  Returns the payload's length (0: end of
 * file), or -EBADMSG when res cannot hold the header (which the kernel
 * never does). */
static int kt_payload(struct ts_uring *u, struct conn *c, unsigned bid, int res, size_t *off)
{
	uint8_t *b = buf_at(u, bid);
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(b, res, &u->kt_msg);
	struct io_uring_recvmsg_out out;
	union {
		uint8_t bytes[KT_CONTROL_LEN];
		struct cmsghdr align;
	} control;
	struct msghdr mh = { .msg_control = control.bytes };

	c->kt.rx_ns = 0;
	if (!o)
		return -EBADMSG;
	/* A buffer is aligned only as --uring-buffer-size makes it: the
	 * header and the control data are copied out, not read in place
	 * (which is what liburing's cmsg helpers would do). */
	memcpy(&out, o, sizeof out);
	if (!(out.flags & MSG_CTRUNC) && out.controllen <= sizeof control.bytes) {
		memcpy(control.bytes,
		       (const uint8_t *)io_uring_recvmsg_name(o) + u->kt_msg.msg_namelen,
		       out.controllen);
		mh.msg_controllen = out.controllen;
		c->kt.rx_ns = ts_kts_rx_ns(&mh);
	}
	*off = (size_t)((uint8_t *)io_uring_recvmsg_payload(o, &u->kt_msg) - b);
	return (int)io_uring_recvmsg_payload_length(o, res, &u->kt_msg);
}

static void on_recv(struct ts_uring *u, struct conn *c, int res, unsigned flags)
{
	unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
	size_t off = 0;

	if (!(flags & IORING_CQE_F_MORE)) {
		c->u.recv_armed = false;
		c->u.recv_cancel = false;
		c->u.refs--;
	}
	if (flags & IORING_CQE_F_BUFFER)
		u->bufs_out++;
	if (c->u.closed) {
		if (flags & IORING_CQE_F_BUFFER)
			buf_recycle(u, bid);
		free_if_done(c);
		return;
	}
	/* recvmsg counts its header in res, and ends on end of file with a
	 * buffer that holds the header alone. */
	if (res > 0 && c->u.recv_msg)
		res = kt_payload(u, c, bid, res, &off);
	/* Only data keeps its buffer (on_data's business). */
	if (res <= 0 && (flags & IORING_CQE_F_BUFFER))
		buf_recycle(u, bid);
	if (res > 0) {
		if (!on_data(c, bid, off, (size_t)res))
			return;
	} else if (res == 0) {
		if (c->state == ST_DRAINING) {
			uring_close(c, "protocol error");
			return;
		}
		c->eof = true; /* replies still owed go first */
	} else if (res == -ENOBUFS) {
		c->u.starved = true;
		c->u.next_starved = u->starved;
		u->starved = c;
	} else if (res != -ECANCELED) {
		uring_close(c, strerror(-res));
		return;
	}
	settle(c);
}

/* The rest of an in-place send the kernel did not take goes to the front
 * of out (which is not in flight: one send at a time). */
static int keep_unsent(struct conn *c, const uint8_t *p, size_t n)
{
	struct ts_buf b = { 0 };
	int rc = ts_buf_append(&b, p, n, SIZE_MAX);

	if (rc == 0 && c->out.len > 0)
		rc = ts_buf_append(&b, ts_buf_bytes(&c->out), c->out.len, SIZE_MAX);
	if (rc != 0) {
		ts_buf_free(&b);
		return rc;
	}
	ts_buf_free(&c->out);
	c->out = b;
	return 0;
}

/* After a send on c (--kernel-timestamps): reads the transmit records.
 * On loopback the send's own is there when the send completes, so one
 * read does, as on the readiness engines.  Where a record comes later (a
 * real link: the packet waits for the congestion window), the ring has no
 * error event to say so: a read that finds none, or finds as many as it
 * may, makes the next one read up to TS_KT_RECENT, so that late records
 * cannot pile up behind one read per send. */
static void kt_drain(struct conn *c)
{
	int cap = c->u.kt_behind ? TS_KT_RECENT : 1;
	int n = ts_conn_kt_drain(c, cap);

	c->u.kt_behind = n <= 0 || (cap > 1 && n == cap);
}

/* A send completed.  keep_buf: its ring buffer is still the kernel's (a
 * zero-copy send whose notification is to come), not to be returned yet. */
static void on_send(struct ts_uring *u, struct conn *c, int res, bool keep_buf)
{
	size_t sent = res > 0 ? (size_t)res : 0;
	bool from_out = c->u.send_bid < 0;
	int bid = keep_buf ? -1 : c->u.send_bid;
	const uint8_t *unsent =
	    from_out ? NULL : buf_at(u, (unsigned)c->u.send_bid) + c->u.send_off;
	int rc = 0;

	c->u.sending = false;
	c->u.send_bid = -1;
	c->u.refs--;
	if (c->u.closed) {
		if (bid >= 0)
			buf_recycle(u, (unsigned)bid);
		free_if_done(c);
		return;
	}
	if (res < 0 && res != -EAGAIN && res != -EINTR) {
		if (bid >= 0)
			buf_recycle(u, (unsigned)bid);
		uring_close(c, strerror(-res));
		return;
	}
	ts_conn_traffic(c, 0)->bytes_out += sent;
	if (c->u.send_stamped && sent > 0)
		kt_drain(c);
	if (!from_out) {
		if (sent < c->u.send_len)
			rc = keep_unsent(c, unsent + sent, c->u.send_len - sent);
		if (bid >= 0)
			buf_recycle(u, (unsigned)bid);
	} else {
		ts_buf_consume(&c->out, sent);
		if (c->out.len == 0 && c->u.next.len > 0) {
			c->out = c->u.next;
			c->u.next = (struct ts_buf){ 0 };
		}
	}
	/* The peer took replies that had waited (in-place ones were counted
	 * as progress when they were answered, a moment ago). */
	if (sent > 0 && from_out)
		ts_conn_touch(c);
	if (rc == 0)
		rc = ts_conn_input(c, NULL, 0, 0, 0, pending(c));
	if (rc != 0) {
		ts_conn_fail_input(c, rc);
		return;
	}
	settle(c);
}

static void on_accept(struct ts_uring *u, struct listener *l, int res, unsigned flags)
{
	struct ts_server *srv = u->srv;
	int i = (int)(l - srv->listeners);
	struct sockaddr_storage peer;
	socklen_t len = sizeof peer;
	struct conn *c;

	if (!(flags & IORING_CQE_F_MORE))
		u->armed[i] = false;
	if (res < 0) {
		if (ts_tcp_accept_starved(res)) {
			ts_tcp_shed_one(srv, l->fd);
			if (u->armed[i] || srv->accept_paused_until_mono_ns)
				uring_listen(srv, 0);
			u->wait_peer[i] = true;
		} else if (res != -ECANCELED && res != -ECONNABORTED && res != -EINTR) {
			srv->stats.errors[TS_ERR_IO]++;
		}
	} else if (getpeername(res, (struct sockaddr *)&peer, &len) != 0) {
		/* Gone already (reset before we looked). */
		close(res);
	} else if (ts_conn_admit(srv, res, &peer) && (c = ts_conn_new(srv, res, &peer, l->role))) {
		c->u.local_peer = ts_net_is_loopback((const struct sockaddr *)&peer);
		ts_conn_opened(c);
		settle(c);
	}
	if (!srv->stop)
		arm_accept(u, i);
}

static void arm_loop(struct ts_uring *u)
{
	struct io_uring_sqe *sqe;

	if (u->loop_armed || !(sqe = get_sqe(u)))
		return;
	io_uring_prep_poll_add(sqe, ts_evloop_fd(u->srv->loop), POLLIN);
	io_uring_sqe_set_data64(sqe, udata(NULL, TAG_LOOP));
	u->loop_armed = true;
}

static int dispatch(struct ts_uring *u, struct io_uring_cqe *cqe)
{
	uint64_t d = cqe->user_data;
	void *p = (void *)(uintptr_t)(d & ~(uint64_t)TAG_MASK);

	switch (d & TAG_MASK) {
	case TAG_ACCEPT:
		on_accept(u, p, cqe->res, cqe->flags);
		break;
	case TAG_RECV:
		on_recv(u, p, cqe->res, cqe->flags);
		break;
	case TAG_SEND:
		on_send(u, p, cqe->res, false);
		break;
	case TAG_ZC: {
		struct zc_slot *slot = p;
		struct conn *c = slot->c;
		if (cqe->flags & IORING_CQE_F_NOTIF) {
			/* The kernel is done with the buffer. */
			buf_recycle(u, (unsigned)(slot - u->zc));
			c->u.refs--;
			free_if_done(c);
		} else {
			/* With F_MORE a notification follows; it holds c. */
			bool more = cqe->flags & IORING_CQE_F_MORE;
			if (more)
				c->u.refs++;
			on_send(u, c, cqe->res, more);
		}
		break;
	}
	case TAG_LISTEN: {
		struct listener *l = p;
		int i = (int)(l - u->srv->listeners);
		u->armed[i] = false;
		u->wait_peer[i] = false; /* a peer waits: accept it, or shed it */
		if (!u->srv->stop && cqe->res >= 0)
			arm_accept(u, i);
		break;
	}
	case TAG_LOOP: {
		/* One-shot poll, armed again after each run: the nested
		 * loop is level-triggered, and so is this. */
		int rc;
		u->loop_armed = false;
		if (cqe->res < 0 && u->srv->stop)
			break; /* cancelled at shutdown */
		rc = ts_evloop_run_once(u->srv->loop, 0);
		if (rc < 0)
			return rc;
		arm_loop(u);
		break;
	}
	default:
		break;
	}
	return 0;
}

/* Re-arms starved receives once half the buffers are back (liburing's
 * proxy example waits as long), so they do not run dry again at once. */
static void feed_starved(struct ts_uring *u)
{
	if (!u->starved || u->bufs_out > u->nbufs / 2)
		return;
	while (u->starved) {
		struct conn *c = u->starved;
		u->starved = c->u.next_starved;
		c->u.next_starved = NULL;
		c->u.starved = false;
		settle(c);
	}
}

/* Handles the completions waiting, up to share of them; how many, or
 * -errno. */
static int reap(struct ts_uring *u, int share)
{
	struct io_uring_cqe *cqes[BATCH];
	int total = 0;
	unsigned n;

	while ((n = io_uring_peek_batch_cqe(&u->ring, cqes, BATCH)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			int rc = dispatch(u, cqes[i]);
			if (rc < 0) {
				io_uring_cq_advance(&u->ring, n);
				return rc;
			}
		}
		io_uring_cq_advance(&u->ring, n);
		total += (int)n;
		if (total >= share)
			break; /* the rest on the next round */
	}
	feed_starved(u);
	return total;
}

/* The ring starts disabled, so that the thread that serves (which may not
 * be the one that set the server up: tsecho ping's built-in server) is
 * the one issuer SINGLE_ISSUER allows.  The registered ring fd is that
 * thread's too. */
static int enable(struct ts_uring *u)
{
	/* Debian's liburing 2.3 declares io_uring_enable_rings but does not
	 * export it: the system call itself (IORING_REGISTER_ENABLE_RINGS,
	 * Linux 5.10). */
	if (syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) != 0)
		return -errno;
	/* Saves a descriptor lookup on every io_uring_enter; not having it
	 * costs only that. */
	if (io_uring_register_ring_fd(&u->ring) != 1)
		(void)0;
	u->enabled = true;
	return 0;
}

int ts_uring_run_once(struct ts_uring *u, int timeout_ms)
{
	struct io_uring_cqe *cqe;
	int rc;

	if (!u->enabled && (rc = enable(u)) < 0)
		return rc;
	if (u->busy_poll_ns > 0) {
		/* Keep asking the ring for a while before sleeping in it. */
		int64_t until_raw_ns = ts_raw_ns() + u->busy_poll_ns;
		while (io_uring_cq_ready(&u->ring) == 0 && ts_raw_ns() < until_raw_ns &&
		       !u->srv->stop) {
			u->inline_sends = 0;
			if ((rc = io_uring_submit_and_get_events(&u->ring)) < 0 && rc != -EINTR)
				return rc;
		}
	}
	/* What the last round prepared (replies, receives armed again) is
	 * submitted by the same system call that then waits: one
	 * io_uring_enter a round. */
	if (io_uring_cq_ready(&u->ring) == 0) {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long long)(timeout_ms % 1000) * TS_NS_PER_MS,
		};
		/* Past the completions of the sends it submits (at once), wait
		 * for one more: otherwise a ping-pong would return for its own
		 * reply's completion and enter again to wait for the probe. */
		unsigned want = 1 + u->inline_sends;
		u->inline_sends = 0;
		rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, want,
						      timeout_ms >= 0 ? &ts : NULL, NULL);
		if (rc < 0 && rc != -ETIME && rc != -EINTR)
			return rc;
		/* A quiet tick: run the nested loop once, without waiting.
		 * Besides what it finds, this lets valgrind deliver a signal:
		 * it does so only in the calls it knows may block, and
		 * io_uring_enter is not one of them. */
		if (rc == -ETIME && (rc = ts_evloop_run_once(u->srv->loop, 0)) < 0)
			return rc;
	} else if (io_uring_sq_ready(&u->ring) > 0 && (rc = submit(u)) < 0) {
		return rc;
	}
	return reap(u, REAP_SHARE);
}

/* The kernel's release as major * 100 + minor, or 0. */
static int kernel_version(void)
{
	struct utsname un;
	int major, minor;

	if (uname(&un) != 0 || sscanf(un.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major * 100 + minor;
}

static unsigned round_pow2(uint64_t n)
{
	unsigned p = 1;

	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

/* Sets the ring up with the best flags the kernel takes. */
static int setup_ring(struct ts_uring *u, const struct ts_server_config *cfg, const char **why)
{
	static const unsigned tries[] = {
		/* Linux 6.1: task work runs only when we wait, on our thread. */
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		/* Linux 5.19: no interrupting the task for completions. */
		IORING_SETUP_COOP_TASKRUN,
	};
	/* At most: a completion and a zero-copy notification per ring
	 * buffer in use, a receive end, a send and a cancel per connection,
	 * and the listeners. */
	uint64_t want = 2 * (uint64_t)(cfg->uring_buffers ? cfg->uring_buffers : DEFAULT_BUFFERS) +
			3 * cfg->max_clients + 64;
	int rc = -EINVAL;

	u->cq_entries = round_pow2(want < CQ_MIN ? CQ_MIN : want > CQ_MAX ? CQ_MAX : want);
	for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
		struct io_uring_params p = { 0 };

		p.flags = tries[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
			  IORING_SETUP_R_DISABLED;
		p.cq_entries = u->cq_entries;
		rc = io_uring_queue_init_params(SQ_ENTRIES, &u->ring, &p);
		if (rc == 0) {
			u->flags = p.flags;
			u->cq_entries = p.cq_entries;
			if (!(p.features & IORING_FEAT_NODROP)) {
				*why = "missing feature: completions kept on overflow (Linux 5.5)";
				io_uring_queue_exit(&u->ring);
				return -EOPNOTSUPP;
			}
			return 0;
		}
		if (rc != -EINVAL)
			break;
	}
	*why = rc == -EPERM    ? "io_uring_setup: Operation not permitted (a seccomp filter, "
				 "or kernel.io_uring_disabled)"
	       : rc == -ENOSYS ? "io_uring_setup: not implemented by this kernel"
	       : rc == -EINVAL ? "io_uring_setup: the kernel takes none of the setup flags "
				 "(Linux 5.19 or later needed)"
			       : "io_uring_setup failed";
	return rc;
}

/* The provided buffer ring: mapped here (liburing 2.3 has no
 * io_uring_setup_buf_ring) and registered as group BGID. */
static int setup_buffers(struct ts_uring *u, const struct ts_server_config *cfg, const char **why)
{
	struct io_uring_buf_reg reg = { 0 };
	int rc;

	u->nbufs = cfg->uring_buffers ? cfg->uring_buffers : DEFAULT_BUFFERS;
	u->buf_size = cfg->uring_buffer_size ? cfg->uring_buffer_size : DEFAULT_BUFFER_SIZE;
	u->br_bytes = (size_t)u->nbufs * sizeof(struct io_uring_buf);
	u->br = mmap(NULL, u->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->br == MAP_FAILED) {
		u->br = NULL;
		*why = "cannot map the buffer ring";
		return -errno;
	}
	/* Populated now: the pool is a fixed cost, paid at start, not a
	 * growth that looks like a leak under load. */
	u->bufs = mmap(NULL, (size_t)u->nbufs * u->buf_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (u->bufs == MAP_FAILED) {
		u->bufs = NULL;
		*why = "cannot map the ring buffers";
		return -errno;
	}
	reg.ring_addr = (uint64_t)(uintptr_t)u->br;
	reg.ring_entries = u->nbufs;
	reg.bgid = BGID;
	rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (rc != 0) {
		*why = "missing feature: provided buffer rings (Linux 5.19)";
		return rc;
	}
	io_uring_buf_ring_init(u->br);
	u->bufs_out = u->nbufs;
	for (unsigned i = 0; i < u->nbufs; i++)
		buf_recycle(u, i);
	return 0;
}

/* SEND_ZC where the kernel has it (Linux 6.0), from the pool registered
 * as one fixed buffer where the kernel lets us pin it (RLIMIT_MEMLOCK),
 * else from plain memory. */
static void setup_zerocopy(struct ts_uring *u, const struct ts_server_config *cfg)
{
	struct io_uring_probe *probe;
	struct iovec iov = { u->bufs, (size_t)u->nbufs * u->buf_size };
	bool have = false;

	if (cfg->zerocopy == TS_ZEROCOPY_OFF)
		return;
	probe = io_uring_get_probe_ring(&u->ring);
	if (probe) {
		have = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
		io_uring_free_probe(probe);
	}
	if (!have || !(u->zc = calloc(u->nbufs, sizeof *u->zc)))
		return;
	u->zc_fixed = io_uring_register_buffers(&u->ring, &iov, 1) == 0;
}

static void describe(struct ts_uring *u)
{
	snprintf(u->setup, sizeof u->setup,
		 "%u SQ / %u CQ entries, %s, %u x %zu-byte provided buffers, zerocopy %s, busy "
		 "poll %s",
		 (unsigned)SQ_ENTRIES, u->cq_entries,
		 (u->flags & IORING_SETUP_DEFER_TASKRUN) ? "SINGLE_ISSUER|DEFER_TASKRUN"
							 : "COOP_TASKRUN",
		 u->nbufs, u->buf_size,
		 !u->zc ? (u->srv->cfg->zerocopy == TS_ZEROCOPY_OFF ? "off" : "unsupported")
		 : u->srv->cfg->zerocopy == TS_ZEROCOPY_ON ? "on"
							   : "auto",
		 u->busy_poll_ns > 0 ? "on" : "off");
	if (u->busy_poll_ns > 0) {
		size_t len = strlen(u->setup);
		snprintf(u->setup + len, sizeof u->setup - len, " (%lld us)",
			 (long long)(u->busy_poll_ns / TS_NS_PER_US));
	}
}

struct ts_uring *ts_uring_new(struct ts_server *srv, const char **why)
{
	const struct ts_server_config *cfg = srv->cfg;
	struct ts_uring *u = calloc(1, sizeof *u);
	int rc;

	*why = "out of memory";
	if (!u)
		return NULL;
	u->srv = srv;
	u->busy_poll_ns = cfg->busy_poll_ns;
	if (kernel_version() < 600) {
		/* Multishot receive came in Linux 6.0. */
		*why = "missing feature: multishot receive (Linux 6.0)";
		free(u);
		errno = EOPNOTSUPP;
		return NULL;
	}
	if (cfg->kernel_timestamps == TS_KT_ON && cfg->uring_buffer_size &&
	    cfg->uring_buffer_size < KT_MIN_BUFFER) {
		/* The recvmsg header comes out of every buffer. */
		*why = KT_TOO_SMALL;
		free(u);
		errno = EINVAL;
		return NULL;
	}
	rc = setup_ring(u, cfg, why);
	if (rc != 0) {
		free(u);
		errno = -rc;
		return NULL;
	}
	/* Saves the kernel a descriptor lookup on every io_uring_enter;
	 * not having it costs only that. */
	rc = setup_buffers(u, cfg, why);
	if (rc != 0) {
		ts_uring_free(u);
		errno = -rc;
		return NULL;
	}
	/* No name; the control data holds one SCM_TIMESTAMPING, and the
	 * kernel fills in where it is: only the length matters. */
	u->kt_msg.msg_controllen = KT_CONTROL_LEN;
	setup_zerocopy(u, cfg);
	describe(u);
	u->ready = true;
	return u;
}

const char *ts_uring_setup(const struct ts_uring *u)
{
	return u->setup;
}

void ts_uring_start(struct ts_uring *u)
{
	uring_listen(u->srv, 1);
	arm_loop(u);
}

/* At shutdown every connection is closed; cancels what is left in flight
 * and waits, briefly, for the completions that free their memory. */
static void drain(struct ts_uring *u)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, udata(NULL, TAG_NONE));
	}
	for (int64_t end_mono_ns = ts_mono_ns() + DRAIN_MS * TS_NS_PER_MS;
	     u->zombies > 0 && ts_mono_ns() < end_mono_ns;) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_nsec = 50 * TS_NS_PER_MS };
		int rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
		if (rc < 0 && rc != -ETIME && rc != -EINTR)
			break;
		reap(u, INT_MAX);
	}
}

void ts_uring_free(struct ts_uring *u)
{
	if (!u)
		return;
	if (u->ready) {
		u->srv->stop = 1; /* no accept armed again */
		drain(u);
	}
	io_uring_queue_exit(&u->ring);
	if (u->br)
		munmap(u->br, u->br_bytes);
	if (u->bufs)
		munmap(u->bufs, (size_t)u->nbufs * u->buf_size);
	free(u->zc);
	free(u);
}
