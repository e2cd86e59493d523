/* The PAM gate: at most N PAM conversations at once, gateway-wide. A login
 * that finds the gate full waits in a FIFO queue (a ticket queue with one
 * condition variable per waiter, so the longest waiting goes first, unlike a
 * semaphore), each within its own deadline, and leaves the queue without
 * running PAM when its client has gone away. Memory and CPU under a login
 * storm are then bounded by N, not by the number of clients. */
#ifndef SOCKSGATE_PAMGATE_H
#define SOCKSGATE_PAMGATE_H

#include <stdbool.h>
#include <stdint.h>

struct pamgate;

enum pamgate_status {
	PAMGATE_OK,		/* the caller holds a slot: run PAM, then pamgate_leave() */
	PAMGATE_TIMEOUT,	/* deadline_ms came first; no slot held */
	PAMGATE_GONE,		/* the client went away while waiting; no slot held */
};

/* Has the client gone away? Called without the gate's lock, from the waiting
 * thread only, about every PAMGATE_SLICE_MS and once more when its turn
 * comes; must not block. */
typedef bool (*pamgate_gone_fn)(void *ctx);

/* The clock of the deadlines: CLOCK_MONOTONIC milliseconds by default. */
typedef int64_t (*pamgate_clock_fn)(void *ctx);

/* How often a waiting login looks at its client, in real milliseconds. */
#define PAMGATE_SLICE_MS 100

struct pamgate_stats {
	unsigned parallel;	/* the current bound */
	unsigned running;	/* slots held (above parallel for a while after it shrank) */
	unsigned waiting;	/* in the queue */
	uint64_t timeouts, gone;	/* enter() answers since pamgate_new() */
};

/* The number of online CPUs, at least 2: the default bound. */
unsigned pamgate_default_parallel(void);

/* A gate of parallel slots (0 is taken as 1). Returns NULL with errno set. */
struct pamgate *pamgate_new(unsigned parallel);

/* Frees the gate; no thread may be in it or hold a slot. NULL is a no-op. */
void pamgate_free(struct pamgate *g);

/* For tests: the clock that deadlines are read on, instead of monotonic_ms().
 * Call before any pamgate_enter(). The gate still waits in real time (slices
 * of PAMGATE_SLICE_MS); after moving the clock, pamgate_kick() makes waiters
 * look at it at once. */
void pamgate_set_clock(struct pamgate *g, pamgate_clock_fn now_ms, void *ctx);

/* Takes a slot for a PAM conversation, waiting in arrival order while all
 * are taken. Returns PAMGATE_OK at once when a slot is free and no one is
 * waiting; PAMGATE_TIMEOUT when the clock reaches deadline_ms before a slot
 * is had (at once if it already has); PAMGATE_GONE when gone(ctx) said true
 * while waiting or when the slot came (the slot then goes to the next in the
 * queue). gone may be NULL. Thread-safe; blocks at most until deadline_ms. */
enum pamgate_status pamgate_enter_fn(struct pamgate *g, int64_t deadline_ms, pamgate_gone_fn gone,
				     void *ctx);

/* pamgate_enter_fn() watching a client socket with pamgate_client_gone().
 * The gate never reads from, writes to or closes client_fd. */
enum pamgate_status pamgate_enter(struct pamgate *g, int64_t deadline_ms, int client_fd);

/* Gives back the slot of a PAMGATE_OK; the first waiter gets it. Thread-safe. */
void pamgate_leave(struct pamgate *g);

/* Changes the bound (reload). A larger one lets waiters in at once; a
 * smaller one lets running conversations end and admits no one until fewer
 * than parallel run (0 is taken as 1). Thread-safe. */
void pamgate_set_parallel(struct pamgate *g, unsigned parallel);

/* Wakes every waiter to look at its client and the clock now (tests moving
 * the clock; a caller that knows a client went away). Thread-safe. */
void pamgate_kick(struct pamgate *g);

void pamgate_get_stats(struct pamgate *g, struct pamgate_stats *ret);

/* Has the peer of a connected stream socket gone away? Without consuming a
 * byte: true on an error or a hang-up (POLLERR, POLLHUP, POLLNVAL: a reset,
 * both directions closed, a closed descriptor) and on an EOF with nothing
 * left to read (POLLRDHUP with FIONREAD 0). A client that pipelined its
 * SOCKS request behind its credentials is readable and not gone, even if it
 * then half-closed: it may still be waiting for the replies. */
bool pamgate_client_gone(int fd);

#endif
