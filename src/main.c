/* tsecho: argv -> subcommand. */
#include <stdio.h>
#include <string.h>

#include "server/server.h"

#ifndef TSECHO_VERSION
#define TSECHO_VERSION "0.1.0"
#endif

static const char usage[] = "usage: tsecho COMMAND [options]\n"
			    "\n"
			    "A network latency measurement tool: a timestamping reflector and,\n"
			    "in later versions, clients that measure against it.\n"
			    "\n"
			    "commands:\n"
			    "  server    run the timestamping reflector (tsecho server --help)\n"
			    "\n"
			    "  -h, --help       this help\n"
			    "  -V, --version    print the version\n";

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "server", ts_cmd_server },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("tsecho %s\n", TSECHO_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "tsecho: unknown command '%s' (tsecho --help)\n", argv[1]);
	return 2;
}
