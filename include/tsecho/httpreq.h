/* The request side of the metrics endpoint's HTTP (RFC 9112), as a pure
 * function over the bytes received so far, so it can be tested and fuzzed
 * apart from any socket. */
#ifndef TSECHO_HTTPREQ_H
#define TSECHO_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>

/* Looks at the first len bytes of a request, of at most max.  Returns 0
 * while the header section is incomplete, else the status to answer:
 * 200 for GET or HEAD of /metrics (any query string), 404 for another
 * path, 405 for another method, 400 for a request line that does not
 * parse or a NUL byte, 431 when max bytes came without the end of the
 * headers.  *head says whether the method was HEAD (no body then). */
int ts_http_request_status(const char *buf, size_t len, size_t max, bool *head);

#endif
