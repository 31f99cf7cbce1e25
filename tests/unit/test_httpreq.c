/* The metrics endpoint's request parsing (lib/httpreq). */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include <tsecho/httpreq.h>
#include "unit.h"

static int status_of(const char *req, bool *head)
{
	return ts_http_request_status(req, strlen(req), 8192, head);
}

Test(httpreq, routes)
{
	bool head;

	cr_expect(eq(i64, status_of("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", &head), 200));
	cr_expect(head == false);
	cr_expect(eq(i64, status_of("HEAD /metrics HTTP/1.0\r\n\r\n", &head), 200));
	cr_expect(head);
	cr_expect(eq(i64, status_of("GET /metrics?name[]=x HTTP/1.1\n\n", &head), 200));
	cr_expect(eq(i64, status_of("GET / HTTP/1.1\r\n\r\n", &head), 404));
	cr_expect(eq(i64, status_of("GET /metricsx HTTP/1.1\r\n\r\n", &head), 404));
	cr_expect(eq(i64, status_of("GET /metric HTTP/1.1\r\n\r\n", &head), 404));
	cr_expect(eq(i64, status_of("POST /metrics HTTP/1.1\r\n\r\n", &head), 405));
	cr_expect(eq(i64, status_of("get /metrics HTTP/1.1\r\n\r\n", &head), 405));
}

Test(httpreq, malformed)
{
	bool head;

	cr_expect(eq(i64, status_of("GET /metrics\r\n\r\n", &head), 400));
	cr_expect(eq(i64, status_of("GET  HTTP/1.1\r\n\r\n", &head), 400));
	cr_expect(eq(i64, status_of(" /metrics HTTP/1.1\r\n\r\n", &head), 400));
	cr_expect(eq(i64, status_of("GET /metrics HTTP/2.0\r\n\r\n", &head), 400));
	cr_expect(eq(i64, status_of("GET /metrics HTTP/1.1 x\r\n\r\n", &head), 400));
	cr_expect(eq(i64, status_of("\r\n\r\n", &head), 400));
	cr_expect(head == false);
	cr_expect(
	    eq(i64, ts_http_request_status("GET /\0x HTTP/1.1\r\n\r\n", 20, 8192, &head), 400));
}

Test(httpreq, incomplete_and_too_long)
{
	char big[100];
	bool head;

	cr_expect(eq(i64, status_of("GET /met", &head), 0));
	cr_expect(eq(i64, status_of("GET /metrics HTTP/1.1\r\nHost: a\r\n", &head), 0));
	memset(big, 'a', sizeof big);
	cr_expect(eq(i64, ts_http_request_status(big, sizeof big, sizeof big + 1, &head), 0));
	cr_expect(eq(i64, ts_http_request_status(big, sizeof big, sizeof big, &head), 431));
}
