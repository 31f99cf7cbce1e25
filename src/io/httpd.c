/* The metrics page's HTTP server: see httpd.h.  RFC 9112 for the message
 * syntax; only as much of it as a scraper needs. */
#define _GNU_SOURCE
#include "config.h"

#include <tsecho/httpd.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include <tsecho/httpreq.h>
#include <tsecho/net.h>
#include <tsecho/parse.h>

enum {
	ACCEPTS_PER_EVENT = 16,
	LINGER_MAX_BYTES = 65536,
};
#define LINGER_NS (2 * 1000000000LL)
#define ACCEPT_PAUSE_NS (100 * 1000000LL) /* out of descriptors: wait this long */

enum conn_state {
	ST_READING, /* the request */
	ST_WRITING, /* the response */
	ST_LINGER,  /* response sent, write side shut: reading to the peer's close */
};

struct ts_httpd;

struct http_conn {
	struct ts_httpd *httpd;
	int fd;
	enum conn_state state;
	int64_t deadline_mono_ns;
	size_t req_len;
	size_t lingered;
	struct sockaddr_storage peer;
	struct ts_buf out;
	char req[TS_HTTPD_REQ_MAX];
};

struct ts_httpd {
	struct ts_evloop *loop;
	int listen_fd;
	ts_httpd_render_fn *render;
	void *arg;
	struct ts_httpd_stats stats;
	int64_t paused_until_mono_ns; /* 0: accepting */
	int n_conns;
	struct http_conn *conns[TS_HTTPD_MAX_CONNS];
};

int ts_httpd_listen(const char *addr, int *gai_err)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	char host[256];
	const char *port;
	uint64_t p;
	int fd = -EADDRNOTAVAIL;

	*gai_err = 0;
	if (ts_net_split_hostport(addr, host, sizeof host, &port) != 0 || !port ||
	    ts_parse_u64(port, 0, 65535, &p) != 0)
		return -EINVAL;
	*gai_err = getaddrinfo(host, port, &hints, &res);
	if (*gai_err != 0)
		return -ENOENT;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = ts_net_bind(ai->ai_addr, ai->ai_addrlen, SOCK_STREAM, 1, 64, 0);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

static void conn_close(struct ts_httpd *h, int slot)
{
	struct http_conn *c = h->conns[slot];

	ts_evloop_del(h->loop, c->fd);
	close(c->fd);
	ts_buf_free(&c->out);
	free(c);
	h->conns[slot] = NULL;
	h->n_conns--;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

/* Queues the response: status line, headers, and body unless head. */
static int respond(struct http_conn *c, int status, const struct ts_buf *body, bool head)
{
	static const char text[] = "text/plain; charset=utf-8";
	static const char metrics[] = "text/plain; version=0.0.4; charset=utf-8";
	size_t body_len = body ? body->len : 0;
	char hdr[512];
	int n = snprintf(hdr, sizeof hdr,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "%sConnection: close\r\n\r\n",
			 status, reason_phrase(status), status == 200 ? metrics : text, body_len,
			 status == 405 ? "Allow: GET, HEAD\r\n" : "");
	int rc = ts_buf_append(&c->out, hdr, (size_t)n, SIZE_MAX);

	if (rc == 0 && body_len > 0 && !head)
		rc = ts_buf_append(&c->out, ts_buf_bytes(body), body_len, SIZE_MAX);
	c->state = ST_WRITING;
	return rc;
}

/* An error response whose body is its reason phrase. */
static int respond_error(struct http_conn *c, int status, bool head)
{
	struct ts_buf body = { 0 };
	const char *reason = reason_phrase(status);
	int rc = ts_buf_append(&body, reason, strlen(reason), SIZE_MAX);

	if (rc == 0)
		rc = ts_buf_append(&body, "\n", 1, SIZE_MAX);
	if (rc == 0)
		rc = respond(c, status, &body, head);
	ts_buf_free(&body);
	return rc;
}

/* The request is complete, or wrong: answer it with status. */
static int answer(struct ts_httpd *h, struct http_conn *c, int status, bool head)
{
	struct ts_buf body = { 0 };
	int rc;

	h->stats.requests++;
	if (status != 200) {
		h->stats.errors++;
		return respond_error(c, status, head);
	}
	rc = h->render(&body, h->arg);
	if (rc == 0) {
		h->stats.ok++;
		rc = respond(c, 200, &body, head);
	} else {
		h->stats.errors++;
		ts_buf_free(&c->out);
		rc = respond_error(c, 500, head);
	}
	ts_buf_free(&body);
	return rc;
}

/* Reads what came; answers once the headers are complete.  Returns false
 * when the connection must be closed. */
static bool on_read(struct ts_httpd *h, struct http_conn *c)
{
	size_t room = sizeof c->req - c->req_len;
	bool head;
	int status;
	ssize_t n;

	if (c->state == ST_LINGER) {
		char sink[4096];
		n = recv(c->fd, sink, sizeof sink, 0);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		c->lingered += (size_t)n;
		return n > 0 && c->lingered <= LINGER_MAX_BYTES;
	}
	n = recv(c->fd, c->req + c->req_len, room, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	if (n == 0)
		return false; /* gone before asking anything whole */
	c->req_len += (size_t)n;
	status = ts_http_request_status(c->req, c->req_len, sizeof c->req, &head);
	return status == 0 || answer(h, c, status, head) == 0;
}

/* Sends what is queued; once all is out, shuts the write side and lingers
 * (closing with unread input would reset the connection and could destroy
 * the response before the peer reads it). */
static bool on_write(struct http_conn *c)
{
	ssize_t w = send(c->fd, ts_buf_bytes(&c->out), c->out.len, MSG_NOSIGNAL);

	if (w < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	ts_buf_consume(&c->out, (size_t)w);
	if (c->out.len > 0)
		return true;
	if (shutdown(c->fd, SHUT_WR) != 0)
		return false;
	c->state = ST_LINGER;
	c->deadline_mono_ns = ts_mono_ns() + LINGER_NS;
	return true;
}

static int find_slot(const struct ts_httpd *h, const struct http_conn *c)
{
	for (int i = 0; i < TS_HTTPD_MAX_CONNS; i++)
		if (h->conns[i] == c)
			return i;
	return -1;
}

static void on_conn_event(struct ts_evloop *loop, int fd, int events, void *arg)
{
	struct http_conn *c = arg;
	struct ts_httpd *h = c->httpd;
	bool keep = true;
	int slot;

	(void)fd;
	if ((events & TS_EV_READ) && c->state != ST_WRITING)
		keep = on_read(h, c);
	if (keep && c->state == ST_WRITING)
		keep = on_write(c);
	slot = find_slot(h, c);
	if (!keep) {
		conn_close(h, slot);
		return;
	}
	if (ts_evloop_set(loop, c->fd, c->state == ST_WRITING ? TS_EV_WRITE : TS_EV_READ) != 0)
		conn_close(h, slot);
}

/* Whether a and b are the same address (ports aside). */
static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr,
			      sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

/* A place for a new peer from peer: a free slot, or the slot of the
 * connection that has waited longest for its request, closed for it; -1
 * when its address already holds its share or every place is answering. */
static int make_room(struct ts_httpd *h, const struct sockaddr_storage *peer)
{
	int from_peer = 0, free_slot = -1, oldest = -1;

	for (int i = 0; i < TS_HTTPD_MAX_CONNS; i++) {
		struct http_conn *c = h->conns[i];
		if (!c) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (same_address(&c->peer, peer))
			from_peer++;
		/* Deadlines of waiting peers are their connect time plus one
		 * fixed timeout, so the earliest is the one that came first. */
		if (c->state == ST_READING &&
		    (oldest < 0 || c->deadline_mono_ns < h->conns[oldest]->deadline_mono_ns))
			oldest = i;
	}
	if (from_peer >= TS_HTTPD_MAX_PER_SOURCE)
		return -1;
	if (free_slot >= 0 || oldest < 0)
		return free_slot;
	h->stats.evicted++;
	conn_close(h, oldest);
	return oldest;
}

static void on_accept(struct ts_evloop *loop, int listen_fd, int events, void *arg)
{
	struct ts_httpd *h = arg;

	(void)events;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage peer;
		socklen_t len;
		int fd = ts_net_accept(listen_fd, &peer, &len);
		int slot;
		struct http_conn *c;

		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			/* The peer stays in the backlog and the listener stays
			 * readable: stop watching it for a moment rather than
			 * spin (ts_httpd_sweep watches it again). */
			h->paused_until_mono_ns = ts_mono_ns() + ACCEPT_PAUSE_NS;
			ts_evloop_set(loop, listen_fd, TS_EV_DEFER);
			return;
		}
		if (fd < 0)
			return; /* EAGAIN, or a transient error the next event retries */
		slot = make_room(h, &peer);
		c = slot >= 0 ? calloc(1, sizeof *c) : NULL;
		if (!c || ts_evloop_add(loop, fd, TS_EV_READ, on_conn_event, c) != 0) {
			h->stats.rejected++;
			free(c);
			close(fd);
			continue;
		}
		c->httpd = h;
		c->fd = fd;
		c->peer = peer;
		c->state = ST_READING;
		c->deadline_mono_ns = ts_mono_ns() + TS_HTTPD_TIMEOUT_NS;
		h->conns[slot] = c;
		h->n_conns++;
	}
}

struct ts_httpd *ts_httpd_new(struct ts_evloop *loop, int listen_fd, ts_httpd_render_fn *render,
			      void *arg)
{
	struct ts_httpd *h = calloc(1, sizeof *h);
	int rc;

	if (!h)
		return NULL;
	h->loop = loop;
	h->listen_fd = listen_fd;
	h->render = render;
	h->arg = arg;
	/* Deferred like the server's listeners: peers already in come first. */
	rc = ts_evloop_add(loop, listen_fd, TS_EV_READ | TS_EV_DEFER, on_accept, h);
	if (rc != 0) {
		free(h);
		errno = -rc;
		return NULL;
	}
	return h;
}

void ts_httpd_free(struct ts_httpd *h)
{
	if (!h)
		return;
	for (int i = 0; i < TS_HTTPD_MAX_CONNS; i++)
		if (h->conns[i])
			conn_close(h, i);
	ts_evloop_del(h->loop, h->listen_fd);
	close(h->listen_fd);
	free(h);
}

int64_t ts_httpd_sweep(struct ts_httpd *h, int64_t now_mono_ns)
{
	int64_t next = INT64_MAX;

	if (h->paused_until_mono_ns) {
		if (h->paused_until_mono_ns <= now_mono_ns) {
			h->paused_until_mono_ns = 0;
			ts_evloop_set(h->loop, h->listen_fd, TS_EV_READ | TS_EV_DEFER);
		} else {
			next = h->paused_until_mono_ns;
		}
	}
	/* Called on every round of the loop: nothing to do when idle. */
	for (int i = 0; i < TS_HTTPD_MAX_CONNS && h->n_conns > 0; i++) {
		struct http_conn *c = h->conns[i];
		if (!c)
			continue;
		if (c->deadline_mono_ns <= now_mono_ns) {
			if (c->state == ST_READING)
				h->stats.timeouts++;
			conn_close(h, i);
		} else if (c->deadline_mono_ns < next) {
			next = c->deadline_mono_ns;
		}
	}
	return next;
}

const struct ts_httpd_stats *ts_httpd_stats(const struct ts_httpd *h)
{
	return &h->stats;
}

int ts_httpd_fd(const struct ts_httpd *h)
{
	return h->listen_fd;
}
