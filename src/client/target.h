/* Where a client command measures: HOST[:PORT] parsing, name resolution
 * and connecting with a timeout, each failure classified so the command
 * can give one clear line and a distinct exit status. */
#ifndef TSECHO_TARGET_H
#define TSECHO_TARGET_H

#include <stdint.h>
#include <sys/socket.h>

#include <tsecho/net.h>

enum ts_target_err {
	TS_TARGET_OK = 0,
	TS_TARGET_BAD_ARG,      /* HOST[:PORT] does not parse */
	TS_TARGET_UNKNOWN_HOST, /* the name does not resolve */
	TS_TARGET_REFUSED,
	TS_TARGET_UNREACHABLE, /* network or host unreachable */
	TS_TARGET_TIMEOUT,
	TS_TARGET_OTHER,  /* errno in *sys_errno */
	TS_TARGET_OPTION, /* the source address, TOS or TTL could not be set */
};

struct ts_target {
	char host[256];
	char port[8];
	int family;                   /* AF_UNSPEC, AF_INET or AF_INET6 (-4 / -6) */
	int socktype;                 /* SOCK_STREAM or SOCK_DGRAM */
	struct sockaddr_storage addr; /* filled by ts_target_connect */
	socklen_t addr_len;
	char addr_text[TS_ADDR_TEXT_MAX]; /* "127.0.0.1:12345" */
	/* Set before connecting, all optional (ping -I, -Q, -t). */
	const char *source; /* local address, or an interface's name */
	int has_tos, has_ttl;
	uint8_t tos; /* IP_TOS / IPV6_TCLASS: DSCP << 2 | ECN */
	uint8_t ttl; /* IP_TTL / IPV6_UNICAST_HOPS */
};

/* Splits "host", "host:port", "[v6]:port" or a bare IPv6 address into t
 * (default_port when none).  Returns TS_TARGET_OK or TS_TARGET_BAD_ARG. */
enum ts_target_err ts_target_parse(struct ts_target *t, const char *arg, uint16_t default_port);

/* Resolves t and connects a non-blocking socket of t->socktype to the
 * first address that takes it (for UDP: connect(2), no packet sent), in
 * at most timeout_ns each.  On success *fd_out is the socket and
 * t->addr/addr_text say where it went.  *sys_errno gets errno (or the
 * getaddrinfo code) for the message. */
enum ts_target_err ts_target_connect(struct ts_target *t, int64_t timeout_ns, int *fd_out,
				     int *sys_errno);

/* Resolves t to its first address (into t->addr, t->addr_text) without
 * connecting.  *sys_errno as above. */
enum ts_target_err ts_target_resolve(struct ts_target *t, int *sys_errno);

/* Whether a port given on its own (-p; 0: none) differs from the one t
 * holds after ts_target_parse, which took it as the default: HOST:PORT
 * and -p then name two ports. */
int ts_target_port_differs(const struct ts_target *t, uint16_t port);

/* t's host and port as a person writes them: "host:port", "[v6]:port".
 * Returns buf. */
const char *ts_target_name(const struct ts_target *t, char *buf, size_t cap);

/* One line describing the failure (static or in buf). */
const char *ts_target_strerror(enum ts_target_err err, int sys_errno, char *buf, size_t cap);

/* Waits until fd is ready for events (POLLIN/POLLOUT) or timeout_ns passes.
 * Returns 1 ready, 0 timeout, -errno (-EINTR when a signal came). */
int ts_wait_fd(int fd, short events, int64_t timeout_ns);

#endif
