/* BIND (RFC 1928): a listening socket on the gateway's address facing the
 * destination, and the wait for the one inbound connection it is for.
 * Blocking; called from the worker that owns the session. */
#ifndef SOCKSGATE_BIND_H
#define SOCKSGATE_BIND_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

/* Opens a listening TCP socket (non-blocking, close-on-exec, backlog 1) on
 * the local address the kernel would use to reach dst, port 0. When dst is
 * the any address, fallback's address (the one the client reached the
 * gateway on) is used instead. Returns the socket, which the caller owns,
 * with its bound address in *ret_bound; or -errno. */
int bind_listen(const struct sockaddr *dst, const struct sockaddr *fallback,
		struct addr *ret_bound);

/* How the wait for the inbound connection ended. */
enum bind_end {
	BIND_END_PEER,		/* a connection came: *ret_fd and *ret_peer are set */
	BIND_END_TIMEOUT,	/* nobody connected within timeout_ms */
	BIND_END_CLIENT_CLOSED,	/* the client closed (or shut down) the control connection */
	BIND_END_CLIENT_RESET,	/* the client reset it */
	BIND_END_CLIENT_SPOKE,	/* the client sent data before the inbound connection came */
	BIND_END_ERROR,		/* poll(), recv() or accept() failed: *ret_err holds errno */
};

/* Waits up to timeout_ms for one connection on the listening socket lfd
 * while watching ctl, the client's control connection. On BIND_END_PEER the
 * accepted socket (non-blocking, close-on-exec, TCP_NODELAY, owned by the
 * caller) is in *ret_fd and the peer's address in *ret_peer; each ret_* is
 * written only for the end that names it. lfd stays open and the caller's. */
enum bind_end bind_wait(int lfd, int ctl, unsigned timeout_ms, int *ret_fd, struct addr *ret_peer,
			int *ret_err);

/* Is peer the host (and port, when the client named one) that the BIND
 * request named, one of want[0..nwant) (a name's addresses)? The any address
 * (0.0.0.0, ::) stands for every host. Pure. */
bool bind_peer_expected(const struct addr *want, int nwant, uint16_t port,
			const struct addr *peer);

#endif
