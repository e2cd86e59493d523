/* TCP relay: moves bytes both ways between two connected sockets with poll()
 * until both directions have ended, with splice() through pipes when it can. */
#ifndef SOCKSGATE_RELAY_H
#define SOCKSGATE_RELAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relay_stats {
	uint64_t up;		/* a -> b (client -> destination) */
	uint64_t down;		/* b -> a */
	/* When set, the same bytes are added here as they move: the gateway's
	 * totals, which sd_notify STATUS= shows while sessions are live. */
	atomic_uint_fast64_t *total_up, *total_down;
};

/* Counts n bytes moved one way. */
static inline void relay_count(struct relay_stats *st, bool up, uint64_t n)
{
	atomic_uint_fast64_t *total = up ? st->total_up : st->total_down;
	*(up ? &st->up : &st->down) += n;
	if (total != NULL)
		atomic_fetch_add_explicit(total, n, memory_order_relaxed);
}

enum relay_end {
	RELAY_END_CLOSED,	/* both directions reached EOF and were passed on */
	RELAY_END_IDLE,		/* nothing moved for idle_timeout_ms */
	RELAY_END_ERROR,	/* a read or write failed (reset, broken pipe...) */
};

/* Relays until both sides are done. The sockets must be non-blocking; they stay
 * owned by the caller. idle_timeout_ms 0 means no idle limit. stats is updated
 * as bytes move (the caller may read up/down only after return). On
 * RELAY_END_ERROR, *ret_err holds the errno. Thread-safe: the only shared
 * state it touches is stats->total_up/total_down, which it adds to atomically
 * (relay_count()). */
enum relay_end relay_run(int a, int b, unsigned idle_timeout_ms, struct relay_stats *stats,
			 int *ret_err);

#endif
