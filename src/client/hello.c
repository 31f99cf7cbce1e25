/* Protocol discovery: see hello.h. */
#define _GNU_SOURCE
#include "config.h"

#include "hello.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <tsecho/clock.h>
#include <tsecho/net.h>
#include "target.h"

enum { ANSWER_MAX = 256 };

enum ts_hello_result ts_hello(int fd, int64_t timeout_ns, char *error, size_t error_cap)
{
	uint8_t answer[ANSWER_MAX];
	size_t len = 0;
	int64_t deadline_raw_ns = ts_raw_ns() + timeout_ns;

	/* A fresh connection's send buffer takes eight bytes at once. */
	if (send(fd, TS_HELLO_ASK, strlen(TS_HELLO_ASK), MSG_NOSIGNAL) !=
	    (ssize_t)strlen(TS_HELLO_ASK)) {
		snprintf(error, error_cap, "cannot send: %s", strerror(errno));
		return TS_HELLO_FAILED;
	}
	while (len < sizeof answer) {
		int rc = ts_wait_fd(fd, POLLIN, deadline_raw_ns - ts_raw_ns());
		ssize_t n;

		if (rc == -EINTR) {
			snprintf(error, error_cap, "interrupted");
			return TS_HELLO_FAILED;
		}
		if (rc <= 0) {
			snprintf(error, error_cap, "no answer from the server within %.3f s",
				 (double)timeout_ns / TS_NS_PER_S);
			return TS_HELLO_FAILED;
		}
		/* One byte at a time would be slow; a peek would be
		 * complicated: the answer is the first line, and nothing
		 * follows it until we send again. */
		n = recv(fd, answer + len, sizeof answer - len, 0);
		if (n == 0) {
			snprintf(error, error_cap, "connection closed by the server");
			return TS_HELLO_FAILED;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			snprintf(error, error_cap, "connection lost: %s", strerror(errno));
			return TS_HELLO_FAILED;
		}
		len += (size_t)n;
		if (memchr(answer, '\n', len)) {
			enum ts_text_hello r = ts_text_hello_classify(answer, len);
			if (r == TS_TEXT_HELLO_TSECHO)
				return TS_HELLO_TSECHO;
			if (r == TS_TEXT_HELLO_ECHOED)
				return TS_HELLO_TEXT;
			snprintf(error, error_cap,
				 "unexpected answer: not a tsecho or text-protocol "
				 "server (--echo for RFC 862 echo)");
			return TS_HELLO_FAILED;
		}
	}
	snprintf(error, error_cap, "answer too long: not a tsecho or text-protocol server");
	return TS_HELLO_FAILED;
}
