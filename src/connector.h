/* Resolver and connector: turns a SOCKS destination into a connected socket,
 * racing a name's addresses (Happy Eyeballs) from the configured source
 * address. Blocking (getaddrinfo, poll for the connects); called from a worker
 * thread; thread-safe. */
#ifndef SOCKSGATE_CONNECTOR_H
#define SOCKSGATE_CONNECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct socks5_addr;

/* Asked before each address is tried; return false to skip it (the rules seam).
 * When every address is skipped the result is SOCKS5_REP_NOT_ALLOWED. The
 * check may name the source address for this destination in *ret_source (an
 * allow rule's "via"); left with len 0, the params' source of the family is
 * used. */
typedef bool (*connector_check_fn)(const struct sockaddr *sa, void *ctx, struct addr *ret_source);

/* Addresses of one name that a CONNECT tries at most (the rest are ignored). */
#define CONNECTOR_ADDRS_MAX 16

/* How one request connects. */
struct connector_params {
	unsigned timeout_ms;		/* the whole request: the lookup and every attempt */
	unsigned stagger_ms;		/* the next attempt starts this long after the last */
	bool prefer_ipv4;		/* IPv4 first; else IPv6 first (RFC 8305) */
	unsigned keepalive_ms;		/* TCP keepalive idle time on the socket; 0: off */
	struct addr source[2];		/* bind before connecting: [0] IPv4, [1] IPv6
					 * (outgoing_address); len 0: the kernel picks */
	int client_fd;			/* watched while connecting: EOF or RST from it
					 * abandons the attempts; -1: not watched */
	connector_check_fn check;	/* may be NULL */
	void *ctx;			/* for check */
};

struct connector_result {
	uint8_t rep;		/* SOCKS5_REP_*: SUCCEEDED when a socket is returned */
	int err;		/* errno or EAI_* of the most telling failure, for the log */
	bool gai_failed;	/* err is an EAI_* code */
	bool refused;		/* check refused every address (rep is NOT_ALLOWED) */
	bool client_closed;	/* the client closed while connecting: nothing to reply */
	bool client_reset;	/* ... or reset the connection */
	unsigned tried;		/* attempts started */
	struct addr peer;	/* the address connected to (or last tried) */
};

/* Resolves dst (domain names with getaddrinfo, blocking: the client is
 * watched from when it returns) and races connections to its addresses, Happy
 * Eyeballs style (RFC 8305): families alternate, each attempt starts
 * p->stagger_ms after the previous one or as soon as one fails, the first to
 * connect wins and the others are closed at once; everything within
 * p->timeout_ms. Every address is passed to p->check just before its attempt.
 * Returns a connected, non-blocking, close-on-exec socket (TCP_NODELAY, and
 * keepalive as p says) that the caller owns, or -1; *res is filled either way,
 * with the most telling failure (refused > unreachable > other > timed out). */
int connector_connect(const struct socks5_addr *dst, const struct connector_params *p,
		      struct connector_result *res);

/* Sets TCP keepalive on fd: probes after idle_ms without traffic, then every
 * CONNECTOR_KEEPALIVE_INTVL seconds (at most idle), CONNECTOR_KEEPALIVE_CNT
 * of them; idle_ms 0 does nothing. Returns 0 or -errno. */
#define CONNECTOR_KEEPALIVE_INTVL 30
#define CONNECTOR_KEEPALIVE_CNT 4
int connector_keepalive(int fd, unsigned idle_ms);

/* Can the machine send from a (an outgoing address, port ignored)? Binds a
 * throw-away TCP socket to it without taking a port. Returns 0 or -errno
 * (-EADDRNOTAVAIL: the machine does not have the address). */
int connector_source_check(const struct addr *a);

/* Resolves dst into at most max IPv4/IPv6 addresses carrying dst's port, in
 * getaddrinfo's order; an IP literal gives itself. socktype (SOCK_STREAM or
 * SOCK_DGRAM) only deduplicates getaddrinfo's answers. Returns the count
 * (> 0), or -1 with res->rep, res->err and res->gai_failed set. Blocking. */
int connector_resolve(const struct socks5_addr *dst, int socktype, struct addr *ret, size_t max,
		      struct connector_result *res);

/* Fills ret from an IPv4/IPv6 socks5_addr; returns false for a domain name. */
bool connector_sockaddr(const struct socks5_addr *a, struct addr *ret);

#endif
