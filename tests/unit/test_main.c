/* Runs every unit test, or those whose name contains argv[1]; ends with
 * "N passed, N failed" and exits 1 when any failed. */
#include <stdio.h>
#include <string.h>

#include "unit.h"

int unit_failures;

static const struct unit_test *const suites[] = {
	proto_tests,     text_tests,  parse_tests, buf_tests,        clock_tests,
	evloop_tests,    hist_tests,  pacer_tests, stats_tests,      client_tests,
	jsonparse_tests, stamp_tests, prom_tests,  htmlreport_tests, httpreq_tests,
};

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int passed = 0, failed = 0;

	for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) {
		for (const struct unit_test *t = suites[s]; t->name; t++) {
			if (filter && !strstr(t->name, filter))
				continue;
			unit_failures = 0;
			t->fn();
			if (unit_failures) {
				printf("FAIL %s\n", t->name);
				failed++;
			} else {
				printf("PASS %s\n", t->name);
				passed++;
			}
		}
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
