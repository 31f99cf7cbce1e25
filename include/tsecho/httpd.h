/* A minimal HTTP/1.x server for one page, GET /metrics, served from an
 * existing event loop.  Every peer is bounded like any other: a request of
 * at most TS_HTTPD_REQ_MAX bytes that must arrive whole within
 * TS_HTTPD_TIMEOUT_NS of connecting (a slow or silent client is closed,
 * never waited for), one request per connection (Connection: close), at
 * most TS_HTTPD_MAX_PER_SOURCE connections from one address and
 * TS_HTTPD_MAX_CONNS in all.  A scraper must get its page even when others
 * hold every place: when all are taken, the connection that has waited
 * longest for its request is closed to make room (a silent client is
 * worth less than a scrape), and only when every place is busy answering
 * is the newcomer closed.
 * Anything else than GET or HEAD gets 405, any other path 404, a request
 * that does not parse 400, one too long 431.  Never prints, never exits. */
#ifndef TSECHO_HTTPD_H
#define TSECHO_HTTPD_H

#include <stdint.h>

#include <tsecho/buf.h>
#include <tsecho/evloop.h>

#define TS_HTTPD_MAX_CONNS 32
#define TS_HTTPD_REQ_MAX 8192
#define TS_HTTPD_MAX_PER_SOURCE 4
#define TS_HTTPD_TIMEOUT_NS (3 * 1000000000LL)
/* Largest page a render may produce. */
#define TS_HTTPD_BODY_MAX (16u << 20)

struct ts_httpd_stats {
	uint64_t requests; /* answered, any status */
	uint64_t ok;       /* 200 */
	uint64_t errors;   /* 4xx, 5xx */
	uint64_t rejected; /* closed at accept: its address, or every place, busy */
	uint64_t timeouts; /* closed before a whole request came */
	uint64_t evicted;  /* closed still waiting for a request, to make room */
};

/* Renders the page into body (empty on entry, at most TS_HTTPD_BODY_MAX
 * bytes).  Returns 0, or -errno for a 500. */
typedef int ts_httpd_render_fn(struct ts_buf *body, void *arg);

struct ts_httpd;

/* A listening TCP socket on "HOST:PORT", "[V6]:PORT" (port 0: any free
 * one).  Returns the descriptor, -errno, or -EINVAL when addr does not
 * parse; *gai_err gets a getaddrinfo error (then the return is -ENOENT). */
int ts_httpd_listen(const char *addr, int *gai_err);

/* Serves listen_fd (taken over: closed by ts_httpd_free) from loop.
 * NULL with errno when it cannot. */
struct ts_httpd *ts_httpd_new(struct ts_evloop *loop, int listen_fd, ts_httpd_render_fn *render,
			      void *arg);
void ts_httpd_free(struct ts_httpd *h);

/* Closes peers past their deadline; returns the next deadline (INT64_MAX:
 * none).  Call after every loop round. */
int64_t ts_httpd_sweep(struct ts_httpd *h, int64_t now_mono_ns);

const struct ts_httpd_stats *ts_httpd_stats(const struct ts_httpd *h);

/* The listening descriptor (for its address). */
int ts_httpd_fd(const struct ts_httpd *h);

#endif
