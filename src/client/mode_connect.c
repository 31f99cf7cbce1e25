/* Ping mode "connect": the time a TCP handshake takes, like tcping.  Each
 * probe is a new non-blocking connect(); the probe is answered when the
 * socket becomes writable with no error (the SYN-ACK came back), and lost
 * when it is refused or times out.  No data is sent. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include "pinger.h"

static int connect_start(struct ts_pinger *p)
{
	char buf[128];
	int sys_errno = 0;
	enum ts_target_err err = ts_target_resolve(&p->target, &sys_errno);

	if (err == TS_TARGET_OK)
		return 0;
	snprintf(p->error, sizeof p->error, "%s: %s", p->target.host,
		 ts_target_strerror(err, sys_errno, buf, sizeof buf));
	return -1;
}

static void close_pending(struct ts_pinger *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static int connect_send(struct ts_pinger *p, uint64_t seq)
{
	int fd;

	/* One at a time: a connection still pending here has timed out. */
	close_pending(p);
	fd = socket(p->target.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(p->error, sizeof p->error, "socket: %s", strerror(errno));
		return -1;
	}
	p->connect_seq = seq;
	ts_pinger_sent(p, seq, ts_raw_ns(), ts_wall_ns());
	if (connect(fd, (struct sockaddr *)&p->target.addr, p->target.addr_len) == 0 ||
	    errno == EINPROGRESS) {
		/* Writable when the handshake is done (at once if it was). */
		p->fd = fd;
		return 0;
	}
	ts_pinger_failed(p, seq, strerror(errno));
	close(fd);
	return 0;
}

static int connect_ready(struct ts_pinger *p, short revents)
{
	int64_t done_raw_ns = ts_raw_ns();
	int64_t done_wall_ns = ts_wall_ns();
	const struct ts_send_slot *slot = ts_pinger_slot(p, p->connect_seq);
	int err = 0;
	socklen_t len = sizeof err;

	(void)revents;
	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == 0 && slot) {
		struct ts_sample s = {
			.seq = p->connect_seq,
			.rtt_ns = done_raw_ns - slot->raw_ns,
			.t1_wall_ns = slot->wall_ns,
			.t4_wall_ns = done_wall_ns,
		};
		ts_pinger_got(p, &s, 0);
	} else if (err != 0) {
		ts_pinger_failed(p, p->connect_seq,
				 err == ECONNREFUSED ? "connection refused" : strerror(err));
	}
	close_pending(p);
	return 0;
}

static short connect_events(struct ts_pinger *p)
{
	return p->fd >= 0 ? POLLOUT : 0;
}

const struct ts_mode ts_mode_connect = {
	.name = "connect",
	.one_at_a_time = 1,
	.start = connect_start,
	.send = connect_send,
	.ready = connect_ready,
	.events = connect_events,
};
