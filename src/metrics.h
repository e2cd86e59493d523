/* The Prometheus endpoint: GET /metrics on metrics_listen, in the text
 * exposition format 0.0.4, served by libmicrohttpd on a thread of its own
 * (never the acceptor or a session worker). Each scrape collects a snapshot
 * (the counters of stats and session, the pool's workers and queue, the
 * descriptors in use, the blocked addresses) and renders it with the pure
 * metrics_render(). */
#ifndef SOCKSGATE_METRICS_H
#define SOCKSGATE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stats.h"

struct addr;
struct config;
struct pool;

/* Everything one scrape shows. */
struct metrics_snapshot {
	const char *version;
	uint64_t start_time_s;		/* wall clock, seconds since the epoch */
	uint64_t sessions_active, sessions_started;
	uint64_t bytes_up, bytes_down;
	struct stats_snapshot stats;
	unsigned workers_busy, workers_idle;
	unsigned queue_length, queue_capacity;
	long open_fds, max_fds;		/* -1: unknown (the series is left out) */
	unsigned blocked_addresses;
	bool per_user;			/* show the per-user series */
	const struct stats_user *users;	/* in the order to show them */
	size_t nusers;
};

/* Writes s in the Prometheus text format 0.0.4 to out (an open_memstream()
 * in the daemon). Pure but for out: every value comes from s. Returns 0, or
 * -EIO when out reported an error. */
int metrics_render(const struct metrics_snapshot *s, FILE *out);

struct metrics;

/* Before privileges are dropped (so a port below 1024 works too): a
 * listening socket on c's metrics_listen into *ret_fd (for metrics_start()),
 * or -1 there when the endpoint is off. Returns 0, or -errno after logging
 * why it cannot listen. */
int metrics_open(const struct config *c, int *ret_fd);

/* Starts serving on fd (metrics_open()'s, which it takes in every case: on a
 * failure the process is to exit, as the descriptor may be left open) with
 * libmicrohttpd's own polling thread, reading the pool's figures from pool
 * (which must outlive metrics_stop()) and queue_capacity as the queue's
 * bound. Returns 0 and *ret, or -errno. Main thread only. */
int metrics_start(int fd, struct pool *pool, unsigned queue_capacity, struct metrics **ret);

/* Applies c at start (old NULL) and at each reload: the per-user series
 * (stats_set_per_user()) and the limiter bounds the blocked addresses are
 * counted with; a changed metrics_listen is logged as taking a restart.
 * m may be NULL (the endpoint is off). Main thread only. */
void metrics_configure(struct metrics *m, const struct config *old, const struct config *c);

/* Stops the thread, closes the socket and frees m (NULL: no-op). Main
 * thread only; call before the pool is freed. */
void metrics_stop(struct metrics *m);

/* Fills s as a scrape at this moment sees it; s->users is malloc'd (free it
 * with metrics_snapshot_free()). Thread-safe. */
void metrics_collect(struct metrics *m, struct metrics_snapshot *s);
void metrics_snapshot_free(struct metrics_snapshot *s);

#endif
