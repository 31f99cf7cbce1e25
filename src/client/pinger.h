/* Between `tsecho ping` (ping.c: options, schedule, output) and its modes:
 * mode_probe.c (tsecho's binary protocol, TCP or UDP), mode_text.c (the
 * seed's text protocol), mode_connect.c (TCP handshakes), mode_echo.c
 * (RFC 862), mode_stamp.c (STAMP, RFC 8762).  A mode opens the
 * connection, sends probe seq, and turns what it reads into samples for
 * ts_pinger_got(). */
#ifndef TSECHO_PINGER_H
#define TSECHO_PINGER_H

#include <stdatomic.h>
#include <stdint.h>

#include <tsecho/buf.h>
#include <tsecho/stats.h>
#include "ktimes.h"
#include "target.h"

struct ts_pinger;

struct ts_ping_opts {
	uint64_t count;      /* 0: until stopped */
	int64_t interval_ns; /* 0: ping-pong */
	uint64_t size;       /* bytes on the wire per probe */
	int64_t timeout_ns;  /* per reply, and for connecting */
	int64_t deadline_ns; /* -w: stop this long after the first probe; 0: none */
	int udp;
	int text;         /* --text: no protocol question */
	int connect_mode; /* --connect */
	int echo;         /* --echo */
	int stamp;        /* --stamp */
	int synced;
	int quiet;
	int json;
	int samples;
	const char *report_path; /* --report FILE: the samples are kept for it too */
	double jitter;           /* each interval shifted by up to +-jitter of it (probe) */
	/* Probes whose send times are kept, a power of two up to
	 * TS_SEQ_WINDOW (0: that): a reply or timeout older than this many
	 * probes goes unseen, so it must cover timeout / interval. */
	uint32_t window;
	int64_t busy_poll_ns;  /* ping-pong: spin on the socket this long first */
	int kernel_timestamps; /* --kernel-timestamps (probe mode; ktimes.h) */
};

/* Optional observers of a session (tsecho probe's counters), called from
 * the thread running it. */
struct ts_pinger_hooks {
	void (*sent)(void *arg, uint64_t seq);
	void (*reply)(void *arg, const struct ts_sample *s, enum ts_reply_kind kind);
	/* Timed out, or known lost (why: "no reply within 1.000 s", "refused"). */
	void (*lost)(void *arg, uint64_t seq, const char *why);
	void *arg;
};

struct ts_mode {
	const char *name; /* "probe", "text", "connect", "echo" (as in JSON) */
	/* Only one probe at a time: the next waits for the reply or timeout. */
	int one_at_a_time;
	/* Connects (and asks what the server speaks); may switch p->mode.
	 * Returns 0, or -1 after writing the reason to p->error. */
	int (*start)(struct ts_pinger *p);
	/* Sends probe seq, recording its send times with ts_pinger_sent().
	 * Returns 0 or -1 (fatal, p->error set). */
	int (*send)(struct ts_pinger *p, uint64_t seq);
	/* p->fd is ready for what events() asked: read replies, or finish a
	 * handshake.  Returns 0 or -1 (connection lost, p->error set). */
	int (*ready)(struct ts_pinger *p, short revents);
	/* poll(2) events wanted on p->fd now; 0 when there is no fd.  NULL:
	 * POLLIN whenever there is one. */
	short (*events)(struct ts_pinger *p);
};

extern const struct ts_mode ts_mode_probe;
/* --kernel-timestamps: at the end of a probe-mode run, accounts every
 * probe still waiting for times that will not come now. */
void ts_probe_kt_finish(struct ts_pinger *p);
extern const struct ts_mode ts_mode_text;
extern const struct ts_mode ts_mode_connect;
extern const struct ts_mode ts_mode_echo;
extern const struct ts_mode ts_mode_stamp;

/* When each probe in the sequence window was sent. */
struct ts_send_slot {
	int64_t raw_ns;
	int64_t wall_ns;
	int failed; /* known lost already (ts_pinger_failed): do not wait */
};

struct ts_pinger {
	const struct ts_ping_opts *opt;
	const struct ts_mode *mode;
	struct ts_target target;
	int fd;
	int blocking; /* ping-pong: fd blocks, with SO_RCVTIMEO */
	struct ts_session sess;
	struct ts_send_slot *slots; /* window entries, by seq % window */
	uint32_t window;
	struct ts_buf in;  /* received, not yet a whole reply */
	struct ts_buf out; /* to send, once the socket takes it */
	uint8_t *scratch;  /* one read, or one probe to send */
	size_t scratch_cap;
	uint64_t connect_seq; /* --connect: the probe under way */
	int64_t connect_start_raw_ns;
	int stamp_stateful;        /* a reflector's count differed from ours */
	uint64_t stamp_reflected;  /* the reflector's highest count + 1 */
	uint64_t mismatched;       /* --echo: answers that are not our bytes */
	struct ts_sample *samples; /* --samples: every new reply */
	size_t n_samples;
	size_t samples_cap;
	struct ts_pinger_hooks hooks;
	struct ts_ping_kt *kt; /* --kernel-timestamps, else NULL */
	/* Test hook (TSECHO_TEST_READ_DELAY, a duration): sleep this long
	 * before each read, as a client slow to wake would. */
	int64_t test_read_delay_ns;
	uint64_t rng; /* jitter's generator state; never 0 */
	char error[160];
};

/* Sets p up for a session of mode against nothing yet (p->target is
 * filled by the caller); 0, or -ENOMEM. */
int ts_pinger_init(struct ts_pinger *p, const struct ts_ping_opts *opt, const struct ts_mode *mode);
/* Closes the socket and frees what ts_pinger_init and the session took. */
void ts_pinger_fini(struct ts_pinger *p);

/* Sends on schedule and takes replies until the count is done and every
 * probe is answered or timed out, or *stop is set (returns 0), or the
 * connection is lost (returns -1, p->error set).  Probes that time out
 * are reported through ts_pinger_failed. */
int ts_pinger_run(struct ts_pinger *p, const atomic_int *stop);

/* Records that seq left now; returns its wall-clock send time (t1). */
int64_t ts_pinger_sent(struct ts_pinger *p, uint64_t seq, int64_t raw_ns, int64_t wall_ns);

/* UDP: an ICMP port unreachable came back (ECONNREFUSED on the socket).
 * It answers the newest probe before before_seq still waiting, which is
 * marked lost with that reason at once instead of at its timeout. */
void ts_pinger_unreachable(struct ts_pinger *p, uint64_t before_seq);

/* The send times of seq, or NULL when seq is not in the window. */
const struct ts_send_slot *ts_pinger_slot(const struct ts_pinger *p, uint64_t seq);

/* A reply arrived: account it, print its line. */
void ts_pinger_got(struct ts_pinger *p, const struct ts_sample *s, size_t bytes);

/* A probe is known lost now (--connect: refused): prints its line, and
 * the schedule stops waiting for it. */
void ts_pinger_failed(struct ts_pinger *p, uint64_t seq, const char *why);

/* Sends bytes on p->fd, queueing what the socket does not take (up to
 * 1 MiB).  Returns 0 or -1 with p->error set. */
int ts_pinger_write(struct ts_pinger *p, const void *data, size_t len);

/* Sends what is queued; 0 or -1 with p->error set. */
int ts_pinger_flush(struct ts_pinger *p);

/* Reads once from a stream socket into scratch and hands the bytes, with
 * what waited in p->in, to parse(), which returns how many it used
 * (whole replies) or -1.  t4 is taken right after the read.  Returns 0,
 * or -1 with p->error set (connection closed or broken, or parse failed). */
int ts_pinger_read_stream(struct ts_pinger *p,
			  long (*parse)(struct ts_pinger *p, const uint8_t *buf, size_t len,
					int64_t t4_raw_ns, int64_t t4_wall_ns));

/* What a datagram mode does with one datagram, read at t4. */
typedef void ts_datagram_fn(struct ts_pinger *p, const uint8_t *buf, size_t len, int64_t t4_raw_ns,
			    int64_t t4_wall_ns);

/* Reads the datagrams waiting on p->fd (a bounded number) and hands each
 * to take; t4 is taken right after each read.  Only the first read may
 * block (ping-pong's blocking socket).  ICMP errors for earlier datagrams
 * are skipped: those probes are simply lost.  Returns 0. */
int ts_pinger_read_datagrams(struct ts_pinger *p, ts_datagram_fn *take);

/* Connects p->target (TCP or UDP per p->target.socktype) into p->fd;
 * 0 or -1 with p->error set. */
int ts_pinger_connect(struct ts_pinger *p);

#endif
