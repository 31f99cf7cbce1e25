/* Byte buffers: caps, sliding, release when empty. */
#include "config.h"

#include <errno.h>

#include <tsecho/buf.h>
#include "unit.h"

Test(buf, append_consume_release)
{
	struct ts_buf b = { 0 };
	uint8_t data[1000];

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	cr_expect(eq(i64, ts_buf_append(&b, data, 600, 4096), 0));
	cr_expect(eq(i64, ts_buf_append(&b, data + 600, 400, 4096), 0));
	cr_expect(eq(u64, b.len, 1000));
	expect_mem_eq(ts_buf_bytes(&b), data, 1000);
	ts_buf_consume(&b, 300);
	cr_expect(eq(u64, b.len, 700));
	expect_mem_eq(ts_buf_bytes(&b), data + 300, 700);
	ts_buf_consume(&b, 700);
	/* Empty again: no memory held. */
	cr_expect(b.data == NULL);
	cr_expect(eq(u64, b.cap, 0));
	ts_buf_free(&b);
}

Test(buf, cap)
{
	struct ts_buf b = { 0 };
	uint8_t data[100] = { 0 };

	cr_expect(eq(i64, ts_buf_append(&b, data, 100, 150), 0));
	cr_expect(eq(i64, ts_buf_append(&b, data, 51, 150), -ENOBUFS));
	cr_expect(eq(u64, b.len, 100));
	cr_expect(eq(i64, ts_buf_append(&b, data, 50, 150), 0));
	cr_expect(eq(u64, b.len, 150));
	cr_expect(b.cap <= 150);
	cr_expect(eq(i64, ts_buf_append(&b, data, 0, 150), 0));
	ts_buf_free(&b);
}

Test(buf, slide)
{
	struct ts_buf b = { 0 };
	uint8_t data[512];

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7);
	cr_expect(eq(i64, ts_buf_append(&b, data, 512, 512), 0));
	ts_buf_consume(&b, 500);
	/* 12 left at offset 500; 400 more fit only by sliding to the front. */
	cr_expect(eq(i64, ts_buf_append(&b, data, 400, 512), 0));
	cr_expect(eq(u64, b.len, 412));
	expect_mem_eq(ts_buf_bytes(&b), data + 500, 12);
	expect_mem_eq(ts_buf_bytes(&b) + 12, data, 400);
	ts_buf_free(&b);
}
