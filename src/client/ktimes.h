/* ping --kernel-timestamps: the client's kernel times of each probe (its
 * transmit records from the error queue, the receive time of its reply),
 * put together with the server's from the reply's extension, and each
 * probe's round trip split into its parts once every time that can come
 * has come (docs/measurement.md, "Kernel timestamps").
 *
 * A probe's parts are final when a later reply says the server has sent
 * past it (the server's transmit time of a reply travels in a later
 * reply), or the run ends: the last probe's server send path and network
 * back are therefore unavailable. */
#ifndef TSECHO_CLIENT_KTIMES_H
#define TSECHO_CLIENT_KTIMES_H

#include <stdint.h>
#include <stdio.h>

#include <tsecho/breakdown.h>
#include <tsecho/proto.h>
#include <tsecho/stats.h>

/* One probe as accounted: its times and its parts. */
struct ts_kt_sample {
	struct ts_kts_probe p;
	struct ts_breakdown b;
};

struct ts_ping_kt {
	int rx, tx;       /* what the socket took */
	char refused[96]; /* when it refused: why, else "" */
	int same_clock;   /* both ends on one host: the offset is 0 */
	uint64_t key;     /* the next send's key (kts.h) */
	uint32_t window;  /* as the pinger's */
	struct kt_slot *slots;
	uint64_t newest;         /* highest seq sent, 0: none */
	uint64_t next_final;     /* lowest seq that may still be accounted */
	uint32_t server_flags;   /* of the newest reply's extension */
	uint64_t without_server; /* replies whose server filled nothing in */
	/* The first reply had the server's timestamps on but no receive
	 * time: a server in auto mode turned them on with that probe. */
	int first_without_rx;
	char note[320];
	int64_t rx_ns;    /* the kernel receive time of the read in hand */
	double offset_ns; /* the clock offset estimate, as of the last reply */
	struct ts_breakdown_stats stats;
	/* --samples, --report: every probe accounted, with its parts. */
	int keep;
	struct ts_kt_sample *kept;
	size_t n_kept, cap_kept;
	FILE *lines; /* a line per probe accounted, or NULL */
};

/* 0, or -ENOMEM. */
int ts_ping_kt_init(struct ts_ping_kt *k, uint32_t window, int keep, FILE *lines);
void ts_ping_kt_fini(struct ts_ping_kt *k);

/* Asks fd for receive and transmit timestamps (a TCP socket: after the
 * protocol question, so that the keys count from the first probe). */
void ts_ping_kt_enable(struct ts_ping_kt *k, int fd);

/* Probe seq left (ok: the kernel took it) as len bytes at wall-clock t1;
 * udp: keys count datagrams, not bytes. */
void ts_ping_kt_sent(struct ts_ping_kt *k, uint64_t seq, int64_t t1, size_t len, int udp, int ok);

/* Reads the transmit records waiting on fd's error queue. */
void ts_ping_kt_drain(struct ts_ping_kt *k, int fd);

/* The reply to s->seq came (frame: its hdr_len-byte header), received by
 * the kernel at rx_ns (0: unknown); the offset so far corrects the
 * network parts. */
void ts_ping_kt_reply(struct ts_ping_kt *k, int fd, const struct ts_sample *s, const uint8_t *frame,
		      size_t hdr_len, int64_t rx_ns, double offset_ns);

/* The run is over: accounts every probe that had a reply. */
void ts_ping_kt_finish(struct ts_ping_kt *k, int fd, double offset_ns);

/* Why a part may be missing, for the summary ("" when nothing is). */
const char *ts_ping_kt_note(const struct ts_ping_kt *k);

#endif
