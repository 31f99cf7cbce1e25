/* Clocks: see clock.h. */
#include "config.h"

#include <tsecho/clock.h>

#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#ifdef __linux__
#include <sys/timex.h>
#endif

static int64_t read_clock(clockid_t id)
{
	struct timespec ts;

	/* clock_gettime can only fail for an invalid clock id; the ids used
	 * here exist on every POSIX system we build for. */
	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * TS_NS_PER_S + ts.tv_nsec;
}

int64_t ts_mono_ns(void)
{
	return read_clock(CLOCK_MONOTONIC);
}

int64_t ts_raw_ns(void)
{
#ifdef CLOCK_MONOTONIC_RAW
	return read_clock(CLOCK_MONOTONIC_RAW);
#else
	return read_clock(CLOCK_MONOTONIC);
#endif
}

void ts_clock_pair(int64_t *wall_ns, int64_t *raw_ns)
{
	int64_t best = INT64_MAX;

	for (int i = 0; i < 4; i++) {
		int64_t before = ts_raw_ns();
		int64_t wall = ts_wall_ns();
		int64_t after = ts_raw_ns();

		if (after - before < best) {
			best = after - before;
			*wall_ns = wall;
			*raw_ns = before + (after - before) / 2;
		}
		if (best < 1000) /* no preemption in between: good enough */
			break;
	}
}

int64_t ts_wall_ns(void)
{
	return read_clock(CLOCK_REALTIME);
}

int ts_ms_until(int64_t deadline_mono_ns, int64_t now_mono_ns, int cap_ms)
{
	int64_t diff_ns, ms;

	if (deadline_mono_ns <= now_mono_ns)
		return 0;
	diff_ns = deadline_mono_ns - now_mono_ns;
	/* Rounded up without adding first: INT64_MAX means "no deadline". */
	ms = diff_ns / TS_NS_PER_MS + (diff_ns % TS_NS_PER_MS != 0);
	return ms > cap_ms ? cap_ms : (int)ms;
}

int ts_format_wall(char *buf, size_t cap, int64_t wall_ns)
{
	int64_t sec = wall_ns / TS_NS_PER_S;
	int64_t rem_ns = wall_ns % TS_NS_PER_S;

	/* Floor division, so times before 1970 still print sensibly. */
	if (rem_ns < 0) {
		rem_ns += TS_NS_PER_S;
		sec -= 1;
	}
	return snprintf(buf, cap, "%" PRId64 ".%06" PRId64, sec, (int64_t)(rem_ns / TS_NS_PER_US));
}

void ts_clock_sync(int *synced, double *err_ns)
{
	*synced = 0;
	*err_ns = 1e9;
#ifdef __linux__
	{
		struct timex tx = { 0 };
		int state = adjtimex(&tx);

		if (state < 0)
			return;
		if (state != TIME_ERROR && !(tx.status & STA_UNSYNC)) {
			*synced = 1;
			*err_ns = (double)tx.esterror * 1000.0;
		} else {
			*err_ns = (double)tx.maxerror * 1000.0;
		}
	}
#endif
}
