/* ping --kernel-timestamps: see ktimes.h. */
#define _GNU_SOURCE
#include "config.h"

#include "ktimes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/clock.h>
#include <tsecho/kts.h>

enum {
	ST_SENT = 1,    /* the kernel took it: its transmit records may come */
	ST_REPLIED = 2, /* its reply came */
	ST_DONE = 4,    /* accounted */
	/* A probe waits at most this many probes for the server's transmit
	 * time (the server matches its own among its last eight sends). */
	SERVER_LAG = 8,
	/* Transmit records are looked for among this many newest probes. */
	MATCH_SPAN = 256,
	DRAIN_MAX = 16,
};

struct kt_slot {
	struct ts_kts_probe p;
	uint32_t key;
	uint8_t state;
};

static const char last_note[] = "the last probe's server send path and network back are "
				"unavailable: no later reply carried the server's send time";

int ts_ping_kt_init(struct ts_ping_kt *k, uint32_t window, int keep, FILE *lines)
{
	memset(k, 0, sizeof *k);
	k->window = window;
	k->keep = keep;
	k->lines = lines;
	k->next_final = 1;
	k->slots = calloc(window, sizeof *k->slots);
	if (!k->slots || ts_breakdown_stats_init(&k->stats) != 0) {
		ts_ping_kt_fini(k);
		return -ENOMEM;
	}
	return 0;
}

void ts_ping_kt_fini(struct ts_ping_kt *k)
{
	free(k->slots);
	free(k->kept);
	k->slots = NULL;
	k->kept = NULL;
	ts_breakdown_stats_fini(&k->stats);
}

void ts_ping_kt_enable(struct ts_ping_kt *k, int fd)
{
	int rc = ts_kts_enable(fd, TS_KTS_RX | TS_KTS_TX | TS_KTS_SCHED);

	if (rc != 0) {
		snprintf(k->refused, sizeof k->refused, "%s", strerror(-rc));
		return;
	}
	k->rx = k->tx = 1;
}

static struct kt_slot *slot_of(const struct ts_ping_kt *k, uint64_t seq)
{
	struct kt_slot *s = &k->slots[seq % k->window];

	return s->p.seq == seq && s->state != 0 ? s : NULL;
}

static void print_line(FILE *out, const struct ts_kts_probe *p, const struct ts_breakdown *b)
{
	static const char *const label[TS_PART_COUNT] = { "send",  "out",  "swake", "sproc",
							  "ssend", "back", "cwake" };

	fprintf(out, "seq=%" PRIu64 " parts ms:", p->seq);
	for (int i = 0; i < TS_PART_COUNT; i++) {
		if (b->have[i])
			fprintf(out, " %s=%.4f", label[i], (double)b->part_ns[i] / TS_NS_PER_MS);
		else
			fprintf(out, " %s=-", label[i]);
	}
	fprintf(out, " rest=%.4f\n", (double)b->remainder_ns / TS_NS_PER_MS);
}

/* Splits s's round trip and adds it to the run. */
static void account(struct ts_ping_kt *k, struct kt_slot *s, double offset_ns)
{
	struct ts_breakdown b;

	s->state |= ST_DONE;
	ts_breakdown_of(&s->p, k->same_clock ? 0 : offset_ns, &b);
	ts_breakdown_stats_add(&k->stats, &b);
	if (k->lines)
		print_line(k->lines, &s->p, &b);
	if (!k->keep)
		return;
	if (k->n_kept == k->cap_kept) {
		size_t cap = k->cap_kept ? 2 * k->cap_kept : 1024;
		struct ts_kt_sample *grown = realloc(k->kept, cap * sizeof *grown);
		if (!grown)
			return; /* the distributions still have it */
		k->kept = grown;
		k->cap_kept = cap;
	}
	k->kept[k->n_kept].p = s->p;
	k->kept[k->n_kept++].b = b;
}

/* Accounts every probe up to seq upto that had a reply; those with none
 * are passed over (a late one is accounted when it comes). */
static void finalize(struct ts_ping_kt *k, uint64_t upto, double offset_ns)
{
	if (upto > k->newest)
		upto = k->newest;
	if (upto >= k->window && k->next_final < upto - k->window + 1)
		k->next_final = upto - k->window + 1;
	for (; k->next_final <= upto; k->next_final++) {
		struct kt_slot *s = slot_of(k, k->next_final);
		if (s && (s->state & ST_REPLIED) && !(s->state & ST_DONE))
			account(k, s, offset_ns);
	}
}

void ts_ping_kt_sent(struct ts_ping_kt *k, uint64_t seq, int64_t t1, size_t len, int udp, int ok)
{
	struct kt_slot *s = &k->slots[seq % k->window];

	/* The probe a window ago leaves its place: account what it has. */
	if (s->state & ST_REPLIED && !(s->state & ST_DONE))
		account(k, s, k->offset_ns);
	memset(s, 0, sizeof *s);
	s->p.seq = seq;
	s->p.t1 = t1;
	s->state = ST_SENT;
	k->newest = seq;
	if (!ok) {
		s->state = 0;
		return;
	}
	if (udp) {
		s->key = (uint32_t)k->key++;
	} else {
		k->key += len;
		s->key = (uint32_t)(k->key - 1); /* the offset of its last byte */
	}
}

/* The probe whose send had key: the newest ones first. */
static struct kt_slot *by_key(const struct ts_ping_kt *k, uint32_t key)
{
	for (uint64_t i = 0; i < MATCH_SPAN && i < k->newest; i++) {
		struct kt_slot *s = slot_of(k, k->newest - i);
		if (s && s->key == key && (s->state & ST_SENT))
			return s;
	}
	return NULL;
}

void ts_ping_kt_drain(struct ts_ping_kt *k, int fd)
{
	struct ts_kts_tx tx[DRAIN_MAX];
	int n;

	if (!k->tx || (n = ts_kts_read_tx(fd, tx, DRAIN_MAX)) <= 0)
		return;
	for (int i = 0; i < n; i++) {
		struct kt_slot *s = by_key(k, tx[i].key);
		if (!s)
			continue;
		if (tx[i].stage == TS_KTS_STAGE_SND)
			s->p.client_tx = tx[i].ns;
		else if (tx[i].stage == TS_KTS_STAGE_SCHED)
			s->p.client_sched = tx[i].ns;
	}
}

void ts_ping_kt_reply(struct ts_ping_kt *k, int fd, const struct ts_sample *smp,
		      const uint8_t *frame, size_t hdr_len, int64_t rx_ns, double offset_ns)
{
	struct kt_slot *s = slot_of(k, smp->seq);
	struct ts_proto_kts ext = { 0 };
	size_t v = ts_proto_find_ext(frame, hdr_len, TS_EXT_KTS, TS_EXT_KTS_LEN);
	uint64_t upto = smp->seq;

	k->offset_ns = offset_ns;
	if (!s || (s->state & ST_REPLIED))
		return; /* not ours, or a duplicate */
	s->state |= ST_REPLIED;
	s->p.rtt_ns = smp->rtt_ns;
	s->p.t2 = smp->t2_wall_ns;
	s->p.t3 = smp->t3_wall_ns;
	s->p.t4 = smp->t4_wall_ns;
	s->p.client_rx = rx_ns;
	if (v != 0)
		ts_proto_kts_get(frame + v, &ext);
	k->server_flags = ext.flags;
	if (!(ext.flags & TS_KTS_F_SERVER))
		k->without_server++;
	s->p.server_rx = (int64_t)ext.rx_ns;
	if (smp->seq == 1 && (ext.flags & TS_KTS_F_RX) && ext.rx_ns == 0) {
		k->first_without_rx = 1;
		snprintf(k->note, sizeof k->note,
			 "%s; the server turned its timestamps on with the first probe (its "
			 "default, --kernel-timestamps=auto), which has no server receive time",
			 last_note);
	}
	if (ext.tx_ns > 0) {
		struct kt_slot *earlier = slot_of(k, ext.tx_seq);
		if (earlier && !(earlier->state & ST_DONE))
			earlier->p.server_tx = (int64_t)ext.tx_ns;
	}
	/* Its own transmit records are in by now (taken as the send
	 * returned, before the reply could come). */
	if (s->p.client_tx == 0)
		ts_ping_kt_drain(k, fd);
	/* A server that sends its transmit times carries this probe's in a
	 * later reply: account up to what it has reported, or at most
	 * SERVER_LAG behind. */
	if (ext.flags & TS_KTS_F_TX) {
		upto = ext.tx_ns > 0 && ext.tx_seq < smp->seq ? ext.tx_seq : 0;
		if (smp->seq > SERVER_LAG && upto < smp->seq - SERVER_LAG)
			upto = smp->seq - SERVER_LAG;
	}
	if (smp->seq < k->next_final)
		account(k, s, offset_ns); /* late: its turn has passed */
	else
		finalize(k, upto, offset_ns);
}

void ts_ping_kt_finish(struct ts_ping_kt *k, int fd, double offset_ns)
{
	ts_ping_kt_drain(k, fd);
	finalize(k, k->newest, offset_ns);
}

const char *ts_ping_kt_note(const struct ts_ping_kt *k)
{
	if (k->first_without_rx && (k->server_flags & TS_KTS_F_RX))
		return k->note;
	if (k->refused[0])
		return "this socket refused kernel timestamps: only the parts with no client "
		       "kernel "
		       "time are available";
	if (k->without_server > 0 && !(k->server_flags & TS_KTS_F_SERVER))
		return "the server fills in no kernel times (not a tsecho server that knows the "
		       "extension): only the client's parts are available";
	if (!(k->server_flags & TS_KTS_F_RX))
		return "the server's kernel timestamps are off (tsecho server "
		       "--kernel-timestamps): only the client's parts are available";
	return last_note;
}
