/* Monotonic time in milliseconds, for deadlines and durations. */
#ifndef SOCKSGATE_TIMEUTIL_H
#define SOCKSGATE_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

static inline int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC_COARSE in milliseconds: the same clock as monotonic_ms(),
 * up to a scheduler tick behind, and cheaper to read (no hardware counter):
 * for the "last activity" time the relays stamp on every transfer. */
static inline int64_t monotonic_coarse_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC now plus ms (0 when negative), as an absolute time for
 * pthread_cond_timedwait() on a condition variable set to that clock. */
static inline struct timespec monotonic_after(int64_t ms)
{
	struct timespec ts;

	if (ms < 0)
		ms = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

#endif
