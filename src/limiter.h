/* The login-failure limiter: counts failed logins per client address and
 * blocks an address that fails too often, so passwords cannot be guessed at
 * line rate. One process-wide table of LIMITER_SLOTS entries, so memory is
 * bounded whatever an attacker does: when it is full, the least recently
 * failed entry without a live block is reused, and a blocked one only when
 * every entry is blocked (the block that ends first goes). The bounds come from the caller's config
 * of the moment, so a reload applies to blocks already started. Addresses
 * are keyed by addr_net_from_sockaddr() (IPv4-mapped IPv6 is the IPv4
 * address); other families are neither counted nor blocked. Thread-safe. */
#ifndef SOCKSGATE_LIMITER_H
#define SOCKSGATE_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define LIMITER_SLOTS 4096

/* True while client is blocked at now_ms: its block started less than
 * block_ms ago. limit 0 (blocking off) answers false, so a reload that turns
 * blocking off or shortens block_ms lifts blocks already started. */
bool limiter_blocked(const struct sockaddr *client, int64_t now_ms, unsigned limit,
		     unsigned block_ms);

/* Counts a failed login from client at now_ms. Failures are counted in a
 * window opened by the first one; a failure more than window_ms after the
 * window opened starts a new one. The limit-th failure of a window, when the
 * client is not blocked already, blocks it from now_ms for block_ms and opens
 * a new window. Returns true when this failure started a block. limit 0:
 * blocking is off, nothing is counted, false. */
bool limiter_fail(const struct sockaddr *client, int64_t now_ms, unsigned limit,
		  unsigned window_ms, unsigned block_ms);

/* True when the table is full: a new address's failure forgets another. */
bool limiter_full(void);

/* How many addresses are blocked at now_ms under these bounds (limit 0: none).
 * Walks the table under its lock: for a scrape, not for every login. */
unsigned limiter_count_blocked(int64_t now_ms, unsigned limit, unsigned block_ms);

/* The networks the block never locks out (auth_block_exempt): a failure from
 * an address inside one is not counted, and such an address is never
 * blocked, whatever the table held before (so a reload that exempts a
 * blocked address lifts its block). Copies at most LIMITER_EXEMPT_MAX of
 * nets; n 0 clears the list. Returns 0, or -E2BIG (nothing changed). */
#define LIMITER_EXEMPT_MAX 64
struct addr_net;
int limiter_set_exempt(const struct addr_net *nets, size_t n);
/* True when client lies in one of the exempt networks. */
bool limiter_exempt(const struct sockaddr *client);

/* Forgets every address and every block (the exempt networks stay). */
/* A live block, as the control socket lists it. */
struct limiter_block {
	struct addr_net addr;		/* a single address */
	int64_t since_ms;		/* the now_ms of the failure that started it */
	int64_t until_ms;		/* since_ms + block_ms */
};

/* Copies up to max of the blocks live at now_ms (as limiter_blocked() judges
 * them with limit and block_ms) into out, in table order, and returns how many
 * are live, which may be more than max. out may be NULL when max is 0. */
size_t limiter_list(struct limiter_block *out, size_t max, int64_t now_ms, unsigned limit,
		    unsigned block_ms);

/* Lifts the blocks live at now_ms of the addresses inside net (NULL: every
 * address) and forgets those addresses' failures, so each starts afresh.
 * Returns how many live blocks it lifted. */
unsigned limiter_unblock(const struct addr_net *net, int64_t now_ms, unsigned block_ms);

void limiter_reset(void);

#endif
