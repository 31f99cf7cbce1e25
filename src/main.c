/* tsecho: argv -> subcommand. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "client/commands.h"
#include "compare/compare.h"
#include "probe/probe.h"
#include "server/server.h"

static const char usage[] =
    "usage: tsecho COMMAND [options]\n"
    "\n"
    "A network latency measurement tool: round trip, clock offset and\n"
    "one-way delays, against its own timestamping reflector.\n"
    "\n"
    "commands:\n"
    "  ping      measure against a server (no host: a built-in one)\n"
    "  bench     load with many connections: throughput, latency tails\n"
    "  merge     add up bench results from several machines\n"
    "  compare   engines or servers side by side, as a report\n"
    "  probe     probe many targets all the time, serve Prometheus metrics\n"
    "  client    the tutorial's interactive client, with measurements\n"
    "  server    run the timestamping reflector\n"
    "\n"
    "Each command has --help.\n"
    "\n"
    "  -h, --help       this help\n"
    "  -V, --version    print the version\n";

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "ping", ts_cmd_ping },       { "bench", ts_cmd_bench },   { "merge", ts_cmd_merge },
	{ "client", ts_cmd_client },   { "server", ts_cmd_server }, { "probe", ts_cmd_probe },
	{ "compare", ts_cmd_compare },
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
		printf("tsecho %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "tsecho: unknown command '%s' (tsecho --help)\n", argv[1]);
	return 2;
}
