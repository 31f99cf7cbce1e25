/* Ping mode "text": the seed's text protocol over TCP.  Each probe is the
 * seed client's message, "<t1>:seq=N" padded to the probe size, ended by a
 * line feed; the answer "<server time>:<the message>" gives three
 * timestamps (t2 = t3: the server's one).  One probe at a time: the seed's
 * server answers per read, and two messages in one read would come back
 * as one answer. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tsecho/clock.h>
#include <tsecho/text.h>
#include "pinger.h"

static int text_start(struct ts_pinger *p)
{
	return ts_pinger_connect(p);
}

static int text_send(struct ts_pinger *p, uint64_t seq)
{
	char head[64];
	int64_t raw_ns = ts_raw_ns();
	int64_t wall_ns = ts_pinger_sent(p, seq, raw_ns, ts_wall_ns());
	int n = ts_format_wall(head, sizeof head, wall_ns);
	size_t len;

	n += snprintf(head + n, sizeof head - (size_t)n, ":seq=%" PRIu64 " ", seq);
	len = (size_t)n + 1 > p->opt->size ? (size_t)n + 1 : p->opt->size;
	if (len > p->scratch_cap)
		len = p->scratch_cap;
	memset(p->scratch, 'x', len);
	memcpy(p->scratch, head, (size_t)n);
	p->scratch[len - 1] = '\n';
	return ts_pinger_write(p, p->scratch, len);
}

/* One answer line: "<server time>:<t1>:seq=N ...\n". */
static int take_line(struct ts_pinger *p, const uint8_t *line, size_t len, int64_t t4_raw_ns,
		     int64_t t4_wall_ns)
{
	const uint8_t *colon = memchr(line, ':', len);
	const uint8_t *seq_at;
	const struct ts_send_slot *slot;
	struct ts_sample s;
	int64_t server_ns;

	if (!colon || ts_text_parse_time(line, (size_t)(colon - line), &server_ns) != 0)
		goto bad;
	seq_at = memchr(colon, '=', len - (size_t)(colon - line));
	if (!seq_at || seq_at - line < 4 || memcmp(seq_at - 3, "seq", 3) != 0)
		goto bad;
	s.seq = strtoull((const char *)seq_at + 1, NULL, 10);
	slot = ts_pinger_slot(p, s.seq);
	if (!slot)
		return 0;
	s.rtt_ns = t4_raw_ns - slot->raw_ns;
	s.t1_wall_ns = slot->wall_ns;
	s.t2_wall_ns = server_ns;
	s.t3_wall_ns = server_ns;
	s.t4_wall_ns = t4_wall_ns;
	s.server_times = 1;
	ts_pinger_got(p, &s, len);
	return 0;
bad:
	snprintf(p->error, sizeof p->error, "unexpected answer from the server");
	return -1;
}

static long parse_lines(struct ts_pinger *p, const uint8_t *buf, size_t len, int64_t t4_raw_ns,
			int64_t t4_wall_ns)
{
	size_t used = 0;

	while (used < len) {
		const uint8_t *lf = memchr(buf + used, '\n', len - used);
		size_t n;

		if (!lf)
			break;
		n = (size_t)(lf - (buf + used)) + 1;
		if (take_line(p, buf + used, n, t4_raw_ns, t4_wall_ns) != 0)
			return -1;
		used += n;
	}
	return (long)used;
}

static int text_ready(struct ts_pinger *p, short revents)
{
	(void)revents;
	return ts_pinger_read_stream(p, parse_lines);
}

const struct ts_mode ts_mode_text = {
	.name = "text",
	.one_at_a_time = 1,
	.start = text_start,
	.send = text_send,
	.ready = text_ready,
};
