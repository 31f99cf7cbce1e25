/* The round trip split by kernel timestamps: the per-part arithmetic,
 * the offset correction, missing stages, the protocol extension that
 * carries the server's times, and the control-data parsers. */
#define _GNU_SOURCE
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#endif

#include <tsecho/breakdown.h>
#include <tsecho/kts.h>
#include <tsecho/proto.h>
#include "unit.h"

/* A probe 100 us long on one clock: 5 + 10 + 20 + 3 + 7 + 15 + 40. */
static struct ts_kts_probe one_clock(void)
{
	struct ts_kts_probe p = {
		.seq = 7,
		.rtt_ns = 100000,
		.t1 = 1000000,
		.client_tx = 1005000,
		.server_rx = 1015000,
		.t2 = 1035000,
		.t3 = 1038000,
		.server_tx = 1045000,
		.client_rx = 1060000,
		.t4 = 1100000,
	};
	return p;
}

Test(breakdown, parts_of_one_clock_add_up)
{
	struct ts_kts_probe p = one_clock();
	struct ts_breakdown b;
	static const int64_t want[TS_PART_COUNT] = { 5000, 10000, 20000, 3000, 7000, 15000, 40000 };

	ts_breakdown_of(&p, 0, &b);
	cr_expect(b.complete);
	for (int i = 0; i < TS_PART_COUNT; i++) {
		cr_expect(b.have[i], "part %d", i);
		cr_expect(eq(i64, b.part_ns[i], want[i]), "part %s", ts_part_name(i));
	}
	cr_expect(eq(i64, b.remainder_ns, 0));
}

Test(breakdown, offset_moves_only_the_network_parts)
{
	/* The same trip with the server's clock 1 ms ahead: its four times
	 * read 1 ms later.  Corrected by the offset, nothing changes. */
	struct ts_kts_probe p = one_clock(), q = p;
	struct ts_breakdown a, b;

	q.server_rx += 1000000;
	q.t2 += 1000000;
	q.t3 += 1000000;
	q.server_tx += 1000000;
	ts_breakdown_of(&p, 0, &a);
	ts_breakdown_of(&q, 1000000.0, &b);
	for (int i = 0; i < TS_PART_COUNT; i++)
		cr_expect(eq(i64, a.part_ns[i], b.part_ns[i]), "part %s", ts_part_name(i));
	/* Uncorrected, the millisecond moves from one direction to the
	 * other, and the sum stays the same. */
	ts_breakdown_of(&q, 0, &b);
	cr_expect(eq(i64, b.part_ns[TS_PART_NET_OUT], 1010000));
	cr_expect(eq(i64, b.part_ns[TS_PART_NET_BACK], -985000));
	cr_expect(eq(i64, b.remainder_ns, 0));
	/* An offset estimate 2 us off shifts 2 us between the two. */
	ts_breakdown_of(&q, 1002000.0, &b);
	cr_expect(eq(i64, b.part_ns[TS_PART_NET_OUT], 8000));
	cr_expect(eq(i64, b.part_ns[TS_PART_NET_BACK], 17000));
}

Test(breakdown, a_missing_time_leaves_its_parts_unavailable)
{
	struct ts_kts_probe p = one_clock();
	struct ts_breakdown b;

	p.server_tx = 0; /* the later reply that carries it never came */
	ts_breakdown_of(&p, 0, &b);
	cr_expect(b.complete == 0);
	cr_expect(b.have[TS_PART_SERVER_SEND] == 0);
	cr_expect(b.have[TS_PART_NET_BACK] == 0);
	cr_expect(eq(i64, b.part_ns[TS_PART_SERVER_SEND], 0));
	for (int i = 0; i < TS_PART_COUNT; i++)
		if (i != TS_PART_SERVER_SEND && i != TS_PART_NET_BACK)
			cr_expect(b.have[i], "part %s", ts_part_name(i));
	/* The remainder holds what is missing: 7 + 15 us. */
	cr_expect(eq(i64, b.remainder_ns, 22000));

	p = one_clock();
	p.client_tx = 0;
	p.client_rx = 0;
	ts_breakdown_of(&p, 0, &b);
	cr_expect(b.have[TS_PART_CLIENT_SEND] == 0 && b.have[TS_PART_NET_OUT] == 0);
	cr_expect(b.have[TS_PART_NET_BACK] == 0 && b.have[TS_PART_CLIENT_WAKE] == 0);
	cr_expect(b.have[TS_PART_SERVER_WAKE] && b.have[TS_PART_SERVER_PROC] &&
		  b.have[TS_PART_SERVER_SEND]);
}

Test(breakdown, remainder_is_the_rtt_less_the_parts)
{
	struct ts_kts_probe p = one_clock();
	struct ts_breakdown b;

	p.rtt_ns = 100120; /* the raw clock saw 120 ns more */
	ts_breakdown_of(&p, 0, &b);
	cr_expect(b.complete);
	cr_expect(eq(i64, b.remainder_ns, 120));
}

Test(breakdown, stats_keep_signs_and_counts)
{
	struct ts_breakdown_stats s;
	struct ts_kts_probe p = one_clock();
	struct ts_breakdown b;

	cr_assert(ts_breakdown_stats_init(&s) == 0);
	ts_breakdown_of(&p, 0, &b);
	ts_breakdown_stats_add(&s, &b);
	p.server_tx = 0;
	p.client_rx = p.t1 + 50000;
	ts_breakdown_of(&p, 1000.0, &b);
	ts_breakdown_stats_add(&s, &b);
	cr_expect(eq(u64, s.probes, 2));
	cr_expect(eq(u64, s.complete, 1));
	cr_expect(eq(u64, s.mm[TS_PART_SERVER_SEND].n, 1));
	cr_expect(eq(u64, s.mm[TS_PART_CLIENT_SEND].n, 2));
	/* network out with the 1 us offset: 10 - 1 = 9 us */
	cr_expect(eq(i64, s.mm[TS_PART_NET_OUT].min, 9000));
	/* client wake-up of the second: t4 - client_rx = 50 us */
	cr_expect(eq(i64, s.mm[TS_PART_CLIENT_WAKE].max, 50000));
	cr_expect(eq(u64, ts_hist_count(s.hist[TS_PART_CLIENT_WAKE]), 2));
	cr_expect(eq(u64, s.remainder.n, 1));
	ts_breakdown_stats_fini(&s);
}

Test(breakdown, merged_stats_are_those_of_every_probe_in_one)
{
	struct ts_breakdown_stats a, b, all, empty;
	struct ts_kts_probe p = one_clock();
	struct ts_breakdown x;

	cr_assert(ts_breakdown_stats_init(&a) == 0 && ts_breakdown_stats_init(&b) == 0);
	cr_assert(ts_breakdown_stats_init(&all) == 0 && ts_breakdown_stats_init(&empty) == 0);
	/* a: the probe as it is; b: one 30 us slower to wake the client, and
	 * one without the server's send time. */
	ts_breakdown_of(&p, 0, &x);
	ts_breakdown_stats_add(&a, &x);
	ts_breakdown_stats_add(&all, &x);
	p.t4 += 30000;
	p.rtt_ns += 30000;
	ts_breakdown_of(&p, 0, &x);
	ts_breakdown_stats_add(&b, &x);
	ts_breakdown_stats_add(&all, &x);
	p.server_tx = 0;
	ts_breakdown_of(&p, 0, &x);
	ts_breakdown_stats_add(&b, &x);
	ts_breakdown_stats_add(&all, &x);
	/* An empty one adds nothing, and takes the other's figures whole. */
	ts_breakdown_stats_merge(&a, &empty);
	ts_breakdown_stats_merge(&empty, &b);
	cr_expect(eq(i64, empty.mm[TS_PART_CLIENT_WAKE].min, 70000));
	cr_expect(eq(u64, empty.probes, 2));
	ts_breakdown_stats_merge(&a, &b);
	cr_expect(eq(u64, a.probes, 3));
	cr_expect(eq(u64, a.complete, 2));
	for (int i = 0; i < TS_PART_COUNT; i++) {
		cr_expect(eq(u64, a.mm[i].n, all.mm[i].n), "part %s", ts_part_name(i));
		cr_expect(eq(i64, a.mm[i].min, all.mm[i].min), "part %s", ts_part_name(i));
		cr_expect(eq(i64, a.mm[i].max, all.mm[i].max), "part %s", ts_part_name(i));
		cr_expect(a.mm[i].sum == all.mm[i].sum, "part %s", ts_part_name(i));
		cr_expect(eq(u64, ts_hist_count(a.hist[i]), ts_hist_count(all.hist[i])));
		cr_expect(eq(i64, ts_hist_percentile(a.hist[i], 50),
			     ts_hist_percentile(all.hist[i], 50)));
	}
	cr_expect(eq(u64, a.mm[TS_PART_SERVER_SEND].n, 2));
	cr_expect(eq(i64, a.mm[TS_PART_CLIENT_WAKE].min, 40000));
	cr_expect(eq(i64, a.mm[TS_PART_CLIENT_WAKE].max, 70000));
	cr_expect(eq(u64, a.remainder.n, 2));
	cr_expect(eq(i64, a.remainder.max, all.remainder.max));
	ts_breakdown_stats_fini(&a);
	ts_breakdown_stats_fini(&b);
	ts_breakdown_stats_fini(&all);
	ts_breakdown_stats_fini(&empty);
}

Test(breakdown, names_and_keys)
{
	cr_expect_str_eq(ts_part_name(TS_PART_SERVER_WAKE), "server wake-up");
	cr_expect_str_eq(ts_part_key(TS_PART_NET_BACK), "network_back");
	cr_expect_str_eq(ts_part_key(TS_PART_COUNT), "?");
}

/* ---------------------------------------------------- protocol extension */

Test(kts_ext, written_then_found_and_read)
{
	uint8_t f[TS_PROTO_KTS_HDR_LEN + 8] = { 0 };
	struct ts_proto_kts k = { TS_KTS_F_RX | TS_KTS_F_TX, 11, 12, 13 }, back;
	struct ts_proto_hdr h = {
		.version = TS_PROTO_VERSION,
		.type = TS_MSG_PROBE,
		.hdr_len = TS_PROTO_KTS_HDR_LEN,
		.frame_len = sizeof f,
	};
	size_t v;

	cr_expect(eq(u64, TS_PROTO_KTS_HDR_LEN, 84));
	ts_proto_encode_hdr(f, &h);
	ts_proto_put_kts_ext(f + TS_PROTO_HDR_LEN, &k);
	cr_assert(ts_proto_decode(f, sizeof f, 1024, &h, NULL) == TS_DECODE_OK);
	v = ts_proto_find_ext(f, h.hdr_len, TS_EXT_KTS, TS_EXT_KTS_LEN);
	cr_assert(eq(u64, v, TS_PROTO_HDR_LEN + TS_PROTO_EXT_HDR_LEN));
	ts_proto_kts_get(f + v, &back);
	cr_expect(eq(u32, back.flags, 3));
	cr_expect(eq(u64, back.rx_ns, 11));
	cr_expect(eq(u64, back.tx_seq, 12));
	cr_expect(eq(u64, back.tx_ns, 13));
}

Test(kts_ext, found_behind_an_unknown_one_and_not_when_broken)
{
	uint8_t f[48 + 8 + 36] = { 0 };
	size_t v;

	/* An unknown type 9 with 3 bytes of value, padded to 4. */
	ts_put_be16(f + 48, 9);
	ts_put_be16(f + 50, 3);
	ts_proto_put_kts_ext(f + 56, &(struct ts_proto_kts){ 0, 1, 2, 3 });
	v = ts_proto_find_ext(f, sizeof f, TS_EXT_KTS, TS_EXT_KTS_LEN);
	cr_expect(eq(u64, v, 60));
	/* Too short a value is not the extension. */
	cr_expect(eq(u64, ts_proto_find_ext(f, sizeof f, TS_EXT_KTS, TS_EXT_KTS_LEN + 1), 0));
	/* A length past the header ends the walk. */
	ts_put_be16(f + 50, 200);
	cr_expect(eq(u64, ts_proto_find_ext(f, sizeof f, TS_EXT_KTS, TS_EXT_KTS_LEN), 0));
	/* No extensions at all. */
	cr_expect(eq(u64, ts_proto_find_ext(f, 48, TS_EXT_KTS, 0), 0));
}

/* ------------------------------------------------------- control data */

#if defined(__linux__) && defined(SO_TIMESTAMPING)
static void put_stamp(struct cmsghdr *cm, time_t sec, long nsec)
{
	struct scm_timestamping st = { 0 };

	st.ts[0].tv_sec = sec;
	st.ts[0].tv_nsec = nsec;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_TIMESTAMPING;
	cm->cmsg_len = CMSG_LEN(sizeof st);
	memcpy(CMSG_DATA(cm), &st, sizeof st);
}

Test(kts_cmsg, receive_stamp)
{
	union {
		uint8_t b[TS_KTS_CONTROL_LEN];
		struct cmsghdr align;
	} c = { { 0 } };
	struct msghdr mh = { .msg_control = c.b,
			     .msg_controllen = CMSG_SPACE(sizeof(struct scm_timestamping)) };

	put_stamp(CMSG_FIRSTHDR(&mh), 3, 4);
	cr_expect(eq(i64, ts_kts_rx_ns(&mh), 3000000004LL));
	mh.msg_controllen = 0;
	cr_expect(eq(i64, ts_kts_rx_ns(&mh), 0));
}

Test(kts_cmsg, transmit_record)
{
	union {
		uint8_t b[TS_KTS_CONTROL_LEN];
		struct cmsghdr align;
	} c = { { 0 } };
	struct msghdr mh = { .msg_control = c.b, .msg_controllen = sizeof c.b };
	struct sock_extended_err ee = { 0 };
	struct ts_kts_tx tx = { 0 };
	struct cmsghdr *cm;

	mh.msg_controllen = CMSG_SPACE(sizeof(struct scm_timestamping)) + CMSG_SPACE(sizeof ee);
	cm = CMSG_FIRSTHDR(&mh);
	put_stamp(cm, 5, 6);
	cm = CMSG_NXTHDR(&mh, cm);
	ee.ee_errno = ENOMSG;
	ee.ee_origin = SO_EE_ORIGIN_TIMESTAMPING;
	ee.ee_info = SCM_TSTAMP_SCHED;
	ee.ee_data = 4242;
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_RECVERR;
	cm->cmsg_len = CMSG_LEN(sizeof ee);
	memcpy(CMSG_DATA(cm), &ee, sizeof ee);
	cr_assert(ts_kts_tx_parse(&mh, &tx) == 1);
	cr_expect(eq(u32, tx.key, 4242));
	cr_expect(eq(u8, tx.stage, TS_KTS_STAGE_SCHED));
	cr_expect(eq(i64, tx.ns, 5000000006LL));
	/* An ICMP error is not a timestamp. */
	ee.ee_errno = ECONNREFUSED;
	ee.ee_origin = SO_EE_ORIGIN_ICMP6;
	memcpy(CMSG_DATA(cm), &ee, sizeof ee);
	cr_expect(ts_kts_tx_parse(&mh, &tx) == 0);
}

Test(kts_cmsg, a_send_asks_for_generation_flags_alone)
{
	union {
		uint8_t b[TS_KTS_CONTROL_LEN];
		struct cmsghdr align;
	} c = { { 0 } };
	struct msghdr mh = { .msg_control = c.b, .msg_controllen = sizeof c.b };
	struct cmsghdr *cm;
	uint32_t v;

	cr_assert(ts_kts_ask_send(&mh, TS_KTS_TX | TS_KTS_SCHED) == 0);
	cr_expect(eq(u64, mh.msg_controllen, CMSG_SPACE(sizeof v)));
	cm = CMSG_FIRSTHDR(&mh);
	cr_assert(cm != NULL);
	cr_expect(eq(int, cm->cmsg_level, SOL_SOCKET));
	cr_expect(eq(int, cm->cmsg_type, SO_TIMESTAMPING));
	cr_expect(eq(u64, cm->cmsg_len, CMSG_LEN(sizeof v)));
	memcpy(&v, CMSG_DATA(cm), sizeof v);
	cr_expect(eq(u32, v, SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_SCHED));
	/* The socket's own flags are not the send's: the kernel refuses a
	 * control message with any but the generation flags. */
	cr_assert(ts_kts_ask_send(&mh, TS_KTS_RX | TS_KTS_TX | TS_KTS_PER_SEND) == 0);
	memcpy(&v, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof v);
	cr_expect(eq(u32, v, SOF_TIMESTAMPING_TX_SOFTWARE));
}

/* Waits up to a second for n transmit records on fd. */
static int wait_tx(int fd, struct ts_kts_tx *tx, int n)
{
	int got = 0;

	for (int i = 0; i < 100 && got < n; i++) {
		int r = ts_kts_read_tx(fd, tx + got, n - got);
		if (r < 0)
			return r;
		got += r;
		if (got < n)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	return got;
}

Test(kts_socket, udp_keys_count_only_the_sends_that_ask)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	struct ts_kts_tx tx[8];
	uint8_t msg[16] = { 1 };
	int rx = socket(AF_INET, SOCK_DGRAM, 0), fd = socket(AF_INET, SOCK_DGRAM, 0);
	int n, rc;

	cr_assert(rx >= 0 && fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(rx, (struct sockaddr *)&a, sizeof a) == 0);
	cr_assert(getsockname(rx, (struct sockaddr *)&a, &alen) == 0);
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
	rc = ts_kts_enable(fd, TS_KTS_RX | TS_KTS_PER_SEND);
	if (rc != 0)
		cr_skip("SO_TIMESTAMPING refused here: %s", strerror(-rc));
	/* Asked, not asked, asked: two records of each stage, keys 0 and 1. */
	cr_assert(ts_kts_send_stamped(fd, msg, sizeof msg, 0, TS_KTS_TX | TS_KTS_SCHED) ==
		  (ssize_t)sizeof msg);
	cr_assert(send(fd, msg, sizeof msg, 0) == (ssize_t)sizeof msg);
	cr_assert(ts_kts_send_stamped(fd, msg, sizeof msg, 0, TS_KTS_TX | TS_KTS_SCHED) ==
		  (ssize_t)sizeof msg);
	n = wait_tx(fd, tx, 4);
	cr_assert(eq(int, n, 4));
	for (int i = 0; i < n; i++) {
		cr_expect(tx[i].key <= 1, "record %d has key %u", i, tx[i].key);
		cr_expect(tx[i].ns > 0);
	}
	cr_expect(eq(u32, tx[0].key, 0));
	cr_expect(eq(u32, tx[3].key, 1));
	/* And no more: the send that did not ask left none. */
	cr_expect(eq(int, ts_kts_read_tx(fd, tx, 8), 0));
	close(fd);
	close(rx);
}
#endif
