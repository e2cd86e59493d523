/* Unit tests for the worker pool: every job runs exactly once, the queue bound
 * holds, the pool grows to its maximum and no further, and freeing a pool with
 * queued jobs releases them. Jobs synchronise with condition variables, never
 * with sleeps; run under ThreadSanitizer in CI. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "pool.h"
#include "unit.h"

static atomic_int ran;

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static unsigned waiting;

static void count_job(void *job, void *ctx)
{
	(void)job;
	(void)ctx;
	atomic_fetch_add(&ran, 1);
}

/* Blocks until the test opens the gate. */
static void gated_job(void *job, void *ctx)
{
	(void)job;
	(void)ctx;
	pthread_mutex_lock(&gate_lock);
	waiting++;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	waiting--;
	pthread_mutex_unlock(&gate_lock);
	atomic_fetch_add(&ran, 1);
}

static void wait_for_waiting(unsigned n)
{
	pthread_mutex_lock(&gate_lock);
	while (waiting < n)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void open_gate(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* A test job: a descriptor the discard callback closes (-1: none). The pool
 * keeps only the pointer, so each submit takes a slot of its own. */
struct tjob {
	int fd;
};
static struct tjob jobs[1024];
static unsigned njobs;

static struct tjob *job(void)
{
	struct tjob *j = &jobs[njobs++ % (sizeof(jobs) / sizeof(jobs[0]))];
	j->fd = -1;
	return j;
}

/* What a real job's discard does: closes its descriptor. */
static void close_discard(void *job, void *ctx)
{
	struct tjob *j = job;
	(void)ctx;
	if (j->fd >= 0)
		close(j->fd);
}

static void test_every_job_runs_once(void)
{
	atomic_store(&ran, 0);
	struct pool *p = pool_new(2, 8, 1000, 64 * 1024, 60000, count_job, close_discard, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < 500; i++) {
		CU_ASSERT_EQUAL(pool_submit(p, job()), 0);
	}
	CU_ASSERT_EQUAL(pool_drain(p, 10000), 0);
	CU_ASSERT_EQUAL(atomic_load(&ran), 500);
	pool_free(p);
}

static void test_queue_bound_and_max_workers(void)
{
	struct pool_stats st;

	atomic_store(&ran, 0);
	gate_open = false;
	struct pool *p = pool_new(1, 3, 2, 64 * 1024, 60000, gated_job, close_discard, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(pool_submit(p, job()), 0);
	}
	wait_for_waiting(3);	/* three workers busy: the pool grew to its maximum */
	pool_get_stats(p, &st);
	CU_ASSERT_EQUAL(st.threads, 3);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(pool_submit(p, job()), 0);	/* queued */
	}
	pool_get_stats(p, &st);
	CU_ASSERT_EQUAL(st.queued, 2);
	CU_ASSERT_EQUAL(st.threads, 3);	/* never above the maximum */
	CU_ASSERT_EQUAL(pool_submit(p, job()), -EAGAIN);	/* queue full */
	CU_ASSERT_EQUAL(pool_drain(p, 0), 5);
	open_gate();
	CU_ASSERT_EQUAL(pool_drain(p, 10000), 0);
	CU_ASSERT_EQUAL(atomic_load(&ran), 5);
	pool_free(p);
}

/* Opens the gate once the read end of the pipe is closed (POLLERR on the
 * full write end), so pool_free() is seen closing the queued job first. */
static void *open_gate_when_closed(void *arg)
{
	struct pollfd p = { .fd = *(int *)arg, .events = POLLOUT };
	(void)poll(&p, 1, -1);
	open_gate();
	return NULL;
}

static void test_free_closes_queued_jobs(void)
{
	int fds[2];
	pthread_t t;
	char buf[4096] = { 0 };

	atomic_store(&ran, 0);
	gate_open = false;
	struct pool *p = pool_new(1, 1, 4, 64 * 1024, 60000, gated_job, close_discard, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(pool_submit(p, job()), 0);
	wait_for_waiting(1);
	CU_ASSERT_EQUAL_FATAL(pipe2(fds, O_NONBLOCK), 0);
	while (write(fds[1], buf, sizeof(buf)) > 0)
		;	/* fill it: the write end polls writable only once the read end closes */
	struct tjob *j = job();
	j->fd = fds[0];	/* queued behind the busy worker */
	CU_ASSERT_EQUAL(pool_submit(p, j), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, open_gate_when_closed, &fds[1]), 0);
	pool_free(p);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(atomic_load(&ran), 1);	/* the queued job was closed, not run */
	close(fds[1]);
}

/* pool_stop() does not wait past its limit for a job that will not end, and
 * reports how many workers are still in one. */
static void test_stop_reports_stuck_workers(void)
{
	atomic_store(&ran, 0);
	pthread_mutex_lock(&gate_lock);
	gate_open = false;
	waiting = 0;
	pthread_mutex_unlock(&gate_lock);
	struct pool *p = pool_new(0, 2, 4, 64 * 1024, 60000, gated_job, close_discard, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(pool_submit(p, job()), 0);
	}
	wait_for_waiting(2);
	CU_ASSERT_EQUAL(pool_stop(p, 0), 2);
	CU_ASSERT_EQUAL(pool_submit(p, job()), -ECANCELED);
	open_gate();
	CU_ASSERT_EQUAL(pool_stop(p, 10000), 0);
	CU_ASSERT_EQUAL(atomic_load(&ran), 2);
	pool_free(p);
}

static atomic_int discarded;

static void count_discard(void *job, void *ctx)
{
	(void)job;
	(void)ctx;
	atomic_fetch_add(&discarded, 1);
}

/* Queued jobs that will never run go to the discard callback. */
static void test_discard_hook(void)
{
	atomic_store(&ran, 0);
	atomic_store(&discarded, 0);
	pthread_mutex_lock(&gate_lock);
	gate_open = false;
	pthread_mutex_unlock(&gate_lock);
	struct pool *p = pool_new(1, 1, 4, 64 * 1024, 60000, gated_job, count_discard, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(pool_submit(p, job()), 0);
	}
	wait_for_waiting(1);	/* one runs, two wait in the queue */
	CU_ASSERT_EQUAL(pool_stop(p, 0), 1);
	CU_ASSERT_EQUAL(atomic_load(&discarded), 2);
	open_gate();
	pool_free(p);
	CU_ASSERT_EQUAL(atomic_load(&ran), 1);
}

static void test_set_limits(void)
{
	struct pool *p = pool_new(1, 2, 4, 64 * 1024, 60000, count_job, close_discard, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	pool_set_limits(p, 1, 1);
	struct pool_stats st;
	pool_get_stats(p, &st);
	CU_ASSERT_EQUAL(st.threads, 1);
	pool_free(p);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "every job runs once", test_every_job_runs_once },
		{ "queue bound and maximum workers", test_queue_bound_and_max_workers },
		{ "free closes queued jobs", test_free_closes_queued_jobs },
		{ "stop reports stuck workers", test_stop_reports_stuck_workers },
		{ "discard hook takes queued jobs", test_discard_hook },
		{ "limits can change", test_set_limits },
	};
	return UNIT_RUN("pool", tests);
}
