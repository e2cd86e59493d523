/* Elastic worker pool with a bounded job queue. Workers are started on demand
 * up to a maximum and exit after sitting idle; each runs one job at a time. */
#ifndef SOCKSGATE_POOL_H
#define SOCKSGATE_POOL_H

#include <stddef.h>
#include <stdint.h>

/* A job is opaque to the pool: run() serves it on a worker, discard() takes
 * one that will never run (pool_stop()); either way the callback owns it from
 * then on. run() is called without the pool's lock; discard() with it held,
 * so it must not call back into the pool. */
typedef void (*pool_fn)(void *job, void *ctx);

struct pool;

struct pool_stats {
	unsigned threads, idle, queued;
};

/* min workers are kept, up to max run at once, queue_len jobs may wait (a
 * job waits only while no worker can take it). Returns NULL with errno set on
 * failure. */
struct pool *pool_new(unsigned min, unsigned max, unsigned queue_len, size_t stack_size,
		      unsigned idle_exit_ms, pool_fn run, pool_fn discard, void *ctx);

/* Queues a job; on success the pool owns it until it hands it to run() or
 * discard(). Returns 0, -EAGAIN when the queue is full, -ECANCELED after
 * pool_stop() (the job stays the caller's). Thread-safe. */
int pool_submit(struct pool *p, void *job);

/* Waits up to timeout_ms for running and queued jobs to finish; returns the
 * number still running. Thread-safe. */
unsigned pool_drain(struct pool *p, unsigned timeout_ms);

/* Refuses new jobs, discards queued ones and waits up to timeout_ms for every
 * worker to exit; returns the number still running (a job that does not end,
 * such as one blocked inside a PAM module). Thread-safe. */
unsigned pool_stop(struct pool *p, unsigned timeout_ms);

/* pool_stop() without a time limit, then frees. */
void pool_free(struct pool *p);

void pool_get_stats(struct pool *p, struct pool_stats *ret);

/* Proof of life for the watchdog: takes and releases the pool's lock, waiting
 * at most timeout_ms. Returns 0, or -ETIMEDOUT when the lock stayed held (a
 * stuck pool). Thread-safe. */
int pool_ping(struct pool *p, unsigned timeout_ms);

/* Changes the bounds for the future (after a reload). Thread-safe. */
void pool_set_limits(struct pool *p, unsigned min, unsigned max);

/* Called on a worker thread: returns to the system the pages of the calling
 * thread's stack below the caller's frame (touched by a deep call such as a
 * PAM login), so a long-lived session does not keep them. */
void pool_trim_stack(void);

#endif
