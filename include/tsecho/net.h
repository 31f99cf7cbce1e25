/* Socket helpers.  Each returns a descriptor or 0 on success, or -errno;
 * none prints.  Descriptors are non-blocking and close-on-exec. */
#ifndef TSECHO_NET_H
#define TSECHO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Where send() has no MSG_NOSIGNAL (macOS), SIGPIPE must be ignored
 * process-wide; every command does that too. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* Longest "[ipv6%scope]:65535" text, NUL included. */
#define TS_ADDR_TEXT_MAX 72

/* Whether sa is on this host's loopback: 127.0.0.0/8, ::1, or an IPv4
 * loopback address mapped into IPv6. */
int ts_net_is_loopback(const struct sockaddr *sa);

/* A socket of type SOCK_STREAM or SOCK_DGRAM bound to sa, listening when it
 * is a stream.  v6only applies to IPv6 sockets (IPV6_V6ONLY); reuseport
 * sets SO_REUSEPORT, so that sockets of one process's threads share the
 * port and the kernel spreads peers over them. */
int ts_net_bind(const struct sockaddr *sa, socklen_t sa_len, int type, int v6only, int backlog,
		int reuseport);

/* accept(2), non-blocking and close-on-exec; -EAGAIN when none is pending. */
int ts_net_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_len);

int ts_net_set_nonblock(int fd);
int ts_net_set_nodelay(int fd);

/* The port a socket is bound to, or -errno. */
int ts_net_local_port(int fd);

/* Sets the port of an AF_INET or AF_INET6 address. */
void ts_net_set_port(struct sockaddr *sa, uint16_t port);

/* The address as text without its port, IPv4-mapped IPv6 shown as IPv4
 * ("127.0.0.1", "::1"), and its port.  buf has TS_ADDR_TEXT_MAX bytes. */
void ts_net_addr_ip(const struct sockaddr *sa, char *buf, size_t cap, unsigned *port);

/* "127.0.0.1:80" or "[::1]:80", as ts_net_addr_ip. */
void ts_net_addr_text(const struct sockaddr *sa, char *buf, size_t cap);

/* Splits "host", "host:port", "[v6]:port" or a bare IPv6 address: copies
 * the host into host[0..cap) and points *port at the port text in arg (NULL
 * when there is none).  Returns 0, or -EINVAL when arg has no host, an
 * unclosed bracket or a host too long for cap. */
int ts_net_split_hostport(const char *arg, char *host, size_t cap, const char **port);

/* Raises the RLIMIT_NOFILE soft limit to the hard one (thousands of
 * connections need it) and returns the limit in force, at most 2^20. */
int ts_raise_nofile(void);

#endif
