/* Unit tests for the PAM gate: N bounds the conversations, waiters go in
 * arrival order, a deadline ends a wait with PAMGATE_TIMEOUT, a gone client
 * leaves the queue with PAMGATE_GONE (while waiting and when its turn comes),
 * a reload changes N, and the descriptor check sees EOF and hang-ups without
 * taking a byte. The clock is injected; waiters are threads that report
 * through condition variables; no sockets, no sleeps. */
#include "autoconf.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "pamgate.h"
#include "timeutil.h"
#include "unit.h"

#define FAR 1000000

static atomic_llong fake_now;

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return atomic_load(&fake_now);
}

/* Everything the clients report, under one lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int order[64], norder;
static unsigned inside, max_inside, releases, nleft;

struct client {
	pthread_t thread;
	struct pamgate *g;
	int id;
	int64_t deadline;
	bool hold;		/* once in, stay until the test releases one */
	bool gone;		/* what the gone check answers */
	unsigned asked;		/* times the gate asked */
	bool entered, finished;
	enum pamgate_status st;
};

static bool client_gone(void *ctx)
{
	struct client *c = ctx;
	bool g;

	pthread_mutex_lock(&lock);
	c->asked++;
	g = c->gone;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	return g;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	enum pamgate_status st = pamgate_enter_fn(c->g, c->deadline, client_gone, c);

	pthread_mutex_lock(&lock);
	c->st = st;
	if (st == PAMGATE_OK) {
		order[norder++] = c->id;
		c->entered = true;
		if (++inside > max_inside)
			max_inside = inside;
		pthread_cond_broadcast(&cond);
		while (c->hold && releases == 0)
			pthread_cond_wait(&cond, &lock);
		if (c->hold)
			releases--;
		inside--;
		nleft++;
	}
	c->finished = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	if (st == PAMGATE_OK)
		pamgate_leave(c->g);
	return NULL;
}

static void reset(void)
{
	pthread_mutex_lock(&lock);
	norder = 0;
	inside = max_inside = releases = nleft = 0;
	pthread_mutex_unlock(&lock);
	atomic_store(&fake_now, 0);
}

static struct pamgate *gate(unsigned n)
{
	struct pamgate *g = pamgate_new(n);
	if (g != NULL)
		pamgate_set_clock(g, fake_clock, NULL);
	return g;
}

/* Starts a client and returns once it waits in the queue (the gate asked
 * whether it is gone) or is in. */
static void start(struct client *c, struct pamgate *g, int id, int64_t deadline, bool hold)
{
	*c = (struct client){ .g = g, .id = id, .deadline = deadline, .hold = hold };
	CU_ASSERT_EQUAL_FATAL(pthread_create(&c->thread, NULL, client_main, c), 0);
	pthread_mutex_lock(&lock);
	while (c->asked == 0 && !c->entered && !c->finished)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void set_gone(struct client *c)
{
	pthread_mutex_lock(&lock);
	c->gone = true;
	pthread_mutex_unlock(&lock);
}

static void release_one(void)
{
	pthread_mutex_lock(&lock);
	releases++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void wait_inside(unsigned n)
{
	pthread_mutex_lock(&lock);
	while (inside != n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static struct pamgate_stats stats(struct pamgate *g)
{
	struct pamgate_stats st;
	pamgate_get_stats(g, &st);
	return st;
}

/* A gate of one slot, which the test holds. */
static struct pamgate *full_gate(void)
{
	reset();
	struct pamgate *g = gate(1);
	if (g != NULL)
		CHECK_INT(pamgate_enter_fn(g, FAR, NULL, NULL), PAMGATE_OK);
	return g;
}

static void test_default_parallel(void)
{
	unsigned n = pamgate_default_parallel();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	CHECK(n >= 2, "default %u", n);
	CHECK(n == (unsigned)(cpus < 2 ? 2 : cpus), "default %u for %ld CPUs", n, cpus);
}

static void test_bound(void)
{
	struct client c;
	reset();
	struct pamgate *g = gate(2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CHECK_INT(pamgate_enter_fn(g, FAR, NULL, NULL), PAMGATE_OK);
	CHECK_INT(pamgate_enter_fn(g, FAR, NULL, NULL), PAMGATE_OK);
	CHECK_INT(stats(g).running, 2);
	start(&c, g, 1, FAR, false);
	CHECK_INT(stats(g).waiting, 1);
	CHECK_INT(stats(g).running, 2);
	CHECK(!c.finished, "a third one got in");
	pamgate_leave(g);
	pthread_join(c.thread, NULL);
	CHECK_INT(c.st, PAMGATE_OK);
	CHECK_INT(stats(g).running, 1);
	pamgate_leave(g);
	CHECK_INT(stats(g).running, 0);
	CHECK_INT(stats(g).waiting, 0);
	pamgate_free(g);
}

static void test_arrival_order(void)
{
	enum { N = 8 };
	struct client c[N];
	struct pamgate *g = full_gate();
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	for (int i = 0; i < N; i++)
		start(&c[i], g, i, FAR, false);
	CHECK_INT(stats(g).waiting, N);
	pamgate_leave(g);	/* each goes in and out at once: a chain */
	for (int i = 0; i < N; i++) {
		pthread_join(c[i].thread, NULL);
		CHECK_INT(c[i].st, PAMGATE_OK);
	}
	CHECK_INT(norder, N);
	for (int i = 0; i < N; i++)
		CHECK_INT(order[i], i);
	CHECK_INT(max_inside, 1);
	pamgate_free(g);
}

/* Twelve clients through three slots: never more than three inside. */
static void test_concurrency(void)
{
	enum { N = 12, P = 3 };
	struct client c[N];
	reset();
	struct pamgate *g = gate(P);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	for (int i = 0; i < N; i++)
		start(&c[i], g, i, FAR, true);
	for (unsigned k = 0; k < N; k++) {
		/* k have left, so P + k have come in (all but the queue's rest). */
		pthread_mutex_lock(&lock);
		while (nleft != k || norder != (int)(P + k < N ? P + k : N))
			pthread_cond_wait(&cond, &lock);
		CHECK_INT(inside, N - k < P ? N - k : P);
		pthread_mutex_unlock(&lock);
		struct pamgate_stats st = stats(g);
		CHECK(st.running <= P, "%u running", st.running);
		CHECK_INT(st.waiting, N - k > P ? N - k - P : 0);
		release_one();
	}
	for (int i = 0; i < N; i++) {
		pthread_join(c[i].thread, NULL);
		CHECK_INT(c[i].st, PAMGATE_OK);
	}
	CHECK_INT(max_inside, P);
	for (int i = 0; i < N; i++)
		CHECK_INT(order[i], i);
	pamgate_free(g);
}

static void test_deadline(void)
{
	struct client a, b;
	reset();
	struct pamgate *g = gate(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	atomic_store(&fake_now, 100);
	/* A deadline already past: at once, even with a slot free. */
	CHECK_INT(pamgate_enter_fn(g, 100, NULL, NULL), PAMGATE_TIMEOUT);
	CHECK_INT(pamgate_enter_fn(g, 50, NULL, NULL), PAMGATE_TIMEOUT);
	CHECK_INT(stats(g).running, 0);
	CHECK_INT(pamgate_enter_fn(g, FAR, NULL, NULL), PAMGATE_OK);
	start(&a, g, 1, 1000, false);
	start(&b, g, 2, 5000, false);
	atomic_store(&fake_now, 1000);
	pamgate_kick(g);
	pthread_join(a.thread, NULL);
	CHECK_INT(a.st, PAMGATE_TIMEOUT);
	CHECK_INT(stats(g).waiting, 1);
	CHECK(!b.finished, "b's deadline is later");
	pamgate_leave(g);
	pthread_join(b.thread, NULL);
	CHECK_INT(b.st, PAMGATE_OK);
	struct pamgate_stats st = stats(g);
	CHECK_INT(st.timeouts, 3);
	CHECK_INT(st.running, 0);
	CHECK_INT(st.waiting, 0);
	pamgate_free(g);
}

/* The real clock and a short deadline: the timed wait ends by itself. */
static void test_deadline_real_clock(void)
{
	struct pamgate *g = pamgate_new(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CHECK_INT(pamgate_enter_fn(g, INT64_MAX, NULL, NULL), PAMGATE_OK);
	CHECK_INT(pamgate_enter_fn(g, monotonic_ms() + 5, NULL, NULL), PAMGATE_TIMEOUT);
	pamgate_leave(g);
	pamgate_free(g);
}

static void test_gone_while_waiting(void)
{
	struct client a, b;
	struct pamgate *g = full_gate();
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	start(&a, g, 1, FAR, false);
	start(&b, g, 2, FAR, false);
	set_gone(&a);
	pamgate_kick(g);
	pthread_join(a.thread, NULL);
	CHECK_INT(a.st, PAMGATE_GONE);
	CHECK_INT(stats(g).waiting, 1);
	CHECK_INT(stats(g).running, 1);
	pamgate_leave(g);
	pthread_join(b.thread, NULL);
	CHECK_INT(b.st, PAMGATE_OK);
	CHECK_INT(norder, 1);
	CHECK_INT(order[0], 2);
	CHECK_INT(stats(g).gone, 1);
	pamgate_free(g);
}

/* A client that left while it waited, seen only when its turn comes, passes
 * the slot on without running. */
static void test_gone_when_turn_comes(void)
{
	struct client a, b;
	struct pamgate *g = full_gate();
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	start(&a, g, 1, FAR, false);
	start(&b, g, 2, FAR, false);
	set_gone(&a);	/* no kick: the gate finds out when a's turn comes */
	pamgate_leave(g);
	pthread_join(a.thread, NULL);
	pthread_join(b.thread, NULL);
	CHECK_INT(a.st, PAMGATE_GONE);
	CHECK_INT(b.st, PAMGATE_OK);
	CHECK_INT(norder, 1);
	CHECK_INT(order[0], 2);
	CHECK_INT(stats(g).running, 0);
	pamgate_free(g);
}

static void wait_order(int n)
{
	pthread_mutex_lock(&lock);
	while (norder < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void test_set_parallel(void)
{
	struct client a, b, c;
	reset();
	struct pamgate *g = gate(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CHECK_INT(pamgate_enter_fn(g, FAR, NULL, NULL), PAMGATE_OK);
	start(&a, g, 1, FAR, true);
	start(&b, g, 2, FAR, true);
	CHECK_INT(stats(g).waiting, 2);
	pamgate_set_parallel(g, 3);	/* both in at once */
	wait_inside(2);
	CHECK_INT(stats(g).running, 3);
	CHECK_INT(stats(g).waiting, 0);
	pamgate_set_parallel(g, 1);	/* the three run on; no one else until none runs */
	start(&c, g, 3, FAR, true);
	CHECK_INT(stats(g).waiting, 1);
	pamgate_leave(g);
	release_one();
	wait_inside(1);		/* a or b left; the other still runs */
	CHECK_INT(stats(g).waiting, 1);
	CHECK_INT(norder, 2);
	release_one();
	wait_order(3);		/* the other left: c came in */
	CHECK_INT(order[2], 3);
	pthread_join(a.thread, NULL);
	pthread_join(b.thread, NULL);
	CHECK_INT(stats(g).running, 1);
	release_one();
	pthread_join(c.thread, NULL);
	CHECK_INT(c.st, PAMGATE_OK);
	CHECK_INT(stats(g).running, 0);
	CHECK_INT(stats(g).parallel, 1);
	pamgate_free(g);
}

/* The descriptor check on pipes (the unit tests open no sockets): an open
 * empty one and one with bytes waiting are not gone; a hang-up and a closed
 * descriptor are; the bytes are still there afterwards. */
static void test_client_gone_fd(void)
{
	int p[2];
	char buf[8];

	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_NONBLOCK), 0);
	CHECK(!pamgate_client_gone(p[0]), "an open, empty pipe");
	CHECK_INT(write(p[1], "abc", 3), 3);
	CHECK(!pamgate_client_gone(p[0]), "a pipe with bytes waiting");
	CHECK_INT(read(p[0], buf, sizeof(buf)), 3);	/* none taken */
	close(p[1]);
	CHECK(pamgate_client_gone(p[0]), "a pipe whose writer closed");
	close(p[0]);
	CHECK(pamgate_client_gone(p[0]), "a closed descriptor");
}

/* pamgate_enter() on a descriptor: the waiter leaves once its writer closes. */
static void *fd_client(void *arg)
{
	struct client *c = arg;
	c->st = pamgate_enter(c->g, FAR, c->id);
	return NULL;
}

static void test_enter_fd(void)
{
	struct client c;
	int p[2];
	struct pamgate *g = full_gate();
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_NONBLOCK), 0);
	c = (struct client){ .g = g, .id = p[0] };
	CU_ASSERT_EQUAL_FATAL(pthread_create(&c.thread, NULL, fd_client, &c), 0);
	while (stats(g).waiting != 1)
		sched_yield();
	close(p[1]);
	pamgate_kick(g);
	pthread_join(c.thread, NULL);
	CHECK_INT(c.st, PAMGATE_GONE);
	close(p[0]);
	pamgate_leave(g);
	pamgate_free(g);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "default parallelism", test_default_parallel },
		{ "N bounds the conversations", test_bound },
		{ "arrival order", test_arrival_order },
		{ "twelve through three", test_concurrency },
		{ "deadline", test_deadline },
		{ "deadline on the real clock", test_deadline_real_clock },
		{ "a client gone while waiting", test_gone_while_waiting },
		{ "a client gone when its turn comes", test_gone_when_turn_comes },
		{ "reload changes N", test_set_parallel },
		{ "descriptor check", test_client_gone_fd },
		{ "enter on a descriptor", test_enter_fd },
	};
	alarm(120);	/* a wait that never ends is a failure, not a hung CI */
	return UNIT_RUN("pamgate", tests);
}
