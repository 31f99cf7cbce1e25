/* Clocks.  Measured intervals (a round trip, a server's residence) come
 * from CLOCK_MONOTONIC_RAW (names end in raw_ns), which NTP does not slew;
 * deadlines and timeouts from CLOCK_MONOTONIC (mono_ns), the clock that
 * timerfd and io_uring's timeouts take; wall-clock time (wall_ns) only for
 * timestamps that go on the wire or into logs and reports. */
#ifndef TSECHO_CLOCK_H
#define TSECHO_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define TS_NS_PER_US 1000LL
#define TS_NS_PER_MS 1000000LL
#define TS_NS_PER_S 1000000000LL

/* Nanoseconds on CLOCK_MONOTONIC; never goes back. */
int64_t ts_mono_ns(void);

/* Nanoseconds on CLOCK_MONOTONIC_RAW (CLOCK_MONOTONIC where the platform
 * has no raw clock): the hardware counter, not rate-adjusted. */
int64_t ts_raw_ns(void);

/* The same moment on the wall clock and the raw clock, for a timestamp t2
 * whose interval to t3 is then measured on the raw one.  Two clock reads
 * are two moments; a pair torn by preemption between them would move t3
 * by as much, so the raw clock is read on both sides of the wall clock and
 * the tightest of a few tries is kept (the raw time is its midpoint). */
void ts_clock_pair(int64_t *wall_ns, int64_t *raw_ns);

/* Nanoseconds since the Unix epoch on CLOCK_REALTIME. */
int64_t ts_wall_ns(void);

/* Whether the kernel says the wall clock is synchronised (NTP/PTP
 * discipline, adjtimex(2)) and its estimated error in ns (the maximum
 * error when not synchronised; a second where the platform cannot say). */
void ts_clock_sync(int *synced, double *err_ns);

/* Milliseconds from now to a deadline on the monotonic clock, for
 * poll/epoll: rounded up (so a wait does not end just before it), 0 when it
 * has passed, at most cap_ms. */
int ts_ms_until(int64_t deadline_mono_ns, int64_t now_mono_ns, int cap_ms);

/* Formats wall_ns as seconds since the epoch with six decimals, the way the
 * seed prints time.time(): "1764033903.541234".  Truncates toward the past.
 * Writes at most cap bytes including the NUL; returns the length it needed
 * (as snprintf does). */
int ts_format_wall(char *buf, size_t cap, int64_t wall_ns);

/* Longest output of ts_format_wall for any time before year 2286 (ten digits,
 * a dot, six decimals), without the NUL. */
#define TS_WALL_TEXT_MAX 17

#endif
