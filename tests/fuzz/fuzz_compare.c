/* libFuzzer harness for tsecho compare's saved results (FILE.json from
 * anywhere, read back by `tsecho compare A.json B.json`): the bytes as a
 * file, loaded; a file that loads is then put through every output (text,
 * JSON, CSV, the HTML page), which must not crash on any structure the
 * loader let through.  Outputs and the loader's complaints go to
 * /dev/null. */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/compare/compare.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sink = fopen("/dev/null", "w");
	if (!sink)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmp_result r;
	char path[64];
	char *paths[2];
	int fd = memfd_create("fuzz_compare", 0);

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	paths[0] = paths[1] = path;
	memset(&r, 0, sizeof r);
	/* Once alone, once twice over (the names prefixed, the steps matched). */
	for (size_t n = 1; n <= 2; n++) {
		if (cmp_load(&r, paths, n, sink) == 0) {
			cmp_result_merge(&r);
			cmp_print_text(sink, &r);
			cmp_print_json(sink, &r);
			cmp_print_csv(sink, &r);
			cmp_write_html(sink, &r, "tsecho compare fuzz");
		}
		cmp_result_free(&r);
		memset(&r, 0, sizeof r);
	}
	close(fd);
	return 0;
}
