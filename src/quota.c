/* The counter table: one hash of entries keyed by client address or user name,
 * under one mutex. An entry exists while it counts a live session or a rate
 * window that has not ended, so memory follows the load, and rate-only entries
 * are bounded: past QUOTA_RATE_ENTRIES_MAX the ended windows are swept, and if the
 * table is still full, the rate limit lets the connection through rather than
 * refusing everyone. */
#include "autoconf.h"

#include "quota.h"

#include "addr.h"
#include "timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BUCKETS 4096
#define WINDOW_MS 1000
#define KEY_MAX 257

enum key_kind { KEY_CLIENT = 'c', KEY_USER = 'u' };

struct entry {
	struct entry *next;
	unsigned active;		/* live sessions */
	int64_t window_start_ms;	/* rate window; 0: none */
	unsigned window_count;
	size_t keylen;
	uint8_t key[];
};

struct key {
	uint8_t b[KEY_MAX];
	size_t len;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[BUCKETS];
static size_t nentries;
static atomic_uint sessions;

static bool client_key(const struct sockaddr *sa, struct key *k)
{
	struct addr_net n;

	/* addr_net_from_sockaddr() defines every byte: one address, one key. */
	if (!addr_net_from_sockaddr(sa, &n))
		return false;
	k->b[0] = KEY_CLIENT;
	memcpy(k->b + 1, &n, sizeof(n));
	k->len = 1 + sizeof(n);
	return true;
}

static bool user_key(const char *user, struct key *k)
{
	size_t n = strlen(user);

	if (n + 1 > sizeof(k->b))
		return false;
	k->b[0] = KEY_USER;
	memcpy(k->b + 1, user, n);
	k->len = n + 1;
	return true;
}

static size_t hash(const struct key *k)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < k->len; i++)
		h = (h ^ k->b[i]) * 16777619u;
	return h % BUCKETS;
}

/* With the lock held: the entry for k, created when create is set. */
static struct entry *find(const struct key *k, bool create)
{
	struct entry **head = &table[hash(k)];

	for (struct entry *e = *head; e != NULL; e = e->next)
		if (e->keylen == k->len && memcmp(e->key, k->b, k->len) == 0)
			return e;
	if (!create)
		return NULL;
	struct entry *e = calloc(1, sizeof(*e) + k->len);
	if (e == NULL)
		return NULL;
	e->keylen = k->len;
	memcpy(e->key, k->b, k->len);
	e->next = *head;
	*head = e;
	nentries++;
	return e;
}

static bool idle(const struct entry *e, int64_t now_ms)
{
	return e->active == 0 && (e->window_start_ms == 0 || now_ms - e->window_start_ms >= WINDOW_MS);
}

/* With the lock held: frees e when it no longer counts anything. */
static void drop_if_idle(const struct key *k, int64_t now_ms)
{
	for (struct entry **p = &table[hash(k)]; *p != NULL; p = &(*p)->next) {
		struct entry *e = *p;
		if (e->keylen == k->len && memcmp(e->key, k->b, k->len) == 0) {
			if (idle(e, now_ms)) {
				*p = e->next;
				free(e);
				nentries--;
			}
			return;
		}
	}
}

static void sweep(int64_t now_ms)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct entry **p = &table[i]; *p != NULL;) {
			struct entry *e = *p;
			if (idle(e, now_ms)) {
				*p = e->next;
				free(e);
				nentries--;
			} else {
				p = &e->next;
			}
		}
	}
}

static bool acquire(const struct key *k, unsigned max)
{
	bool ok = false;

	pthread_mutex_lock(&table_lock);
	struct entry *e = find(k, true);
	if (e != NULL && (max == 0 || e->active < max)) {
		e->active++;
		ok = true;
	}
	pthread_mutex_unlock(&table_lock);
	return ok;
}

static void release(const struct key *k)
{
	pthread_mutex_lock(&table_lock);
	struct entry *e = find(k, false);
	if (e != NULL && e->active > 0) {
		e->active--;
		/* A rate window still running keeps it: the next connection from
		 * that client, or a sweep, takes it later. */
		drop_if_idle(k, monotonic_ms());
	}
	pthread_mutex_unlock(&table_lock);
}

bool quota_client_acquire(const struct sockaddr *client, unsigned max)
{
	struct key k;
	return client_key(client, &k) ? acquire(&k, max) : true;
}

void quota_client_release(const struct sockaddr *client)
{
	struct key k;
	if (client_key(client, &k))
		release(&k);
}

bool quota_user_acquire(const char *user, unsigned max)
{
	struct key k;
	return user_key(user, &k) ? acquire(&k, max) : max == 0;
}

void quota_user_release(const char *user)
{
	struct key k;
	if (user_key(user, &k))
		release(&k);
}

bool quota_session_acquire(unsigned max)
{
	unsigned n = atomic_fetch_add(&sessions, 1);
	if (max != 0 && n >= max) {
		atomic_fetch_sub(&sessions, 1);
		return false;
	}
	return true;
}

void quota_session_release(void)
{
	atomic_fetch_sub(&sessions, 1);
}

bool quota_rate(const struct sockaddr *client, unsigned per_second, int64_t now_ms)
{
	struct key k;
	bool ok = true;

	if (per_second == 0 || !client_key(client, &k))
		return true;
	pthread_mutex_lock(&table_lock);
	struct entry *e = find(&k, false);
	if (e == NULL) {
		if (nentries >= QUOTA_RATE_ENTRIES_MAX)
			sweep(now_ms);
		if (nentries < QUOTA_RATE_ENTRIES_MAX)
			e = find(&k, true);
	}
	if (e != NULL) {
		if (e->window_start_ms == 0 || now_ms - e->window_start_ms >= WINDOW_MS) {
			e->window_start_ms = now_ms;
			e->window_count = 0;
		}
		if (e->window_count >= per_second)
			ok = false;
		else
			e->window_count++;
	}
	pthread_mutex_unlock(&table_lock);
	return ok;
}
