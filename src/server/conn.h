/* One TCP connection, as every engine sees it (conn.c): the protocol
 * state, what waits to be answered and to be sent, the deadline lists,
 * and what to answer.  An engine (tcp.c: readiness loops; uring.c:
 * io_uring) only moves the bytes: it feeds what arrives to ts_conn_input,
 * sends what the connection queues through its tcp_send hook, and after
 * each event calls ts_conn_settle to learn whether to keep reading. */
#ifndef TSECHO_SERVER_CONN_H
#define TSECHO_SERVER_CONN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <tsecho/buf.h>
#include <tsecho/kts.h>
#include "ktime.h"
#include "server_int.h"

#define TS_DRAIN_TIMEOUT_NS (2 * TS_NS_PER_S)

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

/* What the io_uring engine keeps per connection (uring.c). */
struct uring_conn {
	uint16_t refs;      /* operations in flight that name this conn */
	bool recv_armed;    /* a multishot receive is in flight */
	bool recv_cancel;   /* ... and a cancel for it was asked */
	bool starved;       /* the receive ended on -ENOBUFS: re-arm later */
	bool sending;       /* a send is in flight */
	bool closed;        /* detached: free when refs reach 0 */
	bool local_peer;    /* on this host: --zerocopy auto sends copies */
	bool kt_behind;     /* transmit records may be late: read more */
	bool recv_msg;      /* the receive armed is a recvmsg (kernel timestamps) */
	bool send_stamped;  /* the send in flight asked for its transmit time */
	int send_bid;       /* provided buffer that send is from, or -1: out */
	uint32_t send_len;  /* bytes of that send */
	uint32_t send_off;  /* of the buffer */
	struct ts_buf next; /* replies made while out is in flight */
	/* A send that asks for its transmit time is a sendmsg: its header,
	 * vector and control message live here while it is in flight. */
	struct msghdr smsg;
	struct iovec siov;
	union {
		uint8_t bytes[TS_KTS_SEND_CONTROL_LEN];
		size_t align; /* a cmsghdr's */
	} sctl;
	struct conn *next_starved;
};

/* Kernel timestamps on a connection (--kernel-timestamps; ktime.h). */
struct conn_kt {
	bool on;
	bool refused; /* the kernel refused: never asked again */
	/* A reply that asked was made: the engine's next send asks the
	 * kernel for its transmit time (ts_kts_send_stamped) and clears it. */
	bool want_tx;
	int64_t rx_ns;     /* set by the engine: the kernel's receive time of
			    * the bytes it feeds in next (0: none) */
	int64_t in_rx_ns;  /* ... of the bytes waiting in in */
	int64_t cur_rx_ns; /* ... of the bytes being answered */
	uint64_t stream;   /* bytes of replies handed to the engine so far */
	uint64_t base;     /* stream when timestamps were turned on: key 0 */
	struct ts_kt_recent recent;
	struct ts_kt_last last;
};

struct conn {
	int fd;
	uint8_t proto;
	uint8_t state;
	bool eof;           /* the peer will send nothing more */
	bool out_full;      /* not read from: out is at max_output */
	int64_t in_wall_ns; /* when the bytes waiting in in were read (t2) */
	int64_t in_raw_ns;  /* the same moment on CLOCK_MONOTONIC_RAW */
	uint32_t drained;   /* bytes discarded while draining */
	struct ts_server *srv;
	struct ts_buf in;         /* read, not yet answered */
	struct ts_buf out;        /* answered, not yet sent */
	struct conn_node idle;    /* on open (idle timeout) or draining */
	struct conn_node partial; /* on partial while a message is begun */
	struct sockaddr_storage peer;
	struct conn_kt kt;
	struct uring_conn u;
};

/* How an engine moves a connection's bytes (one per server). */
struct ts_tcp_engine {
	/* Sends p[0..n) behind what c already queued; 0 or -errno. */
	int (*send)(struct conn *c, const uint8_t *p, size_t n);
	/* Closes c (its descriptor and its memory, now or once nothing
	 * in flight names it). */
	void (*close)(struct conn *c, const char *reason);
	/* Accepts on the TCP listeners again (on) or pauses (off). */
	void (*listen)(struct ts_server *srv, int on);
	/* Whether a connection can turn kernel timestamps on now (auto). */
	bool (*kt_ok)(struct ts_server *srv);
};

extern const struct ts_tcp_engine ts_tcp_readiness; /* tcp.c */
extern const struct ts_tcp_engine ts_tcp_uring;     /* uring.c, with liburing */

/* Whether accept's -errno says the process or system is out of
 * descriptors or memory (then ts_tcp_shed_one). */
static inline bool ts_tcp_accept_starved(int rc)
{
	return rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM;
}

/* accept() failed for want of descriptors.  Frees the reserve, accepts and
 * closes one waiting peer on listen_fd (it sees the connection closed
 * instead of waiting in the backlog), takes the reserve back.  When even
 * that fails, sets srv->accept_paused_until_mono_ns: the engine stops
 * accepting for a moment so that it does not spin. */
void ts_tcp_shed_one(struct ts_server *srv, int listen_fd);

/* Admission of an accepted fd: --max-clients and the per-source limit.
 * Closes fd and returns false when it is turned away. */
bool ts_conn_admit(struct ts_server *srv, int fd, const struct sockaddr_storage *peer);

/* A connection for fd; NULL (fd closed, counted) when out of memory.
 * Once the engine watches it, ts_conn_opened counts and logs it and puts
 * it on the idle list; until then ts_conn_free alone undoes it. */
struct conn *ts_conn_new(struct ts_server *srv, int fd, const struct sockaddr_storage *peer,
			 enum listener_role role);
void ts_conn_opened(struct conn *c);

/* Undoes ts_conn_opened (log, lists, counts); the engine then closes the
 * descriptor and frees c with ts_conn_free. */
void ts_conn_detach(struct conn *c, const char *reason);
void ts_conn_free(struct conn *c);

/* Records progress: the idle timeout starts again. */
void ts_conn_touch(struct conn *c);

/* The counters c's bytes go to; first_byte chooses them when c has not
 * chosen its protocol yet. */
struct ts_traffic *ts_conn_traffic(struct conn *c, uint8_t first_byte);

/* Answers new input data[0..len) (which may be empty), read at t2
 * (rx_wall_ns, rx_raw_ns), and then what waits in c->in, while that makes
 * progress and fewer than max_output bytes wait to be sent (pending of
 * them outside c->out, in flight); keeps the rest in c->in.  Replies go
 * to the engine's send.  0 or -errno (-ENOBUFS: input cap exceeded).
 *
 * On return, when nothing waits to be sent, c->in holds at most one
 * incomplete frame. */
int ts_conn_input(struct conn *c, const uint8_t *data, size_t len, int64_t rx_wall_ns,
		  int64_t rx_raw_ns, size_t pending);

/* The binary probes at the start of p[0..n), turned into their replies
 * where they are: returns the bytes of whole probes so answered (0: the
 * first is incomplete, not a probe, or bad; ts_conn_input then deals with
 * it).  For the io_uring engine, which sends them from the buffer they
 * arrived in. */
size_t ts_conn_answer_in_place(struct conn *c, uint8_t *p, size_t n, int64_t rx_wall_ns,
			       int64_t rx_raw_ns);

/* Input that arrives while draining: counted, then dropped.  Returns false
 * when the peer has sent too much and c should close. */
bool ts_conn_drain(struct conn *c, size_t n);

/* After an event, with pending bytes still to send: closes c when it is
 * done (returns false), shuts its sending side after an error frame, runs
 * the message timeout.  Returns true with *want_read: whether the engine
 * should read from c now. */
bool ts_conn_settle(struct conn *c, size_t pending, bool *want_read);

/* Reads up to cap transmit timestamps waiting on c's error queue and
 * matches them to c's replies.  Engines call it after each send (cap 1:
 * on loopback the stamp is there as the send returns) and when the
 * socket reports an error event (the error queue is not empty).  Returns
 * how many it read (matched or not), or -errno. */
int ts_conn_kt_drain(struct conn *c, int cap);

/* Input-side failure of ts_conn_input: counted and c closed. */
void ts_conn_fail_input(struct conn *c, int rc);

#endif
