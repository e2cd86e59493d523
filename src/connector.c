/* Connecting on behalf of a client: resolution in the worker, one attempt per
 * address with its own deadline, and the errno kept to pick the reply code. */
#include "autoconf.h"

#include "connector.h"

#include "socks5.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool connector_sockaddr(const struct socks5_addr *a, struct addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (a->atyp == SOCKS5_ATYP_IPV4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ret->ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->u.ipv4, 4);
		s4->sin_port = htons(a->port);
		ret->len = sizeof(*s4);
		return true;
	}
	if (a->atyp == SOCKS5_ATYP_IPV6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ret->ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->u.ipv6, 16);
		s6->sin6_port = htons(a->port);
		ret->len = sizeof(*s6);
		/* ::ffff:a.b.c.d is an IPv4 destination: an IPv6 socket (V6ONLY,
		 * as BIND's and UDP's are) could not reach it. */
		addr_unmap(ret);
		return true;
	}
	return false;
}

/* getaddrinfo() for dst's name and port. Returns 0 with the list in *ret_list
 * (the caller frees it), or -1 with res->rep, res->err and res->gai_failed set. */
static int lookup(const struct socks5_addr *dst, int socktype, struct addrinfo **ret_list,
		  struct connector_result *res)
{
	struct addrinfo hints;
	char port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", dst->port);
	int g = getaddrinfo(dst->u.domain, port, &hints, ret_list);
	if (g != 0) {
		res->gai_failed = true;
		res->err = g;
		res->rep = socks5_rep_from_gai(g, errno);
		return -1;
	}
	return 0;
}

int connector_resolve(const struct socks5_addr *dst, int socktype, struct addr *ret, size_t max,
		      struct connector_result *res)
{
	struct addrinfo *list = NULL;
	size_t n = 0;

	memset(res, 0, sizeof(*res));
	if (max == 0)
		return -1;
	if (connector_sockaddr(dst, &ret[0]))
		return 1;
	if (lookup(dst, socktype, &list, res) < 0)
		return -1;
	for (const struct addrinfo *ai = list; ai != NULL && n < max; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			addr_set(&ret[n++], ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(list);
	if (n == 0) {
		res->gai_failed = true;
		res->err = EAI_ADDRFAMILY;
		res->rep = SOCKS5_REP_HOST_UNREACHABLE;
		return -1;
	}
	res->rep = SOCKS5_REP_SUCCEEDED;
	return (int)n;
}

int connector_wait(int fd, unsigned timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	for (;;) {
		int n = poll(&p, 1, (int)timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

/* One attempt; returns the socket or -errno. */
static int try_connect(const struct sockaddr *sa, socklen_t salen, unsigned timeout_ms)
{
	int fd = addr_socket(sa->sa_family, SOCK_STREAM, false);
	if (fd < 0)
		return fd;
	/* Relayed traffic is already segmented by the client; do not delay it again. */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int r = connect(fd, sa, salen);
	if (r < 0 && errno == EINPROGRESS)
		r = connector_wait(fd, timeout_ms);
	else if (r < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int connector_connect(const struct socks5_addr *dst, unsigned timeout_ms,
		      connector_check_fn check, void *ctx, struct connector_result *res)
{
	struct addrinfo hints, *list = NULL;
	struct addr one;
	int fd = -1, err = ENOENT;
	bool tried = false, skipped = false;

	memset(res, 0, sizeof(*res));
	if (connector_sockaddr(dst, &one)) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_addr = (struct sockaddr *)&one.ss;
		hints.ai_addrlen = one.len;
		hints.ai_family = one.ss.ss_family;
		list = &hints;	/* a one-entry list, not freed below */
	} else if (lookup(dst, SOCK_STREAM, &list, res) < 0) {
		return -1;
	}

	for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		addr_set(&res->peer, ai->ai_addr, ai->ai_addrlen);
		if (check != NULL && !check(ai->ai_addr, ctx)) {
			skipped = true;
			continue;
		}
		tried = true;
		fd = try_connect(ai->ai_addr, ai->ai_addrlen, timeout_ms);
		if (fd >= 0)
			break;
		err = -fd;
	}
	if (list != &hints)
		freeaddrinfo(list);

	if (fd >= 0) {
		res->rep = SOCKS5_REP_SUCCEEDED;
		return fd;
	}
	if (!tried && skipped) {
		res->err = EACCES;
		res->rep = SOCKS5_REP_NOT_ALLOWED;
		res->refused = true;
	} else {
		res->err = tried ? err : EHOSTUNREACH;
		res->rep = socks5_rep_from_errno(res->err);
	}
	return -1;
}
