/* The client side of a session up to its request: blocking I/O with a
 * deadline on the client socket, the greeting and method selection, the
 * RFC 1929 login checked through PAM, and the request. Called from the worker
 * that owns the connection; the failure reason is kept for the session record,
 * which the caller writes. */
#ifndef SOCKSGATE_HANDSHAKE_H
#define SOCKSGATE_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "socks5.h"

struct config;
struct gssauth;

/* The longest client message is RFC 1929's (513 bytes); leave room for a
 * request pipelined behind it. */
#define HANDSHAKE_INBUF 1024
/* The size of each name buffer (user, login, principal). */
#define HANDSHAKE_NAME 256

/* One client connection. The caller fills fd, peer, cfg and deadline_ms and
 * zeroes the rest (reply = -1); fd stays the caller's until handshake_close().
 * The buffers are the caller's too, so that what only the handshake needs can
 * live in a frame that is gone once the relay runs: before the first call the
 * caller points in at HANDSHAKE_INBUF bytes and user, login and principal at
 * HANDSHAKE_NAME bytes each holding "" (the names are only written by the
 * handshake, which is over when handshake_request() returns; in is read again
 * for the bytes behind the request only). After that the caller may point the
 * names at compact copies; handshake_reply(), handshake_reason() and
 * handshake_close() touch neither in nor the names. */
struct handshake {
	int fd;
	struct addr peer;		/* the client */
	struct addr via;		/* the load balancer it came through (the
					 * connection's own peer); len 0: none */
	const struct config *cfg;
	int64_t deadline_ms;		/* CLOCK_MONOTONIC; every blocking step ends by it */
	uint8_t *in;			/* bytes read and not yet parsed (see above) */
	size_t inlen;
	int reply;			/* the last SOCKS reply code sent, or -1 */
	bool replied;			/* something went out the client should get to read */
	char *user;			/* the name the client gave, escaped for logs */
	char *login;			/* the name as authenticated; empty before that */
	bool cached;			/* the credential cache answered the login */
	uint8_t method;			/* the method chosen (SOCKS5_METHOD_*), valid
					 * once login is set */
	/* The GSSAPI method (RFC 1961): the session's own context, freed by
	 * handshake_close(); the initiator, escaped for logs; the protection
	 * level agreed (enum gssproto_level: NONE is the plain relay, the others
	 * wrap every message after it, the request and replies too); whether
	 * the client sent the level unwrapped (the NEC variant). */
	struct gssauth *gss;
	char *principal;
	uint8_t gss_level;
	bool gss_nec;
	char reason[320];		/* why the session ended early: the first cause */
	int outcome;			/* enum stats_outcome; 0 (unset) until a cause */
};

/* Records why the session ends, unless a cause is already recorded. */
void handshake_reason(struct handshake *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records how the session ends (an enum stats_outcome), unless an outcome
 * is already recorded. */
void handshake_outcome(struct handshake *h, int outcome);
/* The outcome for the metrics: the one recorded, else from the last reply
 * (0x00: ok, another code: error), else the client went away. */
int handshake_outcome_final(const struct handshake *h);

/* Writes all of buf to the non-blocking fd before h->deadline_ms.
 * Returns 0 or -errno (-ETIMEDOUT). */
int handshake_send(const struct handshake *h, int fd, const void *buf, size_t len);

/* Sends a command reply (bnd may be NULL: 0.0.0.0:0) and notes it in h;
 * on a protected GSSAPI session it goes encapsulated. Returns 0 or -errno;
 * on failure the reason is recorded. */
int handshake_reply(struct handshake *h, uint8_t rep, const struct sockaddr *bnd);

/* How reading a PROXY protocol header ended. */
enum handshake_proxy_end {
	HANDSHAKE_PROXY_CLIENT,	/* h->peer is now the client the header names */
	HANDSHAKE_PROXY_KEPT,	/* v1 UNKNOWN, a v2 family without addresses: h->peer
				 * stays the balancer's address */
	HANDSHAKE_PROXY_LOCAL,	/* v2 LOCAL: the balancer's own connection (its
				 * health check); there is no client */
	HANDSHAKE_PROXY_FAILED,	/* no valid header by the deadline: reason recorded */
};

/* On a socket behind a load balancer, before the greeting: reads the PROXY
 * protocol header (v1 or v2, see proxyproto.h) by h->deadline_ms. h->via
 * gets h->peer, the balancer, first. The header's source address and port,
 * an IPv4-mapped one as plain IPv4, become h->peer. Bytes read behind the
 * header stay in h->in for the greeting. A client that speaks SOCKS5 first
 * fails at its first byte. */
enum handshake_proxy_end handshake_proxy_header(struct handshake *h);

/* Greeting and method selection (the first of the configured methods the
 * client offers; userpass is left out while the address is blocked), then
 * the RFC 1929 login or the RFC 1961 exchange. True when the client may go
 * on to its request; otherwise the client has been answered as the protocol
 * says and the reason is recorded. */
bool handshake_negotiate(struct handshake *h);

/* Reads the request into *ret. False when there is none to serve: the client
 * went away or timed out, or sent a malformed request, which has been
 * answered (0x08 for an unknown address type, 0x01 otherwise); the reason is
 * recorded either way. */
bool handshake_request(struct handshake *h, struct socks5_request *ret);

/* Closes h->fd, the end of the session's client socket, and frees h->gss.
 * When the client
 * was refused (a reply other than success went out), it gets up to half a
 * second to read that first. */
void handshake_close(struct handshake *h);

/* Failed logins since start (wrong password, unknown or locked user);
 * thread-safe. */
uint64_t handshake_auth_failures(void);

#endif
