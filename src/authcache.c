/* The credential cache: a chained hash table of entries keyed by a keyed hash
 * of (service, user), an LRU list through them, and a second small table of
 * flights (credentials being checked now) whose followers wait on the
 * flight's condition variable. One mutex guards everything. */
#include "autoconf.h"

#include "authcache.h"

#include "timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CRED_BYTES 32		/* keyed BLAKE2b of service, user and password */
#define BUCKET_BYTES 16		/* keyed BLAKE2b of service and user (BYTES_MIN) */
#define BUCKETS_MIN 16
#define BUCKETS_MAX (1u << 20)
#define FLIGHT_BUCKETS 256	/* flights are bounded by the workers */

/* A stored success. service and user live in names[]. */
struct entry {
	struct entry *hnext;		/* bucket chain */
	struct entry *newer, *older;	/* LRU list */
	uint64_t bucket;
	int64_t checked_ms;
	size_t size;			/* of the allocation, for debug_contains */
	const char *user;
	uint8_t cred[CRED_BYTES];
	char names[];			/* service \0 user \0 */
};

enum flight_result { FLIGHT_RUNNING, FLIGHT_ACCEPTED, FLIGHT_REFUSED };

/* Credentials being checked: the leader and its followers hold one
 * reference each; the last to leave frees it. */
struct authcache_ticket {
	struct authcache_ticket *hnext;
	pthread_cond_t cond;
	uint64_t bucket, generation;
	unsigned refs;
	bool leader;		/* someone has the ticket and is checking */
	bool linked;		/* still in the flight table (result not known) */
	enum flight_result result;
	size_t size;
	const char *user;
	uint8_t cred[CRED_BYTES];
	char names[];
};

struct authcache {
	pthread_mutex_t lock;
	pthread_condattr_t condattr;	/* CLOCK_MONOTONIC, for every flight */
	unsigned ttl_ms, max_entries, nentries, nflights, nwaiting;
	uint64_t generation;		/* + 1 at each flush */
	size_t nbuckets;		/* a power of two */
	struct entry **buckets;
	struct entry *newest, *oldest;
	struct authcache_ticket *flights[FLIGHT_BUCKETS];
	struct authcache_stats stats;
	uint8_t cred_key[crypto_generichash_KEYBYTES];
	uint8_t bucket_key[crypto_generichash_KEYBYTES];
};

/* The keyed hash of service \0 user \0 [password] into out. The hash state
 * holds password bytes in its buffer: wiped before returning. */
static void hash_names(const uint8_t *key, const char *service, const char *user,
		       const char *password, size_t password_len, uint8_t *out, size_t outlen)
{
	crypto_generichash_state st;

	(void)crypto_generichash_init(&st, key, crypto_generichash_KEYBYTES, outlen);
	(void)crypto_generichash_update(&st, (const uint8_t *)service, strlen(service) + 1);
	(void)crypto_generichash_update(&st, (const uint8_t *)user, strlen(user) + 1);
	if (password != NULL)
		(void)crypto_generichash_update(&st, (const uint8_t *)password, password_len);
	(void)crypto_generichash_final(&st, out, outlen);
	sodium_memzero(&st, sizeof(st));
}

static uint64_t bucket_of(const struct authcache *c, const char *service, const char *user)
{
	uint8_t h[BUCKET_BYTES];
	uint64_t b;

	hash_names(c->bucket_key, service, user, NULL, 0, h, sizeof(h));
	memcpy(&b, h, sizeof(b));
	return b;
}

static bool cache_on(const struct authcache *c)
{
	return c->ttl_ms > 0 && c->max_entries > 0;
}

static size_t buckets_for(unsigned max_entries)
{
	size_t n = BUCKETS_MIN;

	while (n < max_entries && n < BUCKETS_MAX)
		n *= 2;
	return n;
}

/* --- entries: hash chains and the LRU list ------------------------------ */

static struct entry **chain_of(struct authcache *c, uint64_t bucket)
{
	return &c->buckets[bucket & (c->nbuckets - 1)];
}

static void lru_unlink(struct authcache *c, struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push_newest(struct authcache *c, struct entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

static void entry_free(struct entry *e)
{
	sodium_memzero(e, e->size);
	free(e);
}

static void entry_remove(struct authcache *c, struct entry *e)
{
	struct entry **p = chain_of(c, e->bucket);

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	lru_unlink(c, e);
	c->nentries--;
	entry_free(e);
}

static struct entry *entry_find(struct authcache *c, uint64_t bucket, const char *service,
				const char *user)
{
	for (struct entry *e = *chain_of(c, bucket); e != NULL; e = e->hnext)
		if (e->bucket == bucket && strcmp(e->user, user) == 0 &&
		    strcmp(e->names, service) == 0)
			return e;
	return NULL;
}

static void evict_to(struct authcache *c, unsigned max)
{
	while (c->nentries > max && c->oldest != NULL)
		entry_remove(c, c->oldest);
}

/* Moves every entry into a table of n buckets; keeps the old one when the
 * new cannot be had (longer chains, still correct). */
static void rehash(struct authcache *c, size_t n)
{
	struct entry **nb = calloc(n, sizeof(*nb));

	if (nb == NULL)
		return;
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
	for (struct entry *e = c->newest; e != NULL; e = e->older) {
		struct entry **p = chain_of(c, e->bucket);
		e->hnext = *p;
		*p = e;
	}
}

/* Stores the flight's success as the newest entry of its (service, user). */
static void entry_store(struct authcache *c, const struct authcache_ticket *f, int64_t now_ms)
{
	const char *service = f->names;
	struct entry *e = entry_find(c, f->bucket, service, f->user);

	if (e == NULL) {
		size_t slen = strlen(service) + 1, ulen = strlen(f->user) + 1;
		size_t size = sizeof(*e) + slen + ulen;
		evict_to(c, c->max_entries - 1);
		e = calloc(1, size);
		if (e == NULL)
			return;	/* not remembered: the next login asks PAM */
		e->size = size;
		e->bucket = f->bucket;
		memcpy(e->names, service, slen);
		memcpy(e->names + slen, f->user, ulen);
		e->user = e->names + slen;
		struct entry **p = chain_of(c, e->bucket);
		e->hnext = *p;
		*p = e;
		c->nentries++;
	} else {
		lru_unlink(c, e);
	}
	memcpy(e->cred, f->cred, CRED_BYTES);
	e->checked_ms = now_ms;
	lru_push_newest(c, e);
}

/* --- flights ------------------------------------------------------------ */

/* A flight begun before a flush is not joined after it: it may be checking
 * against the PAM configuration the reload replaced. */

static struct authcache_ticket **flight_chain(struct authcache *c, uint64_t bucket)
{
	return &c->flights[bucket % FLIGHT_BUCKETS];
}

static struct authcache_ticket *flight_find(struct authcache *c, uint64_t bucket,
					    const uint8_t *cred)
{
	for (struct authcache_ticket *f = *flight_chain(c, bucket); f != NULL; f = f->hnext)
		if (f->bucket == bucket && f->generation == c->generation &&
		    sodium_memcmp(f->cred, cred, CRED_BYTES) == 0)
			return f;
	return NULL;
}

static struct authcache_ticket *flight_new(struct authcache *c, uint64_t bucket,
					   const uint8_t *cred, const char *service,
					   const char *user)
{
	size_t slen = strlen(service) + 1, ulen = strlen(user) + 1;
	size_t size = sizeof(struct authcache_ticket) + slen + ulen;
	struct authcache_ticket *f = calloc(1, size);

	if (f == NULL)
		return NULL;
	if (pthread_cond_init(&f->cond, &c->condattr) != 0) {
		free(f);
		return NULL;
	}
	f->size = size;
	f->bucket = bucket;
	f->generation = c->generation;
	f->refs = 1;
	f->leader = true;
	f->result = FLIGHT_RUNNING;
	memcpy(f->cred, cred, CRED_BYTES);
	memcpy(f->names, service, slen);
	memcpy(f->names + slen, user, ulen);
	f->user = f->names + slen;
	struct authcache_ticket **p = flight_chain(c, bucket);
	f->hnext = *p;
	*p = f;
	f->linked = true;
	c->nflights++;
	return f;
}

static void flight_unlink(struct authcache *c, struct authcache_ticket *f)
{
	struct authcache_ticket **p = flight_chain(c, f->bucket);

	if (!f->linked)
		return;
	while (*p != f)
		p = &(*p)->hnext;
	*p = f->hnext;
	f->linked = false;
	c->nflights--;
}

/* Drops one reference; the last frees the flight. */
static void flight_put(struct authcache *c, struct authcache_ticket *f)
{
	if (--f->refs > 0)
		return;
	flight_unlink(c, f);
	pthread_cond_destroy(&f->cond);
	sodium_memzero(f, f->size);
	free(f);
}

/* A follower's wait, with the lock held and a reference on f taken: returns
 * the answer; for AUTHCACHE_LEADER the reference becomes the leader's. */
static enum authcache_answer follow(struct authcache *c, struct authcache_ticket *f,
				    int64_t wait_ms)
{
	struct timespec until = monotonic_after(wait_ms);
	bool expired = wait_ms <= 0;
	enum authcache_answer a = AUTHCACHE_TIMEOUT;

	c->nwaiting++;
	for (;;) {
		if (f->result != FLIGHT_RUNNING) {
			a = f->result == FLIGHT_ACCEPTED ? AUTHCACHE_HIT : AUTHCACHE_DENIED;
			c->stats.joined++;
			break;
		}
		if (!f->leader && !expired) {
			f->leader = true;
			c->stats.misses++;
			a = AUTHCACHE_LEADER;
			break;
		}
		if (expired) {
			c->stats.timeouts++;
			break;
		}
		if (pthread_cond_timedwait(&f->cond, &c->lock, &until) == ETIMEDOUT)
			expired = true;	/* one more look at the result first */
	}
	c->nwaiting--;
	if (a != AUTHCACHE_LEADER)
		flight_put(c, f);
	return a;
}

/* --- the API ------------------------------------------------------------ */

struct authcache *authcache_new(unsigned ttl_ms, unsigned max_entries)
{
	struct authcache *c;

	if (sodium_init() < 0) {
		errno = EIO;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->nbuckets = buckets_for(max_entries);
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&c->condattr);
	pthread_condattr_setclock(&c->condattr, CLOCK_MONOTONIC);
	c->ttl_ms = ttl_ms;
	c->max_entries = max_entries;
	randombytes_buf(c->cred_key, sizeof(c->cred_key));
	randombytes_buf(c->bucket_key, sizeof(c->bucket_key));
	return c;
}

void authcache_free(struct authcache *c)
{
	if (c == NULL)
		return;
	evict_to(c, 0);
	for (size_t i = 0; i < FLIGHT_BUCKETS; i++)
		while (c->flights[i] != NULL) {
			struct authcache_ticket *f = c->flights[i];
			f->refs = 1;	/* a broken promise of the caller's: free anyway */
			flight_put(c, f);
		}
	free(c->buckets);
	pthread_condattr_destroy(&c->condattr);
	pthread_mutex_destroy(&c->lock);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

void authcache_set_limits(struct authcache *c, unsigned ttl_ms, unsigned max_entries)
{
	pthread_mutex_lock(&c->lock);
	c->ttl_ms = ttl_ms;
	c->max_entries = max_entries;
	evict_to(c, cache_on(c) ? max_entries : 0);
	if (buckets_for(max_entries) > c->nbuckets)
		rehash(c, buckets_for(max_entries));
	pthread_mutex_unlock(&c->lock);
}

void authcache_flush(struct authcache *c)
{
	pthread_mutex_lock(&c->lock);
	evict_to(c, 0);
	c->generation++;
	pthread_mutex_unlock(&c->lock);
}

enum authcache_answer authcache_begin(struct authcache *c, const char *service, const char *user,
				      const char *password, size_t password_len, int64_t now_ms,
				      int64_t deadline_ms, struct authcache_ticket **ret_ticket)
{
	uint8_t cred[CRED_BYTES];
	enum authcache_answer a = AUTHCACHE_LEADER;
	struct authcache_ticket *f = NULL;
	uint64_t bucket = bucket_of(c, service, user);

	hash_names(c->cred_key, service, user, password, password_len, cred, sizeof(cred));
	pthread_mutex_lock(&c->lock);
	if (!cache_on(c)) {
		c->stats.misses++;
		goto out;
	}
	struct entry *e = entry_find(c, bucket, service, user);
	if (e != NULL && now_ms - e->checked_ms >= (int64_t)c->ttl_ms) {
		entry_remove(c, e);	/* expired */
		e = NULL;
	}
	if (e != NULL && sodium_memcmp(e->cred, cred, CRED_BYTES) == 0) {
		lru_unlink(c, e);
		lru_push_newest(c, e);
		c->stats.hits++;
		a = AUTHCACHE_HIT;
		goto out;
	}
	f = flight_find(c, bucket, cred);
	if (f != NULL) {
		f->refs++;
		if (!f->leader) {	/* its leader gave up: this call takes over */
			f->leader = true;
			c->stats.misses++;
			goto out;
		}
		a = follow(c, f, deadline_ms - now_ms);
		if (a != AUTHCACHE_LEADER)
			f = NULL;
		goto out;
	}
	/* Without memory for a flight the caller still checks, alone. */
	f = flight_new(c, bucket, cred, service, user);
	c->stats.misses++;
out:
	pthread_mutex_unlock(&c->lock);
	sodium_memzero(cred, sizeof(cred));
	if (a == AUTHCACHE_LEADER)
		*ret_ticket = f;
	return a;
}

void authcache_finish(struct authcache *c, struct authcache_ticket *f,
		      enum authcache_outcome outcome, int64_t now_ms)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	switch (outcome) {
	case AUTHCACHE_ACCEPTED:
		if (cache_on(c) && f->generation == c->generation)
			entry_store(c, f, now_ms);
		f->result = FLIGHT_ACCEPTED;
		flight_unlink(c, f);
		break;
	case AUTHCACHE_REFUSED:
		f->result = FLIGHT_REFUSED;
		flight_unlink(c, f);
		break;
	case AUTHCACHE_UNDECIDED:
		f->leader = false;	/* the first follower to wake takes over */
		break;
	}
	pthread_cond_broadcast(&f->cond);
	flight_put(c, f);
	pthread_mutex_unlock(&c->lock);
}

void authcache_get_stats(struct authcache *c, struct authcache_stats *ret)
{
	pthread_mutex_lock(&c->lock);
	*ret = c->stats;
	ret->entries = c->nentries;
	ret->checking = c->nflights;
	ret->waiting = c->nwaiting;
	pthread_mutex_unlock(&c->lock);
}

static bool mem_contains(const void *mem, size_t size, const void *bytes, size_t len)
{
	return len > 0 && memmem(mem, size, bytes, len) != NULL;
}

bool authcache_debug_contains(struct authcache *c, const void *bytes, size_t len)
{
	bool found;

	pthread_mutex_lock(&c->lock);
	found = mem_contains(c, sizeof(*c), bytes, len);
	for (struct entry *e = c->newest; e != NULL && !found; e = e->older)
		found = mem_contains(e, e->size, bytes, len);
	for (size_t i = 0; i < FLIGHT_BUCKETS && !found; i++)
		for (struct authcache_ticket *f = c->flights[i]; f != NULL && !found; f = f->hnext)
			found = mem_contains(f, f->size, bytes, len);
	pthread_mutex_unlock(&c->lock);
	return found;
}
