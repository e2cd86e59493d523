/* The limiter's table: a flat array of entries in slot order under one mutex,
 * searched linearly (it is consulted once per login, not per byte). Entries
 * are never removed one by one, only reused when the table is full, so a
 * listing walks table[0..used) and lifting a block clears one entry's flag. */
#include "autoconf.h"

#include "limiter.h"

#include "addr.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

struct entry {
	struct addr_net key;		/* the client's address */
	unsigned failures;		/* in the current window */
	bool blocked;			/* a block started at blocked_since_ms */
	int64_t window_start_ms, blocked_since_ms;
	int64_t last_ms;		/* latest failure: the least recent is reused */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry table[LIMITER_SLOTS];
static size_t used;
static struct addr_net exempt[LIMITER_EXEMPT_MAX];
static size_t nexempt;

/* With the lock held: is the address key inside an exempt network? */
static bool is_exempt(const struct addr_net *key)
{
	for (size_t i = 0; i < nexempt; i++)
		if (addr_net_within(key, &exempt[i]))
			return true;
	return false;
}

/* With the lock held. */
static struct entry *find(const struct addr_net *key)
{
	for (size_t i = 0; i < used; i++)
		if (addr_net_equal(&table[i].key, key))
			return &table[i];
	return NULL;
}

static bool entry_blocked(const struct entry *e, int64_t now_ms, unsigned block_ms)
{
	return e->blocked && now_ms - e->blocked_since_ms < (int64_t)block_ms;
}

/* With the lock held: a fresh entry for key. A full table reuses the least
 * recently failed entry that holds no live block, so failures from many
 * other addresses cannot lift a block early; only when every entry is
 * blocked does the block that ends first go. */
static struct entry *take_slot(const struct addr_net *key, int64_t now_ms, unsigned block_ms)
{
	struct entry *e = NULL, *oldest_block = NULL;

	if (used < LIMITER_SLOTS) {
		e = &table[used++];
	} else {
		for (size_t i = 0; i < used; i++) {
			struct entry *t = &table[i];
			if (entry_blocked(t, now_ms, block_ms)) {
				if (oldest_block == NULL || t->blocked_since_ms < oldest_block->blocked_since_ms)
					oldest_block = t;
			} else if (e == NULL || t->last_ms < e->last_ms) {
				e = t;
			}
		}
		if (e == NULL)
			e = oldest_block;
	}
	memset(e, 0, sizeof(*e));
	e->key = *key;
	e->window_start_ms = now_ms;
	return e;
}

bool limiter_blocked(const struct sockaddr *client, int64_t now_ms, unsigned limit,
		     unsigned block_ms)
{
	struct addr_net key;
	bool blocked = false;

	if (limit == 0 || !addr_net_from_sockaddr(client, &key))
		return false;
	pthread_mutex_lock(&lock);
	const struct entry *e = is_exempt(&key) ? NULL : find(&key);
	if (e != NULL)
		blocked = entry_blocked(e, now_ms, block_ms);
	pthread_mutex_unlock(&lock);
	return blocked;
}

bool limiter_fail(const struct sockaddr *client, int64_t now_ms, unsigned limit,
		  unsigned window_ms, unsigned block_ms)
{
	struct addr_net key;
	bool started = false;

	if (limit == 0 || !addr_net_from_sockaddr(client, &key))
		return false;
	pthread_mutex_lock(&lock);
	if (is_exempt(&key))
		goto out;
	struct entry *e = find(&key);
	if (e == NULL)
		e = take_slot(&key, now_ms, block_ms);
	if (now_ms - e->window_start_ms > (int64_t)window_ms) {
		e->window_start_ms = now_ms;
		e->failures = 0;
	}
	e->last_ms = now_ms;
	e->failures++;
	if (e->failures >= limit && !entry_blocked(e, now_ms, block_ms)) {
		e->blocked = true;
		e->blocked_since_ms = now_ms;
		e->failures = 0;
		e->window_start_ms = now_ms;
		started = true;
	}
out:
	pthread_mutex_unlock(&lock);
	return started;
}

bool limiter_full(void)
{
	pthread_mutex_lock(&lock);
	bool full = used == LIMITER_SLOTS;
	pthread_mutex_unlock(&lock);
	return full;
}

unsigned limiter_count_blocked(int64_t now_ms, unsigned limit, unsigned block_ms)
{
	unsigned n = 0;

	if (limit == 0)
		return 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < used; i++)
		if (entry_blocked(&table[i], now_ms, block_ms) && !is_exempt(&table[i].key))
			n++;
	pthread_mutex_unlock(&lock);
	return n;
}

int limiter_set_exempt(const struct addr_net *nets, size_t n)
{
	if (n > LIMITER_EXEMPT_MAX)
		return -E2BIG;
	pthread_mutex_lock(&lock);
	if (n > 0)
		memcpy(exempt, nets, n * sizeof(*nets));
	nexempt = n;
	pthread_mutex_unlock(&lock);
	return 0;
}

bool limiter_exempt(const struct sockaddr *client)
{
	struct addr_net key;

	if (!addr_net_from_sockaddr(client, &key))
		return false;
	pthread_mutex_lock(&lock);
	bool r = is_exempt(&key);
	pthread_mutex_unlock(&lock);
	return r;
}

void limiter_reset(void)
{
	pthread_mutex_lock(&lock);
	memset(table, 0, sizeof(table));
	used = 0;
	pthread_mutex_unlock(&lock);
}

size_t limiter_list(struct limiter_block *out, size_t max, int64_t now_ms, unsigned limit,
		    unsigned block_ms)
{
	size_t n = 0;

	if (limit == 0)
		return 0;	/* blocking off: limiter_blocked() says no to all */
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < used; i++) {
		const struct entry *e = &table[i];
		if (!entry_blocked(e, now_ms, block_ms))
			continue;
		if (n < max)
			out[n] = (struct limiter_block){
				.addr = e->key,
				.since_ms = e->blocked_since_ms,
				.until_ms = e->blocked_since_ms + block_ms,
			};
		n++;
	}
	pthread_mutex_unlock(&lock);
	return n;
}

unsigned limiter_unblock(const struct addr_net *net, int64_t now_ms, unsigned block_ms)
{
	unsigned lifted = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < used; i++) {
		struct entry *e = &table[i];
		if (net != NULL && !addr_net_within(&e->key, net))
			continue;
		if (entry_blocked(e, now_ms, block_ms))
			lifted++;
		else if (!e->blocked && e->failures == 0)
			continue;
		e->blocked = false;
		e->failures = 0;
		e->window_start_ms = now_ms;
	}
	pthread_mutex_unlock(&lock);
	return lifted;
}
