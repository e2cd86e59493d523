/* Resolver and connector: turns a SOCKS destination into a connected socket.
 * Blocking (getaddrinfo, poll for the connect); called from a worker thread. */
#ifndef SOCKSGATE_CONNECTOR_H
#define SOCKSGATE_CONNECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct socks5_addr;

/* Asked before each address is tried; return false to skip it (the rules seam).
 * When every address is skipped the result is SOCKS5_REP_NOT_ALLOWED. */
typedef bool (*connector_check_fn)(const struct sockaddr *sa, void *ctx);

struct connector_result {
	uint8_t rep;		/* SOCKS5_REP_*: SUCCEEDED when a socket is returned */
	int err;		/* errno or EAI_* of the last failure, for the log */
	bool gai_failed;	/* err is an EAI_* code */
	bool refused;		/* check refused every address (rep is NOT_ALLOWED) */
	struct addr peer;	/* the address connected to (or last tried) */
};

/* Resolves dst (domain names with getaddrinfo) and tries each address in order,
 * each attempt bounded by timeout_ms. check may be NULL.
 * Returns a connected, non-blocking, close-on-exec socket that the caller owns,
 * or -1; *res is filled either way. */
int connector_connect(const struct socks5_addr *dst, unsigned timeout_ms,
		      connector_check_fn check, void *ctx, struct connector_result *res);

/* Resolves dst into at most max IPv4/IPv6 addresses carrying dst's port, in
 * getaddrinfo's order; an IP literal gives itself. socktype (SOCK_STREAM or
 * SOCK_DGRAM) only deduplicates getaddrinfo's answers. Returns the count
 * (> 0), or -1 with res->rep, res->err and res->gai_failed set. Blocking. */
int connector_resolve(const struct socks5_addr *dst, int socktype, struct addr *ret, size_t max,
		      struct connector_result *res);

/* Fills ret from an IPv4/IPv6 socks5_addr; returns false for a domain name. */
bool connector_sockaddr(const struct socks5_addr *a, struct addr *ret);

/* Waits until fd is writable or the timeout passes; returns 0 or -errno
 * (-ETIMEDOUT). The pending error of a non-blocking connect is returned. */
int connector_wait(int fd, unsigned timeout_ms);

#endif
