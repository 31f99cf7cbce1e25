/* Kernel timestamps: SO_TIMESTAMPING's software receive and transmit
 * times (the kernel's Documentation/networking/timestamping.rst).
 *
 * Receive: each recvmsg on a socket with TS_KTS_RX brings an
 * SCM_TIMESTAMPING control message, the time the kernel's receive path
 * took the (last) packet of what was read.  Transmit: each send call on a
 * socket with TS_KTS_TX queues, on the socket's error queue, a record
 * with the time the packet went to the driver (and, with TS_KTS_SCHED,
 * one from before the queueing discipline), keyed by a counter
 * (SOF_TIMESTAMPING_OPT_ID): for TCP the offset of the send's last byte
 * in the stream since timestamping was enabled, for UDP the number of
 * datagrams sent before it that asked for a timestamp.  All times are
 * CLOCK_REALTIME nanoseconds.
 * docs/measurement.md says where in the kernel each is taken.
 *
 * Per send (TS_KTS_PER_SEND): the socket asks for no transmit times of
 * its own, and only the sends made with ts_kts_send_stamped queue a
 * record (timestamping.rst, "per-socket vs per-packet").  The keys then
 * count on TCP the stream's bytes as before, on UDP only the datagrams
 * whose send asked. */
#ifndef TSECHO_KTS_H
#define TSECHO_KTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

enum ts_kts_what {
	TS_KTS_RX = 1,    /* software receive timestamps */
	TS_KTS_TX = 2,    /* software transmit timestamps, at the driver */
	TS_KTS_SCHED = 4, /* and before the queueing discipline */
	/* ts_kts_enable: keyed transmit records for the sends that ask
	 * (ts_kts_send_stamped) and no others; TX and SCHED are then what
	 * each such send asks for, not the socket. */
	TS_KTS_PER_SEND = 8,
};

/* Which stage of the send path a transmit timestamp is from. */
enum ts_kts_stage {
	TS_KTS_STAGE_SND = 0,   /* handed to the driver (SCM_TSTAMP_SND) */
	TS_KTS_STAGE_SCHED = 1, /* entering the qdisc (SCM_TSTAMP_SCHED) */
	TS_KTS_STAGE_ACK = 2,   /* acknowledged by the peer (TCP, unused) */
};

struct ts_kts_tx {
	uint32_t key;  /* OPT_ID: see above */
	uint8_t stage; /* enum ts_kts_stage */
	int64_t ns;
};

/* Room for the control data of one receive or error-queue record. */
#define TS_KTS_CONTROL_LEN 256u

/* Turns on what (TS_KTS_*) for fd; a TCP socket must be connected.
 * 0, or -errno (the kernel or a seccomp filter refused). */
int ts_kts_enable(int fd, unsigned what);

/* The software receive timestamp in mh's control data; 0 when there is
 * none. */
int64_t ts_kts_rx_ns(struct msghdr *mh);

/* The transmit record in mh's control data (one error-queue message):
 * 1 with *out set, or 0 when mh holds no timestamp. */
int ts_kts_tx_parse(struct msghdr *mh, struct ts_kts_tx *out);

/* recv(fd, buf, len, flags) (or recvfrom, when peer is not NULL) that
 * also returns the kernel's receive timestamp in *rx_ns (0: none).
 * Returns what recvmsg returns; errno as it sets it. */
ssize_t ts_kts_recv(int fd, void *buf, size_t len, int flags, struct sockaddr_storage *peer,
		    socklen_t *peer_len, int64_t *rx_ns);

/* Room for the control message of one send that asks. */
#define TS_KTS_SEND_CONTROL_LEN CMSG_SPACE(sizeof(uint32_t))

/* The control message that asks one send for what (TS_KTS_TX,
 * TS_KTS_SCHED): written to mh->msg_control, which has room for
 * TS_KTS_SEND_CONTROL_LEN bytes, and msg_controllen set; 0, or
 * -ENOPROTOOPT without SO_TIMESTAMPING (mh then carries none). */
int ts_kts_ask_send(struct msghdr *mh, unsigned what);

/* send(fd, buf, len, flags) that asks the kernel for what (TS_KTS_TX,
 * TS_KTS_SCHED) on this send alone, on a socket enabled with
 * TS_KTS_PER_SEND.  Returns what sendmsg returns; errno as it sets it. */
ssize_t ts_kts_send_stamped(int fd, const void *buf, size_t len, int flags, unsigned what);
/* ... and sendto: to the address to (to_len bytes of it). */
ssize_t ts_kts_sendto_stamped(int fd, const void *buf, size_t len, int flags,
			      const struct sockaddr_storage *to, socklen_t to_len, unsigned what);

/* Reads up to cap transmit records waiting on fd's error queue, without
 * blocking.  Returns how many (0: none waiting), or -errno for a failure
 * other than an empty queue. */
int ts_kts_read_tx(int fd, struct ts_kts_tx *out, int cap);

#endif
