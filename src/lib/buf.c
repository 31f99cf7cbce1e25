/* Byte buffers: see buf.h. */
#include "config.h"

#include <tsecho/buf.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ts_buf_append(struct ts_buf *b, const void *p, size_t n, size_t max)
{
	if (n == 0)
		return 0;
	if (n > max || b->len > max - n)
		return -ENOBUFS;
	if (b->off + b->len + n > b->cap) {
		size_t need = b->len + n;
		if (b->off > 0 && need <= b->cap) {
			/* Room at the front: slide rather than grow. */
			memmove(b->data, b->data + b->off, b->len);
			b->off = 0;
		} else {
			size_t cap = b->cap ? b->cap : 512;
			uint8_t *data;
			while (cap < need)
				cap *= 2;
			if (cap > max)
				cap = max;
			data = malloc(cap);
			if (!data)
				return -ENOMEM;
			if (b->len)
				memcpy(data, b->data + b->off, b->len);
			free(b->data);
			b->data = data;
			b->off = 0;
			b->cap = cap;
		}
	}
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

void ts_buf_consume(struct ts_buf *b, size_t n)
{
	if (n >= b->len) {
		ts_buf_free(b);
		return;
	}
	b->off += n;
	b->len -= n;
}

void ts_buf_free(struct ts_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}
