/* UDP ASSOCIATE relay (RFC 1928 section 7): moves datagrams between one
 * client and the destinations it names, with poll(), in the worker that owns
 * the association, until the control connection ends or nothing moves for the
 * idle timeout. */
#ifndef SOCKSGATE_UDPRELAY_H
#define SOCKSGATE_UDPRELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct relay_stats;

/* Opens the client-facing UDP socket (non-blocking, close-on-exec) on local's
 * address with port 0 (an IPv4-mapped address is used as plain IPv4).
 * Returns the socket with its bound address in *ret_bound, or -errno. */
int udprelay_open(const struct sockaddr *local, struct addr *ret_bound);

/* The rules for one datagram destination: sa is the address it goes to, name
 * the domain name the client gave (NULL for an address). */
typedef bool (*udprelay_check_fn)(const struct sockaddr *sa, const char *name, void *ctx);

struct udprelay_params {
	int ctl;			/* the TCP control connection; EOF ends the relay */
	int fd;				/* from udprelay_open(); udprelay_run() closes it */
	const struct sockaddr *client;	/* the control connection's peer; only its IP counts */
	uint16_t client_port;		/* from the request; 0: the first datagram fixes it */
	unsigned idle_timeout_ms;	/* no datagram relayed either way; 0: never */
	const struct addr *source;	/* outgoing_address, [0] IPv4 [1] IPv6 (port 0; len 0:
					 * the kernel picks); NULL: none */
	udprelay_check_fn check;	/* the rules: asked for every destination; may be NULL */
	void *ctx;			/* for check */
};

struct udprelay_counts {
	uint64_t up;		/* datagrams relayed client -> destination */
	uint64_t down;		/* datagrams relayed destination -> client */
	uint64_t dropped;	/* datagrams refused either way */
};

enum udprelay_end {
	UDPRELAY_END_CLOSED,	/* the control connection ended */
	UDPRELAY_END_IDLE,	/* nothing relayed for idle_timeout_ms */
	UDPRELAY_END_ERROR,	/* a socket failed; *ret_err holds the errno */
};

/* Relays until the association ends; every socket it used, p->fd included,
 * is closed before it returns, so later datagrams meet a closed port.
 * Payload bytes are added to bytes (up/down) and datagrams to counts as they
 * move. Client datagrams are accepted only from p->client's IP (and port,
 * once known), must carry a well-formed header with FRAG 0, and go only to
 * destinations check allows (names resolved and cached for the association).
 * Datagrams from destinations are passed back only from addresses the client
 * has sent to. Thread-safe: the shared state it touches is what check uses
 * and bytes->total_up/total_down, added to atomically (relay_count()). */
enum udprelay_end udprelay_run(const struct udprelay_params *p, struct relay_stats *bytes,
			       struct udprelay_counts *counts, int *ret_err);

#endif
