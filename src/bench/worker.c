/* One `tsecho bench` worker: an event loop over its share of the
 * connections.
 *
 * Closed loop: a connection sends its next message when the reply to the
 * last one comes.  Open loop: message k of connection j (of n) is due at
 * start + (k * n + j) * interval, whatever the replies do; a connection
 * sends each message as soon as it is due and it can (its socket takes it
 * and fewer than ring_size are outstanding).  Latency is reply time minus
 * due time (corrected for coordinated omission, as wrk2 does) and, beside
 * it, minus the actual send time.
 *
 * Replies are read as a stream in units of the message size, keeping only
 * the few header bytes that carry the sequence number, so a connection
 * costs a small fixed amount of memory however large the messages are.
 *
 * --kernel-timestamps: one message in sample_every of each connection is
 * sampled.  It carries the kernel-timestamp extension (84 header bytes,
 * which its reply brings back filled in) and is sent with a control
 * message asking the kernel for its transmit times; the others are sent
 * as without the option.  A sample's parts are final when the next
 * sampled reply on its connection comes, which carries the server's send
 * time of the one before, or when the connection ends. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/timerfd.h>
#endif

#include <tsecho/breakdown.h>
#include <tsecho/clock.h>
#include <tsecho/evloop.h>
#include <tsecho/kts.h>
#include <tsecho/net.h>
#include <tsecho/pacer.h>
#include <tsecho/proto.h>
#include <tsecho/stamp.h>
#include <tsecho/text.h>
#include "bench.h"

enum {
	SCRATCH = 65536,
	DATAGRAMS_PER_READY = 64,
	ECHO_HDR = 8,  /* --echo: the sequence number opens the payload */
	KT_DRAIN = 16, /* transmit records read at a time */
};
#define SCAN_NS (100 * TS_NS_PER_MS)
#define CONNECT_TIMEOUT_NS (10 * TS_NS_PER_S)
#define NO_SEQ UINT64_MAX

/* BC_DEAD is 0: a connection never opened is dead. */
enum bconn_state { BC_DEAD, BC_CONNECTING, BC_READY };

struct slot {
	uint64_t seq; /* NO_SEQ: free */
	int64_t due_raw_ns;
	int64_t sent_raw_ns;
};

/* --kernel-timestamps: a sampled message, from its send until its parts
 * are accounted. */
enum {
	KS_SENT = 1,    /* the kernel took it; 0: the place is free */
	KS_REPLIED = 2, /* its reply came */
	KS_TX_WAIT = 4, /* its transmit record has not come yet */
};

struct kt_slot {
	struct ts_kts_probe p; /* p.seq: the message's k */
	int64_t sent_raw_ns;   /* the actual send, for the round trip */
	uint32_t key;          /* as the kernel keys its transmit record */
	uint8_t state;         /* KS_* */
	uint8_t counts;        /* its reply was recorded: inside the window */
};

struct bconn {
	int fd;
	uint8_t state;
	uint8_t want_write;
	uint32_t index; /* j, within the worker */
	struct wstate *ws;
	uint64_t next_k; /* the next message to send */
	uint32_t outstanding;
	uint32_t hdr_got;   /* bytes of the current reply's header read */
	uint32_t hdr_want;  /* of it to read: hdr_need, or a sample's 84 */
	uint32_t body_left; /* bytes of it still to skip */
	uint64_t cur_seq;   /* the current reply's, once its header is in */
	char *line;         /* --text: the reply line read so far */
	uint32_t line_len;
	uint8_t hdr[TS_PROTO_KTS_HDR_LEN];
	uint8_t *pending; /* the rest of a message the socket did not take */
	uint32_t pending_len;
	uint32_t pending_off;
	struct slot *ring;
	/* --kernel-timestamps */
	uint8_t kt_on;       /* the socket took the timestamping options */
	uint32_t kt_tx_wait; /* samples whose transmit record has not come */
	uint64_t kt_key;     /* the next send's key: TCP bytes, UDP samples sent */
	uint64_t kt_sent;    /* samples sent; the next goes to kt[kt_sent % kt_slots] */
	struct kt_slot *kt;
};

struct wstate {
	struct ts_bench_worker *w;
	const struct ts_bench_opts *opt;
	struct ts_evloop *loop;
	struct bconn *conns;
	uint32_t ring_size;
	uint32_t hdr_need; /* header bytes that carry the seq */
	uint8_t *scratch;
	uint8_t *msg;
	int64_t start_raw_ns;
	int64_t record_from_raw_ns; /* end of the warm-up */
	int64_t send_until_raw_ns;
	uint64_t sent;
	int64_t interval_ns;   /* open loop, per worker (0: closed loop) */
	struct ts_pacer pacer; /* open loop: the schedule */
	uint64_t next_due;     /* open loop: the next worker-wide message index */
	int timer_fd;
	int sending;
	uint16_t stamp_ee; /* --stamp: our error estimate */
	/* --kernel-timestamps */
	int kt;
	uint32_t kt_slots; /* samples a connection keeps at once */
	uint8_t *kt_msg;   /* a sampled message: hdr_len 84, the extension zeroed */
	int64_t rx_ns;     /* the kernel receive time of the read in hand */
};

static int64_t due_of(const struct wstate *ws, const struct bconn *c, uint64_t k)
{
	return ts_pacer_stream_due(&ws->pacer, c->index, k);
}

const char *const ts_bench_err_names[TS_BERR_KINDS] = {
	"connect", "closed",      "reset",     "unreachable",
	"too_big", "error_frame", "bad_reply", "resource",
};

/* Not an error: the run is over. */
#define NOT_COUNTED (-1)

/* --kernel-timestamps: whether message k of c is sampled.  The phase
 * differs from connection to connection, so that their samples do not
 * all fall on their first messages. */
static int kt_is_sample(const struct bconn *c, uint64_t k)
{
	const struct wstate *ws = c->ws;

	return ws->kt && c->kt_on &&
	       (k + ws->w->first_conn + c->index) % ws->opt->sample_every == 0;
}

/* c's socket refused kernel timestamps (err, an errno): its connection
 * goes on without samples, and the result says why. */
static void kt_refuse(struct bconn *c, int err)
{
	struct ts_bench_worker *w = c->ws->w;

	c->kt_on = 0;
	if (!w->kt_refused[0])
		snprintf(w->kt_refused, sizeof w->kt_refused, "%s", strerror(err));
}

/* Lets slot go: a sample whose reply came (inside the window) is
 * accounted with what it has; one without a reply is dropped. */
static void kt_retire(struct bconn *c, struct kt_slot *slot)
{
	struct ts_breakdown b;

	if ((slot->state & KS_REPLIED) && slot->counts) {
		ts_breakdown_of(&slot->p, 0, &b);
		ts_breakdown_stats_add(&c->ws->w->kt, &b);
	}
	if (slot->state & KS_TX_WAIT)
		c->kt_tx_wait--;
	slot->state = 0;
}

/* The sample of c whose send had key, or NULL. */
static struct kt_slot *kt_by_key(struct bconn *c, uint32_t key)
{
	for (uint32_t i = 0; i < c->ws->kt_slots; i++)
		if (c->kt[i].state && c->kt[i].key == key)
			return &c->kt[i];
	return NULL;
}

/* The sample of c that is message k, in the state want (all its bits),
 * or NULL. */
static struct kt_slot *kt_by_seq(struct bconn *c, uint64_t k, uint8_t want)
{
	for (uint32_t i = 0; i < c->ws->kt_slots; i++)
		if ((c->kt[i].state & want) == want && c->kt[i].state && c->kt[i].p.seq == k)
			return &c->kt[i];
	return NULL;
}

/* Reads the transmit records waiting on c's error queue into its
 * samples.  It also clears the queue, which would otherwise keep the
 * socket reporting an error, level-triggered, to the loop. */
static void kt_drain(struct bconn *c)
{
	struct ts_kts_tx tx[KT_DRAIN];
	int n;

	do {
		n = ts_kts_read_tx(c->fd, tx, KT_DRAIN);
		for (int i = 0; i < n; i++) {
			struct kt_slot *slot = kt_by_key(c, tx[i].key);
			if (!slot)
				continue; /* of a sample already let go */
			if (tx[i].stage == TS_KTS_STAGE_SCHED) {
				slot->p.client_sched = tx[i].ns;
			} else if (tx[i].stage == TS_KTS_STAGE_SND) {
				slot->p.client_tx = tx[i].ns;
				if (slot->state & KS_TX_WAIT) {
					slot->state &= (uint8_t)~KS_TX_WAIT;
					c->kt_tx_wait--;
				}
			}
		}
	} while (n == KT_DRAIN);
}

/* c is ending (or the run): its samples are accounted with what they
 * have; the last ones have no server send time, which only a later
 * reply would have brought. */
static void kt_finish(struct bconn *c)
{
	if (!c->kt)
		return;
	if (c->kt_on && c->fd >= 0)
		kt_drain(c);
	for (uint32_t i = 0; i < c->ws->kt_slots; i++)
		if (c->kt[i].state)
			kt_retire(c, &c->kt[i]);
}

/* Message k of c went, n bytes of it (sampled: at wall-clock t1 and raw
 * sent_raw_ns, asking for its transmit times). */
static void kt_sent(struct bconn *c, uint64_t k, int sampled, int64_t t1, int64_t sent_raw_ns,
		    size_t n)
{
	struct wstate *ws = c->ws;
	uint64_t before = c->kt_key;
	struct kt_slot *slot;

	if (!ws->opt->udp)
		c->kt_key += n; /* TCP keys count every byte */
	if (!sampled)
		return;
	slot = &c->kt[c->kt_sent++ % ws->kt_slots];
	if (slot->state)
		kt_retire(c, slot); /* it waited long enough */
	memset(slot, 0, sizeof *slot);
	slot->p.seq = k;
	slot->p.t1 = t1;
	slot->sent_raw_ns = sent_raw_ns;
	/* TCP: the offset of the send's last byte; UDP: the sends that
	 * asked, counted. */
	slot->key = ws->opt->udp ? (uint32_t)c->kt_key++ : (uint32_t)(before + n - 1);
	slot->state = KS_SENT | KS_TX_WAIT;
	c->kt_tx_wait++;
}

/* The reply to sampled message k of c came, its header (with the
 * extension) at frame, hdr_bytes of it; counted: it was recorded.
 * rx_ns: the kernel's receive time of the read, when the reply ended it
 * (on TCP the read's time is that of its newest segment), else 0. */
static void kt_reply(struct bconn *c, uint64_t k, const uint8_t *frame, size_t hdr_bytes,
		     int counted, int64_t now_raw_ns, int64_t rx_ns)
{
	struct wstate *ws = c->ws;
	struct ts_bench_worker *w = ws->w;
	struct kt_slot *slot = kt_by_seq(c, k, KS_SENT);
	struct ts_proto_kts ext = { 0 };
	struct ts_proto_hdr h;
	int64_t wall_ns, raw_ns;
	size_t v;

	if (ts_proto_decode_hdr(frame, TS_PROTO_FRAME_MAX, &h, NULL) != TS_DECODE_OK)
		return;
	v = ts_proto_find_ext(frame, h.hdr_len < hdr_bytes ? h.hdr_len : hdr_bytes, TS_EXT_KTS,
			      TS_EXT_KTS_LEN);
	if (v != 0)
		ts_proto_kts_get(frame + v, &ext);
	w->kt_server_flags |= ext.flags;
	if (!(ext.flags & TS_KTS_F_SERVER))
		w->kt_without_server++;
	if (slot && !(slot->state & KS_REPLIED)) {
		slot->state |= KS_REPLIED;
		slot->counts = (uint8_t)counted;
		slot->p.rtt_ns = now_raw_ns - slot->sent_raw_ns;
		slot->p.t2 = (int64_t)h.t2_wall_ns;
		slot->p.t3 = (int64_t)h.t3_wall_ns;
		/* t4: the wall clock when the read returned, now_raw_ns
		 * (the other messages need no wall clock, so it is taken
		 * only now). */
		ts_clock_pair(&wall_ns, &raw_ns);
		slot->p.t4 = wall_ns - (raw_ns - now_raw_ns);
		slot->p.client_rx = rx_ns;
		slot->p.server_rx = (int64_t)ext.rx_ns;
	}
	/* The server's send time of an earlier sample; those before this
	 * one have had their chance of one. */
	if (ext.tx_ns > 0) {
		struct kt_slot *earlier = kt_by_seq(c, ext.tx_seq, KS_REPLIED);
		if (earlier)
			earlier->p.server_tx = (int64_t)ext.tx_ns;
	}
	for (uint32_t i = 0; i < ws->kt_slots; i++)
		if ((c->kt[i].state & KS_REPLIED) && c->kt[i].p.seq < k)
			kt_retire(c, &c->kt[i]);
}

/* Ends connection c; kind is why (an enum ts_bench_err), or NOT_COUNTED. */
static void conn_kill(struct bconn *c, int kind)
{
	struct ts_bench_worker *w = c->ws->w;

	if (c->state == BC_DEAD)
		return;
	if (c->state == BC_READY)
		w->alive--;
	if (kind != NOT_COUNTED) {
		w->counts.errors++;
		w->counts.error_kinds[kind]++;
		if (c->state == BC_READY && TS_BERR_SERVER_GONE(kind))
			w->counts.ended_early++;
		pthread_mutex_lock(&w->lock);
		w->interval_errors++;
		pthread_mutex_unlock(&w->lock);
	}
	kt_finish(c);
	ts_evloop_del(c->ws->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->state = BC_DEAD;
	free(c->pending);
	c->pending = NULL;
	free(c->line);
	c->line = NULL;
}

static void conn_watch(struct bconn *c)
{
	int events = TS_EV_READ | (c->want_write ? TS_EV_WRITE : 0);

	if (c->state == BC_READY && ts_evloop_set(c->ws->loop, c->fd, events) != 0)
		conn_kill(c, TS_BERR_RESOURCE);
}

static int may_send(struct wstate *ws)
{
	if (!ws->sending)
		return 0;
	if (ws->w->count && ws->sent >= ws->w->count)
		return 0;
	return 1;
}

/* --text: message k as a line of size bytes, "seq=K xxx...\n"; a text
 * reflector answers "<time>:" and the line. */
static void text_message(uint8_t *msg, size_t size, uint64_t k)
{
	int n = snprintf((char *)msg, size, "seq=%llu ", (unsigned long long)k);

	if (n < 0 || (size_t)n >= size)
		n = (int)size - 1;
	memset(msg + n, 'x', size - 1 - (size_t)n);
	msg[size - 1] = '\n';
}

/* Sends what connection c may send now; returns with want_write set when
 * its socket is full. */
static void conn_send(struct bconn *c, int64_t now_raw_ns)
{
	struct wstate *ws = c->ws;
	size_t size = ws->opt->size;

	while (c->state == BC_READY && !c->pending && may_send(ws) &&
	       c->outstanding < ws->ring_size) {
		struct slot *s = &c->ring[c->next_k % ws->ring_size];
		int64_t due = ws->interval_ns ? due_of(ws, c, c->next_k) : now_raw_ns;
		int sampled = kt_is_sample(c, c->next_k);
		uint8_t *msg = sampled ? ws->kt_msg : ws->msg;
		int64_t t1 = 0, sent_raw_ns = 0;
		ssize_t n;

		if (due > now_raw_ns || s->seq != NO_SEQ)
			break;
		if (ws->opt->echo) {
			ts_put_be64(ws->msg, c->next_k);
		} else if (ws->opt->text) {
			text_message(ws->msg, size, c->next_k);
		} else if (ws->opt->stamp) {
			struct ts_stamp_sender st = {
				.seq = (uint32_t)c->next_k,
				.timestamp = ts_ntp_from_unix_ns(ts_wall_ns()),
				.ee = ws->stamp_ee,
			};
			ts_stamp_sender_encode(ws->msg, &st);
		} else {
			ts_put_be64(msg + 16, c->next_k);
			/* A sample's round trip runs from the send itself, on
			 * the raw clock, and its parts from t1: read as a
			 * pair, so that the two are one moment. */
			if (sampled)
				ts_clock_pair(&t1, &sent_raw_ns);
			else
				t1 = ts_wall_ns();
			ts_put_be64(msg + 24, (uint64_t)t1);
		}
		n = sampled ? ts_kts_send_stamped(c->fd, msg, size, MSG_NOSIGNAL,
						  TS_KTS_TX | TS_KTS_SCHED)
			    : send(c->fd, msg, size, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
				c->want_write = 1;
				break;
			}
			if (errno == EINTR)
				continue;
			if (sampled && (errno == EINVAL || errno == EOPNOTSUPP)) {
				/* A kernel that takes no timestamp request with a
				 * send: this connection goes on unsampled. */
				kt_refuse(c, errno);
				continue;
			}
			conn_kill(c, ws->opt->udp && errno == ECONNREFUSED ? TS_BERR_UNREACHABLE
									   : TS_BERR_RESET);
			return;
		}
		if ((size_t)n < size) {
			c->pending = malloc(size - (size_t)n);
			if (!c->pending) {
				conn_kill(c, TS_BERR_RESOURCE);
				return;
			}
			memcpy(c->pending, msg + n, size - (size_t)n);
			c->pending_len = (uint32_t)(size - (size_t)n);
			c->pending_off = 0;
			c->want_write = 1;
		}
		if (c->kt_on)
			kt_sent(c, c->next_k, sampled, t1, sent_raw_ns, (size_t)n);
		s->seq = c->next_k;
		s->due_raw_ns = due;
		s->sent_raw_ns = now_raw_ns;
		c->next_k++;
		c->outstanding++;
		ws->sent++;
		ws->w->counts.sent++;
		if (!ws->interval_ns)
			break; /* closed loop: one at a time */
	}
}

static void conn_flush_pending(struct bconn *c, int64_t now_raw_ns)
{
	ssize_t n =
	    send(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off, MSG_NOSIGNAL);

	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_kill(c, TS_BERR_RESET);
		return;
	}
	c->pending_off += (uint32_t)n;
	if (c->kt_on && !c->ws->opt->udp)
		c->kt_key += (uint64_t)n;
	if (c->pending_off < c->pending_len)
		return;
	free(c->pending);
	c->pending = NULL;
	c->want_write = 0;
	conn_send(c, now_raw_ns);
}

/* Accounts the reply to message seq of connection c; kt_frame: the
 * header of a sampled reply, kt_len bytes of it (NULL for the others). */
static void take_reply(struct bconn *c, uint64_t seq, int64_t now_raw_ns, const uint8_t *kt_frame,
		       size_t kt_len, int64_t kt_rx_ns)
{
	struct wstate *ws = c->ws;
	struct ts_bench_worker *w = ws->w;
	struct slot *s = &c->ring[seq % ws->ring_size];
	int64_t latency_ns;
	int counted = 0;

	/* STAMP carries 32 bits of the sequence number. */
	if (s->seq == NO_SEQ ||
	    (ws->opt->stamp ? (uint32_t)s->seq != (uint32_t)seq : s->seq != seq))
		return; /* not outstanding: a duplicate, or given up on */
	s->seq = NO_SEQ;
	c->outstanding--;
	w->last_reply_raw_ns = now_raw_ns;
	latency_ns = now_raw_ns - s->due_raw_ns;
	if (s->due_raw_ns >= ws->record_from_raw_ns) {
		if (latency_ns > ws->opt->timeout_ns) {
			w->counts.timeouts++;
		} else {
			ts_hist_record(w->hist, latency_ns);
			if (w->hist_unc)
				ts_hist_record(w->hist_unc, now_raw_ns - s->sent_raw_ns);
			w->counts.messages++;
			counted = 1;
			pthread_mutex_lock(&w->lock);
			ts_hist_record(w->interval, latency_ns);
			w->interval_messages++;
			pthread_mutex_unlock(&w->lock);
		}
	}
	if (kt_frame && c->kt_on)
		kt_reply(c, seq, kt_frame, kt_len, counted, now_raw_ns, kt_rx_ns);
	conn_send(c, now_raw_ns);
}

/* The header of a reply is in c->hdr: 0 and its sequence number, or the
 * kind of error (an enum ts_bench_err) when the server answered with an
 * error frame or something else than a reply. */
static int reply_seq(struct wstate *ws, const uint8_t *hdr, uint64_t *seq, uint16_t *hdr_len)
{
	struct ts_proto_hdr h;

	*hdr_len = 0;
	if (ws->opt->echo) {
		*seq = ts_get_be64(hdr);
		return 0;
	}
	if (ws->opt->stamp) {
		struct ts_stamp_reflector r;
		/* UDP only: hdr is the whole datagram of opt->size octets. */
		if (ts_stamp_reflector_decode(hdr, ws->opt->size, &r) != TS_DECODE_OK)
			return TS_BERR_BAD_REPLY;
		*seq = r.sender_seq;
		return 0;
	}
	if (ts_proto_decode_hdr(hdr, TS_PROTO_FRAME_MAX, &h, NULL) != TS_DECODE_OK)
		return TS_BERR_BAD_REPLY;
	if (h.type == TS_MSG_ERROR)
		return h.status == TS_STATUS_TOO_BIG ? TS_BERR_TOO_BIG : TS_BERR_ERROR_FRAME;
	if (h.type != TS_MSG_REPLY || h.frame_len != ws->opt->size)
		return TS_BERR_BAD_REPLY;
	*seq = h.seq;
	*hdr_len = h.hdr_len;
	return 0;
}

/* The seq a text reply line[0..len) answers: "<time>:seq=K ...". */
static int text_reply_seq(const char *line, size_t len, uint64_t *seq)
{
	const char *p = memchr(line, ':', len);
	char *end;

	if (!p || (size_t)(line + len - p) < 6 || memcmp(p + 1, "seq=", 4) != 0)
		return TS_BERR_BAD_REPLY;
	errno = 0;
	*seq = strtoull(p + 5, &end, 10);
	if (errno || end == p + 5 || *end != ' ')
		return TS_BERR_BAD_REPLY;
	return 0;
}

/* --text: a stream of reply lines, each at most the message plus a
 * reply's prefix. */
static void conn_lines(struct bconn *c, const uint8_t *buf, size_t len, int64_t now_raw_ns)
{
	struct wstate *ws = c->ws;
	size_t cap = ws->opt->size + TS_TEXT_PREFIX_MAX;

	if (!c->line && !(c->line = malloc(cap))) {
		conn_kill(c, TS_BERR_RESOURCE);
		return;
	}
	for (size_t i = 0; i < len && c->state == BC_READY; i++) {
		uint64_t seq;
		int kind;

		if (c->line_len == cap) {
			conn_kill(c, TS_BERR_BAD_REPLY);
			return;
		}
		c->line[c->line_len++] = (char)buf[i];
		if (buf[i] != '\n')
			continue;
		kind = text_reply_seq(c->line, c->line_len, &seq);
		c->line_len = 0;
		if (kind != 0) {
			conn_kill(c, kind);
			return;
		}
		take_reply(c, seq, now_raw_ns, NULL, 0, 0);
	}
}

/* Walks a stream of replies of opt->size bytes each. */
static void conn_stream(struct bconn *c, const uint8_t *buf, size_t len, int64_t now_raw_ns)
{
	struct wstate *ws = c->ws;

	if (ws->opt->text) {
		conn_lines(c, buf, len, now_raw_ns);
		return;
	}
	while (len > 0 && c->state == BC_READY) {
		if (c->hdr_got < c->hdr_want) {
			size_t k = c->hdr_want - c->hdr_got;
			if (k > len)
				k = len;
			memcpy(c->hdr + c->hdr_got, buf, k);
			c->hdr_got += (uint32_t)k;
			buf += k;
			len -= k;
			if (c->hdr_got < c->hdr_want)
				return;
			if (c->hdr_want == ws->hdr_need) {
				uint16_t hdr_len;
				/* Judged on its header: an error frame is shorter
				 * than a reply, and what follows it is the end. */
				int kind = reply_seq(ws, c->hdr, &c->cur_seq, &hdr_len);
				if (kind != 0) {
					conn_kill(c, kind);
					return;
				}
				/* A sampled reply: its extension too. */
				if (c->kt_on && hdr_len >= TS_PROTO_KTS_HDR_LEN) {
					c->hdr_want = TS_PROTO_KTS_HDR_LEN;
					continue;
				}
			}
			c->body_left = (uint32_t)(ws->opt->size - c->hdr_want);
		}
		if (c->body_left > 0) {
			size_t k = c->body_left < len ? c->body_left : len;
			c->body_left -= (uint32_t)k;
			buf += k;
			len -= k;
			if (c->body_left > 0)
				return;
		}
		c->hdr_got = 0;
		if (c->hdr_want > ws->hdr_need) {
			c->hdr_want = ws->hdr_need;
			take_reply(c, c->cur_seq, now_raw_ns, c->hdr, TS_PROTO_KTS_HDR_LEN,
				   len == 0 ? ws->rx_ns : 0);
		} else {
			take_reply(c, c->cur_seq, now_raw_ns, NULL, 0, 0);
		}
	}
}

/* --kernel-timestamps, after the replies of a read: the transmit records
 * of the samples sent since, while one is awaited. */
static void kt_after_read(struct bconn *c)
{
	if (c->state == BC_READY && c->kt_tx_wait > 0)
		kt_drain(c);
}

/* One read into scratch: recv, or with kernel timestamps the receive
 * time too. */
static ssize_t conn_recv(struct bconn *c)
{
	struct wstate *ws = c->ws;

	if (!c->kt_on)
		return recv(c->fd, ws->scratch, SCRATCH, 0);
	return ts_kts_recv(c->fd, ws->scratch, SCRATCH, 0, NULL, NULL, &ws->rx_ns);
}

static void conn_read(struct bconn *c)
{
	struct wstate *ws = c->ws;

	for (int i = 0; i < (ws->opt->udp ? DATAGRAMS_PER_READY : 1); i++) {
		ssize_t n = conn_recv(c);
		int64_t now_raw_ns = ts_raw_ns();
		uint64_t seq;
		uint16_t hdr_len;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
				/* Woken with nothing to read: an error event,
				 * which transmit records raise. */
				if (c->kt_on && i == 0)
					kt_drain(c);
				else
					kt_after_read(c);
				return;
			}
			/* UDP: an ICMP error for an earlier datagram.  Port
			 * unreachable means nobody listens: the server is
			 * gone for this connection.  TCP: the connection is. */
			if (ws->opt->udp && errno != ECONNREFUSED)
				continue;
			conn_kill(c, ws->opt->udp ? TS_BERR_UNREACHABLE : TS_BERR_RESET);
			return;
		}
		if (n == 0 && !ws->opt->udp) {
			conn_kill(c, TS_BERR_CLOSED);
			return;
		}
		if (!ws->opt->udp) {
			conn_stream(c, ws->scratch, (size_t)n, now_raw_ns);
			kt_after_read(c);
			return;
		}
		if ((size_t)n != ws->opt->size || reply_seq(ws, ws->scratch, &seq, &hdr_len) != 0)
			continue;
		if (c->kt_on && hdr_len >= TS_PROTO_KTS_HDR_LEN)
			take_reply(c, seq, now_raw_ns, ws->scratch, (size_t)n, ws->rx_ns);
		else
			take_reply(c, seq, now_raw_ns, NULL, 0, 0);
	}
	kt_after_read(c);
}

/* --kernel-timestamps on c, connected: receive times for every read, and
 * keyed transmit records for the sends that ask; the keys count from
 * here.  A socket that refuses goes on without samples. */
static void kt_enable(struct bconn *c)
{
	int rc = ts_kts_enable(c->fd, TS_KTS_RX | TS_KTS_PER_SEND);

	if (rc == 0)
		c->kt_on = 1;
	else
		kt_refuse(c, -rc);
}

static void conn_connected(struct bconn *c)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
		if (!c->ws->w->error[0])
			snprintf(c->ws->w->error, sizeof c->ws->w->error, "%s",
				 strerror(err ? err : errno));
		conn_kill(c, TS_BERR_CONNECT);
		return;
	}
	c->state = BC_READY;
	c->ws->w->connected++;
	c->ws->w->alive++;
	if (c->ws->kt)
		kt_enable(c);
	conn_watch(c);
}

static void on_conn(struct ts_evloop *loop, int fd, int events, void *arg)
{
	struct bconn *c = arg;

	(void)loop;
	(void)fd;
	if (c->state == BC_CONNECTING) {
		conn_connected(c);
		return;
	}
	if ((events & TS_EV_WRITE) && c->state == BC_READY) {
		int64_t now_raw_ns = ts_raw_ns();
		if (c->pending)
			conn_flush_pending(c, now_raw_ns);
		else {
			c->want_write = 0;
			conn_send(c, now_raw_ns);
		}
	}
	if ((events & TS_EV_READ) && c->state == BC_READY)
		conn_read(c);
	conn_watch(c);
}

static int conn_open(struct wstate *ws, struct bconn *c)
{
	const struct ts_bench_shared *run = ws->w->run;
	int type = ws->opt->udp ? SOCK_DGRAM : SOCK_STREAM;
	int fd = socket(run->addr.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	c->fd = -1;
	c->state = BC_DEAD;
	if (fd < 0)
		return -errno;
	if (!ws->opt->udp && ts_net_set_nodelay(fd) != 0) {
		close(fd);
		return -EINVAL;
	}
	if (connect(fd, (const struct sockaddr *)&run->addr, run->addr_len) != 0 &&
	    errno != EINPROGRESS) {
		int err = errno;
		close(fd);
		return -err;
	}
	if (ts_evloop_add(ws->loop, fd, TS_EV_WRITE, on_conn, c) != 0) {
		close(fd);
		return -EMFILE;
	}
	c->fd = fd;
	c->state = BC_CONNECTING;
	return 0;
}

/* Every connection of the worker up (or failed), within the timeout. */
static void connect_all(struct wstate *ws)
{
	struct ts_bench_worker *w = ws->w;
	int64_t deadline_raw_ns = ts_raw_ns() + CONNECT_TIMEOUT_NS;
	uint64_t pending = 0;

	for (uint64_t j = 0; j < w->n_conns; j++) {
		int rc = conn_open(ws, &ws->conns[j]);
		if (rc != 0) {
			enum ts_bench_err kind = rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM
						     ? TS_BERR_RESOURCE
						     : TS_BERR_CONNECT;
			w->counts.errors++;
			w->counts.error_kinds[kind]++;
			if (!w->error[0])
				snprintf(w->error, sizeof w->error, "%s", strerror(-rc));
		}
	}
	for (;;) {
		int64_t now_raw_ns = ts_raw_ns();
		pending = 0;
		for (uint64_t j = 0; j < w->n_conns; j++)
			pending += ws->conns[j].state == BC_CONNECTING;
		if (pending == 0 || now_raw_ns >= deadline_raw_ns || atomic_load(&w->run->stop))
			break;
		if (ts_evloop_run_once(ws->loop, ts_ms_until(deadline_raw_ns, now_raw_ns, 100)) < 0)
			break;
	}
	for (uint64_t j = 0; j < w->n_conns; j++) {
		if (ws->conns[j].state == BC_CONNECTING) {
			if (!w->error[0])
				snprintf(w->error, sizeof w->error, "connection timed out");
			conn_kill(&ws->conns[j], TS_BERR_CONNECT);
		}
	}
}

/* UDP: a datagram without a reply after the timeout is lost, and its
 * connection may go on. */
static void expire_udp(struct wstate *ws, int64_t now_raw_ns)
{
	for (uint64_t j = 0; j < ws->w->n_conns; j++) {
		struct bconn *c = &ws->conns[j];
		if (c->state != BC_READY || c->outstanding == 0)
			continue;
		for (uint32_t i = 0; i < ws->ring_size; i++) {
			struct slot *s = &c->ring[i];
			if (s->seq == NO_SEQ || s->sent_raw_ns + ws->opt->timeout_ns > now_raw_ns)
				continue;
			if (s->due_raw_ns >= ws->record_from_raw_ns)
				ws->w->counts.lost++;
			s->seq = NO_SEQ;
			c->outstanding--;
		}
		conn_send(c, now_raw_ns);
	}
}

static uint64_t outstanding(const struct wstate *ws)
{
	uint64_t n = 0;

	for (uint64_t j = 0; j < ws->w->n_conns; j++)
		if (ws->conns[j].state == BC_READY)
			n += ws->conns[j].outstanding;
	return n;
}

/* Open loop: hands every message that has come due to its connection.
 * A connection sends all of its own that are due when it is woken, so a
 * backlog of more than one per connection (a rate above what they can
 * carry, or a late wake-up) needs each woken once, not once a message:
 * the work is bounded by the connections, whatever the rate, and the
 * loop goes back to reading replies.  What could not go stays due, and
 * its latency counts from when it was. */
static int64_t pace(struct wstate *ws, int64_t now_raw_ns)
{
	uint64_t n = ws->w->n_conns;
	uint64_t due_by = ts_pacer_due_by(&ws->pacer, now_raw_ns);

	if (due_by - ws->next_due > n && may_send(ws)) {
		for (uint64_t j = 0; j < n && may_send(ws); j++)
			conn_send(&ws->conns[j], now_raw_ns);
		ws->next_due = due_by;
	}
	for (; ws->next_due < due_by && may_send(ws); ws->next_due++)
		conn_send(&ws->conns[ws->next_due % n], now_raw_ns);
	return ts_pacer_due(&ws->pacer, ws->next_due);
}

#ifdef __linux__
static void on_timer(struct ts_evloop *loop, int fd, int events, void *arg)
{
	uint64_t expirations;

	(void)loop;
	(void)events;
	(void)arg;
	/* Reading resets it; pace() runs after every wake-up anyway. */
	if (read(fd, &expirations, sizeof expirations) < 0)
		return;
}

/* timerfd has no CLOCK_MONOTONIC_RAW: the due time, on the raw clock
 * the latencies are measured on, is armed as a delay from now.  The two
 * clocks differ by NTP's slew, parts per million of a delay this short. */
static void arm_timer(struct wstate *ws, int64_t due_raw_ns, int64_t now_raw_ns)
{
	struct itimerspec its = { 0 };
	int64_t delay_ns = due_raw_ns - now_raw_ns;

	if (ws->timer_fd < 0)
		return;
	if (delay_ns < 1)
		delay_ns = 1; /* 0 would disarm it */
	its.it_value.tv_sec = delay_ns / TS_NS_PER_S;
	its.it_value.tv_nsec = delay_ns % TS_NS_PER_S;
	if (timerfd_settime(ws->timer_fd, 0, &its, NULL) != 0)
		ws->timer_fd = -1; /* the loop's own timeout paces instead */
}
#endif

static void run_loop(struct wstate *ws)
{
	const struct ts_bench_opts *opt = ws->opt;
	int64_t next_scan_raw_ns = ws->start_raw_ns + SCAN_NS;

	ws->sending = 1;
	if (!ws->interval_ns) {
		for (uint64_t j = 0; j < ws->w->n_conns; j++)
			conn_send(&ws->conns[j], ts_raw_ns());
	}
	while (!atomic_load(&ws->w->run->stop)) {
		int64_t now_raw_ns = ts_raw_ns();
		int64_t wake_raw_ns = next_scan_raw_ns;

		if (ws->sending && now_raw_ns >= ws->send_until_raw_ns)
			ws->sending = 0;
		if (ws->sending && ws->interval_ns) {
			int64_t due = pace(ws, now_raw_ns);
			if (may_send(ws)) {
#ifdef __linux__
				arm_timer(ws, due, now_raw_ns);
				if (ws->timer_fd < 0 && due < wake_raw_ns)
					wake_raw_ns = due;
#else
				if (due < wake_raw_ns)
					wake_raw_ns = due;
#endif
			}
		}
		if (!may_send(ws) && outstanding(ws) == 0)
			break;
		if (ws->w->alive == 0)
			break; /* every connection has ended: nothing more can come */
		if (!ws->sending && now_raw_ns >= ws->send_until_raw_ns + opt->timeout_ns)
			break;
		if (now_raw_ns >= next_scan_raw_ns) {
			if (opt->udp)
				expire_udp(ws, now_raw_ns);
			next_scan_raw_ns = now_raw_ns + SCAN_NS;
		}
		if (ws->sending && ws->send_until_raw_ns < wake_raw_ns)
			wake_raw_ns = ws->send_until_raw_ns;
		/* --busy-poll: never sleep in the wait, spin on it. */
		if (ts_evloop_run_once(
			ws->loop, opt->busy_poll ? 0 : ts_ms_until(wake_raw_ns, now_raw_ns, 100)) <
		    0)
			break;
	}
	/* What is still outstanding when the run ends never came back in
	 * time. */
	if (!atomic_load(&ws->w->run->stop))
		ws->w->counts.timeouts += outstanding(ws);
}

static int setup(struct wstate *ws, struct ts_bench_worker *w)
{
	const struct ts_bench_opts *opt = w->run->opt;

	memset(ws, 0, sizeof *ws);
	ws->w = w;
	ws->opt = opt;
	ws->timer_fd = -1;
	ws->hdr_need = opt->echo ? ECHO_HDR : TS_PROTO_HDR_LEN;
	ws->kt = opt->kernel_timestamps;
	/* Outstanding messages a connection may have.  TCP: one, open loop
	 * too, as wrk2 does: a connection whose reply is late cannot send on
	 * time, its due times pass, and the corrected latency shows the wait
	 * that the uncorrected one (from the actual send) leaves out.  UDP
	 * datagrams are independent: enough for a long stall, fewer with
	 * many connections so that memory stays small. */
	ws->ring_size = 1;
	if (opt->rate_per_s > 0) {
		ws->interval_ns = ts_pacer_interval_ns(w->rate_per_s);
		if (opt->udp) {
			uint64_t r = 65536 / (w->n_conns ? w->n_conns : 1);
			ws->ring_size = (uint32_t)(r > 1024 ? 1024 : r < 8 ? 8 : r);
		}
	}
	/* Samples a connection keeps: with one message outstanding, the one
	 * in flight and the one before, which awaits the server's send time;
	 * with more, a few more. */
	ws->kt_slots = ws->ring_size == 1 ? 2 : 8;
	ws->loop = ts_evloop_new_named(opt->engine, w->run->max_fds);
	ws->scratch = malloc(SCRATCH);
	ws->msg = calloc(1, opt->size);
	ws->kt_msg = ws->kt ? calloc(1, opt->size) : NULL;
	ws->conns = calloc(w->n_conns ? w->n_conns : 1, sizeof *ws->conns);
	if (!ws->loop || !ws->scratch || !ws->msg || !ws->conns || (ws->kt && !ws->kt_msg))
		return -1;
	for (uint64_t j = 0; j < w->n_conns; j++) {
		struct bconn *c = &ws->conns[j];
		c->fd = -1;
		c->state = BC_DEAD;
		c->ws = ws;
		c->index = (uint32_t)j;
		c->hdr_want = ws->hdr_need;
		c->ring = malloc(ws->ring_size * sizeof *c->ring);
		if (!c->ring)
			return -1;
		if (ws->kt && !(c->kt = calloc(ws->kt_slots, sizeof *c->kt)))
			return -1;
		for (uint32_t i = 0; i < ws->ring_size; i++)
			c->ring[i].seq = NO_SEQ;
	}
	if (opt->echo) {
		memset(ws->msg, 'e', opt->size);
	} else if (opt->text) {
		/* Each message is written as it is sent (text_message). */
	} else if (opt->stamp) {
		ws->stamp_ee = ts_stamp_local_ee();
	} else {
		struct ts_proto_hdr h = {
			.version = TS_PROTO_VERSION,
			.type = TS_MSG_PROBE,
			.hdr_len = TS_PROTO_HDR_LEN,
			.frame_len = (uint32_t)opt->size,
		};
		ts_proto_encode_hdr(ws->msg, &h);
		if (ws->kt) {
			static const struct ts_proto_kts ask = { 0 };
			h.hdr_len = TS_PROTO_KTS_HDR_LEN;
			ts_proto_encode_hdr(ws->kt_msg, &h);
			ts_proto_put_kts_ext(ws->kt_msg + TS_PROTO_HDR_LEN, &ask);
		}
	}
#ifdef __linux__
	if (ws->interval_ns) {
		/* Timer wake-ups to the microsecond, not the default 50. */
		prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
		ws->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (ws->timer_fd >= 0 &&
		    ts_evloop_add(ws->loop, ws->timer_fd, TS_EV_READ, on_timer, NULL) != 0) {
			close(ws->timer_fd);
			ws->timer_fd = -1;
		}
	}
#endif
	return 0;
}

static void teardown(struct wstate *ws)
{
	if (ws->conns) {
		for (uint64_t j = 0; j < ws->w->n_conns; j++) {
			conn_kill(&ws->conns[j], NOT_COUNTED);
			free(ws->conns[j].ring);
			free(ws->conns[j].kt);
		}
	}
	if (ws->timer_fd >= 0)
		close(ws->timer_fd);
	ts_evloop_free(ws->loop);
	free(ws->scratch);
	free(ws->msg);
	free(ws->kt_msg);
	free(ws->conns);
}

/* This thread's CPU time, user and system. */
static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * TS_NS_PER_S + ts.tv_nsec;
}

void *ts_bench_worker_main(void *arg)
{
	struct ts_bench_worker *w = arg;
	struct ts_bench_shared *run = w->run;
	struct wstate ws;
	int ok = setup(&ws, w) == 0;

	if (!ok) {
		/* No event loop or no memory (EMFILE, ENOMEM): none of its
		 * connections can come up, and each counts as such. */
		snprintf(w->error, sizeof w->error, "%s", strerror(errno ? errno : ENOMEM));
		w->counts.errors += w->n_conns;
		w->counts.error_kinds[TS_BERR_RESOURCE] += w->n_conns;
	} else {
		connect_all(&ws);
	}
	pthread_barrier_wait(&run->ready);
	/* The main thread sets the start time between the two barriers. */
	pthread_barrier_wait(&run->go);
	if (ok && w->connected > 0) {
		ws.start_raw_ns = run->start_raw_ns;
		ws.pacer.start_ns = run->start_raw_ns;
		ws.pacer.interval_ns = ws.interval_ns ? ws.interval_ns : 1;
		ws.pacer.streams = w->n_conns;
		ws.record_from_raw_ns = run->start_raw_ns + run->opt->warmup_ns;
		ws.send_until_raw_ns = run->opt->duration_ns
					   ? ws.record_from_raw_ns + run->opt->duration_ns
					   : INT64_MAX;
		int64_t cpu_ns = thread_cpu_ns();
		run_loop(&ws);
		w->cpu_ns = thread_cpu_ns() - cpu_ns;
	}
	teardown(&ws);
	atomic_fetch_add(&run->finished, 1);
	return NULL;
}
