/* TCP relay: moves bytes both ways between two connected sockets with poll()
 * until both directions have ended, with splice() through pipes when it can. */
#ifndef SOCKSGATE_RELAY_H
#define SOCKSGATE_RELAY_H

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timeutil.h"

/* Written by the relay's thread only; other threads (the control socket's
 * session listing) may read them at any time with relaxed loads. */
/* See relay_stats.on_quiet. */
#define RELAY_QUIET_MS 1000

struct relay_stats {
	atomic_uint_fast64_t up;	/* a -> b (client -> destination) */
	atomic_uint_fast64_t down;	/* b -> a */
	_Atomic int64_t last_ms;	/* monotonic_coarse_ms() of the last transfer; 0: none */
	/* When set, the same bytes are added here as they move: the gateway's
	 * totals, which sd_notify STATUS= shows while sessions are live. */
	atomic_uint_fast64_t *total_up, *total_down;
	/* When set, called once on the relay's thread the first time nothing
	 * has moved for RELAY_QUIET_MS (a session gone idle: a moment to give
	 * memory back). It does not count as activity for the idle timeout. */
	void (*on_quiet)(void);
};

/* Counts n bytes moved one way, and when. A plain load and store (one
 * writer), so the count costs what a non-atomic one would. */
static inline void relay_count(struct relay_stats *st, bool up, uint64_t n)
{
	atomic_uint_fast64_t *total = up ? st->total_up : st->total_down;
	atomic_uint_fast64_t *mine = up ? &st->up : &st->down;
	atomic_store_explicit(mine, atomic_load_explicit(mine, memory_order_relaxed) + n,
			      memory_order_relaxed);
	atomic_store_explicit(&st->last_ms, monotonic_coarse_ms(), memory_order_relaxed);
	if (total != NULL)
		atomic_fetch_add_explicit(total, n, memory_order_relaxed);
}

enum relay_end {
	RELAY_END_CLOSED,	/* both directions reached EOF and were passed on */
	RELAY_END_IDLE,		/* nothing moved for idle_timeout_ms */
	RELAY_END_ERROR,	/* a read or write failed (reset, broken pipe...) */
};

/* The waiting part of a relay loop, shared by relay_run and the protected
 * relay (gssrelay): poll() under the idle timeout, with stats->on_quiet run
 * once in the first quiet spell of RELAY_QUIET_MS. One per loop, on its own
 * thread. */
struct relay_wait {
	unsigned idle_timeout_ms;	/* 0: no idle limit */
	unsigned waited;		/* of the timeout, spent before on_quiet ran */
	bool quiet_done;
};

void relay_wait_init(struct relay_wait *w, unsigned idle_timeout_ms,
		     const struct relay_stats *stats);

/* poll()s the n fds; now: do not block (the caller has work without
 * poll()). Returns the number of fds with events (0 only when now),
 * -ETIMEDOUT when nothing happened for the idle timeout, or -errno. EINTR and
 * the on_quiet call are handled inside. */
int relay_wait_poll(struct relay_wait *w, struct pollfd *p, nfds_t n, bool now,
		    struct relay_stats *stats);

/* The hang-up rule of a relay loop, after fd i's input and output ran with
 * its revents rev. When rev says hung up or reset though POLLIN was not
 * asked, sets *hung (the fd must leave the poll set) and returns -ECONNRESET
 * or -EPIPE when the other direction (other_done false) still has to write
 * to it, else 0 with *ret_eof set when the input's EOF is now (a reset:
 * the caller marks EOF and writes out what it holds). Otherwise 0. */
int relay_hang_up(short rev, bool other_done, bool *hung, bool *ret_eof);

/* Relays until both sides are done. The sockets must be non-blocking; they stay
 * owned by the caller. idle_timeout_ms 0 means no idle limit. stats is updated
 * as bytes move. On
 * RELAY_END_ERROR, *ret_err holds the errno. Thread-safe: the only shared
 * state it touches is stats->total_up/total_down, which it adds to atomically
 * (relay_count()). */
enum relay_end relay_run(int a, int b, unsigned idle_timeout_ms, struct relay_stats *stats,
			 int *ret_err);

#endif
