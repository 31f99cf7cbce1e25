/* Socket helpers: see net.h. */
#define _GNU_SOURCE
#include "config.h"

#include <tsecho/net.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int ts_net_set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int ts_net_set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		return -errno;
	return 0;
}

int ts_net_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

int ts_net_bind(const struct sockaddr *sa, socklen_t sa_len, int type, int v6only, int backlog,
		int reuseport)
{
	int one = 1;
	int fd = socket(sa->sa_family, type, 0);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if ((rc = set_cloexec(fd)) != 0 || (rc = ts_net_set_nonblock(fd)) != 0)
		goto fail;
	/* A restarted server must not wait for old connections' TIME_WAIT. */
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
		goto fail_errno;
#ifdef SO_REUSEPORT
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		goto fail_errno;
#else
	if (reuseport) {
		rc = -EOPNOTSUPP;
		goto fail;
	}
#endif
	if (sa->sa_family == AF_INET6) {
		int v = v6only ? 1 : 0;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v) != 0)
			goto fail_errno;
	}
	if (bind(fd, sa, sa_len) != 0)
		goto fail_errno;
	if (type == SOCK_STREAM && listen(fd, backlog) != 0)
		goto fail_errno;
	return fd;

fail_errno:
	rc = -errno;
fail:
	close(fd);
	return rc;
}

int ts_net_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_len)
{
	int fd;

	*peer_len = sizeof *peer;
#ifdef __linux__
	fd = accept4(listen_fd, (struct sockaddr *)peer, peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
#else
	int rc;

	fd = accept(listen_fd, (struct sockaddr *)peer, peer_len);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((rc = set_cloexec(fd)) != 0 || (rc = ts_net_set_nonblock(fd)) != 0) {
		close(fd);
		return rc;
	}
#endif
	return fd;
}

int ts_net_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

void ts_net_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

void ts_net_addr_ip(const struct sockaddr *sa, char *buf, size_t cap, unsigned *port)
{
	*port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		*port = ntohs(in->sin_port);
		if (inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)cap))
			return;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		*port = ntohs(in6->sin6_port);
		/* A dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d;
		 * people expect a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			if (inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, (socklen_t)cap))
				return;
		} else if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)cap)) {
			return;
		}
	}
	snprintf(buf, cap, "?");
}

void ts_net_addr_text(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[TS_ADDR_TEXT_MAX];
	unsigned port;

	ts_net_addr_ip(sa, ip, sizeof ip, &port);
	if (strchr(ip, ':'))
		snprintf(buf, cap, "[%s]:%u", ip, port);
	else
		snprintf(buf, cap, "%s:%u", ip, port);
}

int ts_raise_nofile(void)
{
	const rlim_t most = 1 << 20; /* keeps per-fd tables a sane size */
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max > most ? most : rl.rlim_max;
		if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = was;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > most)
		return (int)most;
	return (int)rl.rlim_cur;
}

int ts_net_split_hostport(const char *arg, char *host, size_t cap, const char **port)
{
	const char *start = arg;
	const char *colon = strrchr(arg, ':');
	size_t len;

	*port = NULL;
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (!close || (close[1] != '\0' && close[1] != ':'))
			return -EINVAL;
		start = arg + 1;
		len = (size_t)(close - start);
		*port = close[1] == ':' ? close + 2 : NULL;
	} else if (colon && strchr(arg, ':') == colon) {
		len = (size_t)(colon - arg);
		*port = colon + 1;
	} else {
		/* No colon, or several: a bare IPv6 address. */
		len = strlen(arg);
	}
	if (len == 0 || len >= cap)
		return -EINVAL;
	memcpy(host, start, len);
	host[len] = '\0';
	return 0;
}
