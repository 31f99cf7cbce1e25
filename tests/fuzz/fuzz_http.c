/* libFuzzer harness for the metrics endpoint's request parsing: any bytes
 * a peer sends, whole or cut anywhere, get a status from the known set
 * and never a read past what was received. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/httpreq.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const char *buf, size_t len, size_t max)
{
	bool head = true;
	int status = ts_http_request_status(buf, len, max, &head);

	if (status != 0 && status != 200 && status != 400 && status != 404 && status != 405 &&
	    status != 431)
		abort();
	/* HEAD is only ever reported for a request line that parsed. */
	if (head && status != 200 && status != 404)
		abort();
	if (status == 431 && len < max)
		abort();
	return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan sees any read past it. */
	char *buf = malloc(size ? size : 1);
	int whole;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	whole = check(buf, size, size + 1);
	/* Once complete, more bytes after the headers change nothing. */
	if (whole != 0 && whole != 431 && size > 0 && check(buf, size, size) != whole)
		abort();
	check(buf, size / 2, size + 1);
	free(buf);
	return 0;
}
