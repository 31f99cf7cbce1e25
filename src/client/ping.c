/* `tsecho ping`: probes at an interval, one line a reply, a summary at the
 * end or on Ctrl+C (docs/ping.md).  The schedule and the waiting are here;
 * what a probe is belongs to the mode (pinger.h). */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include <tsecho/parse.h>
#include <tsecho/sig.h>
#include <tsecho/proto.h>
#include <tsecho/stamp.h>
#include "builtin.h"
#include "commands.h"
#include "pinger.h"
#include "report.h"

#define UDP_SIZE_MAX 65507u

static const char usage[] =
    "usage: tsecho ping [HOST[:PORT]] [-p PORT] [options]\n"
    "\n"
    "Round trip, clock offset and one-way delays against a tsecho server\n"
    "(or the Python tutorial's server tsecho grew from, which it notices by\n"
    "itself); with no HOST, against a built-in server on 127.0.0.1.\n"
    "docs/ping.md says what each number means.\n"
    "\n"
    "  -c, --count N         stop after N probes (default: until Ctrl+C)\n"
    "  -i, --interval DUR    between probes (default 1s; 0: ping-pong)\n"
    "  -s, --size BYTES      probe size on the wire (default 64)\n"
    "  -W, --timeout DUR     wait for each reply, and to connect (default 2s)\n"
    "  -w, --deadline DUR    stop this long after the first probe, however many\n"
    "                        were sent or answered (as ping(8) -w)\n"
    "  -I, --source ADDR     send from local address ADDR, or interface ADDR\n"
    "  -Q, --tos TOS         IP TOS / traffic class byte, 0..255 (DSCP is TOS/4)\n"
    "  -t, --ttl TTL         IP TTL / hop limit, 1..255\n"
    "  -p, --port PORT       the server's port (default 12345; STAMP 862), as\n"
    "                        HOST:PORT gives it; an IPv6 address with a port\n"
    "                        is written [ADDR]:PORT\n"
    "  -4, -6                IPv4 or IPv6 only\n"
    "      --tcp, --udp      transport (default tcp)\n"
    "      --text            the tutorial's text protocol, without asking (TCP)\n"
    "      --connect         TCP handshake time to any HOST:PORT\n"
    "      --echo            against an RFC 862 echo service: RTT only\n"
    "      --stamp           STAMP (RFC 8762) to any STAMP or TWAMP-Light reflector\n"
    "      --synced          trust both clocks: raw one-way delays\n"
    "      --busy-poll[=DUR] ping-pong: spin on the socket for the reply for DUR\n"
    "                        (default 50us) before sleeping; the built-in server\n"
    "                        busy-polls its ring too\n"
    "      --kernel-timestamps\n"
    "                        split each round trip into its parts with the kernel's\n"
    "                        send and receive times (SO_TIMESTAMPING), both ends'\n"
    "                        with a tsecho server (from its first probe that\n"
    "                        asks, by default); probes are 84 bytes at least (the\n"
    "                        default then)\n"
    "  -q, --quiet           only the summary\n"
    "      --json            the summary as JSON (docs/ping.md)\n"
    "      --samples         with --json: every probe's timestamps\n"
    "      --report FILE     also an HTML page with charts (docs/ping.md)\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0 when replies came, 1 when none did, 2 on errors.\n";

enum {
	OPT_TCP = 256,
	OPT_UDP,
	OPT_TEXT,
	OPT_CONNECT,
	OPT_ECHO,
	OPT_SYNCED,
	OPT_JSON,
	OPT_SAMPLES,
	OPT_STAMP,
	OPT_REPORT,
	OPT_BUSY_POLL,
	OPT_KERNEL_TIMESTAMPS,
};

static const struct option options[] = {
	{ "count", required_argument, NULL, 'c' },
	{ "interval", required_argument, NULL, 'i' },
	{ "size", required_argument, NULL, 's' },
	{ "timeout", required_argument, NULL, 'W' },
	{ "port", required_argument, NULL, 'p' },
	{ "deadline", required_argument, NULL, 'w' },
	{ "source", required_argument, NULL, 'I' },
	{ "tos", required_argument, NULL, 'Q' },
	{ "ttl", required_argument, NULL, 't' },
	{ "tcp", no_argument, NULL, OPT_TCP },
	{ "udp", no_argument, NULL, OPT_UDP },
	{ "text", no_argument, NULL, OPT_TEXT },
	{ "connect", no_argument, NULL, OPT_CONNECT },
	{ "echo", no_argument, NULL, OPT_ECHO },
	{ "synced", no_argument, NULL, OPT_SYNCED },
	{ "quiet", no_argument, NULL, 'q' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "samples", no_argument, NULL, OPT_SAMPLES },
	{ "stamp", no_argument, NULL, OPT_STAMP },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "busy-poll", optional_argument, NULL, OPT_BUSY_POLL },
	{ "kernel-timestamps", no_argument, NULL, OPT_KERNEL_TIMESTAMPS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static atomic_int stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int bad_value(const char *opt, const char *value, const char *want)
{
	fprintf(stderr, "tsecho ping: invalid %s '%s': %s\n", opt, value, want);
	return 2;
}

/* What the command line says beyond opt: where, and which options were
 * given at all (for the checks of what goes together). */
struct ping_cli {
	const char *host; /* NULL: the built-in server */
	int family;
	uint16_t port;      /* -p; 0: none */
	const char *source; /* -I */
	int has_tos, has_ttl;
	uint8_t tos, ttl;
	int tcp_given;
	int size_given;
};

/* Fills opt and cli from argv.  Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct ts_ping_opts *opt, struct ping_cli *cli)
{
	uint64_t v;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:i:s:W:p:w:I:Q:t:46qh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (ts_parse_u64(optarg, 1, UINT64_MAX / 2, &opt->count) != 0)
				return bad_value("count", optarg, "want a whole number >= 1");
			break;
		case 'i':
			if (ts_parse_duration_ns(optarg, 0, 3600 * TS_NS_PER_S,
						 &opt->interval_ns) != 0)
				return bad_value("interval", optarg,
						 "want 0..1h, e.g. 0.2 or 10ms");
			break;
		case 's':
			if (ts_parse_size(optarg, 1, TS_PROTO_FRAME_MAX, &v) != 0)
				return bad_value("size", optarg, "want 1..1m bytes");
			opt->size = v;
			cli->size_given = 1;
			break;
		case 'p':
			if (ts_parse_u64(optarg, 1, 65535, &v) != 0)
				return bad_value("port", optarg, "want 1..65535");
			cli->port = (uint16_t)v;
			break;
		case 'w':
			if (ts_parse_duration_ns(optarg, TS_NS_PER_MS, 365LL * 86400 * TS_NS_PER_S,
						 &opt->deadline_ns) != 0)
				return bad_value("deadline", optarg,
						 "want a duration such as 10 or 500ms");
			break;
		case 'I':
			cli->source = optarg;
			break;
		case 'Q': {
			/* Decimal or 0x hex, as ping(8) takes it. */
			char *end;
			unsigned long tos;
			errno = 0;
			tos = strtoul(optarg, &end, 0);
			if (errno || end == optarg || *end || tos > 255 || optarg[0] == '-')
				return bad_value("tos", optarg, "want 0..255 (0x.. for hex)");
			cli->tos = (uint8_t)tos;
			cli->has_tos = 1;
			break;
		}
		case 't':
			if (ts_parse_u64(optarg, 1, 255, &v) != 0)
				return bad_value("ttl", optarg, "want 1..255");
			cli->ttl = (uint8_t)v;
			cli->has_ttl = 1;
			break;
		case 'W':
			if (ts_parse_duration_ns(optarg, TS_NS_PER_MS, 3600 * TS_NS_PER_S,
						 &opt->timeout_ns) != 0)
				return bad_value("timeout", optarg, "want 1ms..1h");
			break;
		case '4':
			cli->family = AF_INET;
			break;
		case '6':
			cli->family = AF_INET6;
			break;
		case OPT_TCP:
			opt->udp = 0;
			cli->tcp_given = 1;
			break;
		case OPT_UDP:
			opt->udp = 1;
			break;
		case OPT_TEXT:
			opt->text = 1;
			break;
		case OPT_CONNECT:
			opt->connect_mode = 1;
			break;
		case OPT_ECHO:
			opt->echo = 1;
			break;
		case OPT_SYNCED:
			opt->synced = 1;
			break;
		case 'q':
			opt->quiet = 1;
			break;
		case OPT_JSON:
			opt->json = 1;
			break;
		case OPT_SAMPLES:
			opt->samples = 1;
			break;
		case OPT_STAMP:
			opt->stamp = 1;
			opt->udp = 1;
			break;
		case OPT_REPORT:
			opt->report_path = optarg;
			break;
		case OPT_BUSY_POLL:
			opt->busy_poll_ns = 50 * TS_NS_PER_US;
			if (optarg &&
			    ts_parse_duration_ns(optarg, 1, TS_NS_PER_S, &opt->busy_poll_ns) != 0)
				return bad_value("--busy-poll", optarg, "want a duration, 1ns..1s");
			break;
		case OPT_KERNEL_TIMESTAMPS:
			opt->kernel_timestamps = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr,
				"tsecho ping: bad option or missing value: %s (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "tsecho ping: one HOST[:PORT] at most, got '%s' too\n",
			argv[optind + 1]);
		return 2;
	}
	cli->host = optind < argc ? argv[optind] : NULL;
	return -1;
}

/* Checks the combination of options; returns -1 to go on or 2. */
static int check_opts(const struct ts_ping_opts *opt, const struct ping_cli *cli)
{
	if (opt->connect_mode + opt->echo + opt->text + opt->stamp > 1) {
		fprintf(stderr,
			"tsecho ping: --connect, --echo, --stamp and --text exclude each other\n");
		return 2;
	}
	if (opt->stamp && cli->tcp_given) {
		fprintf(stderr, "tsecho ping: --stamp is UDP only (RFC 8762): not with --tcp\n");
		return 2;
	}
	if (opt->synced && (opt->connect_mode || opt->echo)) {
		fprintf(stderr,
			"tsecho ping: --synced needs the server's timestamps: not with %s\n",
			opt->connect_mode ? "--connect" : "--echo");
		return 2;
	}
	if (opt->connect_mode && cli->size_given) {
		fprintf(stderr, "tsecho ping: --connect sends no probes: -s has no meaning\n");
		return 2;
	}
	if (cli->port && !cli->host) {
		fprintf(stderr, "tsecho ping: -p needs a HOST (without one, the built-in "
				"server picks its port)\n");
		return 2;
	}
	if (opt->stamp && opt->size < TS_STAMP_BASE_LEN) {
		fprintf(stderr, "tsecho ping: a STAMP packet is at least %u bytes (-s)\n",
			TS_STAMP_BASE_LEN);
		return 2;
	}
	if ((opt->connect_mode || opt->text) && opt->udp) {
		fprintf(stderr, "tsecho ping: %s is TCP only\n",
			opt->connect_mode ? "--connect" : "--text");
		return 2;
	}
	if (!opt->echo && !opt->text && !opt->connect_mode && !opt->stamp &&
	    opt->size < TS_PROTO_HDR_LEN) {
		fprintf(stderr, "tsecho ping: a probe is at least %u bytes (-s)\n",
			TS_PROTO_HDR_LEN);
		return 2;
	}
	if (opt->udp && opt->size > UDP_SIZE_MAX) {
		fprintf(stderr, "tsecho ping: a UDP probe is at most %u bytes (-s)\n",
			UDP_SIZE_MAX);
		return 2;
	}
	if (opt->kernel_timestamps && (opt->echo || opt->text || opt->connect_mode || opt->stamp)) {
		fprintf(stderr, "tsecho ping: --kernel-timestamps needs tsecho's binary protocol: "
				"not with --connect, --echo, --stamp or --text\n");
		return 2;
	}
	if (opt->kernel_timestamps && opt->size < TS_PROTO_KTS_HDR_LEN) {
		fprintf(stderr,
			"tsecho ping: a probe that asks for kernel timestamps is at least "
			"%u bytes (-s)\n",
			TS_PROTO_KTS_HDR_LEN);
		return 2;
	}
	if (opt->samples && !opt->json) {
		fprintf(stderr, "tsecho ping: --samples goes with --json\n");
		return 2;
	}
	return -1;
}

/* For ping-pong: a blocking socket whose reads and writes give up after
 * a short while (the schedule's own deadlines are checked in between). */
static int make_blocking(struct ts_pinger *p)
{
	int64_t wait_ns =
	    p->opt->timeout_ns < 200 * TS_NS_PER_MS ? p->opt->timeout_ns : 200 * TS_NS_PER_MS;
	struct timeval tv = {
		.tv_sec = (time_t)(wait_ns / TS_NS_PER_S),
		.tv_usec = (suseconds_t)(wait_ns % TS_NS_PER_S / TS_NS_PER_US),
	};
	int flags = fcntl(p->fd, F_GETFL);

	if (flags < 0 || fcntl(p->fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
	    setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
	    setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
		snprintf(p->error, sizeof p->error, "socket options: %s", strerror(errno));
		return -1;
	}
	p->blocking = 1;
	return 0;
}

static void fill_report(const struct ts_pinger *p, int64_t duration_ns, struct ts_ping_report *out)
{
	const struct ts_ping_opts *opt = p->opt;
	struct ts_ping_report r;
	int full = p->mode == &ts_mode_probe || p->mode == &ts_mode_stamp;

	memset(&r, 0, sizeof r);
	r.mode = p->mode->name;
	r.transport = opt->udp ? "udp" : "tcp";
	r.target = p->target.addr_text[0] ? p->target.addr_text : p->target.host;
	r.size = opt->size;
	r.interval_ns = opt->interval_ns;
	r.synced = opt->synced;
	r.duration_ns = duration_ns;
	ts_report_from_session(&r, &p->sess, full || p->mode == &ts_mode_text, full);
	/* STAMP's T2 is the reflector's kernel receive timestamp. */
	r.residence_from_kernel = p->mode == &ts_mode_stamp;
	if (p->mode == &ts_mode_stamp && p->stamp_stateful) {
		/* A stateful reflector counted what reached it: what it
		 * counted and we did not see was lost on the way back
		 * (RFC 8762 4). */
		uint64_t lost = p->sess.sent - p->sess.received;
		uint64_t back = p->stamp_reflected > p->sess.received
				    ? p->stamp_reflected - p->sess.received
				    : 0;
		r.have_loss_split = 1;
		r.lost_backward = back < lost ? back : lost;
		r.lost_forward = lost - r.lost_backward;
	}
	r.kt = p->mode == &ts_mode_probe ? p->kt : NULL;
	r.with_samples = opt->samples;
	r.samples = p->samples;
	r.n_samples = p->n_samples;
	*out = r;
}

static void print_report(const struct ts_pinger *p, int64_t duration_ns)
{
	const struct ts_ping_opts *opt = p->opt;
	struct ts_ping_report r;

	fill_report(p, duration_ns, &r);
	if (opt->json) {
		ts_report_print_json(stdout, &r, PACKAGE_VERSION);
	} else {
		if (!opt->quiet)
			putchar('\n');
		ts_report_print_text(stdout, &r);
	}
	fflush(stdout);
}

/* --report: the page, whatever the run came to (Ctrl+C, no reply, no
 * connection); returns rc, or 2 when the file could not be written. */
static int write_html(const struct ts_pinger *p, int64_t duration_ns, FILE *f, int argc,
		      char **argv, int rc)
{
	struct ts_ping_report r;

	fill_report(p, duration_ns, &r);
	if (ts_report_html_close(
		f, ts_report_write_html(f, &r, p, rc == 2 ? p->error : NULL, argc, argv), "ping",
		p->opt->report_path) != 0)
		return 2;
	return rc;
}

static int ping_target(struct ts_pinger *p, int64_t *duration_ns)
{
	const struct ts_ping_opts *opt = p->opt;
	int64_t start_raw_ns;
	int rc;

	if (p->mode->start(p) != 0) {
		fprintf(stderr, "tsecho ping: %s\n", p->error);
		return 2;
	}
	if (opt->interval_ns == 0 && p->mode != &ts_mode_connect && make_blocking(p) != 0) {
		fprintf(stderr, "tsecho ping: %s\n", p->error);
		return 2;
	}
	if (!opt->quiet && !opt->json)
		printf("TSECHO PING %s (%s, %s): %" PRIu64 " bytes\n", p->target.addr_text,
		       opt->udp ? "udp" : "tcp", p->mode->name, opt->size);
	start_raw_ns = ts_raw_ns();
	rc = ts_pinger_run(p, &stop_requested);
	if (rc != 0)
		fprintf(stderr, "tsecho ping: %s: %s\n", p->target.addr_text, p->error);
	ts_probe_kt_finish(p);
	*duration_ns = ts_raw_ns() - start_raw_ns;
	print_report(p, *duration_ns);
	if (p->mismatched > 0) {
		snprintf(p->error, sizeof p->error, "%" PRIu64 " answers were not the bytes sent",
			 p->mismatched);
		fprintf(stderr,
			"tsecho ping: %s: %s: not an RFC 862 echo service (a tsecho server's main "
			"port timestamps its replies: ping it without --echo)\n",
			p->target.addr_text, p->error);
	}
	if (p->sess.received > 0)
		return 0;
	return rc != 0 || p->mismatched > 0 ? 2 : 1;
}

/* Settles opt's defaults and checks them, sets up signals, and fills
 * target from host (NULL: filled later by use_builtin).  Returns -1 to go
 * on, or an exit status. */
static int prepare(struct ts_ping_opts *opt, const struct ping_cli *cli, struct ts_target *target)
{
	uint16_t port = cli->port ? cli->port : opt->stamp ? TS_STAMP_DEFAULT_PORT : 12345;
	const char *host = cli->host;
	int rc;

	if (opt->size == 0)
		opt->size = opt->stamp               ? TS_STAMP_BASE_LEN
			    : opt->kernel_timestamps ? TS_PROTO_KTS_HDR_LEN
						     : 64;
	if ((rc = check_opts(opt, cli)) >= 0)
		return rc;
	memset(target, 0, sizeof *target);
	target->family = cli->family;
	target->source = cli->source;
	target->has_tos = cli->has_tos;
	target->tos = cli->tos;
	target->has_ttl = cli->has_ttl;
	target->ttl = cli->ttl;
	target->socktype = opt->udp ? SOCK_DGRAM : SOCK_STREAM;
	if (ts_signals_install(on_stop) != 0) {
		fprintf(stderr, "tsecho ping: cannot set up signals: %s\n", strerror(errno));
		return 2;
	}
	if (host && ts_target_parse(target, host, port) != TS_TARGET_OK) {
		fprintf(stderr, "tsecho ping: bad HOST[:PORT] '%s'\n", host);
		return 2;
	}
	if (host && ts_target_port_differs(target, cli->port)) {
		fprintf(stderr, "tsecho ping: '%s' names port %s and -p says %u: which one?\n",
			host, target->port, (unsigned)cli->port);
		return 2;
	}
	return -1;
}

/* No host: the README's first command measures the machine itself,
 * against a built-in server, 10 probes 100 ms apart unless told
 * otherwise.  0, or -1 (the reason is on stderr). */
static int use_builtin(struct ts_ping_opts *opt, struct ts_target *target,
		       struct ts_builtin *builtin)
{
	if (ts_builtin_start(builtin, opt->busy_poll_ns, opt->kernel_timestamps) != 0)
		return -1;
	ts_target_parse(target, "127.0.0.1", (uint16_t)builtin->port);
	if (opt->count == 0)
		opt->count = 10;
	if (opt->interval_ns < 0)
		opt->interval_ns = 100 * TS_NS_PER_MS;
	if (!opt->quiet && !opt->json)
		printf("no host given: measuring against a built-in server on 127.0.0.1:%d\n",
		       builtin->port);
	return 0;
}

static const struct ts_mode *mode_for(const struct ts_ping_opts *opt)
{
	return opt->stamp          ? &ts_mode_stamp
	       : opt->connect_mode ? &ts_mode_connect
	       : opt->echo         ? &ts_mode_echo
	       : opt->text         ? &ts_mode_text
				   : &ts_mode_probe;
}

int ts_cmd_ping(int argc, char **argv)
{
	struct ts_ping_opts opt = {
		.interval_ns = -1, /* until we know whether there is a host */
		.size = 0,         /* 64, or the STAMP base packet's 44 */
		.timeout_ns = 2 * TS_NS_PER_S,
	};
	struct ts_pinger p;
	struct ts_target target;
	struct ts_builtin builtin = { 0 };
	struct ping_cli cli = { .family = AF_UNSPEC };
	const char *host;
	FILE *report = NULL;
	int64_t duration_ns = 0;
	int rc = parse_args(argc, argv, &opt, &cli);

	if (rc >= 0 || (rc = prepare(&opt, &cli, &target)) >= 0)
		return rc;
	host = cli.host;
	/* Opened before anything is measured: a path that cannot be
	 * written costs nothing. */
	if (opt.report_path && !(report = ts_report_html_open("ping", opt.report_path)))
		return 2;
	if (!host && use_builtin(&opt, &target, &builtin) != 0) {
		if (report)
			fclose(report);
		return 2;
	}
	if (opt.interval_ns < 0)
		opt.interval_ns = TS_NS_PER_S;
	if (ts_pinger_init(&p, &opt, mode_for(&opt)) != 0) {
		fprintf(stderr, "tsecho ping: out of memory\n");
		rc = 2;
	} else {
		p.target = target;
		/* Lines go out as they happen, even into a pipe. */
		setvbuf(stdout, NULL, _IOLBF, 0);
		rc = ping_target(&p, &duration_ns);
		if (report)
			rc = write_html(&p, duration_ns, report, argc, argv, rc);
		report = NULL;
	}
	if (report)
		fclose(report);
	ts_pinger_fini(&p);
	ts_builtin_stop(&builtin);
	return rc;
}
