/* A byte buffer whose storage is allocated on first use and released as
 * soon as it is empty again, so an idle connection costs no buffer memory.
 * Bytes live at data[off .. off+len). */
#ifndef TSECHO_BUF_H
#define TSECHO_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ts_buf {
	uint8_t *data;
	size_t off;
	size_t len;
	size_t cap;
};

/* Appends n bytes unless the result would exceed max bytes.  Returns 0,
 * -ENOBUFS (over max: nothing appended) or -ENOMEM. */
int ts_buf_append(struct ts_buf *b, const void *p, size_t n, size_t max);

/* Drops the first n (<= len) bytes; frees the storage when none remain. */
void ts_buf_consume(struct ts_buf *b, size_t n);

/* Frees the storage; the buffer is empty and usable again. */
void ts_buf_free(struct ts_buf *b);

/* The first byte; NULL when the buffer holds no storage (then len is 0). */
static inline const uint8_t *ts_buf_bytes(const struct ts_buf *b)
{
	return b->data ? b->data + b->off : NULL;
}

#endif
