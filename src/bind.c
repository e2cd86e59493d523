/* BIND: the listening side of the protocol. The listener is bound to the
 * address the routing table picks for the destination, so the address in
 * the reply is one the destination can reach; the wait watches the control
 * connection too, so a client that gives up frees the port at once. */
#include "autoconf.h"

#include "bind.h"

#include "timeutil.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The local address a packet to dst would leave from: connect() on a UDP
 * socket asks the routing table without sending anything. */
static int facing_address(const struct sockaddr *dst, struct addr *ret)
{
	struct addr to;

	addr_set(&to, dst, addr_len(dst->sa_family));
	/* Port 0 is not a valid UDP destination; the port does not change the route. */
	if (addr_port(dst) == 0)
		addr_set_port(&to, 9);
	int fd = addr_socket(dst->sa_family, SOCK_DGRAM, false);
	if (fd < 0)
		return fd;
	int r = 0;
	ret->len = sizeof(ret->ss);
	if (connect(fd, (struct sockaddr *)&to.ss, to.len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ret->ss, &ret->len) < 0)
		r = -errno;
	close(fd);
	return r;
}

int bind_listen(const struct sockaddr *dst, const struct sockaddr *fallback,
		struct addr *ret_bound)
{
	struct addr local;
	int r;

	if (addr_is_any(dst)) {
		addr_set(&local, fallback, addr_len(fallback->sa_family));
		addr_unmap(&local);
	} else if ((r = facing_address(dst, &local)) < 0) {
		return r;
	}
	addr_set_port(&local, 0);

	int fd = addr_socket(local.ss.ss_family, SOCK_STREAM, true);
	if (fd < 0)
		return fd;
	ret_bound->len = sizeof(ret_bound->ss);
	if (bind(fd, (struct sockaddr *)&local.ss, local.len) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ret_bound->ss, &ret_bound->len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

enum bind_end bind_wait(int lfd, int ctl, unsigned timeout_ms, int *ret_fd, struct addr *ret_peer,
			int *ret_err)
{
	int64_t deadline = monotonic_ms() + timeout_ms;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = lfd, .events = POLLIN },
			{ .fd = ctl, .events = POLLIN },
		};
		int64_t left = deadline - monotonic_ms();
		if (left <= 0)
			return BIND_END_TIMEOUT;
		int n = poll(p, 2, left > 3600000 ? 3600000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*ret_err = errno;
			return BIND_END_ERROR;
		}
		if (n == 0)
			continue;	/* the deadline check above decides */
		if (p[1].revents != 0) {
			char c;
			ssize_t k = recv(ctl, &c, 1, MSG_PEEK | MSG_DONTWAIT);
			if (k > 0)
				return BIND_END_CLIENT_SPOKE;
			if (k == 0)
				return BIND_END_CLIENT_CLOSED;
			if (errno == ECONNRESET)
				return BIND_END_CLIENT_RESET;
			if (errno != EAGAIN && errno != EINTR) {
				*ret_err = errno;
				return BIND_END_ERROR;
			}
		}
		if (p[0].revents != 0) {
			struct addr peer;
			peer.len = sizeof(peer.ss);
			int fd = accept4(lfd, (struct sockaddr *)&peer.ss, &peer.len,
					 SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0) {
				int one = 1;
				(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				*ret_fd = fd;
				*ret_peer = peer;
				return BIND_END_PEER;
			}
			/* The connection went away before it was accepted: keep waiting. */
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
			    errno != EPROTO) {
				*ret_err = errno;
				return BIND_END_ERROR;
			}
		}
	}
}

bool bind_peer_expected(const struct addr *want, int nwant, uint16_t port,
			       const struct addr *peer)
{
	const struct sockaddr *p = (const struct sockaddr *)&peer->ss;

	if (port != 0 && addr_port(p) != port)
		return false;
	for (int i = 0; i < nwant; i++) {
		const struct sockaddr *w = (const struct sockaddr *)&want[i].ss;
		if (addr_is_any(w) || addr_same(w, p, false))
			return true;
	}
	return false;
}
