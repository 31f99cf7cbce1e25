/*
 * udp_flood: a windowed UDP load generator for bench/stamp_reflector.sh.
 *
 * usage: udp_flood -k stamp|probe -s SIZE -t SECONDS -w WINDOW HOST PORT
 *
 * Sends datagrams of SIZE bytes to HOST:PORT over one connected,
 * non-blocking UDP socket, keeping up to WINDOW of them outstanding (sent,
 * neither answered nor given up on), and counts the answers. The packets are
 * valid for the reflector they go to, so every one costs it a full answer:
 *
 *   stamp  an unauthenticated STAMP Session-Sender packet (RFC 8762 4.2.1):
 *          sequence number counting up from 0, NTP timestamp, error estimate
 *          0x0001 (multiplier 1: a multiplier of 0 marks a packet corrupt,
 *          RFC 4656 4.1.2), zero MBZ; SIZE 44.. (octets past 44 are zero and
 *          come back as sent, RFC 8762 4.3)
 *   probe  a tsecho binary probe (docs/protocol.md): magic, version 1, type
 *          1, hdr_len 48, frame_len SIZE, seq counting up from 0, t1 the wall
 *          clock, zero payload; SIZE 48.. (the header is 48 bytes)
 *
 * Answers are matched to what is outstanding by the sequence number they
 * carry (STAMP: the Session-Sender Sequence Number at offset 24, a copy of
 * ours in both stateless and stateful mode; probe: seq at offset 16). An
 * answer of the wrong size or shape exits 1: a reflector that mangles
 * packets fails the run instead of producing a number. A packet not answered
 * within 100 ms is given up on (lost), so losses cannot shrink the window to
 * nothing; an answer arriving after that is counted as late, not received.
 *
 * Datagrams go out with sendmmsg and come in with recvmmsg, up to 64 a call.
 * All packets of one sendmmsg batch carry the same send timestamp: this is a
 * load generator, not a latency meter.
 *
 * After SECONDS of CLOCK_MONOTONIC time it stops (answers still in flight are
 * neither received nor lost) and prints
 *
 *	sent N received M seconds S lost L late X
 *
 * and exits 0. A failed system call or a bad answer exits 1 with one line on
 * stderr; a usage error exits 2.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define STAMP_BASE_BYTES 44
#define PROBE_HDR_BYTES 48
#define PROBE_MAGIC 0xC0545345u /* "\xC0TSE" */
#define PROBE_VERSION 1
#define PROBE_TYPE_PROBE 1
#define PROBE_TYPE_REPLY 2
#define MAX_DGRAM_BYTES 65507 /* largest UDP payload over IPv4 */
#define MAX_SECONDS 3600.0
#define MAX_WINDOW 16384
#define BATCH 64
/* Slots for outstanding packets, by sequence number modulo RING. The span
 * from the oldest outstanding packet to the next one to send is kept below
 * RING, so a slot is never reused while its packet may still be answered. */
#define RING 65536u
#define LOSS_TIMEOUT_NS 100000000LL     /* 100 ms */
#define NTP_UNIX_OFFSET_S 2208988800ULL /* 1900-01-01 to 1970-01-01, RFC 5905 */
#define SOCKBUF_BYTES (4 * 1024 * 1024)

enum kind { KIND_STAMP, KIND_PROBE };

struct slot {
	int64_t sent_mono_ns; /* 0: free */
	uint64_t seq;
};

struct flood {
	enum kind kind;
	size_t size;
	unsigned window;
	int fd;
	uint64_t next_seq;   /* the next sequence number to send */
	uint64_t oldest_seq; /* every seq below it is answered or given up on */
	unsigned outstanding;
	uint64_t sent, received, lost, late;
	struct slot *ring;
	uint8_t *tx, *rx; /* BATCH buffers of size (tx) and MAX_DGRAM_BYTES + 1 (rx) */
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* Writes the fixed part of a packet of the flood's kind into buf (size
 * bytes, already zeroed); seq and timestamp are filled per send. */
static void packet_init(const struct flood *f, uint8_t *buf)
{
	if (f->kind == KIND_STAMP) {
		put16(buf + 12, 0x0001); /* S=0, Z=0 (NTP), scale 0, multiplier 1 */
		return;
	}
	put32(buf, PROBE_MAGIC);
	buf[4] = PROBE_VERSION;
	buf[5] = PROBE_TYPE_PROBE;
	put16(buf + 6, PROBE_HDR_BYTES);
	put32(buf + 8, (uint32_t)f->size);
}

static void packet_stamp(const struct flood *f, uint8_t *buf, uint64_t seq,
			 const struct timespec *wall)
{
	if (f->kind == KIND_STAMP) {
		/* NTP 64-bit: seconds since 1900, fraction in 2^-32 s. */
		put32(buf, (uint32_t)seq);
		put32(buf + 4, (uint32_t)((uint64_t)wall->tv_sec + NTP_UNIX_OFFSET_S));
		put32(buf + 8, (uint32_t)(((uint64_t)wall->tv_nsec << 32) / 1000000000ULL));
		return;
	}
	put64(buf + 16, seq);
	put64(buf + 24, (uint64_t)wall->tv_sec * 1000000000ULL + (uint64_t)wall->tv_nsec);
}

/* Checks an answer and returns the sequence number it carries; -1 (after a
 * message) when it is not a valid answer to what we send. */
static int answer_seq(const struct flood *f, const uint8_t *buf, size_t len, uint64_t *seq)
{
	if (len != f->size) {
		fprintf(stderr, "udp_flood: answer of %zu bytes to a %zu-byte %s packet\n", len,
			f->size, f->kind == KIND_STAMP ? "stamp" : "probe");
		return -1;
	}
	if (f->kind == KIND_STAMP) {
		uint32_t own = get32(buf + 24);

		/* The reflector's own sequence number (offset 0) is ours in
		 * stateless mode and its counter in stateful mode; offset 24 is
		 * always the copy of ours. Widen it against what we sent. */
		*seq = (f->next_seq & ~(uint64_t)UINT32_MAX) | own;
		if (*seq >= f->next_seq && *seq >= (uint64_t)UINT32_MAX + 1)
			*seq -= (uint64_t)UINT32_MAX + 1;
		return 0;
	}
	if (get32(buf) != PROBE_MAGIC || buf[4] != PROBE_VERSION || buf[5] != PROBE_TYPE_REPLY ||
	    get32(buf + 8) != f->size) {
		fprintf(stderr,
			"udp_flood: bad probe answer (magic %08" PRIx32
			", version %u, type %u, frame_len %" PRIu32 ")\n",
			get32(buf), buf[4], buf[5], get32(buf + 8));
		return -1;
	}
	*seq = get64(buf + 16);
	return 0;
}

/* Gives up on outstanding packets older than the loss timeout and moves
 * oldest_seq past every slot that is settled. */
static void expire(struct flood *f, int64_t now_ns)
{
	while (f->oldest_seq < f->next_seq) {
		struct slot *s = &f->ring[f->oldest_seq % RING];

		if (s->sent_mono_ns != 0) {
			if (now_ns - s->sent_mono_ns < LOSS_TIMEOUT_NS)
				break;
			s->sent_mono_ns = 0;
			f->outstanding--;
			f->lost++;
		}
		f->oldest_seq++;
	}
}

/* Sends as many packets as the window and the ring allow, up to BATCH per
 * call; returns 0, or -1 after a message. */
static int send_some(struct flood *f)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct timespec wall;
	unsigned n = 0, i;
	int64_t now_ns;
	int rc;

	while (n < BATCH && f->outstanding + n < f->window &&
	       f->next_seq + n - f->oldest_seq < RING)
		n++;
	if (n == 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &wall);
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < n; i++) {
		uint8_t *buf = f->tx + (size_t)i * f->size;

		packet_stamp(f, buf, f->next_seq + i, &wall);
		iov[i].iov_base = buf;
		iov[i].iov_len = f->size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	rc = sendmmsg(f->fd, msgs, n, 0);
	if (rc < 0) {
		/* A full socket buffer, or an ICMP error from an earlier
		 * datagram (port unreachable while the server starts): both
		 * transient for a load generator. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
		    errno == ECONNREFUSED || errno == EINTR)
			return 0;
		fprintf(stderr, "udp_flood: sendmmsg: %s\n", strerror(errno));
		return -1;
	}
	now_ns = mono_ns();
	for (i = 0; i < (unsigned)rc; i++) {
		struct slot *s = &f->ring[(f->next_seq + i) % RING];

		s->sent_mono_ns = now_ns;
		s->seq = f->next_seq + i;
	}
	f->next_seq += (unsigned)rc;
	f->outstanding += (unsigned)rc;
	f->sent += (unsigned)rc;
	return 0;
}

/* Reads every answer waiting, BATCH per call; returns 0, or -1 after a
 * message. */
static int receive_all(struct flood *f)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int rc, i;

	for (;;) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < BATCH; i++) {
			/* One byte more than the largest datagram we send, so an
			 * oversize answer shows as one. */
			iov[i].iov_base = f->rx + (size_t)i * (MAX_DGRAM_BYTES + 1);
			iov[i].iov_len = MAX_DGRAM_BYTES + 1;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		rc = recvmmsg(f->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (rc < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ECONNREFUSED || errno == EINTR)
				continue; /* an ICMP error for an earlier datagram */
			fprintf(stderr, "udp_flood: recvmmsg: %s\n", strerror(errno));
			return -1;
		}
		for (i = 0; i < rc; i++) {
			uint64_t seq;
			struct slot *s;

			if (answer_seq(f, iov[i].iov_base, msgs[i].msg_len, &seq) < 0)
				return -1;
			s = &f->ring[seq % RING];
			if (seq >= f->oldest_seq && seq < f->next_seq && s->sent_mono_ns != 0 &&
			    s->seq == seq) {
				s->sent_mono_ns = 0;
				f->outstanding--;
				f->received++;
			} else {
				f->late++; /* given up on already (or a duplicate) */
			}
		}
		if (rc < BATCH)
			return 0;
	}
}

static int open_socket(const char *host, const char *port)
{
	struct addrinfo hints, *res = NULL;
	int fd, rc, bytes = SOCKBUF_BYTES;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "udp_flood: %s port %s: %s\n", host, port, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "udp_flood: socket: %s\n", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	/* Room for a whole window of answers; the kernel caps it at
	 * net.core.rmem_max, which is fine. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes)) < 0 ||
	    connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		fprintf(stderr, "udp_flood: %s port %s: %s\n", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int run(struct flood *f, double seconds)
{
	int64_t start_ns = mono_ns(), end_ns = start_ns + (int64_t)(seconds * 1e9), now_ns;
	struct pollfd pfd = { .fd = f->fd };

	for (now_ns = start_ns; now_ns < end_ns; now_ns = mono_ns()) {
		expire(f, now_ns);
		if (send_some(f) < 0)
			return -1;
		/* With the window full, wait (1 ms at most, so expiry and the
		 * deadline stay on time) for answers; otherwise just look. */
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, f->outstanding >= f->window ? 1 : 0) < 0 && errno != EINTR) {
			fprintf(stderr, "udp_flood: poll: %s\n", strerror(errno));
			return -1;
		}
		if ((pfd.revents & (POLLIN | POLLERR)) && receive_all(f) < 0)
			return -1;
	}
	printf("sent %" PRIu64 " received %" PRIu64 " seconds %.3f lost %" PRIu64 " late %" PRIu64
	       "\n",
	       f->sent, f->received, (double)(now_ns - start_ns) / 1e9, f->lost, f->late);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: udp_flood -k stamp|probe -s SIZE -t SECONDS -w WINDOW HOST PORT\n");
	exit(2);
}

static long number(const char *arg, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "udp_flood: %s must be %ld..%ld, not '%s'\n", what, min, max, arg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct flood f;
	double seconds = 0;
	const char *kind = NULL;
	char *end;
	int opt, rc = 1;
	long size = 0;
	unsigned i;

	memset(&f, 0, sizeof(f));
	f.fd = -1;
	while ((opt = getopt(argc, argv, "k:s:t:w:")) != -1) {
		switch (opt) {
		case 'k':
			kind = optarg;
			break;
		case 's':
			size = number(optarg, "SIZE", 1, MAX_DGRAM_BYTES);
			break;
		case 't':
			errno = 0;
			seconds = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || !(seconds > 0) ||
			    seconds > MAX_SECONDS) {
				fprintf(stderr,
					"udp_flood: SECONDS must be above 0 and at most %.0f\n",
					MAX_SECONDS);
				return 2;
			}
			break;
		case 'w':
			f.window = (unsigned)number(optarg, "WINDOW", 1, MAX_WINDOW);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || kind == NULL || size == 0 || seconds == 0 || f.window == 0)
		usage();
	if (strcmp(kind, "stamp") == 0) {
		f.kind = KIND_STAMP;
		if (size < STAMP_BASE_BYTES) {
			fprintf(stderr, "udp_flood: a stamp packet is at least %d bytes\n",
				STAMP_BASE_BYTES);
			return 2;
		}
	} else if (strcmp(kind, "probe") == 0) {
		f.kind = KIND_PROBE;
		if (size < PROBE_HDR_BYTES) {
			fprintf(stderr, "udp_flood: a probe is at least its %d-byte header\n",
				PROBE_HDR_BYTES);
			return 2;
		}
	} else {
		usage();
	}
	f.size = (size_t)size;

	f.ring = calloc(RING, sizeof(*f.ring));
	f.tx = calloc(BATCH, f.size);
	f.rx = malloc((size_t)BATCH * (MAX_DGRAM_BYTES + 1));
	if (f.ring == NULL || f.tx == NULL || f.rx == NULL) {
		fprintf(stderr, "udp_flood: out of memory\n");
		goto out;
	}
	for (i = 0; i < BATCH; i++)
		packet_init(&f, f.tx + (size_t)i * f.size);
	f.fd = open_socket(argv[optind], argv[optind + 1]);
	if (f.fd < 0)
		goto out;
	if (run(&f, seconds) == 0)
		rc = 0;
out:
	if (f.fd >= 0)
		close(f.fd);
	free(f.ring);
	free(f.tx);
	free(f.rx);
	return rc;
}
