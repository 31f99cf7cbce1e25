/* The metrics endpoint's request parsing (lib/httpreq). */
#include <stdbool.h>
#include <string.h>

#include <tsecho/httpreq.h>
#include "unit.h"

static int status_of(const char *req, bool *head)
{
	return ts_http_request_status(req, strlen(req), 8192, head);
}

static void test_routes(void)
{
	bool head;

	CHECK_EQ_I(status_of("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", &head), 200);
	CHECK(!head);
	CHECK_EQ_I(status_of("HEAD /metrics HTTP/1.0\r\n\r\n", &head), 200);
	CHECK(head);
	CHECK_EQ_I(status_of("GET /metrics?name[]=x HTTP/1.1\n\n", &head), 200);
	CHECK_EQ_I(status_of("GET / HTTP/1.1\r\n\r\n", &head), 404);
	CHECK_EQ_I(status_of("GET /metricsx HTTP/1.1\r\n\r\n", &head), 404);
	CHECK_EQ_I(status_of("GET /metric HTTP/1.1\r\n\r\n", &head), 404);
	CHECK_EQ_I(status_of("POST /metrics HTTP/1.1\r\n\r\n", &head), 405);
	CHECK_EQ_I(status_of("get /metrics HTTP/1.1\r\n\r\n", &head), 405);
}

static void test_malformed(void)
{
	bool head;

	CHECK_EQ_I(status_of("GET /metrics\r\n\r\n", &head), 400);
	CHECK_EQ_I(status_of("GET  HTTP/1.1\r\n\r\n", &head), 400);
	CHECK_EQ_I(status_of(" /metrics HTTP/1.1\r\n\r\n", &head), 400);
	CHECK_EQ_I(status_of("GET /metrics HTTP/2.0\r\n\r\n", &head), 400);
	CHECK_EQ_I(status_of("GET /metrics HTTP/1.1 x\r\n\r\n", &head), 400);
	CHECK_EQ_I(status_of("\r\n\r\n", &head), 400);
	CHECK(!head);
	CHECK_EQ_I(ts_http_request_status("GET /\0x HTTP/1.1\r\n\r\n", 20, 8192, &head), 400);
}

static void test_incomplete_and_too_long(void)
{
	char big[100];
	bool head;

	CHECK_EQ_I(status_of("GET /met", &head), 0);
	CHECK_EQ_I(status_of("GET /metrics HTTP/1.1\r\nHost: a\r\n", &head), 0);
	memset(big, 'a', sizeof big);
	CHECK_EQ_I(ts_http_request_status(big, sizeof big, sizeof big + 1, &head), 0);
	CHECK_EQ_I(ts_http_request_status(big, sizeof big, sizeof big, &head), 431);
}

UNIT_SUITE(httpreq_tests) = {
	{ "httpreq_routes", test_routes },
	{ "httpreq_malformed", test_malformed },
	{ "httpreq_incomplete_and_too_long", test_incomplete_and_too_long },
	UNIT_END,
};
