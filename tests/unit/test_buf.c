/* Byte buffers: caps, sliding, release when empty. */
#include <errno.h>

#include <tsecho/buf.h>
#include "unit.h"

static void test_append_consume_release(void)
{
	struct ts_buf b = { 0 };
	uint8_t data[1000];

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	CHECK_EQ_I(ts_buf_append(&b, data, 600, 4096), 0);
	CHECK_EQ_I(ts_buf_append(&b, data + 600, 400, 4096), 0);
	CHECK_EQ_U(b.len, 1000);
	CHECK_MEM(ts_buf_bytes(&b), data, 1000);
	ts_buf_consume(&b, 300);
	CHECK_EQ_U(b.len, 700);
	CHECK_MEM(ts_buf_bytes(&b), data + 300, 700);
	ts_buf_consume(&b, 700);
	/* Empty again: no memory held. */
	CHECK(b.data == NULL);
	CHECK_EQ_U(b.cap, 0);
	ts_buf_free(&b);
}

static void test_cap(void)
{
	struct ts_buf b = { 0 };
	uint8_t data[100] = { 0 };

	CHECK_EQ_I(ts_buf_append(&b, data, 100, 150), 0);
	CHECK_EQ_I(ts_buf_append(&b, data, 51, 150), -ENOBUFS);
	CHECK_EQ_U(b.len, 100);
	CHECK_EQ_I(ts_buf_append(&b, data, 50, 150), 0);
	CHECK_EQ_U(b.len, 150);
	CHECK(b.cap <= 150);
	CHECK_EQ_I(ts_buf_append(&b, data, 0, 150), 0);
	ts_buf_free(&b);
}

static void test_slide(void)
{
	struct ts_buf b = { 0 };
	uint8_t data[512];

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7);
	CHECK_EQ_I(ts_buf_append(&b, data, 512, 512), 0);
	ts_buf_consume(&b, 500);
	/* 12 left at offset 500; 400 more fit only by sliding to the front. */
	CHECK_EQ_I(ts_buf_append(&b, data, 400, 512), 0);
	CHECK_EQ_U(b.len, 412);
	CHECK_MEM(ts_buf_bytes(&b), data + 500, 12);
	CHECK_MEM(ts_buf_bytes(&b) + 12, data, 400);
	ts_buf_free(&b);
}

UNIT_SUITE(buf_tests) = {
	{ "buf_append_consume_release", test_append_consume_release },
	{ "buf_cap", test_cap },
	{ "buf_slide", test_slide },
	UNIT_END,
};
