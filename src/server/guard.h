/* Who the server's UDP ports answer.  A reflector must not be a weapon:
 * - never answer a datagram from one of its own UDP ports or from the port
 *   of a well-known service that answers what it receives (echo, chargen,
 *   NTP, STAMP, tsecho, ...): such a source is spoofed to start a loop
 *   between two reflectors (the echo/chargen loop of CERT CA-1996-01);
 * - never answer an RFC 862 echo of what was just echoed to the same
 *   source (the loop between two echo services on any ports);
 * - answer each source address at most at its rate (--udp-rate for the
 *   main and echo ports, --stamp-rate for STAMP), and all of them together
 *   at most at --udp-budget, so that spoofed sources cannot multiply it.
 * And for TCP: no address holds more than --max-clients-per-source
 * connections, so one peer cannot take every slot.
 * udp.c and stamp.c ask before each reply; replies that are themselves
 * replies (a text reply, a binary reply frame) are refused there, where
 * the protocol is known.  docs/server.md, "Running a public reflector". */
#ifndef TSECHO_SERVER_GUARD_H
#define TSECHO_SERVER_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <tsecho/ratelimit.h>
#include <tsecho/siphash.h>
#include "metrics.h"

struct ts_server_config;

enum { TS_GUARD_ECHO_SLOTS = 1024, TS_GUARD_CONN_BUCKETS = 4096 };

/* Open TCP connections from one address. */
struct ts_guard_source {
	struct ts_guard_source *next;
	uint8_t key[TS_RATELIMIT_KEY_MAX];
	uint8_t len;
	uint64_t conns;
};

struct ts_guard_echo {
	uint64_t source_hash; /* 0: free */
	uint64_t payload_hash;
	int64_t at_mono_ns;
};

struct ts_guard {
	uint8_t key[TS_SIPHASH_KEY_LEN]; /* chosen at start-up */
	struct ts_ratelimit *udp;        /* main and echo, per source */
	struct ts_ratelimit *stamp;      /* STAMP, per source */
	double budget_per_s;             /* 0: none */
	struct ts_bucket budget;
	/* Source ports never answered (a reflector's or our own), a bit each:
	 * one load per datagram instead of a search. */
	uint64_t loop_ports[65536 / 64];
	struct ts_guard_echo echoed[TS_GUARD_ECHO_SLOTS];
	struct ts_guard_source *conns[TS_GUARD_CONN_BUCKETS]; /* by keyed hash */
};

/* Sets g up for cfg, with a key read from the kernel's random source.
 * Returns 0 or -errno. */
int ts_guard_init(struct ts_guard *g, const struct ts_server_config *cfg, int64_t now_mono_ns);
void ts_guard_fini(struct ts_guard *g);

/* A UDP port the server listens on: datagrams from it are never answered. */
void ts_guard_own_port(struct ts_guard *g, uint16_t port);

/* Whether a datagram from peer may be answered (stamp: on the STAMP port);
 * when not, counts the limit that refused it in limits[]. */
bool ts_guard_admit(struct ts_guard *g, bool stamp, const struct sockaddr_storage *peer,
		    int64_t now_mono_ns, uint64_t limits[TS_LIMITS]);

/* Echo: true when payload[0..len) is what was echoed to peer (address and
 * port) less than a second ago, i.e. most likely our own echo coming back
 * from another echo service; otherwise records it as echoed and returns
 * false. */
bool ts_guard_echo_repeat(struct ts_guard *g, const struct sockaddr_storage *peer,
			  const uint8_t *payload, size_t len, int64_t now_mono_ns);

/* A TCP connection from peer is to be opened: true when its address holds
 * fewer than max_per_source (0: no limit), and then counted until
 * ts_guard_conn_close; false when it holds that many, or the count cannot
 * be kept (out of memory). */
bool ts_guard_conn_open(struct ts_guard *g, const struct sockaddr_storage *peer,
			uint64_t max_per_source);

/* A connection ts_guard_conn_open let in has closed. */
void ts_guard_conn_close(struct ts_guard *g, const struct sockaddr_storage *peer);

#endif
