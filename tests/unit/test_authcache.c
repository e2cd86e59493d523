/* Unit tests for the credential cache: TTL from the check, the LRU bound,
 * flush, a failure or a wrong password never cached nor touching an entry,
 * no password bytes in the cache's memory, single-flight with threads (a
 * follower gets its leader's answer), and a seeded random sequence against a
 * simple model. The clock is injected; no sleeps. */
#include "autoconf.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "authcache.h"
#include "unit.h"

#define SVC "socksgate"
#define FAR 1000000		/* a deadline no test reaches */

static enum authcache_answer begin(struct authcache *c, const char *user, const char *pw,
				   int64_t now, struct authcache_ticket **t)
{
	return authcache_begin(c, SVC, user, pw, strlen(pw), now, now + FAR, t);
}

/* A login that checks and gets outcome: returns what begin said. */
static enum authcache_answer login(struct authcache *c, const char *user, const char *pw,
				   int64_t now, enum authcache_outcome outcome)
{
	struct authcache_ticket *t = NULL;
	enum authcache_answer a = begin(c, user, pw, now, &t);

	if (a == AUTHCACHE_LEADER)
		authcache_finish(c, t, outcome, now);
	return a;
}

static struct authcache_stats stats(struct authcache *c)
{
	struct authcache_stats st;
	authcache_get_stats(c, &st);
	return st;
}

/* One login of a scenario: what PAM says if it is asked, and what the cache
 * must answer. */
struct step {
	const char *user, *pw;
	int64_t now;
	enum authcache_outcome pam;
	enum authcache_answer want;
};

#define ACC AUTHCACHE_ACCEPTED
#define REF AUTHCACHE_REFUSED
#define UND AUTHCACHE_UNDECIDED
#define LEADER AUTHCACHE_LEADER
#define HIT AUTHCACHE_HIT

static void run(struct authcache *c, const struct step *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		enum authcache_answer a = login(c, s[i].user, s[i].pw, s[i].now, s[i].pam);
		CHECK(a == s[i].want, "step %zu (%s/%s at %lld): answer %d, expected %d", i,
		      s[i].user, s[i].pw, (long long)s[i].now, a, s[i].want);
	}
}
#define RUN(c, steps) run((c), (steps), sizeof(steps) / sizeof((steps)[0]))

/* A hit does not extend an entry: it goes ttl after the check. */
static void test_ttl_runs_from_the_check(void)
{
	static const struct step steps[] = {
		{ "alice", "Pw-good-1", 100, ACC, LEADER },
		{ "alice", "Pw-good-1", 100, REF, HIT },
		{ "alice", "Pw-good-1", 900, REF, HIT },
		{ "alice", "Pw-good-1", 1099, REF, HIT },
		{ "alice", "Pw-good-1", 1100, REF, LEADER },
		{ "alice", "Pw-good-1", 1101, ACC, LEADER },
		{ "alice", "Pw-good-1", 2100, ACC, HIT },
		{ "alice", "Pw-good-1", 2101, ACC, LEADER },
	};
	struct authcache *c = authcache_new(1000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	RUN(c, steps);
	struct authcache_stats st = stats(c);
	CHECK_INT(st.hits, 4);
	CHECK_INT(st.misses, 4);
	CHECK_INT(st.joined, 0);
	CHECK_INT(st.checking, 0);
	CHECK_INT(st.entries, 1);
	authcache_free(c);
}

static void test_off(void)
{
	unsigned limits[2][2] = { { 0, 10 }, { 1000, 0 } };

	for (int i = 0; i < 2; i++) {
		struct authcache *c = authcache_new(limits[i][0], limits[i][1]);
		struct authcache_ticket *t = (void *)1, *t2 = (void *)1;
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		CHECK_INT(begin(c, "alice", "pw", 0, &t), AUTHCACHE_LEADER);
		CHECK(t == NULL, "off: no ticket");
		/* No single-flight either: a second identical login checks too. */
		CHECK_INT(begin(c, "alice", "pw", 0, &t2), AUTHCACHE_LEADER);
		authcache_finish(c, t, AUTHCACHE_ACCEPTED, 0);
		authcache_finish(c, t2, AUTHCACHE_ACCEPTED, 0);
		CHECK_INT(login(c, "alice", "pw", 1, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
		CHECK_INT(stats(c).entries, 0);
		authcache_free(c);
	}
	/* Turning it off at a reload empties it; on again, it starts empty. */
	struct authcache *c = authcache_new(1000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(login(c, "alice", "pw", 0, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	authcache_set_limits(c, 0, 10);
	CHECK_INT(stats(c).entries, 0);
	CHECK_INT(login(c, "alice", "pw", 1, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	authcache_set_limits(c, 1000, 10);
	CHECK_INT(login(c, "alice", "pw", 2, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	CHECK_INT(login(c, "alice", "pw", 3, AUTHCACHE_ACCEPTED), AUTHCACHE_HIT);
	authcache_free(c);
}

static void test_failure_never_cached(void)
{
	static const struct step steps[] = {
		{ "alice", "pw", 0, REF, LEADER },
		{ "alice", "pw", 1, UND, LEADER },
		{ "alice", "pw", 2, REF, LEADER },
		{ "alice", "pw", 3, ACC, LEADER },
		{ "alice", "pw", 4, REF, HIT },
	};
	struct authcache *c = authcache_new(1000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	RUN(c, steps);
	CHECK_INT(stats(c).checking, 0);
	authcache_free(c);
}

/* A wrong password for a cached user goes to PAM and leaves the entry alone:
 * not evicted, not extended, not made more recently used. */
static void test_wrong_password_leaves_entry(void)
{
	static const struct step steps[] = {
		{ "alice", "right", 0, ACC, LEADER },
		{ "bob", "bobs", 10, ACC, LEADER },
		{ "alice", "wrong", 20, REF, LEADER },
		{ "alice", "", 21, REF, LEADER },
		{ "alice", "right\1", 22, REF, LEADER },
		{ "alice", "righ", 23, REF, LEADER },
		{ "alice", "right", 999, REF, HIT },
		{ "alice", "right", 1000, REF, LEADER },	/* not extended */
		{ "alice", "right", 1001, ACC, LEADER },
		/* alice is newer than bob now; a wrong password for bob must
		 * not save bob from being the one to go */
		{ "bob", "nope", 1002, REF, LEADER },
		{ "carol", "c", 1003, ACC, LEADER },
		{ "bob", "bobs", 1004, REF, LEADER },
		{ "alice", "right", 1005, REF, HIT },
		{ "carol", "c", 1006, REF, HIT },
	};
	struct authcache *c = authcache_new(1000, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	RUN(c, steps);
	authcache_free(c);
}

static void test_lru_bound(void)
{
	static const struct step steps[] = {
		{ "a", "pa", 0, ACC, LEADER },
		{ "b", "pb", 1, ACC, LEADER },
		{ "c", "pc", 2, ACC, LEADER },
		{ "a", "pa", 3, REF, HIT },	/* a: the most recently used */
		{ "d", "pd", 4, ACC, LEADER },	/* b goes */
		{ "a", "pa", 5, REF, HIT },
		{ "c", "pc", 6, REF, HIT },
		{ "d", "pd", 7, REF, HIT },
		{ "b", "pb", 8, REF, LEADER },
	}, after[] = {
		{ "d", "pd", 9, REF, HIT },
		{ "c", "pc", 10, REF, LEADER },
	};
	struct authcache *c = authcache_new(100000, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	RUN(c, steps);
	CHECK_INT(stats(c).entries, 3);
	/* Shrinking at a reload evicts the least recently used at once. */
	authcache_set_limits(c, 100000, 1);
	CHECK_INT(stats(c).entries, 1);
	RUN(c, after);
	authcache_free(c);
}

/* 10,000 users fill a cache of 10,000 and all hit; a grown cache still finds
 * them after its table was rebuilt. */
static void test_large(void)
{
	enum { N = 10000 };
	char user[32];
	int hits = 0;
	struct authcache *c = authcache_new(1000000, N);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < N; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		(void)login(c, user, user, i, AUTHCACHE_ACCEPTED);
	}
	CHECK_INT(stats(c).entries, N);
	authcache_set_limits(c, 1000000, 4 * N);
	for (int i = 0; i < N; i++) {
		snprintf(user, sizeof(user), "user%d", i);
		hits += login(c, user, user, N + i, AUTHCACHE_REFUSED) == AUTHCACHE_HIT;
	}
	CHECK_INT(hits, N);
	(void)login(c, "one more", "x", 2 * N, AUTHCACHE_ACCEPTED);
	CHECK_INT(stats(c).entries, N + 1);
	authcache_free(c);
}

static void test_flush(void)
{
	struct authcache_ticket *t;
	struct authcache *c = authcache_new(100000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(login(c, "a", "pa", 0, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	CHECK_INT(login(c, "b", "pb", 0, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	/* A check that began before the flush is not stored after it. */
	CHECK_INT(begin(c, "c", "pc", 1, &t), AUTHCACHE_LEADER);
	authcache_flush(c);
	CHECK_INT(stats(c).entries, 0);
	/* nor joined by a login after the flush: that one checks on its own */
	CHECK_INT(login(c, "c", "pc", 1, AUTHCACHE_REFUSED), AUTHCACHE_LEADER);
	authcache_finish(c, t, AUTHCACHE_ACCEPTED, 2);
	CHECK_INT(stats(c).entries, 0);
	CHECK_INT(login(c, "a", "pa", 3, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	CHECK_INT(login(c, "c", "pc", 4, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	CHECK_INT(login(c, "a", "pa", 5, AUTHCACHE_REFUSED), AUTHCACHE_HIT);
	CHECK_INT(login(c, "c", "pc", 6, AUTHCACHE_REFUSED), AUTHCACHE_HIT);
	authcache_free(c);
}

/* The key is (service, user, password): each part counts; a newer successful
 * password replaces the entry of its user. */
static void test_key(void)
{
	struct authcache_ticket *t;
	struct authcache *c = authcache_new(100000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(login(c, "alice", "pw", 0, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	CHECK_INT(authcache_begin(c, "other", "alice", "pw", 2, 1, FAR, &t), AUTHCACHE_LEADER);
	authcache_finish(c, t, AUTHCACHE_REFUSED, 1);
	CHECK_INT(login(c, "bob", "pw", 2, AUTHCACHE_REFUSED), AUTHCACHE_LEADER);
	CHECK_INT(login(c, "alicepw", "", 3, AUTHCACHE_REFUSED), AUTHCACHE_LEADER);
	/* Bytes after a NUL count (the caller refuses such a password anyway). */
	CHECK_INT(authcache_begin(c, SVC, "alice", "pw\0x", 4, 4, FAR, &t), AUTHCACHE_LEADER);
	authcache_finish(c, t, AUTHCACHE_REFUSED, 4);
	CHECK_INT(login(c, "alice", "new-pw", 5, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	CHECK_INT(stats(c).entries, 1);
	CHECK_INT(login(c, "alice", "pw", 6, AUTHCACHE_REFUSED), AUTHCACHE_LEADER);
	CHECK_INT(login(c, "alice", "new-pw", 7, AUTHCACHE_REFUSED), AUTHCACHE_HIT);
	authcache_free(c);
}

/* The cache's memory holds the names but never the password's bytes: not
 * after a success, not during a check. */
static void test_no_password_bytes(void)
{
	static const char pw[] = "Pw-good-1-very-secret";
	struct authcache_ticket *t;
	struct authcache *c = authcache_new(100000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(begin(c, "alice-the-user", pw, 0, &t), AUTHCACHE_LEADER);
	CHECK(authcache_debug_contains(c, "alice-the-user", 14), "the scan sees a flight's name");
	CHECK(!authcache_debug_contains(c, pw, strlen(pw)), "a flight holds the password");
	CHECK(!authcache_debug_contains(c, pw, 4), "a flight holds the password's start");
	authcache_finish(c, t, AUTHCACHE_ACCEPTED, 0);
	CHECK_INT(login(c, "bob-the-user", pw + 1, 1, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	CHECK(authcache_debug_contains(c, "alice-the-user", 14), "the scan sees an entry's name");
	CHECK(authcache_debug_contains(c, "bob-the-user", 12), "the scan sees an entry's name");
	CHECK(authcache_debug_contains(c, SVC, strlen(SVC)), "the scan sees the service");
	CHECK(!authcache_debug_contains(c, pw, strlen(pw)), "an entry holds the password");
	CHECK(!authcache_debug_contains(c, pw + 1, strlen(pw) - 1), "an entry holds a password");
	CHECK(!authcache_debug_contains(c, pw + 3, 5), "an entry holds part of a password");
	CHECK_INT(login(c, "alice-the-user", pw, 2, AUTHCACHE_REFUSED), AUTHCACHE_HIT);
	authcache_free(c);
}

/* --- single-flight, with threads ------------------------------------------ */

struct follower {
	pthread_t thread;
	struct authcache *c;
	const char *user, *pw;
	int64_t now, deadline;
	enum authcache_answer answer;
	struct authcache_ticket *ticket;
	atomic_bool done;	/* answer and ticket are written */
};

static void *follow_main(void *arg)
{
	struct follower *f = arg;
	f->answer = authcache_begin(f->c, SVC, f->user, f->pw, strlen(f->pw), f->now, f->deadline,
				    &f->ticket);
	atomic_store(&f->done, true);
	return NULL;
}

static void start_until(struct follower *f, struct authcache *c, const char *user,
			const char *pw, int64_t deadline)
{
	*f = (struct follower){ .c = c, .user = user, .pw = pw, .now = 10, .deadline = deadline };
	CU_ASSERT_EQUAL_FATAL(pthread_create(&f->thread, NULL, follow_main, f), 0);
}

static void start(struct follower *f, struct authcache *c, const char *user, const char *pw)
{
	start_until(f, c, user, pw, FAR);
}

/* Until n callers wait for leaders (spins: the cache has no hook to wait on). */
static void wait_waiting(struct authcache *c, unsigned n)
{
	while (stats(c).waiting != n)
		sched_yield();
}

static void test_follower_gets_success(void)
{
	struct authcache_ticket *t;
	struct follower f[3];
	struct authcache *c = authcache_new(100000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(begin(c, "alice", "pw", 0, &t), AUTHCACHE_LEADER);
	for (int i = 0; i < 3; i++)
		start(&f[i], c, "alice", "pw");
	wait_waiting(c, 3);
	/* A different password is not the same flight: it checks at once. */
	CHECK_INT(login(c, "alice", "other", 5, AUTHCACHE_REFUSED), AUTHCACHE_LEADER);
	CHECK_INT(stats(c).checking, 1);
	authcache_finish(c, t, AUTHCACHE_ACCEPTED, 20);
	for (int i = 0; i < 3; i++) {
		pthread_join(f[i].thread, NULL);
		CHECK_INT(f[i].answer, AUTHCACHE_HIT);
	}
	struct authcache_stats st = stats(c);
	CHECK_INT(st.joined, 3);
	CHECK_INT(st.misses, 2);
	CHECK_INT(st.waiting, 0);
	CHECK_INT(st.checking, 0);
	CHECK_INT(login(c, "alice", "pw", 30, AUTHCACHE_REFUSED), AUTHCACHE_HIT);
	authcache_free(c);
}

/* A definite denial is shared with the followers and not stored. */
static void test_follower_gets_denial(void)
{
	struct authcache_ticket *t;
	struct follower f[2];
	struct authcache *c = authcache_new(100000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(begin(c, "alice", "bad", 0, &t), AUTHCACHE_LEADER);
	for (int i = 0; i < 2; i++)
		start(&f[i], c, "alice", "bad");
	wait_waiting(c, 2);
	authcache_finish(c, t, AUTHCACHE_REFUSED, 20);
	for (int i = 0; i < 2; i++) {
		pthread_join(f[i].thread, NULL);
		CHECK_INT(f[i].answer, AUTHCACHE_DENIED);
	}
	CHECK_INT(stats(c).entries, 0);
	CHECK_INT(login(c, "alice", "bad", 30, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	authcache_free(c);
}

/* After an undecided check one follower becomes the leader; the others wait
 * for it. */
static void test_undecided_hands_over(void)
{
	struct authcache_ticket *t;
	struct follower f[3];
	int leader = -1;
	struct authcache *c = authcache_new(100000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(begin(c, "alice", "pw", 0, &t), AUTHCACHE_LEADER);
	for (int i = 0; i < 3; i++)
		start(&f[i], c, "alice", "pw");
	wait_waiting(c, 3);
	authcache_finish(c, t, AUTHCACHE_UNDECIDED, 20);
	wait_waiting(c, 2);	/* one left the wait: the new leader */
	while (leader < 0) {
		for (int i = 0; i < 3 && leader < 0; i++)
			if (atomic_load(&f[i].done))
				leader = i;
		sched_yield();
	}
	pthread_join(f[leader].thread, NULL);
	CHECK_INT(f[leader].answer, AUTHCACHE_LEADER);
	CU_ASSERT_FATAL(f[leader].answer == AUTHCACHE_LEADER);
	CHECK_INT(stats(c).waiting, 2);
	CHECK_INT(stats(c).checking, 1);
	CHECK_INT(stats(c).entries, 0);
	authcache_finish(c, f[leader].ticket, AUTHCACHE_ACCEPTED, 30);
	for (int i = 0; i < 3; i++) {
		if (i == leader)
			continue;
		pthread_join(f[i].thread, NULL);
		CHECK_INT(f[i].answer, AUTHCACHE_HIT);
	}
	CHECK_INT(stats(c).entries, 1);
	CHECK_INT(stats(c).checking, 0);
	authcache_free(c);
}

/* A leader that gives up with no one waiting leaves nothing behind. */
static void test_undecided_alone(void)
{
	struct authcache_ticket *t;
	struct authcache *c = authcache_new(100000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(begin(c, "alice", "pw", 0, &t), AUTHCACHE_LEADER);
	authcache_finish(c, t, AUTHCACHE_UNDECIDED, 1);
	CHECK_INT(stats(c).checking, 0);
	CHECK_INT(login(c, "alice", "pw", 2, AUTHCACHE_ACCEPTED), AUTHCACHE_LEADER);
	CHECK_INT(login(c, "alice", "pw", 3, AUTHCACHE_ACCEPTED), AUTHCACHE_HIT);
	authcache_free(c);
}

static void test_follower_deadline(void)
{
	struct authcache_ticket *t, *t2;
	struct follower f;
	struct authcache *c = authcache_new(100000, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(begin(c, "alice", "pw", 0, &t), AUTHCACHE_LEADER);
	/* A deadline already past: an answer at once, no wait. */
	CHECK_INT(authcache_begin(c, SVC, "alice", "pw", 2, 100, 100, &t2), AUTHCACHE_TIMEOUT);
	CHECK_INT(authcache_begin(c, SVC, "alice", "pw", 2, 100, 50, &t2), AUTHCACHE_TIMEOUT);
	/* A short real wait that the leader does not answer within. */
	start_until(&f, c, "alice", "pw", 10 + 5);
	pthread_join(f.thread, NULL);
	CHECK_INT(f.answer, AUTHCACHE_TIMEOUT);
	struct authcache_stats st = stats(c);
	CHECK_INT(st.waiting, 0);
	CHECK_INT(st.checking, 1);
	authcache_finish(c, t, AUTHCACHE_ACCEPTED, 10);
	CHECK_INT(stats(c).checking, 0);
	CHECK_INT(stats(c).entries, 1);
	authcache_free(c);
}

/* Many threads over a few credentials, for ThreadSanitizer: every begin ends
 * in an answer, every ticket is finished, nothing is left checking. */
struct storm {
	struct authcache *c;
	unsigned seed;
	int hits;
};

static void *storm_main(void *arg)
{
	struct storm *s = arg;
	char user[8];
	for (int i = 0; i < 2000; i++) {
		struct authcache_ticket *t;
		unsigned r = (unsigned)rand_r(&s->seed);
		snprintf(user, sizeof(user), "u%u", r % 4);
		const char *pw = (r >> 4) % 3 == 0 ? "wrong" : "right";
		enum authcache_answer a = authcache_begin(s->c, SVC, user, pw, 5, i, i + FAR, &t);
		if (a == AUTHCACHE_HIT)
			s->hits++;
		if (a == AUTHCACHE_LEADER) {
			enum authcache_outcome o = (r >> 8) % 5 == 0 ? AUTHCACHE_UNDECIDED :
						   strcmp(pw, "right") == 0 ? AUTHCACHE_ACCEPTED :
									      AUTHCACHE_REFUSED;
			authcache_finish(s->c, t, o, i);
		}
		if ((r >> 12) % 200 == 0)
			authcache_flush(s->c);
	}
	return NULL;
}

static void test_threads(void)
{
	enum { T = 4 };
	pthread_t th[T];
	struct storm s[T];
	struct authcache *c = authcache_new(50, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < T; i++) {
		s[i] = (struct storm){ .c = c, .seed = 42u + (unsigned)i };
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, storm_main, &s[i]), 0);
	}
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	struct authcache_stats st = stats(c);
	CHECK_INT(st.checking, 0);
	CHECK_INT(st.waiting, 0);
	CHECK_INT(st.hits + st.joined + st.misses + st.timeouts, T * 2000);
	CHECK(st.entries <= 3, "%u entries", st.entries);
	authcache_free(c);
}

/* --- a seeded random sequence against a model ------------------------------ */

#define M_USERS 6

struct model {
	struct {
		bool used;
		int pw;
		int64_t checked;
		uint64_t tick;	/* of the last use: the least goes first */
	} e[M_USERS];
	int right[M_USERS];	/* the password PAM takes now */
	int64_t now;
	unsigned count, size, ttl;
	uint64_t tick, hits, misses;
};

static void model_evict_to(struct model *m, unsigned max)
{
	while (m->count > max) {
		int old = -1;
		for (int u = 0; u < M_USERS; u++)
			if (m->e[u].used && (old < 0 || m->e[u].tick < m->e[old].tick))
				old = u;
		m->e[old].used = false;
		m->count--;
	}
}

/* One login of user u with password p; false when the cache and the model
 * disagree. */
static bool model_login(struct authcache *c, struct model *m, int u, int p, unsigned r)
{
	int64_t now = m->now;
	char user[8], pw[8];
	struct authcache_ticket *t;

	snprintf(user, sizeof(user), "u%d", u);
	snprintf(pw, sizeof(pw), "pw%d", p);
	if (m->e[u].used && now - m->e[u].checked >= m->ttl) {
		m->e[u].used = false;
		m->count--;
	}
	enum authcache_answer want = m->e[u].used && m->e[u].pw == p ? AUTHCACHE_HIT :
								       AUTHCACHE_LEADER;
	enum authcache_answer got = begin(c, user, pw, now, &t);
	if (got != want)
		return false;
	if (got == AUTHCACHE_HIT) {
		m->hits++;
		m->e[u].tick = ++m->tick;
		return true;
	}
	m->misses++;
	enum authcache_outcome o = p == m->right[u] ? AUTHCACHE_ACCEPTED :
				   r % 4 == 0 ? AUTHCACHE_UNDECIDED : AUTHCACHE_REFUSED;
	authcache_finish(c, t, o, now);
	if (o == AUTHCACHE_ACCEPTED) {
		if (!m->e[u].used) {
			model_evict_to(m, m->size - 1);
			m->e[u].used = true;
			m->count++;
		}
		m->e[u].pw = p;
		m->e[u].checked = now;
		m->e[u].tick = ++m->tick;
	}
	return true;
}

/* One random operation on the cache and the model; false when they differ. */
static bool model_step(struct authcache *c, struct model *m, unsigned r)
{
	static const unsigned ttls[] = { 50, 100, 300 }, sizes[] = { 1, 2, 4, 6 };
	int u = (int)((r >> 4) % M_USERS);

	switch (r % 20) {
	case 0:
		authcache_flush(c);
		model_evict_to(m, 0);
		break;
	case 1:
		m->right[u] = (m->right[u] + 1) % 3;	/* a password change */
		break;
	case 2:	/* a reload with new limits */
		m->ttl = ttls[(r >> 8) % 3];
		m->size = sizes[(r >> 10) % 4];
		authcache_set_limits(c, m->ttl, m->size);
		model_evict_to(m, m->size);
		break;
	case 3: case 4: case 5:
		m->now += (r >> 8) % 80;
		break;
	default:
		if (!model_login(c, m, u, (int)((r >> 8) % 3), r >> 12))
			return false;
		break;
	}
	return stats(c).entries == m->count;
}

static void test_model(void)
{
	for (unsigned seed = 1; seed <= 50; seed++) {
		struct model m = { .size = 4, .ttl = 100, .now = 1000 };
		unsigned rs = seed;
		struct authcache *c = authcache_new(m.ttl, m.size);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		for (int step = 0; step < 2000; step++)
			if (!model_step(c, &m, (unsigned)rand_r(&rs))) {
				CHECK(false, "seed %u step %d: the cache and the model differ",
				      seed, step);
				break;
			}
		CHECK_INT(stats(c).hits, m.hits);
		CHECK_INT(stats(c).misses, m.misses);
		authcache_free(c);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "TTL runs from the check", test_ttl_runs_from_the_check },
		{ "TTL or size 0: off", test_off },
		{ "a failure is never cached", test_failure_never_cached },
		{ "a wrong password leaves the entry alone", test_wrong_password_leaves_entry },
		{ "LRU bound", test_lru_bound },
		{ "10,000 entries", test_large },
		{ "flush", test_flush },
		{ "service, user and password make the key", test_key },
		{ "no password bytes in memory", test_no_password_bytes },
		{ "followers get the leader's success", test_follower_gets_success },
		{ "followers get the leader's denial", test_follower_gets_denial },
		{ "an undecided leader hands over", test_undecided_hands_over },
		{ "an undecided leader alone", test_undecided_alone },
		{ "a follower's deadline", test_follower_deadline },
		{ "threads", test_threads },
		{ "random operations against a model", test_model },
	};
	alarm(120);	/* a wait that never ends is a failure, not a hung CI */
	return UNIT_RUN("authcache", tests);
}
