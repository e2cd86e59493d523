/* The event counters: fixed arrays of relaxed atomics, one add per event,
 * and the per-user totals, a search tree (tsearch) of at most max_users
 * entries plus "other" under one mutex taken once per session end. */
#include "autoconf.h"

#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const uint64_t stats_bucket_us[STATS_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
const char *const stats_bucket_le[STATS_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10",
};

struct histogram {
	atomic_uint_fast64_t buckets[STATS_BUCKETS + 1], sum_us;
};

static struct {
	atomic_uint_fast64_t sessions[STATS_CMD_N][STATS_OUTCOME_N];
	atomic_uint_fast64_t logins[STATS_LOGIN_N];
	atomic_uint_fast64_t refusals[STATS_REFUSAL_N];
	struct histogram hist[STATS_HIST_N];
} counters;

static inline void bump(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t get(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void stats_session_end(unsigned socks_cmd, enum stats_outcome outcome)
{
	/* SOCKS5 numbers its commands 1 (CONNECT), 2 (BIND), 3 (UDP ASSOCIATE),
	 * as enum stats_cmd does. */
	enum stats_cmd cmd = socks_cmd < STATS_CMD_N ? (enum stats_cmd)socks_cmd : STATS_CMD_NONE;

	if ((unsigned)outcome >= STATS_OUTCOME_N)
		return;
	bump(&counters.sessions[cmd][outcome], 1);
	if (outcome == STATS_REFUSED_RULE)
		stats_refusal(STATS_REFUSAL_RULE);
	else if (outcome == STATS_REFUSED_POLICY)
		stats_refusal(STATS_REFUSAL_DEFAULT_POLICY);
	else if (outcome == STATS_REFUSED_LIMIT)
		stats_refusal(STATS_REFUSAL_LIMIT);
}

int64_t stats_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void stats_login(enum stats_login result)
{
	if ((unsigned)result < STATS_LOGIN_N)
		bump(&counters.logins[result], 1);
}

void stats_refusal(enum stats_refusal cause)
{
	if ((unsigned)cause < STATS_REFUSAL_N)
		bump(&counters.refusals[cause], 1);
}

void stats_observe(enum stats_hist h, int64_t us)
{
	if ((unsigned)h >= STATS_HIST_N)
		return;
	uint64_t v = us > 0 ? (uint64_t)us : 0;
	size_t b = 0;
	while (b < STATS_BUCKETS && v > stats_bucket_us[b])
		b++;
	struct histogram *hist = &counters.hist[h];
	bump(&hist->buckets[b], 1);
	bump(&hist->sum_us, v);
}

void stats_get(struct stats_snapshot *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t c = 0; c < STATS_CMD_N; c++)
		for (size_t o = 0; o < STATS_OUTCOME_N; o++)
			ret->sessions[c][o] = get(&counters.sessions[c][o]);
	for (size_t i = 0; i < STATS_LOGIN_N; i++)
		ret->logins[i] = get(&counters.logins[i]);
	for (size_t i = 0; i < STATS_REFUSAL_N; i++)
		ret->refusals[i] = get(&counters.refusals[i]);
	for (size_t h = 0; h < STATS_HIST_N; h++) {
		struct histogram *src = &counters.hist[h];
		struct stats_histogram *dst = &ret->hist[h];
		/* The count is the buckets' sum, so the cumulative series never
		 * passes it, however the reads interleave with observations. */
		for (size_t b = 0; b <= STATS_BUCKETS; b++) {
			dst->buckets[b] = get(&src->buckets[b]);
			dst->count += dst->buckets[b];
		}
		dst->sum_us = get(&src->sum_us);
	}
}

/* ---- per-user totals ---- */

static pthread_mutex_t users_lock = PTHREAD_MUTEX_INITIALIZER;
static void *users_tree;		/* of struct stats_user *, by name */
static struct stats_user **users;	/* the same entries, for copying out */
static size_t nusers, users_cap;
static struct stats_user other = { .name = STATS_USER_OTHER };
static atomic_bool per_user;
static atomic_uint max_users;

static int user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct stats_user *)a)->name, ((const struct stats_user *)b)->name);
}

void stats_set_per_user(bool on, unsigned max)
{
	atomic_store(&max_users, max);
	atomic_store(&per_user, on);
}

bool stats_per_user(void)
{
	return atomic_load(&per_user);
}

/* With the lock held: the entry for name, made when there is room, else
 * "other". */
static struct stats_user *user_entry(const char *name)
{
	struct stats_user key, *e;

	if (strlen(name) >= sizeof(key.name) || strcmp(name, STATS_USER_OTHER) == 0)
		return &other;
	snprintf(key.name, sizeof(key.name), "%s", name);
	void **found = tfind(&key, &users_tree, user_cmp);
	if (found != NULL)
		return *found;
	if (nusers >= atomic_load(&max_users))
		return &other;
	if (nusers == users_cap) {
		size_t cap = users_cap > 0 ? users_cap * 2 : 16;
		struct stats_user **v = realloc(users, cap * sizeof(*v));
		if (v == NULL)
			return &other;
		users = v;
		users_cap = cap;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return &other;
	memcpy(e->name, key.name, sizeof(e->name));
	if (tsearch(e, &users_tree, user_cmp) == NULL) {
		free(e);
		return &other;
	}
	users[nusers++] = e;
	return e;
}

void stats_user_end(const char *user, uint64_t bytes_up, uint64_t bytes_down)
{
	if (user == NULL || user[0] == '\0' || !atomic_load(&per_user))
		return;
	pthread_mutex_lock(&users_lock);
	struct stats_user *e = user_entry(user);
	e->sessions++;
	e->bytes_up += bytes_up;
	e->bytes_down += bytes_down;
	pthread_mutex_unlock(&users_lock);
}

int stats_get_users(struct stats_user **ret)
{
	int r = 0;

	pthread_mutex_lock(&users_lock);
	size_t n = nusers + (other.sessions > 0 ? 1 : 0);
	struct stats_user *v = NULL;
	if (n > 0 && (v = malloc(n * sizeof(*v))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nusers; i++)
		v[i] = *users[i];
	if (nusers > 1)
		qsort(v, nusers, sizeof(*v), user_cmp);
	if (other.sessions > 0)
		v[nusers] = other;
	*ret = v;
	r = (int)n;
out:
	pthread_mutex_unlock(&users_lock);
	return r;
}

static void user_free(void *p)
{
	(void)p;	/* the entries are freed through the array */
}

void stats_reset(void)
{
	pthread_mutex_lock(&users_lock);
	tdestroy(users_tree, user_free);
	users_tree = NULL;
	for (size_t i = 0; i < nusers; i++)
		free(users[i]);
	free(users);
	users = NULL;
	nusers = users_cap = 0;
	other = (struct stats_user){ .name = STATS_USER_OTHER };
	pthread_mutex_unlock(&users_lock);
	memset(&counters, 0, sizeof(counters));
}
