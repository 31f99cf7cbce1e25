/* The protocol core every engine shares (src/server/conn.c), driven through
 * a fake engine that records what it is asked to send: reassembly of
 * frames however the input is split, text framing, the answers made in
 * place, the output cap, and which engines a build has. */
#include "config.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tsecho/clock.h>
#include <tsecho/proto.h>
#include "../../src/server/conn.h"

static struct ts_buf sent; /* everything the fake engine was given */
static int closes;

static int fake_send(struct conn *c, const uint8_t *p, size_t n)
{
	(void)c;
	return ts_buf_append(&sent, p, n, SIZE_MAX);
}

static void fake_close(struct conn *c, const char *reason)
{
	(void)reason;
	closes++;
	ts_conn_detach(c, reason);
	close(c->fd);
	ts_conn_free(c);
}

static void fake_listen(struct ts_server *srv, int on)
{
	(void)srv;
	(void)on;
}

static const struct ts_tcp_engine fake = { fake_send, fake_close, fake_listen, NULL };

static struct ts_server_config cfg;
static struct ts_server srv;
static int peer_fd = -1; /* the other end, open while the test runs */

static struct conn *setup(enum listener_role role, uint64_t max_output)
{
	struct sockaddr_storage peer = { .ss_family = AF_INET };
	int sv[2];
	struct conn *c;

	cfg = (struct ts_server_config){ .max_clients = 8,
					 .max_clients_per_source = 8,
					 .max_message = 4096,
					 .max_output = max_output,
					 .quiet = 1 };
	memset(&srv, 0, sizeof srv);
	srv.cfg = &cfg;
	srv.tcp = &fake;
	srv.rx_cap = 65536;
	srv.in_slack = srv.rx_cap;
	srv.tx_cap = cfg.max_output + cfg.max_message + 64;
	srv.tx = malloc(srv.tx_cap);
	ts_server_stats_init(&srv.stats, 0);
	ts_log_init(&srv.log, fopen("/dev/null", "w"), TS_LOG_TEXT, 1);
	cr_assert(ts_guard_init(&srv.guard, &cfg, ts_mono_ns()) == 0);
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	peer_fd = sv[1];
	ts_buf_free(&sent);
	closes = 0;
	c = ts_conn_new(&srv, sv[0], &peer, role);
	cr_assert(c != NULL);
	ts_conn_opened(c);
	return c;
}

static void teardown(struct conn *c)
{
	if (c)
		fake_close(c, "end");
	close(peer_fd);
	ts_guard_fini(&srv.guard);
	fclose(srv.log.out);
	free(srv.tx);
	ts_buf_free(&sent);
}

/* A probe of len bytes with sequence number seq. */
static void make_probe(uint8_t *buf, size_t len, uint64_t seq)
{
	struct ts_proto_hdr h = { .version = 1,
				  .type = TS_MSG_PROBE,
				  .hdr_len = TS_PROTO_HDR_LEN,
				  .frame_len = (uint32_t)len,
				  .seq = seq,
				  .t1_wall_ns = 1000 + seq };

	memset(buf, 'x', len);
	ts_proto_encode_hdr(buf, &h);
}

/* Checks that sent holds n replies to probes of len bytes, seq 1..n, in
 * order. */
static void expect_replies(size_t n, size_t len)
{
	cr_assert(eq(sz, sent.len, n * len));
	for (size_t i = 0; i < n; i++) {
		struct ts_proto_hdr h;
		enum ts_decode r =
		    ts_proto_decode(ts_buf_bytes(&sent) + i * len, len, 4096, &h, NULL);
		cr_assert(eq(int, r, TS_DECODE_OK));
		cr_expect(eq(u8, h.type, TS_MSG_REPLY));
		cr_expect(eq(u64, h.seq, i + 1));
		cr_expect(h.t3_wall_ns >= h.t2_wall_ns);
	}
}

enum { N_PROBES = 3, PROBE_LEN = 100 };

/* Three frames in one stream, cut into two reads at every offset: the same
 * three replies, in order, whatever the cut. */
Test(conn, frames_reassembled_at_every_split)
{
	uint8_t stream[N_PROBES * PROBE_LEN];

	for (size_t i = 0; i < N_PROBES; i++)
		make_probe(stream + i * PROBE_LEN, PROBE_LEN, i + 1);
	for (size_t cut = 0; cut <= sizeof stream; cut++) {
		struct conn *c = setup(ROLE_MAIN, 65536);
		int64_t wall = ts_wall_ns(), raw = ts_raw_ns();

		cr_assert(ts_conn_input(c, stream, cut, wall, raw, 0) == 0);
		cr_expect(eq(sz, c->in.len, cut % PROBE_LEN), "after %zu bytes", cut);
		cr_assert(ts_conn_input(c, stream + cut, sizeof stream - cut, wall, raw, 0) == 0);
		cr_expect(eq(sz, c->in.len, 0));
		expect_replies(N_PROBES, PROBE_LEN);
		teardown(c);
	}
}

/* The io_uring engine's hot path: whole probes become replies where they
 * are; a frame begun at the end is left for the copy path. */
Test(conn, answered_in_place_up_to_a_partial_frame)
{
	uint8_t buf[2 * PROBE_LEN + 10], third[PROBE_LEN];
	struct conn *c = setup(ROLE_MAIN, 65536);
	struct ts_proto_hdr h;
	size_t used;

	make_probe(buf, PROBE_LEN, 1);
	make_probe(buf + PROBE_LEN, PROBE_LEN, 2);
	make_probe(third, PROBE_LEN, 3);
	memcpy(buf + 2 * PROBE_LEN, third, 10); /* only its first 10 bytes */
	used = ts_conn_answer_in_place(c, buf, sizeof buf, ts_wall_ns(), ts_raw_ns());
	cr_expect(eq(sz, used, 2 * PROBE_LEN));
	cr_assert(ts_proto_decode(buf + PROBE_LEN, PROBE_LEN, 4096, &h, NULL) == TS_DECODE_OK);
	cr_expect(eq(u8, h.type, TS_MSG_REPLY));
	cr_expect(eq(u64, h.seq, 2));
	cr_expect(eq(sz, sent.len, 0), "in place: nothing copied to the engine");
	teardown(c);
}

Test(conn, text_is_never_answered_in_place)
{
	uint8_t buf[] = "hello\n";
	struct conn *c = setup(ROLE_MAIN, 65536);

	cr_expect(eq(sz, ts_conn_answer_in_place(c, buf, 6, ts_wall_ns(), ts_raw_ns()), 0));
	cr_assert(ts_conn_input(c, buf, 6, ts_wall_ns(), ts_raw_ns(), 0) == 0);
	cr_expect(sent.len > 6, "the text reply carries a timestamp prefix");
	cr_expect(eq(int, c->proto, PROTO_TEXT));
	teardown(c);
}

/* Text framing is "through LF, or the whole read": two reads of one line
 * without LF are two messages, on every engine alike. */
Test(conn, text_framed_per_read)
{
	struct conn *c = setup(ROLE_MAIN, 65536);
	const uint8_t *a = (const uint8_t *)"one\ntwo";

	cr_assert(ts_conn_input(c, a, 7, ts_wall_ns(), ts_raw_ns(), 0) == 0);
	cr_expect(eq(u64, srv.stats.traffic[TS_STAT_TEXT][TS_STAT_TCP].messages, 2));
	teardown(c);
}

/* With the output cap reached (pending counts what an engine has in
 * flight), nothing more is answered: the input waits. */
Test(conn, nothing_answered_at_the_output_cap)
{
	uint8_t buf[PROBE_LEN];
	struct conn *c = setup(ROLE_MAIN, 1024);
	bool want_read;

	make_probe(buf, PROBE_LEN, 1);
	cr_assert(ts_conn_input(c, buf, PROBE_LEN, ts_wall_ns(), ts_raw_ns(), 1024) == 0);
	cr_expect(eq(sz, sent.len, 0));
	cr_expect(eq(sz, c->in.len, PROBE_LEN));
	cr_assert(ts_conn_settle(c, 1024, &want_read));
	cr_expect(want_read == false, "no receive armed at the cap");
	cr_expect(eq(u64, srv.stats.limits[TS_LIMIT_OUTPUT], 1));
	/* Room again: the waiting probe is answered. */
	cr_assert(ts_conn_input(c, NULL, 0, 0, 0, 0) == 0);
	expect_replies(1, PROBE_LEN);
	cr_assert(ts_conn_settle(c, 0, &want_read));
	cr_expect(want_read);
	teardown(c);
}

/* A bad header: one error frame, then nothing more answered; settling with
 * nothing pending shuts the sending side and drains. */
Test(conn, bad_frame_gets_one_error_then_drains)
{
	uint8_t buf[PROBE_LEN];
	struct conn *c = setup(ROLE_MAIN, 65536);
	bool want_read;

	make_probe(buf, PROBE_LEN, 9);
	buf[1] = 99; /* version */
	cr_assert(ts_conn_input(c, buf, PROBE_LEN, ts_wall_ns(), ts_raw_ns(), 0) == 0);
	cr_expect(eq(sz, sent.len, TS_PROTO_HDR_LEN));
	cr_expect(eq(int, c->state, ST_ERROR));
	cr_assert(ts_conn_settle(c, 0, &want_read));
	cr_expect(eq(int, c->state, ST_DRAINING));
	cr_expect(want_read, "drains what the peer still sends");
	teardown(c);
}

Test(conn, engines_of_this_build)
{
	cr_expect(ts_server_has_engine("epoll") || ts_server_has_engine("poll"));
	cr_expect(ts_server_has_engine("select"));
	cr_expect(ts_server_has_engine("kqueue") == 0);
#ifdef HAVE_LIBURING
	cr_expect(ts_server_has_engine("io_uring"));
#else
	cr_expect(ts_server_has_engine("io_uring") == 0);
#endif
}
