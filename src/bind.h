/* BIND (RFC 1928): a listening socket on the gateway's address facing the
 * destination, and the wait for the one inbound connection it is for.
 * Blocking; called from the worker that owns the session. */
#ifndef SOCKSGATE_BIND_H
#define SOCKSGATE_BIND_H

#include "addr.h"

/* Opens a listening TCP socket (non-blocking, close-on-exec, backlog 1) on
 * the local address the kernel would use to reach dst, port 0. When dst is
 * the any address, fallback's address (the one the client reached the
 * gateway on) is used instead. Returns the socket, which the caller owns,
 * with its bound address in *ret_bound; or -errno. */
int bind_listen(const struct sockaddr *dst, const struct sockaddr *fallback,
		struct addr *ret_bound);

/* Waits up to timeout_ms for one connection on the listening socket lfd
 * while watching ctl, the client's control connection. Returns the accepted
 * socket (non-blocking, close-on-exec, owned by the caller) with the peer's
 * address in *ret_peer, or:
 *   -ETIMEDOUT   nobody connected in time;
 *   -ESHUTDOWN   the client closed (or shut down) the control connection;
 *   -ECONNRESET  the client reset it;
 *   -EPROTO      the client sent data before the inbound connection came;
 *   -errno       poll() or accept() failed.
 * lfd stays open and owned by the caller. */
int bind_wait(int lfd, int ctl, unsigned timeout_ms, struct addr *ret_peer);

#endif
