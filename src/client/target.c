/* Targets: see target.h. */
#define _GNU_SOURCE
#include "config.h"

#include "target.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include <tsecho/parse.h>

enum ts_target_err ts_target_parse(struct ts_target *t, const char *arg, uint16_t default_port)
{
	const char *port;
	uint64_t p = default_port;

	if (ts_net_split_hostport(arg, t->host, sizeof t->host, &port) != 0)
		return TS_TARGET_BAD_ARG;
	if (port && ts_parse_u64(port, 1, 65535, &p) != 0)
		return TS_TARGET_BAD_ARG;
	snprintf(t->port, sizeof t->port, "%u", (unsigned)p);
	return TS_TARGET_OK;
}

int ts_wait_fd(int fd, short events, int64_t timeout_ns)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int rc = poll(&pfd, 1, ts_ms_until(timeout_ns, 0, 3600000));

	if (rc < 0)
		return -errno;
	return rc > 0;
}

static enum ts_target_err classify(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return TS_TARGET_REFUSED;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
		return TS_TARGET_UNREACHABLE;
	case ETIMEDOUT:
		return TS_TARGET_TIMEOUT;
	default:
		return TS_TARGET_OTHER;
	}
}

/* Connects fd to ai within timeout_ns; 0 or errno. */
static int connect_one(int fd, const struct addrinfo *ai, int64_t timeout_ns)
{
	int err = 0;
	socklen_t len = sizeof err;
	int rc;

	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	rc = ts_wait_fd(fd, POLLOUT, timeout_ns);
	if (rc < 0)
		return -rc;
	if (rc == 0)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return errno;
	return err;
}

/* Binds fd to t->source: a numeric address of the family, or else the
 * name of an interface (SO_BINDTODEVICE).  0 or errno. */
static int bind_source(int fd, int family, const char *source)
{
	struct addrinfo hints = { .ai_family = family, .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
	struct addrinfo *res;
	int err = 0;

	if (getaddrinfo(source, NULL, &hints, &res) == 0) {
		if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
			err = errno;
		freeaddrinfo(res);
		return err;
	}
#ifdef SO_BINDTODEVICE
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, source, (socklen_t)strlen(source)) != 0)
		return errno;
	return 0;
#else
	return EADDRNOTAVAIL;
#endif
}

/* t's source, TOS and TTL on fd, a socket of family.  0 or errno. */
static int apply_options(int fd, int family, const struct ts_target *t)
{
	int v6 = family == AF_INET6;
	int rc;

	if (t->source && (rc = bind_source(fd, family, t->source)) != 0)
		return rc;
	if (t->has_tos) {
		int v = t->tos;
		if (setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_TCLASS : IP_TOS, &v,
			       sizeof v) != 0)
			return errno;
	}
	if (t->has_ttl) {
		int v = t->ttl;
		if (setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL,
			       &v, sizeof v) != 0)
			return errno;
	}
	return 0;
}

enum ts_target_err ts_target_connect(struct ts_target *t, int64_t timeout_ns, int *fd_out,
				     int *sys_errno)
{
	struct addrinfo hints = { .ai_family = t->family, .ai_socktype = t->socktype };
	struct addrinfo *res;
	int err = 0, option_failed = 0;
	int rc = getaddrinfo(t->host, t->port, &hints, &res);

	*fd_out = -1;
	if (rc != 0) {
		*sys_errno = rc == EAI_SYSTEM ? errno : rc;
		return rc == EAI_SYSTEM ? TS_TARGET_OTHER : TS_TARGET_UNKNOWN_HOST;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if ((rc = ts_net_set_nonblock(fd)) != 0) {
			err = -rc;
		} else if ((err = apply_options(fd, ai->ai_family, t)) != 0) {
			option_failed = 1;
		} else if (ai->ai_socktype == SOCK_STREAM && (rc = ts_net_set_nodelay(fd)) != 0) {
			/* Probes are small and must not wait for Nagle. */
			err = -rc;
		} else if ((err = connect_one(fd, ai, timeout_ns)) == 0) {
			memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
			t->addr_len = ai->ai_addrlen;
			ts_net_addr_text(ai->ai_addr, t->addr_text, sizeof t->addr_text);
			*fd_out = fd;
			break;
		}
		close(fd);
	}
	freeaddrinfo(res);
	if (*fd_out >= 0)
		return TS_TARGET_OK;
	*sys_errno = err;
	return option_failed ? TS_TARGET_OPTION : classify(err);
}

enum ts_target_err ts_target_resolve(struct ts_target *t, int *sys_errno)
{
	struct addrinfo hints = { .ai_family = t->family, .ai_socktype = t->socktype };
	struct addrinfo *res;
	int rc = getaddrinfo(t->host, t->port, &hints, &res);

	if (rc != 0) {
		*sys_errno = rc == EAI_SYSTEM ? errno : rc;
		return rc == EAI_SYSTEM ? TS_TARGET_OTHER : TS_TARGET_UNKNOWN_HOST;
	}
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addr_len = res->ai_addrlen;
	ts_net_addr_text(res->ai_addr, t->addr_text, sizeof t->addr_text);
	freeaddrinfo(res);
	return TS_TARGET_OK;
}

int ts_target_port_differs(const struct ts_target *t, uint16_t port)
{
	return port != 0 && strtoul(t->port, NULL, 10) != port;
}

const char *ts_target_name(const struct ts_target *t, char *buf, size_t cap)
{
	snprintf(buf, cap, strchr(t->host, ':') ? "[%s]:%s" : "%s:%s", t->host, t->port);
	return buf;
}

const char *ts_target_strerror(enum ts_target_err err, int sys_errno, char *buf, size_t cap)
{
	switch (err) {
	case TS_TARGET_OK:
		return "ok";
	case TS_TARGET_BAD_ARG:
		return "bad HOST[:PORT]";
	case TS_TARGET_UNKNOWN_HOST:
		snprintf(buf, cap, "unknown host: %s", gai_strerror(sys_errno));
		return buf;
	case TS_TARGET_REFUSED:
		return "connection refused";
	case TS_TARGET_UNREACHABLE:
		snprintf(buf, cap, "unreachable: %s", strerror(sys_errno));
		return buf;
	case TS_TARGET_TIMEOUT:
		return "timed out";
	case TS_TARGET_OPTION:
		snprintf(buf, cap, "cannot use the source address, TOS or TTL asked for: %s",
			 strerror(sys_errno));
		return buf;
	case TS_TARGET_OTHER:
		break;
	}
	snprintf(buf, cap, "%s", strerror(sys_errno));
	return buf;
}
