/* Who the server's UDP ports answer: see guard.h. */
#include "config.h"

#include "guard.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <tsecho/clock.h>
#include "server.h"

/* Sources tracked per table; a busy table shares buckets (ratelimit.h). */
enum { GUARD_SOURCES = 16384 };
#define ECHO_REPEAT_NS TS_NS_PER_S

/* Source ports of services that answer what they receive, and so are the
 * other end of a reflection loop; no client sends from them. */
static const uint16_t reflector_ports[] = {
	0,                      /* no datagram comes from port 0 */
	7,                      /* echo, RFC 862 */
	13,                     /* daytime, RFC 867 */
	17,                     /* quote of the day, RFC 865 */
	19,                     /* chargen, RFC 864 */
	37,                     /* time, RFC 868 */
	53,                     /* DNS */
	69,                     /* TFTP */
	111,                    /* portmapper */
	123,                    /* NTP */
	137,                    /* NetBIOS name service */
	161,                    /* SNMP */
	389,                    /* CLDAP */
	427,                    /* SLP */
	862,                    /* TWAMP-Test and STAMP reflectors, RFC 5357, RFC 8762 */
	1900,                   /* SSDP */
	3702,                   /* WS-Discovery */
	5353,                   /* mDNS */
	11211,                  /* memcached */
	TS_SERVER_DEFAULT_PORT, /* another tsecho server's main port */
};

static int random_key(uint8_t *key, size_t len)
{
	ssize_t n = getrandom(key, len, 0);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EIO;
}

int ts_guard_init(struct ts_guard *g, const struct ts_server_config *cfg, int64_t now_mono_ns)
{
	int rc;

	memset(g, 0, sizeof *g);
	rc = random_key(g->key, sizeof g->key);
	if (rc != 0)
		return rc;
	g->udp = ts_ratelimit_new(cfg->udp_rate_per_s, cfg->udp_rate_per_s, GUARD_SOURCES, g->key);
	g->stamp =
	    ts_ratelimit_new(cfg->stamp_rate_per_s, cfg->stamp_rate_per_s, GUARD_SOURCES, g->key);
	if (!g->udp || !g->stamp) {
		ts_guard_fini(g);
		return -ENOMEM;
	}
	g->budget_per_s = cfg->udp_budget_per_s;
	ts_bucket_init(&g->budget, g->budget_per_s, now_mono_ns);
	for (size_t i = 0; i < sizeof reflector_ports / sizeof reflector_ports[0]; i++)
		ts_guard_own_port(g, reflector_ports[i]);
	return 0;
}

void ts_guard_fini(struct ts_guard *g)
{
	ts_ratelimit_free(g->udp);
	ts_ratelimit_free(g->stamp);
	g->udp = g->stamp = NULL;
	for (int i = 0; i < TS_GUARD_CONN_BUCKETS; i++) {
		while (g->conns[i]) {
			struct ts_guard_source *s = g->conns[i];
			g->conns[i] = s->next;
			free(s);
		}
	}
}

void ts_guard_own_port(struct ts_guard *g, uint16_t port)
{
	g->loop_ports[port / 64] |= UINT64_C(1) << (port % 64);
}

/* The source address as a rate-limit key (family, then the address; an
 * IPv4 peer of a dual-stack socket counts as IPv4), with the port; returns
 * the key's length, 0 for a family we do not serve. */
static size_t source_key(const struct sockaddr_storage *ss, uint8_t key[TS_RATELIMIT_KEY_MAX],
			 uint16_t *port)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		key[0] = AF_INET;
		memcpy(key + 1, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return 5;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		*port = ntohs(in6->sin6_port);
		if (memcmp(a, v4mapped, sizeof v4mapped) == 0) {
			key[0] = AF_INET;
			memcpy(key + 1, a + 12, 4);
			return 5;
		}
		key[0] = AF_INET6;
		memcpy(key + 1, a, 16);
		return 17;
	}
	return 0;
}

static bool loop_port(const struct ts_guard *g, uint16_t port)
{
	return (g->loop_ports[port / 64] >> (port % 64)) & 1;
}

bool ts_guard_admit(struct ts_guard *g, bool stamp, const struct sockaddr_storage *peer,
		    int64_t now_mono_ns, uint64_t limits[TS_LIMITS])
{
	uint8_t key[TS_RATELIMIT_KEY_MAX];
	uint16_t port = 0;
	size_t len = source_key(peer, key, &port);

	if (len == 0 || loop_port(g, port)) {
		limits[TS_LIMIT_LOOP_SOURCE]++;
		return false;
	}
	if (!ts_ratelimit_take(stamp ? g->stamp : g->udp, key, len, now_mono_ns)) {
		limits[stamp ? TS_LIMIT_STAMP_RATE : TS_LIMIT_UDP_RATE]++;
		return false;
	}
	if (g->budget_per_s > 0 &&
	    !ts_bucket_take(&g->budget, g->budget_per_s, g->budget_per_s, now_mono_ns)) {
		limits[TS_LIMIT_UDP_BUDGET]++;
		return false;
	}
	return true;
}

bool ts_guard_echo_repeat(struct ts_guard *g, const struct sockaddr_storage *peer,
			  const uint8_t *payload, size_t len, int64_t now_mono_ns)
{
	uint8_t key[TS_RATELIMIT_KEY_MAX + 2];
	uint16_t port = 0;
	size_t klen = source_key(peer, key, &port);
	uint64_t source, sum;
	struct ts_guard_echo *e;

	key[klen] = (uint8_t)(port >> 8);
	key[klen + 1] = (uint8_t)port;
	source = ts_siphash24(g->key, key, klen + 2) | 1; /* never 0, which is free */
	sum = ts_siphash24(g->key, payload, len);
	e = &g->echoed[source % TS_GUARD_ECHO_SLOTS];
	if (e->source_hash == source && e->payload_hash == sum &&
	    now_mono_ns - e->at_mono_ns < ECHO_REPEAT_NS)
		return true;
	e->source_hash = source;
	e->payload_hash = sum;
	e->at_mono_ns = now_mono_ns;
	return false;
}

/* The link that points at peer's entry in its chain (at a NULL link when
 * it has none); *key and *len get its key. */
static struct ts_guard_source **conn_link(struct ts_guard *g, const struct sockaddr_storage *peer,
					  uint8_t key[TS_RATELIMIT_KEY_MAX], size_t *len)
{
	uint16_t port;
	struct ts_guard_source **link;

	*len = source_key(peer, key, &port);
	link = &g->conns[ts_siphash24(g->key, key, *len) % TS_GUARD_CONN_BUCKETS];
	while (*link && !((*link)->len == *len && memcmp((*link)->key, key, *len) == 0))
		link = &(*link)->next;
	return link;
}

bool ts_guard_conn_open(struct ts_guard *g, const struct sockaddr_storage *peer,
			uint64_t max_per_source)
{
	uint8_t key[TS_RATELIMIT_KEY_MAX];
	size_t len;
	struct ts_guard_source **link;

	if (max_per_source == 0)
		return true;
	link = conn_link(g, peer, key, &len);
	if (!*link) {
		struct ts_guard_source *s = calloc(1, sizeof *s);
		if (!s)
			return false;
		memcpy(s->key, key, len);
		s->len = (uint8_t)len;
		*link = s;
	}
	if ((*link)->conns >= max_per_source)
		return false;
	(*link)->conns++;
	return true;
}

void ts_guard_conn_close(struct ts_guard *g, const struct sockaddr_storage *peer)
{
	uint8_t key[TS_RATELIMIT_KEY_MAX];
	size_t len;
	struct ts_guard_source **link = conn_link(g, peer, key, &len);
	struct ts_guard_source *s = *link;

	if (!s)
		return; /* not counted: no limit */
	if (--s->conns == 0) {
		*link = s->next;
		free(s);
	}
}
