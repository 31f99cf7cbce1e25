/* Kernel timestamps: see kts.h. */
#define _GNU_SOURCE
#include "config.h"

#include <tsecho/kts.h>

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#ifdef __linux__
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#endif

#if defined(__linux__) && defined(SO_TIMESTAMPING)

/* Which SOF_ flags each request turns on.  SOFTWARE reports the
 * software stamps; OPT_TSONLY keeps the error queue to the stamp alone,
 * without a copy of the packet; OPT_ID keys each send. */
static unsigned sof_flags(unsigned what)
{
	unsigned f = 0;

	if (what & TS_KTS_RX)
		f |= SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	if (what & (TS_KTS_TX | TS_KTS_SCHED | TS_KTS_PER_SEND))
		f |= SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
		     SOF_TIMESTAMPING_OPT_TSONLY;
	if (what & TS_KTS_PER_SEND)
		return f; /* each send asks for its own */
	if (what & TS_KTS_TX)
		f |= SOF_TIMESTAMPING_TX_SOFTWARE;
	if (what & TS_KTS_SCHED)
		f |= SOF_TIMESTAMPING_TX_SCHED;
	return f;
}

/* What one send asks for: the generation flags alone, as a control
 * message may carry no others. */
static uint32_t send_flags(unsigned what)
{
	uint32_t f = 0;

	if (what & TS_KTS_TX)
		f |= SOF_TIMESTAMPING_TX_SOFTWARE;
	if (what & TS_KTS_SCHED)
		f |= SOF_TIMESTAMPING_TX_SCHED;
	return f;
}

int ts_kts_ask_send(struct msghdr *mh, unsigned what)
{
	uint32_t flags = send_flags(what);
	struct cmsghdr *cm;

	mh->msg_controllen = CMSG_SPACE(sizeof flags);
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SO_TIMESTAMPING;
	cm->cmsg_len = CMSG_LEN(sizeof flags);
	memcpy(CMSG_DATA(cm), &flags, sizeof flags);
	return 0;
}

int ts_kts_enable(int fd, unsigned what)
{
	unsigned flags = sof_flags(what);

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) != 0)
		return -errno;
	return 0;
}

static int64_t ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* The software stamp of an SCM_TIMESTAMPING message, or 0. */
static int64_t sw_stamp(const struct cmsghdr *cm)
{
	struct scm_timestamping st;

	if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPING ||
	    cm->cmsg_len < CMSG_LEN(sizeof st))
		return 0;
	memcpy(&st, CMSG_DATA(cm), sizeof st);
	return ns_of(&st.ts[0]); /* [1] is unused, [2] the hardware stamp */
}

int64_t ts_kts_rx_ns(struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		int64_t ns = sw_stamp(cm);
		if (ns > 0)
			return ns;
	}
	return 0;
}

int ts_kts_tx_parse(struct msghdr *mh, struct ts_kts_tx *out)
{
	int64_t ns = 0;
	int have_err = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		struct sock_extended_err ee;

		if (cm->cmsg_level == SOL_SOCKET) {
			if (sw_stamp(cm) > 0)
				ns = sw_stamp(cm);
			continue;
		}
		if (!((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) ||
		      (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR)) ||
		    cm->cmsg_len < CMSG_LEN(sizeof ee))
			continue;
		memcpy(&ee, CMSG_DATA(cm), sizeof ee);
		if (ee.ee_errno != ENOMSG || ee.ee_origin != SO_EE_ORIGIN_TIMESTAMPING)
			continue;
		out->key = ee.ee_data;
		out->stage = (uint8_t)ee.ee_info;
		have_err = 1;
	}
	if (!have_err || ns <= 0)
		return 0;
	out->ns = ns;
	return 1;
}

int ts_kts_read_tx(int fd, struct ts_kts_tx *out, int cap)
{
	int n = 0;

	while (n < cap) {
		union {
			uint8_t bytes[TS_KTS_CONTROL_LEN];
			struct cmsghdr align;
		} control;
		uint8_t data[64]; /* OPT_TSONLY: nothing, but a byte or two is harmless */
		struct iovec iov = { data, sizeof data };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.bytes,
			.msg_controllen = sizeof control.bytes,
		};

		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return n > 0 ? n : -errno;
		}
		if (ts_kts_tx_parse(&mh, &out[n]))
			n++;
	}
	return n;
}

#else /* no SO_TIMESTAMPING */

int ts_kts_ask_send(struct msghdr *mh, unsigned what)
{
	(void)what;
	mh->msg_controllen = 0;
	return -ENOPROTOOPT;
}

int ts_kts_enable(int fd, unsigned what)
{
	(void)fd;
	(void)what;
	return -ENOPROTOOPT;
}

int64_t ts_kts_rx_ns(struct msghdr *mh)
{
	(void)mh;
	return 0;
}

int ts_kts_tx_parse(struct msghdr *mh, struct ts_kts_tx *out)
{
	(void)mh;
	(void)out;
	return 0;
}

int ts_kts_read_tx(int fd, struct ts_kts_tx *out, int cap)
{
	(void)fd;
	(void)out;
	(void)cap;
	return 0;
}

#endif

ssize_t ts_kts_recv(int fd, void *buf, size_t len, int flags, struct sockaddr_storage *peer,
		    socklen_t *peer_len, int64_t *rx_ns)
{
	union {
		uint8_t bytes[TS_KTS_CONTROL_LEN];
		struct cmsghdr align;
	} control;
	struct iovec iov = { buf, len };
	struct msghdr mh = {
		.msg_name = peer,
		.msg_namelen = peer_len ? *peer_len : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.bytes,
		.msg_controllen = sizeof control.bytes,
	};
	ssize_t n = recvmsg(fd, &mh, flags);

	*rx_ns = n >= 0 ? ts_kts_rx_ns(&mh) : 0;
	if (n >= 0 && peer_len)
		*peer_len = mh.msg_namelen;
	return n;
}

ssize_t ts_kts_send_stamped(int fd, const void *buf, size_t len, int flags, unsigned what)
{
	return ts_kts_sendto_stamped(fd, buf, len, flags, NULL, 0, what);
}

ssize_t ts_kts_sendto_stamped(int fd, const void *buf, size_t len, int flags,
			      const struct sockaddr_storage *to, socklen_t to_len, unsigned what)
{
	union {
		uint8_t bytes[TS_KTS_CONTROL_LEN];
		struct cmsghdr align;
	} control;
	/* sendmsg does not write to it: iovec has no const. */
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	struct msghdr mh = {
		.msg_name = (void *)(uintptr_t)to, /* nor to this */
		.msg_namelen = to ? to_len : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.bytes,
		.msg_controllen = sizeof control.bytes,
	};

	memset(control.bytes, 0, sizeof control.bytes);
	if (ts_kts_ask_send(&mh, what) != 0)
		mh.msg_control = NULL; /* a plain send, then */
	return sendmsg(fd, &mh, flags);
}
