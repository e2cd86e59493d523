/* The PAM gate: a slot count and a FIFO of waiters that live on their own
 * threads' stacks, each with its own condition variable. A slot given back
 * goes straight to the head of the queue (handed over under the lock), so a
 * newcomer can never overtake someone who waits. */
#include "autoconf.h"

#include "pamgate.h"

#include "timeutil.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct waiter {
	struct waiter *next, *prev;
	pthread_cond_t cond;
	bool granted;		/* the slot is ours: set by whoever handed it over */
};

struct pamgate {
	pthread_mutex_t lock;
	pthread_condattr_t condattr;	/* CLOCK_MONOTONIC */
	unsigned parallel, running, waiting;
	uint64_t kicks;			/* + 1 at each pamgate_kick() */
	uint64_t timeouts, gone;
	struct waiter *head, *tail;
	pamgate_clock_fn now_ms;
	void *now_ctx;
};

static int64_t default_clock(void *ctx)
{
	(void)ctx;
	return monotonic_ms();
}

unsigned pamgate_default_parallel(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 2 ? 2 : (unsigned)n;
}

struct pamgate *pamgate_new(unsigned parallel)
{
	struct pamgate *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&g->condattr);
	pthread_condattr_setclock(&g->condattr, CLOCK_MONOTONIC);
	g->parallel = parallel > 0 ? parallel : 1;
	g->now_ms = default_clock;
	return g;
}

void pamgate_free(struct pamgate *g)
{
	if (g == NULL)
		return;
	pthread_condattr_destroy(&g->condattr);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void pamgate_set_clock(struct pamgate *g, pamgate_clock_fn now_ms, void *ctx)
{
	pthread_mutex_lock(&g->lock);
	g->now_ms = now_ms;
	g->now_ctx = ctx;
	pthread_mutex_unlock(&g->lock);
}

static void queue_remove(struct pamgate *g, struct waiter *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		g->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		g->tail = w->prev;
	w->next = w->prev = NULL;
	g->waiting--;
}

static void queue_append(struct pamgate *g, struct waiter *w)
{
	w->next = NULL;
	w->prev = g->tail;
	if (g->tail != NULL)
		g->tail->next = w;
	else
		g->head = w;
	g->tail = w;
	g->waiting++;
}

/* Hands free slots to the head of the queue, in order. Lock held. */
static void grant(struct pamgate *g)
{
	while (g->head != NULL && g->running < g->parallel) {
		struct waiter *w = g->head;
		queue_remove(g, w);
		g->running++;
		w->granted = true;
		pthread_cond_signal(&w->cond);
	}
}

static void release(struct pamgate *g)
{
	g->running--;
	grant(g);
}

/* Calls gone() without the lock (it may make system calls). Lock held. */
static bool ask_gone(struct pamgate *g, pamgate_gone_fn gone, void *ctx)
{
	bool r;

	if (gone == NULL)
		return false;
	pthread_mutex_unlock(&g->lock);
	r = gone(ctx);
	pthread_mutex_lock(&g->lock);
	return r;
}

/* Waits in the queue until w is granted (returns PAMGATE_OK), the client is
 * gone or the deadline comes (w is out of the queue). Lock held. */
static enum pamgate_status queue_wait(struct pamgate *g, struct waiter *w, int64_t deadline_ms,
				      pamgate_gone_fn gone, void *ctx)
{
	for (;;) {
		if (w->granted)
			return PAMGATE_OK;
		uint64_t kicks = g->kicks;
		bool is_gone = ask_gone(g, gone, ctx);
		if (w->granted)
			return PAMGATE_OK;	/* the caller asks gone() again */
		int64_t left = deadline_ms - g->now_ms(g->now_ctx);
		if (is_gone || left <= 0) {
			queue_remove(g, w);
			return is_gone ? PAMGATE_GONE : PAMGATE_TIMEOUT;
		}
		if (kicks != g->kicks)
			continue;	/* kicked while asking: look again at once */
		struct timespec until = monotonic_after(left < PAMGATE_SLICE_MS ? left :
								   PAMGATE_SLICE_MS);
		while (!w->granted && kicks == g->kicks &&
		       pthread_cond_timedwait(&w->cond, &g->lock, &until) != ETIMEDOUT)
			;	/* a spurious wake-up: wait out the slice */
	}
}

enum pamgate_status pamgate_enter_fn(struct pamgate *g, int64_t deadline_ms, pamgate_gone_fn gone,
				     void *ctx)
{
	enum pamgate_status st = PAMGATE_OK;
	struct waiter w = { .granted = false };

	pthread_mutex_lock(&g->lock);
	if (deadline_ms - g->now_ms(g->now_ctx) <= 0) {
		st = PAMGATE_TIMEOUT;
		goto out;
	}
	if (g->head == NULL && g->running < g->parallel) {
		g->running++;
		goto out;
	}
	pthread_cond_init(&w.cond, &g->condattr);
	queue_append(g, &w);
	st = queue_wait(g, &w, deadline_ms, gone, ctx);
	if (st == PAMGATE_OK) {
		/* Our turn: one more look, so a client that left while it waited
		 * does not cost a PAM conversation. */
		if (ask_gone(g, gone, ctx))
			st = PAMGATE_GONE;
		else if (deadline_ms - g->now_ms(g->now_ctx) <= 0)
			st = PAMGATE_TIMEOUT;
		if (st != PAMGATE_OK)
			release(g);
	}
	pthread_cond_destroy(&w.cond);
out:
	if (st == PAMGATE_TIMEOUT)
		g->timeouts++;
	else if (st == PAMGATE_GONE)
		g->gone++;
	pthread_mutex_unlock(&g->lock);
	return st;
}

static bool fd_gone(void *ctx)
{
	return pamgate_client_gone(*(const int *)ctx);
}

enum pamgate_status pamgate_enter(struct pamgate *g, int64_t deadline_ms, int client_fd)
{
	return pamgate_enter_fn(g, deadline_ms, fd_gone, &client_fd);
}

void pamgate_leave(struct pamgate *g)
{
	pthread_mutex_lock(&g->lock);
	release(g);
	pthread_mutex_unlock(&g->lock);
}

void pamgate_set_parallel(struct pamgate *g, unsigned parallel)
{
	pthread_mutex_lock(&g->lock);
	g->parallel = parallel > 0 ? parallel : 1;
	grant(g);
	pthread_mutex_unlock(&g->lock);
}

void pamgate_kick(struct pamgate *g)
{
	pthread_mutex_lock(&g->lock);
	g->kicks++;
	for (struct waiter *w = g->head; w != NULL; w = w->next)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&g->lock);
}

void pamgate_get_stats(struct pamgate *g, struct pamgate_stats *ret)
{
	pthread_mutex_lock(&g->lock);
	ret->parallel = g->parallel;
	ret->running = g->running;
	ret->waiting = g->waiting;
	ret->timeouts = g->timeouts;
	ret->gone = g->gone;
	pthread_mutex_unlock(&g->lock);
}

bool pamgate_client_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	int avail = 0;

	if (poll(&p, 1, 0) <= 0)
		return false;	/* nothing to say, or EINTR: not known to be gone */
	if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
		return true;
	if (!(p.revents & POLLRDHUP))
		return false;	/* readable: pipelined bytes, not an end */
	/* The peer half-closed. With bytes still to read it may be a client that
	 * sent everything at once and waits for the replies; with none it has
	 * nothing more to say. FIONREAD counts them without consuming any. */
	if (ioctl(fd, FIONREAD, &avail) < 0)
		return true;
	return avail == 0;
}
