/* `tsecho server`: the command line. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <tsecho/clock.h>
#include <tsecho/evloop.h>
#include <tsecho/net.h>
#include <tsecho/parse.h>
#include <tsecho/sig.h>
#include <tsecho/proto.h>
#include "server.h"

/* Descriptors kept back from --max-clients: stdio, the event loop, the
 * wake-up pipe, the listeners and the EMFILE reserve. */
#define FD_RESERVE 80

static const char usage[] =
    "usage: tsecho server [-l ADDR]... [-p PORT] [options]\n"
    "\n"
    "A timestamping reflector: answers the text protocol of the Python\n"
    "tutorial tsecho grew from and tsecho's binary probes on the same TCP and\n"
    "UDP port (docs/protocol.md).\n"
    "\n"
    "  -l, --listen ADDR        listen on ADDR (repeatable; default [::], IPv4 too)\n"
    "  -p, --port PORT          TCP and UDP port (default 12345; 0 picks a free one)\n"
    "      --no-tcp, --no-udp   leave one transport out\n"
    "      --max-clients N      concurrent TCP connections (default: from RLIMIT_NOFILE)\n"
    "      --max-clients-per-source N\n"
    "                           of them from one address (default: a quarter of them)\n"
    "      --max-message SIZE   largest frame or text message (default 64k, 48..1m)\n"
    "      --max-output SIZE    unsent replies per connection before it is no longer\n"
    "                           read from (default 256k)\n"
    "      --idle-timeout DUR   close connections that make no progress (no message\n"
    "                           answered, no reply read) this long (default 300s; 0 never)\n"
    "      --message-timeout DUR\n"
    "                           close connections whose message, once begun, is not\n"
    "                           complete within DUR (default 10s; 0 never)\n"
    "      --udp-rate N         UDP replies a second per source address on the main\n"
    "                           and echo ports (default 10000; 0: no limit)\n"
    "      --udp-budget N       UDP replies a second in all, every port and source\n"
    "                           (default 100000; 0: no limit)\n"
    "  -q, --quiet              log only the engine and listening lines and the summary\n"
    "      --log-format FMT     text (default) or json\n"
    "      --stamp[=PORT]       also a STAMP reflector, RFC 8762 (UDP, default 862)\n"
    "      --stamp-stateful     per-session sequence numbers (forward/backward loss)\n"
    "      --stamp-rate N       STAMP packets a second per source (1000; 0: no limit)\n"
    "      --stamp-batch N      datagrams per recvmmsg/sendmmsg (32; 1: no batching)\n"
    "      --echo[=PORT]        also RFC 862 echo, TCP and UDP (default 7)\n"
    "      --metrics ADDR:PORT  Prometheus metrics at http://ADDR:PORT/metrics\n"
    "      --engine NAME        io_uring (the default where built; falls back to epoll\n"
    "                           when the kernel refuses it), epoll, poll, or select\n"
    "                           (the tutorial's baseline: FD_SETSIZE descriptors)\n"
    "      --uring-buffers N    io_uring: provided receive buffers, a power of two\n"
    "                           (default 1024)\n"
    "      --uring-buffer-size SIZE\n"
    "                           io_uring: bytes each (default 8k, 64..1m)\n"
    "      --busy-poll[=DUR]    io_uring: after the last completion poll the ring this\n"
    "                           long before sleeping (default 50us; off without it)\n"
    "      --zerocopy MODE      io_uring: send probe replies with SEND_ZC: auto (the\n"
    "                           default: replies of 16k or more to other hosts), on,\n"
    "                           or off\n"
    "      --kernel-timestamps[=MODE]\n"
    "                           the kernel's receive and send times for probes that\n"
    "                           ask (SO_TIMESTAMPING; ping --kernel-timestamps): auto\n"
    "                           (the default: from a flow's first probe that asks),\n"
    "                           on (from the start; alone: on), or off\n"
    "      --threads N          N reactors, each with its own ring or loop and its own\n"
    "                           SO_REUSEPORT sockets on the main port (default 1, at\n"
    "                           most 64); the limits are shared out among them\n"
    "  -h, --help               this help\n"
    "\n"
    "SIZE takes k and m suffixes; DUR takes ns, us, ms, s, m, h (default s).\n"
    "Each listener prints 'listening on tcp|udp|stamp|echo-tcp|echo-udp|metrics\n"
    "ADDR:PORT' when ready.\n"
    "SIGINT or SIGTERM stop the server, which then prints a summary line.\n";

enum {
	OPT_NO_TCP = 256,
	OPT_NO_UDP,
	OPT_MAX_CLIENTS,
	OPT_MAX_PER_SOURCE,
	OPT_MAX_MESSAGE,
	OPT_MAX_OUTPUT,
	OPT_IDLE_TIMEOUT,
	OPT_MESSAGE_TIMEOUT,
	OPT_UDP_RATE,
	OPT_UDP_BUDGET,
	OPT_LOG_FORMAT,
	OPT_STAMP,
	OPT_STAMP_STATEFUL,
	OPT_STAMP_RATE,
	OPT_STAMP_BATCH,
	OPT_ECHO,
	OPT_METRICS,
	OPT_ENGINE,
	OPT_URING_BUFFERS,
	OPT_URING_BUFFER_SIZE,
	OPT_BUSY_POLL,
	OPT_THREADS,
	OPT_ZEROCOPY,
	OPT_KERNEL_TIMESTAMPS,
};

static const struct option options[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "port", required_argument, NULL, 'p' },
	{ "no-tcp", no_argument, NULL, OPT_NO_TCP },
	{ "no-udp", no_argument, NULL, OPT_NO_UDP },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "max-clients-per-source", required_argument, NULL, OPT_MAX_PER_SOURCE },
	{ "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
	{ "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "message-timeout", required_argument, NULL, OPT_MESSAGE_TIMEOUT },
	{ "udp-rate", required_argument, NULL, OPT_UDP_RATE },
	{ "udp-budget", required_argument, NULL, OPT_UDP_BUDGET },
	{ "quiet", no_argument, NULL, 'q' },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "stamp", optional_argument, NULL, OPT_STAMP },
	{ "stamp-stateful", no_argument, NULL, OPT_STAMP_STATEFUL },
	{ "stamp-rate", required_argument, NULL, OPT_STAMP_RATE },
	{ "stamp-batch", required_argument, NULL, OPT_STAMP_BATCH },
	{ "echo", optional_argument, NULL, OPT_ECHO },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "uring-buffers", required_argument, NULL, OPT_URING_BUFFERS },
	{ "uring-buffer-size", required_argument, NULL, OPT_URING_BUFFER_SIZE },
	{ "busy-poll", optional_argument, NULL, OPT_BUSY_POLL },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "zerocopy", required_argument, NULL, OPT_ZEROCOPY },
	{ "kernel-timestamps", optional_argument, NULL, OPT_KERNEL_TIMESTAMPS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int bad_value(const char *opt, const char *value, const char *want)
{
	fprintf(stderr, "tsecho server: invalid %s '%s': %s\n", opt, value, want);
	return 2;
}

/* ADDR:PORT as --metrics takes it (whether it resolves is seen at start). */
static bool metrics_addr_ok(const char *arg)
{
	char host[256];
	const char *port;
	uint64_t p;

	return ts_net_split_hostport(arg, host, sizeof host, &port) == 0 && port &&
	       ts_parse_u64(port, 0, 65535, &p) == 0;
}

/* The engine's options; -1 to go on, or an exit status. */
static int parse_engine_opt(int opt, const char *arg, struct ts_server_config *cfg)
{
	uint64_t v;

	switch (opt) {
	case OPT_ENGINE:
		if (!ts_server_has_engine(arg))
			return bad_value("--engine", arg,
					 ts_server_has_engine("io_uring")
					     ? "this build has io_uring, epoll, poll and select"
					     : "this build has epoll (on Linux), poll and select");
		cfg->engine = arg;
		break;
	case OPT_URING_BUFFERS:
		if (ts_parse_u64(arg, 1, 32768, &v) != 0 || (v & (v - 1)) != 0)
			return bad_value("--uring-buffers", arg, "want a power of two, 1..32768");
		cfg->uring_buffers = (unsigned)v;
		break;
	case OPT_URING_BUFFER_SIZE:
		if (ts_parse_size(arg, 64, 1u << 20, &v) != 0)
			return bad_value("--uring-buffer-size", arg, "want a size, 64..1m");
		cfg->uring_buffer_size = (size_t)v;
		break;
	case OPT_BUSY_POLL:
		cfg->busy_poll_ns = 50 * TS_NS_PER_US;
		if (arg && ts_parse_duration_ns(arg, 1, TS_NS_PER_S, &cfg->busy_poll_ns) != 0)
			return bad_value("--busy-poll", arg, "want a duration, 1ns..1s");
		break;
	case OPT_KERNEL_TIMESTAMPS:
		if (!arg || strcmp(arg, "on") == 0)
			cfg->kernel_timestamps = TS_KT_ON;
		else if (strcmp(arg, "auto") == 0)
			cfg->kernel_timestamps = TS_KT_AUTO;
		else if (strcmp(arg, "off") == 0)
			cfg->kernel_timestamps = TS_KT_OFF;
		else
			return bad_value("--kernel-timestamps", arg, "want auto, on or off");
		break;
	case OPT_ZEROCOPY:
		if (strcmp(arg, "auto") == 0)
			cfg->zerocopy = TS_ZEROCOPY_AUTO;
		else if (strcmp(arg, "on") == 0)
			cfg->zerocopy = TS_ZEROCOPY_ON;
		else if (strcmp(arg, "off") == 0)
			cfg->zerocopy = TS_ZEROCOPY_OFF;
		else
			return bad_value("--zerocopy", arg, "want auto, on or off");
		break;
	case OPT_THREADS:
		if (ts_parse_u64(arg, 1, TS_SERVER_MAX_THREADS, &v) != 0)
			return bad_value("--threads", arg, "want a whole number, 1..64");
		cfg->threads = (int)v;
		break;
	}
	return -1;
}

/* Fills cfg from argv.  Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct ts_server_config *cfg)
{
	uint64_t v;
	int c, rc;

	optind = 1;
	opterr = 0; /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "l:p:qh", options, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (cfg->n_listen == TS_SERVER_MAX_LISTEN) {
				fprintf(stderr, "tsecho server: at most %d -l options\n",
					TS_SERVER_MAX_LISTEN);
				return 2;
			}
			cfg->listen[cfg->n_listen++] = optarg;
			break;
		case 'p':
			if (ts_parse_u64(optarg, 0, 65535, &v) != 0)
				return bad_value("port", optarg, "want 0..65535");
			cfg->port = (uint16_t)v;
			break;
		case OPT_NO_TCP:
			cfg->tcp = 0;
			break;
		case OPT_NO_UDP:
			cfg->udp = 0;
			break;
		case OPT_MAX_CLIENTS:
			if (ts_parse_u64(optarg, 1, 1u << 24, &cfg->max_clients) != 0)
				return bad_value("--max-clients", optarg, "want 1..16777216");
			break;
		case OPT_MAX_PER_SOURCE:
			if (ts_parse_u64(optarg, 1, 1u << 24, &cfg->max_clients_per_source) != 0)
				return bad_value("--max-clients-per-source", optarg,
						 "want 1..16777216");
			break;
		case OPT_MAX_MESSAGE:
			if (ts_parse_size(optarg, TS_PROTO_HDR_LEN, TS_PROTO_FRAME_MAX,
					  &cfg->max_message) != 0)
				return bad_value("--max-message", optarg, "want 48..1m bytes");
			break;
		case OPT_MAX_OUTPUT:
			if (ts_parse_size(optarg, 1024, 1u << 30, &cfg->max_output) != 0)
				return bad_value("--max-output", optarg, "want 1k..1g bytes");
			break;
		case OPT_IDLE_TIMEOUT:
			if (ts_parse_duration_ns(optarg, 0, 365LL * 86400 * TS_NS_PER_S,
						 &cfg->idle_timeout_ns) != 0)
				return bad_value("--idle-timeout", optarg,
						 "want a duration such as 30s or 500ms");
			break;
		case OPT_MESSAGE_TIMEOUT:
			if (ts_parse_duration_ns(optarg, 0, 365LL * 86400 * TS_NS_PER_S,
						 &cfg->message_timeout_ns) != 0)
				return bad_value("--message-timeout", optarg,
						 "want a duration such as 10s or 500ms");
			break;
		case OPT_UDP_RATE:
		case OPT_UDP_BUDGET:
			if (ts_parse_u64(optarg, 0, 100000000, &v) != 0)
				return bad_value(c == OPT_UDP_RATE ? "--udp-rate" : "--udp-budget",
						 optarg, "want replies a second, 0 for no limit");
			if (c == OPT_UDP_RATE)
				cfg->udp_rate_per_s = (double)v;
			else
				cfg->udp_budget_per_s = (double)v;
			break;
		case 'q':
			cfg->quiet = 1;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0)
				cfg->log_format = TS_LOG_TEXT;
			else if (strcmp(optarg, "json") == 0)
				cfg->log_format = TS_LOG_JSON;
			else
				return bad_value("--log-format", optarg, "want text or json");
			break;
		case OPT_STAMP:
			cfg->stamp = 1;
			if (optarg && ts_parse_u64(optarg, 0, 65535, &v) != 0)
				return bad_value("--stamp port", optarg, "want 0..65535");
			if (optarg)
				cfg->stamp_port = (uint16_t)v;
			break;
		case OPT_STAMP_STATEFUL:
			cfg->stamp_stateful = 1;
			break;
		case OPT_STAMP_RATE:
			if (ts_parse_u64(optarg, 0, 100000000, &v) != 0)
				return bad_value(
				    "--stamp-rate", optarg,
				    "want packets a second per source, 0 for no limit");
			cfg->stamp_rate_per_s = (double)v;
			break;
		case OPT_STAMP_BATCH:
			if (ts_parse_u64(optarg, 1, 64, &v) != 0)
				return bad_value("--stamp-batch", optarg, "want 1..64");
			cfg->stamp_batch = (int)v;
			break;
		case OPT_ECHO:
			cfg->echo = 1;
			if (optarg && ts_parse_u64(optarg, 0, 65535, &v) != 0)
				return bad_value("--echo port", optarg, "want 0..65535");
			if (optarg)
				cfg->echo_port = (uint16_t)v;
			break;
		case OPT_METRICS:
			if (!metrics_addr_ok(optarg))
				return bad_value("--metrics", optarg, "want ADDR:PORT");
			cfg->metrics_addr = optarg;
			break;
		case OPT_ENGINE:
		case OPT_URING_BUFFERS:
		case OPT_URING_BUFFER_SIZE:
		case OPT_BUSY_POLL:
		case OPT_THREADS:
		case OPT_ZEROCOPY:
		case OPT_KERNEL_TIMESTAMPS:
			if ((rc = parse_engine_opt(c, optarg, cfg)) >= 0)
				return rc;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr,
				"tsecho server: bad option or missing value: %s (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tsecho server: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cfg->busy_poll_ns > 0 && cfg->engine && strcmp(cfg->engine, "io_uring") != 0) {
		fprintf(stderr, "tsecho server: --busy-poll needs the io_uring engine\n");
		return 2;
	}
	if (!cfg->tcp && !cfg->udp) {
		fprintf(stderr, "tsecho server: --no-tcp and --no-udp leave nothing to serve\n");
		return 2;
	}
	return -1;
}

/* The servers the signal handlers stop; a signal that comes before they
 * exist is remembered. */
static struct ts_reactors *volatile running;
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (running)
		ts_reactors_stop(running);
}

int ts_cmd_server(int argc, char **argv)
{
	struct ts_server_config cfg = {
		.port = TS_SERVER_DEFAULT_PORT,
		.tcp = 1,
		.udp = 1,
		.max_message = 64 * 1024,
		.max_output = 256 * 1024,
		.idle_timeout_ns = 300 * TS_NS_PER_S,
		.message_timeout_ns = 10 * TS_NS_PER_S,
		.udp_rate_per_s = 10000,
		.udp_budget_per_s = 100000,
		.log_format = TS_LOG_TEXT,
		.stamp_port = 862,
		.stamp_rate_per_s = 1000,
		.stamp_batch = 32,
		.echo_port = 7,
	};
	int nofile;
	int rc = parse_args(argc, argv, &cfg);

	if (rc >= 0)
		return rc;
	nofile = ts_raise_nofile();
	if (cfg.max_clients == 0)
		cfg.max_clients = nofile > 2 * FD_RESERVE ? nofile - FD_RESERVE : nofile / 2;
	/* One address may hold a quarter of the slots: the rest stay open to
	 * everyone else, however that one behaves. */
	if (cfg.max_clients_per_source == 0)
		cfg.max_clients_per_source = cfg.max_clients >= 4 ? cfg.max_clients / 4 : 1;
	/* The output buffer stops answering at max_output; it must hold at
	 * least one largest reply for the loop to make progress. */
	if (cfg.max_output < cfg.max_message)
		cfg.max_output = cfg.max_message;
	if (ts_signals_install(on_stop_signal) != 0) {
		fprintf(stderr, "tsecho server: cannot set up signals: %s\n", strerror(errno));
		return 1;
	}
	running = ts_reactors_start(&cfg, (int)nofile, stdout);
	if (!running)
		return 1;
	if (stop_requested)
		ts_reactors_stop(running);
	rc = ts_reactors_run(running);
	ts_reactors_free(running, rc == 0);
	running = NULL;
	return rc == 0 ? 0 : 1;
}
