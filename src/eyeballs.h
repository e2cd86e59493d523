/* Happy Eyeballs (RFC 8305 sections 4-5) without the sockets: the order in
 * which a name's addresses are tried, when each attempt starts over a clock
 * the caller passes in, and which failure the reply should tell. Pure: no
 * I/O, no clock of its own, no global state; thread-safe on separate state. */
#ifndef SOCKSGATE_EYEBALLS_H
#define SOCKSGATE_EYEBALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Reorders a[0..n) in place so the families alternate, first_family
 * (AF_INET6 or AF_INET) first when it is present (RFC 8305 section 4, a
 * First Address Family Count of 1); each family keeps the resolver's order. */
void eyeballs_order(struct addr *a, size_t n, int first_family);

/* The schedule of one request's attempts. Fill it with eyeballs_init(). */
struct eyeballs {
	size_t n;		/* addresses */
	size_t next;		/* the next address to try (n: none left) */
	size_t running;		/* attempts in flight */
	int64_t next_ms;	/* the next attempt starts then, or when one fails */
	int64_t deadline_ms;	/* the whole request's end */
	unsigned stagger_ms;	/* RFC 8305's Connection Attempt Delay */
};

void eyeballs_init(struct eyeballs *e, size_t n, unsigned stagger_ms, int64_t now_ms,
		   int64_t deadline_ms);

enum eyeballs_step {
	EYEBALLS_START,		/* start the attempt for address e->next now */
	EYEBALLS_WAIT,		/* wait for the attempts in flight, *ret_wait_ms at most */
	EYEBALLS_TIMEOUT,	/* the deadline has passed */
	EYEBALLS_EXHAUSTED,	/* every address was tried and none is in flight */
};

/* What to do at now_ms. *ret_wait_ms is written for EYEBALLS_WAIT only
 * (> 0, at most the time to the next start or the deadline). */
enum eyeballs_step eyeballs_step(const struct eyeballs *e, int64_t now_ms, int *ret_wait_ms);
/* The attempt for e->next is in flight: the one after starts a stagger later. */
void eyeballs_started(struct eyeballs *e, int64_t now_ms);
/* The rules refused address e->next, or its attempt failed at once: it is
 * passed over, and the next may start now. */
void eyeballs_skipped(struct eyeballs *e, int64_t now_ms);
/* An attempt in flight failed: the next starts now rather than a stagger
 * after the previous start. */
void eyeballs_failed(struct eyeballs *e, int64_t now_ms);

/* Of two connect errors (errno values, 0 for none yet), the one the reply
 * should tell: refused beats unreachable (network or host) beats any other
 * error beats timed out. Returns kept or err. */
int eyeballs_telling(int kept, int err);

#endif
