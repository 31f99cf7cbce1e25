/* tsecho probe's targets: see prober.h. */
#define _GNU_SOURCE
#include "config.h"

#include "prober.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tsecho/clock.h>
#include <tsecho/proto.h>
#include <tsecho/stamp.h>

static const double rtt_bounds_s[TS_PROBE_RTT_BOUNDS] = {
	1e-5,   2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
	2.5e-2, 5e-2,   0.1,  0.25, 0.5,    1,    2.5,  5,      10,
};

/* Interval jitter: each send moves by up to 10% of the interval. */
#define JITTER 0.1

struct mode_spec {
	const char *name;
	int udp, stamp, connect_mode;
	uint16_t default_port;
};

static const struct mode_spec mode_specs[] = {
	{ "tcp", 0, 0, 0, 12345 },
	{ "udp", 1, 0, 0, 12345 },
	{ "stamp", 1, 1, 0, TS_STAMP_DEFAULT_PORT },
	{ "connect", 0, 0, 1, 12345 },
};

/* The probes a target keeps send times for: twice as many as can be
 * awaited at once (the jitter shortens intervals by up to 10%), so a
 * prober running for months holds a few KiB a target instead of the
 * 1.5 MiB of ping's whole window. */
static uint32_t window_for(const struct ts_probe_config *cfg)
{
	int64_t awaited = cfg->timeout_ns / cfg->interval_ns + 1;
	uint32_t w = 64;

	while (w < TS_SEQ_WINDOW && (int64_t)w < 2 * awaited)
		w *= 2;
	return w;
}

int ts_probe_target_parse(struct ts_probe_target *t, const char *spec,
			  const struct ts_probe_config *cfg, char *why, size_t cap)
{
	const struct mode_spec *m = &mode_specs[0];
	const char *rest = spec;
	const char *sep = strstr(spec, "://");

	memset(t, 0, sizeof *t);
	if (strlen(spec) >= sizeof t->spec) {
		snprintf(why, cap, "target too long");
		return -1;
	}
	if (sep) {
		size_t n = (size_t)(sep - spec);
		m = NULL;
		for (size_t i = 0; i < sizeof mode_specs / sizeof mode_specs[0]; i++)
			if (strlen(mode_specs[i].name) == n &&
			    memcmp(spec, mode_specs[i].name, n) == 0)
				m = &mode_specs[i];
		if (!m) {
			snprintf(why, cap, "unknown mode '%.*s' (tcp, udp, stamp or connect)",
				 (int)n, spec);
			return -1;
		}
		rest = sep + 3;
	}
	if (ts_target_parse(&t->target, rest, m->default_port) != TS_TARGET_OK) {
		snprintf(why, cap, "want [MODE://]HOST[:PORT]");
		return -1;
	}
	if (cfg->size && !m->connect_mode &&
	    cfg->size < (m->stamp ? TS_STAMP_BASE_LEN : TS_PROTO_HDR_LEN)) {
		snprintf(why, cap, "--size must be at least %u bytes for %s",
			 m->stamp ? TS_STAMP_BASE_LEN : TS_PROTO_HDR_LEN, m->name);
		return -1;
	}
	snprintf(t->spec, sizeof t->spec, "%s", spec);
	/* IPv6 hosts get brackets so the port stays readable. */
	snprintf(t->label, sizeof t->label, strchr(t->target.host, ':') ? "[%s]:%s" : "%s:%s",
		 t->target.host, t->target.port);
	t->mode_name = m->name;
	t->cfg = cfg;
	t->target.socktype = m->udp ? SOCK_DGRAM : SOCK_STREAM;
	t->opt.udp = m->udp;
	t->opt.stamp = m->stamp;
	t->opt.connect_mode = m->connect_mode;
	t->opt.interval_ns = cfg->interval_ns;
	t->opt.timeout_ns = cfg->timeout_ns;
	t->opt.size = cfg->size ? cfg->size : m->stamp ? TS_STAMP_BASE_LEN : 64;
	t->opt.synced = cfg->synced;
	t->opt.quiet = 1;
	t->opt.jitter = JITTER;
	t->opt.window = window_for(cfg);
	t->up = -1; /* unknown: the first answer or loss gets a line */
	t->rtt.bounds_s = rtt_bounds_s;
	t->rtt.n_bounds = TS_PROBE_RTT_BOUNDS;
	t->rtt.counts = t->rtt_counts;
	return 0;
}

/* Under t->lock: a change of state gets a line (unless -q). */
static void set_up(struct ts_probe_target *t, int up, const char *why)
{
	if (t->up != up && !t->cfg->quiet) {
		if (up)
			printf("%s://%s up\n", t->mode_name, t->label);
		else
			printf("%s://%s down: %s\n", t->mode_name, t->label, why);
		fflush(stdout);
	}
	t->up = up;
}

static void on_sent(void *arg, uint64_t seq)
{
	struct ts_probe_target *t = arg;

	(void)seq;
	pthread_mutex_lock(&t->lock);
	t->sent++;
	pthread_mutex_unlock(&t->lock);
	t->session_sent++;
}

/* Under t->lock: the clock offset from the probe with the smallest
 * network RTT among the last few (docs/measurement.md), and this probe's
 * one-way delays with it. */
static void update_delays(struct ts_probe_target *t, const struct ts_sample *s)
{
	double net_ns = (double)ts_net_rtt_ns(s);
	double off_ns =
	    ((double)(s->t2_wall_ns - s->t1_wall_ns) + (double)(s->t3_wall_ns - s->t4_wall_ns)) / 2;
	unsigned best = 0;

	t->window[t->next_window].net_rtt_ns = net_ns;
	t->window[t->next_window].offset_ns = off_ns;
	t->next_window = (t->next_window + 1) % TS_PROBE_OFFSET_WINDOW;
	if (t->n_window < TS_PROBE_OFFSET_WINDOW)
		t->n_window++;
	for (unsigned i = 1; i < t->n_window; i++)
		if (t->window[i].net_rtt_ns < t->window[best].net_rtt_ns)
			best = i;
	t->offset_ns = t->cfg->synced ? 0 : t->window[best].offset_ns;
	t->bound_ns = t->cfg->synced ? 0 : t->window[best].net_rtt_ns / 2;
	t->fwd_ns = (double)(s->t2_wall_ns - s->t1_wall_ns) - t->offset_ns;
	t->bwd_ns = (double)(s->t4_wall_ns - s->t3_wall_ns) + t->offset_ns;
	t->have_delays = 1;
}

static void on_reply(void *arg, const struct ts_sample *s, enum ts_reply_kind kind)
{
	struct ts_probe_target *t = arg;

	if (kind != TS_REPLY_NEW)
		return;
	t->session_done++;
	if (s->seq > t->session_answered_seq)
		t->session_answered_seq = s->seq;
	pthread_mutex_lock(&t->lock);
	t->received++;
	t->last_rtt_s = (double)s->rtt_ns / TS_NS_PER_S;
	ts_prom_hist_observe(&t->rtt, t->last_rtt_s);
	if (s->server_times)
		update_delays(t, s);
	set_up(t, 1, NULL);
	pthread_mutex_unlock(&t->lock);
}

static void on_lost(void *arg, uint64_t seq, const char *why)
{
	struct ts_probe_target *t = arg;

	t->session_done++;
	pthread_mutex_lock(&t->lock);
	t->lost++;
	/* A later probe answered already: the path is up, this one was
	 * just lost (a timeout longer than the interval). */
	if (seq > t->session_answered_seq)
		set_up(t, 0, why);
	pthread_mutex_unlock(&t->lock);
}

static const struct ts_mode *mode_of(const struct ts_ping_opts *opt)
{
	return opt->stamp ? &ts_mode_stamp : opt->connect_mode ? &ts_mode_connect : &ts_mode_probe;
}

/* One connection's worth of probing: until it breaks or the thread is
 * asked to stop.  A connection that cannot be made counts as a probe
 * sent and lost; so do probes still awaited when the connection breaks. */
static void run_session(struct ts_probe_target *t)
{
	struct ts_pinger p;
	int rc;

	if (ts_pinger_init(&p, &t->opt, mode_of(&t->opt)) != 0) {
		pthread_mutex_lock(&t->lock);
		set_up(t, 0, "out of memory");
		pthread_mutex_unlock(&t->lock);
		return;
	}
	p.target = t->target;
	p.hooks = (struct ts_pinger_hooks){ on_sent, on_reply, on_lost, t };
	t->session_sent = t->session_done = t->session_answered_seq = 0;
	/* Another connection may reach another host (a name that moved):
	 * the offset is estimated afresh. */
	pthread_mutex_lock(&t->lock);
	t->n_window = t->next_window = 0;
	pthread_mutex_unlock(&t->lock);
	rc = p.mode->start(&p);
	if (rc != 0) {
		pthread_mutex_lock(&t->lock);
		t->sent++;
		t->lost++;
		set_up(t, 0, p.error);
		pthread_mutex_unlock(&t->lock);
	} else if (ts_pinger_run(&p, &t->stop) != 0) {
		pthread_mutex_lock(&t->lock);
		t->lost += t->session_sent - t->session_done;
		set_up(t, 0, p.error);
		pthread_mutex_unlock(&t->lock);
	}
	ts_pinger_fini(&p);
}

static void *target_main(void *arg)
{
	struct ts_probe_target *t = arg;

	while (!atomic_load(&t->stop)) {
		int64_t retry_mono_ns = ts_mono_ns() + t->cfg->interval_ns;

		run_session(t);
		/* Before connecting again: one interval, in short naps so a
		 * stop is seen soon. */
		while (!atomic_load(&t->stop) && ts_mono_ns() < retry_mono_ns) {
			struct timespec nap = { 0, 50 * 1000 * 1000 };
			nanosleep(&nap, NULL);
		}
	}
	return NULL;
}

int ts_probe_target_start(struct ts_probe_target *t)
{
	sigset_t all, old;
	int rc;

	rc = pthread_mutex_init(&t->lock, NULL);
	if (rc != 0)
		return -rc;
	atomic_store(&t->stop, 0);
	/* Signals are the main thread's: it reloads and stops. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t->thread, NULL, target_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_mutex_destroy(&t->lock);
		return -rc;
	}
	t->running = 1;
	return 0;
}

void ts_probe_target_stop(struct ts_probe_target *t)
{
	atomic_store(&t->stop, 1);
}

void ts_probe_target_join(struct ts_probe_target *t)
{
	if (!t->running)
		return;
	ts_probe_target_stop(t);
	pthread_join(t->thread, NULL);
	pthread_mutex_destroy(&t->lock);
	t->running = 0;
}

/* A target's numbers, copied under its lock so a page is consistent per
 * target and no lock is held while formatting. */
struct snapshot {
	char labels[2 * TS_PROBE_SPEC_MAX];
	uint64_t sent, received, lost;
	int up, have_delays, synced;
	double offset_ns, bound_ns, fwd_ns, bwd_ns;
	struct ts_prom_hist rtt;
	uint64_t rtt_counts[TS_PROBE_RTT_BOUNDS + 1];
};

static void take_snapshot(struct snapshot *s, struct ts_probe_target *t)
{
	s->labels[0] = '\0';
	ts_prom_label(s->labels, sizeof s->labels, "target", t->label);
	ts_prom_label(s->labels, sizeof s->labels, "mode", t->mode_name);
	pthread_mutex_lock(&t->lock);
	s->sent = t->sent;
	s->received = t->received;
	s->lost = t->lost;
	s->up = t->up == 1;
	s->have_delays = t->have_delays;
	s->synced = t->cfg->synced;
	s->offset_ns = t->offset_ns;
	s->bound_ns = t->bound_ns;
	s->fwd_ns = t->fwd_ns;
	s->bwd_ns = t->bwd_ns;
	s->rtt = t->rtt;
	memcpy(s->rtt_counts, t->rtt_counts, sizeof s->rtt_counts);
	pthread_mutex_unlock(&t->lock);
	s->rtt.counts = s->rtt_counts;
}

enum field { F_UP, F_SENT, F_RECEIVED, F_LOST, F_OFFSET, F_BOUND, F_FWD, F_BWD };

static const struct {
	const char *name, *type, *help;
} families[] = {
	[F_UP] = { "tsecho_probe_up", "gauge", "1 when the last probe was answered, else 0." },
	[F_SENT] = { "tsecho_probe_sent_total", "counter", "Probes sent (and connect attempts)." },
	[F_RECEIVED] = { "tsecho_probe_received_total", "counter", "Probes answered in time." },
	[F_LOST] = { "tsecho_probe_lost_total", "counter",
		     "Probes not answered within the timeout, or whose connection failed." },
	[F_OFFSET] = { "tsecho_probe_clock_offset_seconds", "gauge",
		       "Estimated offset of the target's clock from ours." },
	[F_BOUND] = { "tsecho_probe_clock_offset_bound_seconds", "gauge",
		      "Error bound of the offset and one-way delays: half the best network RTT." },
	[F_FWD] = { "tsecho_probe_forward_delay_seconds", "gauge",
		    "Latest one-way delay to the target, offset removed." },
	[F_BWD] = { "tsecho_probe_backward_delay_seconds", "gauge",
		    "Latest one-way delay from the target, offset removed." },
};

static void render_field(struct ts_prom *p, const struct snapshot *s, size_t n, enum field f)
{
	ts_prom_family(p, families[f].name, families[f].type, families[f].help);
	for (size_t i = 0; i < n; i++) {
		const char *name = families[f].name;
		const char *l = s[i].labels;
		switch (f) {
		case F_UP:
			ts_prom_sample_u64(p, name, l, (uint64_t)s[i].up);
			break;
		case F_SENT:
			ts_prom_sample_u64(p, name, l, s[i].sent);
			break;
		case F_RECEIVED:
			ts_prom_sample_u64(p, name, l, s[i].received);
			break;
		case F_LOST:
			ts_prom_sample_u64(p, name, l, s[i].lost);
			break;
		default:
			/* Delays: only where the mode carries server times;
			 * offset and bound only where they were estimated. */
			if (!s[i].have_delays || (s[i].synced && (f == F_OFFSET || f == F_BOUND)))
				break;
			ts_prom_sample(p, name, l,
				       (f == F_OFFSET  ? s[i].offset_ns
					: f == F_BOUND ? s[i].bound_ns
					: f == F_FWD   ? s[i].fwd_ns
						       : s[i].bwd_ns) /
					   TS_NS_PER_S);
		}
	}
}

void ts_probe_render(struct ts_prom *p, struct ts_probe_target *const *targets, size_t n)
{
	struct snapshot *s = n ? calloc(n, sizeof *s) : NULL;

	if (n && !s) {
		p->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++)
		take_snapshot(&s[i], targets[i]);
	for (enum field f = F_UP; f <= F_LOST; f++)
		render_field(p, s, n, f);
	ts_prom_family(p, "tsecho_probe_rtt_seconds", "histogram",
		       "Round-trip time of answered probes.");
	for (size_t i = 0; i < n; i++)
		ts_prom_histogram(p, "tsecho_probe_rtt_seconds", s[i].labels, &s[i].rtt);
	for (enum field f = F_OFFSET; f <= F_BWD; f++)
		render_field(p, s, n, f);
	free(s);
}
