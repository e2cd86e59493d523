/* Worker pool: a ring of pending jobs under one mutex. Submitting starts a new
 * worker when no idle one can take the job and the maximum allows; workers
 * above the minimum exit after idle_exit_ms without work. Stacks are sized by
 * the caller so thousands of workers stay cheap. */
#include "autoconf.h"

#include "pool.h"

#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bytes below pool_trim_stack()'s frame that it keeps (see there). */
#define TRIM_MARGIN 256

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work;	/* a job was queued, or stopping */
	pthread_cond_t quiet;	/* a job finished or a worker exited */
	pthread_attr_t attr;
	void **ring;
	unsigned cap, head, count;
	unsigned min, max;
	unsigned queue_len;	/* jobs that may wait for a worker */
	unsigned threads, idle, busy;
	unsigned starting;	/* created, not yet looking for work */
	unsigned idle_exit_ms;
	bool stopping;
	pool_fn run, discard;
	void *ctx;
};

static struct log_ratelimit spawn_rl;

static void *worker_main(void *arg)
{
	struct pool *p = arg;
	void *job;

	pthread_mutex_lock(&p->lock);
	p->starting--;
	for (;;) {
		while (p->count == 0 && !p->stopping) {
			struct timespec ts = monotonic_after(p->idle_exit_ms);
			p->idle++;
			int r = pthread_cond_timedwait(&p->work, &p->lock, &ts);
			p->idle--;
			if (r == ETIMEDOUT && p->count == 0 && p->threads > p->min)
				goto exit;
		}
		if (p->count == 0)	/* stopping and nothing left */
			goto exit;
		job = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
		p->busy++;
		pthread_mutex_unlock(&p->lock);

		p->run(job, p->ctx);

		pthread_mutex_lock(&p->lock);
		p->busy--;
		pthread_cond_broadcast(&p->quiet);
	}
exit:
	p->threads--;
	pthread_cond_broadcast(&p->quiet);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Called with the lock held. */
static int spawn_worker(struct pool *p)
{
	pthread_t t;
	int r = pthread_create(&t, &p->attr, worker_main, p);
	if (r != 0) {
		log_ratelimited(&spawn_rl, LOG_WARNING,
				"cannot start a worker thread (%u running): %s", p->threads,
				strerror(r));
		return -r;
	}
	p->threads++;
	p->starting++;
	return 0;
}

struct pool *pool_new(unsigned min, unsigned max, unsigned queue_len, size_t stack_size,
		      unsigned idle_exit_ms, pool_fn run, pool_fn discard, void *ctx)
{
	struct pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	/* Room for the waiting jobs plus one per worker that is about to take
	 * one, so a burst that idle workers will absorb is never refused. */
	if (max < min)
		max = min;
	p->ring = calloc((size_t)queue_len + max, sizeof(*p->ring));
	if (p->ring == NULL) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, &ca);
	pthread_cond_init(&p->quiet, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&p->attr);
	pthread_attr_setdetachstate(&p->attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&p->attr, stack_size);
	p->cap = queue_len + max;
	p->queue_len = queue_len;
	p->min = min;
	p->max = max < min ? min : max;
	p->idle_exit_ms = idle_exit_ms;
	p->run = run;
	p->discard = discard;
	p->ctx = ctx;

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < min; i++)
		if (spawn_worker(p) < 0)
			break;
	bool ok = p->threads > 0 || min == 0;
	pthread_mutex_unlock(&p->lock);
	if (!ok) {
		pool_free(p);
		errno = EAGAIN;
		return NULL;
	}
	return p;
}

int pool_submit(struct pool *p, void *job)
{
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		r = -ECANCELED;
	} else {
		/* Workers that will take a queued job without a new thread. */
		unsigned ready = p->idle + p->starting;
		bool can_grow = p->threads < p->max;

		if (p->count == p->cap || (!can_grow && p->count >= p->queue_len + ready)) {
			r = -EAGAIN;
		} else {
			p->ring[(p->head + p->count) % p->cap] = job;
			p->count++;
			/* Every queued job needs a worker of its own: idle and starting
			 * ones take them first, new ones are started for the rest. */
			if (p->count > ready && can_grow)
				(void)spawn_worker(p);
			pthread_cond_signal(&p->work);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

unsigned pool_drain(struct pool *p, unsigned timeout_ms)
{
	struct timespec ts;
	unsigned left;

	ts = monotonic_after(timeout_ms);
	pthread_mutex_lock(&p->lock);
	while (p->busy + p->count > 0) {
		if (pthread_cond_timedwait(&p->quiet, &p->lock, &ts) == ETIMEDOUT)
			break;
	}
	left = p->busy + p->count;
	pthread_mutex_unlock(&p->lock);
	return left;
}

unsigned pool_stop(struct pool *p, unsigned timeout_ms)
{
	struct timespec ts;
	unsigned left;

	ts = monotonic_after(timeout_ms);
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	/* Jobs nobody started: close them instead of serving them late. */
	while (p->count > 0) {
		p->discard(p->ring[p->head], p->ctx);
		p->head = (p->head + 1) % p->cap;
		p->count--;
	}
	pthread_cond_broadcast(&p->work);
	while (p->threads > 0) {
		if (pthread_cond_timedwait(&p->quiet, &p->lock, &ts) == ETIMEDOUT)
			break;
	}
	left = p->threads;
	pthread_mutex_unlock(&p->lock);
	return left;
}

void pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	(void)pool_stop(p, 0);
	pthread_mutex_lock(&p->lock);
	while (p->threads > 0)
		pthread_cond_wait(&p->quiet, &p->lock);
	pthread_mutex_unlock(&p->lock);

	pthread_attr_destroy(&p->attr);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->quiet);
	pthread_mutex_destroy(&p->lock);
	free(p->ring);
	free(p);
}

void pool_get_stats(struct pool *p, struct pool_stats *ret)
{
	pthread_mutex_lock(&p->lock);
	ret->threads = p->threads;
	ret->idle = p->idle;
	ret->queued = p->count;
	pthread_mutex_unlock(&p->lock);
}

void pool_set_limits(struct pool *p, unsigned min, unsigned max)
{
	pthread_mutex_lock(&p->lock);
	p->min = min;
	p->max = max < min ? min : max;
	pthread_mutex_unlock(&p->lock);
}

int pool_ping(struct pool *p, unsigned timeout_ms)
{
	/* trylock and short naps rather than pthread_mutex_clocklock(), which
	 * ThreadSanitizer (gcc 12) does not intercept: it then reports the
	 * unlock of a mutex it never saw locked. The lock is held only briefly
	 * by a live pool, so the first try nearly always succeeds. */
	struct timespec now, end, nap = { .tv_sec = 0, .tv_nsec = 1000000 };

	end = monotonic_after(timeout_ms);
	for (;;) {
		int r = pthread_mutex_trylock(&p->lock);
		if (r == 0)
			break;
		if (r != EBUSY)
			return -r;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void pool_trim_stack(void)
{
	pthread_attr_t a;
	void *lo;
	size_t size;
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0 || pthread_getattr_np(pthread_self(), &a) != 0)
		return;
	int r = pthread_attr_getstack(&a, &lo, &size);
	pthread_attr_destroy(&a);
	if (r != 0)
		return;
	/* Stacks grow down: everything below the current frame is dead. What
	 * must survive the call is this function's locals and the return
	 * address of the syscall() below it (no interceptor of a sanitizer
	 * runs there, as one may for madvise()): TRIM_MARGIN covers them, and
	 * a signal frame is written afresh wherever it lands. The margin used
	 * to be four pages, then 1 KiB; each time a worker at rest in the
	 * relay kept one page of it that only its handshake had touched: 4 KiB
	 * per idle session. syscall() is an assembly stub that pushes its
	 * return address and nothing else, so 256 bytes leave ample room. */
	uintptr_t pg = (uintptr_t)page;
	uintptr_t start = ((uintptr_t)lo + pg - 1) & ~(pg - 1);
	uintptr_t end = ((uintptr_t)__builtin_frame_address(0) - TRIM_MARGIN) & ~(pg - 1);
	if (end > start && end - start <= size)
		(void)syscall(SYS_madvise, (void *)start, end - start, MADV_DONTNEED);
}
