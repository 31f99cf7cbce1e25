/* Request parsing for the metrics endpoint: see httpreq.h. */
#define _GNU_SOURCE
#include "config.h"

#include <tsecho/httpreq.h>

#include <string.h>

/* The status for the request line line[0..len): method SP target SP
 * HTTP-version. */
static int route(const char *line, size_t len, bool *head)
{
	const char *sp1 = memchr(line, ' ', len);
	const char *target = sp1 ? sp1 + 1 : NULL;
	const char *sp2 = target ? memchr(target, ' ', len - (size_t)(target - line)) : NULL;
	size_t method_len, path_len;

	if (!sp2 || sp1 == line || sp2 == target || (size_t)(line + len - (sp2 + 1)) != 8 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return 400;
	method_len = (size_t)(sp1 - line);
	*head = method_len == 4 && memcmp(line, "HEAD", 4) == 0;
	if (!*head && !(method_len == 3 && memcmp(line, "GET", 3) == 0))
		return 405;
	/* The query string, if any, is ignored. */
	for (path_len = 0; target + path_len < sp2 && target[path_len] != '?'; path_len++)
		;
	return path_len == 8 && memcmp(target, "/metrics", 8) == 0 ? 200 : 404;
}

int ts_http_request_status(const char *buf, size_t len, size_t max, bool *head)
{
	size_t line_len;

	*head = false;
	if (memchr(buf, '\0', len))
		return 400;
	if (!memmem(buf, len, "\r\n\r\n", 4) && !memmem(buf, len, "\n\n", 2))
		return len >= max ? 431 : 0;
	for (line_len = 0; buf[line_len] != '\n'; line_len++)
		;
	if (line_len > 0 && buf[line_len - 1] == '\r')
		line_len--;
	return route(buf, line_len, head);
}
