/* Connecting on behalf of a client: resolution in the worker, then a race of
 * non-blocking connects over the addresses on the schedule eyeballs.c keeps,
 * from the configured source address, watching the client meanwhile. */
#include "autoconf.h"

#include "connector.h"

#include "eyeballs.h"
#include "socks5.h"
#include "timeutil.h"

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

int connector_keepalive(int fd, unsigned idle_ms)
{
	int one = 1, idle = (int)((idle_ms + 999) / 1000), cnt = CONNECTOR_KEEPALIVE_CNT;
	int intvl = idle < CONNECTOR_KEEPALIVE_INTVL ? idle : CONNECTOR_KEEPALIVE_INTVL;

	if (idle_ms == 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0)
		return -errno;
	return 0;
}

/* Binds fd to src's address, port 0; the port is picked at connect(), so a
 * fixed source address does not use up the ephemeral ports at once
 * (IP_BIND_ADDRESS_NO_PORT). Returns 0 or -errno. */
static int bind_source(int fd, const struct addr *src)
{
	struct addr a = *src;
	int one = 1;

	addr_set_port(&a, 0);
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a.ss, a.len) < 0)
		return -errno;
	return 0;
}

int connector_source_check(const struct addr *a)
{
	int fd = addr_socket(a->ss.ss_family, SOCK_STREAM, true);
	if (fd < 0)
		return fd;
	int r = bind_source(fd, a);
	close(fd);
	return r;
}

/* Starts one non-blocking connect from src (len 0: any). Returns the socket
 * with *ret_done telling whether it connected already, or -errno. */
static int start_attempt(const struct addr *dst, const struct addr *src, bool *ret_done)
{
	int fd = addr_socket(dst->ss.ss_family, SOCK_STREAM, true);
	if (fd < 0)
		return fd;
	/* Relayed traffic is already segmented by the client; do not delay it again. */
	int one = 1, r = 0;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src->len > 0 && src->ss.ss_family == dst->ss.ss_family)
		r = bind_source(fd, src);
	if (r == 0 && connect(fd, (const struct sockaddr *)&dst->ss, dst->len) < 0)
		r = errno == EINPROGRESS ? 1 : -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_done = r == 0;
	return fd;
}

/* Has the client gone (EOF or RST) while poll() said its socket stirred?
 * Bytes it sent early stay queued for the relay. Sets res and returns true. */
static bool client_gone(int fd, short revents, struct connector_result *res)
{
	char c;
	ssize_t k = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (k < 0)
		res->client_reset = true;
	else if (k == 0 || (revents & (POLLRDHUP | POLLHUP)))
		res->client_closed = true;
	else
		return false;
	return true;
}

/* The race itself, over the ordered addresses a[0..n). */
struct race {
	const struct connector_params *p;
	const struct addr *a;
	struct eyeballs e;
	int fds[CONNECTOR_ADDRS_MAX];	/* attempts in flight, index as in a */
	size_t idx[CONNECTOR_ADDRS_MAX];
	size_t nfds;
	int err;			/* the most telling failure so far */
	bool skipped;
};

/* Starts the attempt for a[e.next], or passes over it. Returns the socket
 * when it connected at once, else -1. */
static int race_start(struct race *r, struct connector_result *res, int64_t now)
{
	size_t i = r->e.next;
	struct addr src = { .len = 0 };
	bool done = false;

	addr_set(&res->peer, (const struct sockaddr *)&r->a[i].ss, r->a[i].len);
	if (r->p->check != NULL &&
	    !r->p->check((const struct sockaddr *)&r->a[i].ss, r->p->ctx, &src)) {
		r->skipped = true;
		eyeballs_skipped(&r->e, now);
		return -1;
	}
	if (src.len == 0)
		src = r->p->source[r->a[i].ss.ss_family == AF_INET6];
	res->tried++;
	int fd = start_attempt(&r->a[i], &src, &done);
	if (fd < 0) {
		r->err = eyeballs_telling(r->err, -fd);
		eyeballs_skipped(&r->e, now);
		return -1;
	}
	if (done)
		return fd;
	r->fds[r->nfds] = fd;
	r->idx[r->nfds++] = i;
	eyeballs_started(&r->e, now);
	return -1;
}

/* Drops attempt k (closing it) after it failed with err. */
static void race_drop(struct race *r, size_t k, int err, int64_t now)
{
	close(r->fds[k]);
	r->err = eyeballs_telling(r->err, err);
	r->fds[k] = r->fds[r->nfds - 1];
	r->idx[k] = r->idx[r->nfds - 1];
	r->nfds--;
	eyeballs_failed(&r->e, now);
}

/* One poll over the attempts and the client. Returns a connected socket,
 * -1 to go on, or -2 when the client left. */
static int race_wait(struct race *r, int wait_ms, struct connector_result *res)
{
	struct pollfd pfd[CONNECTOR_ADDRS_MAX + 1];
	size_t n = r->nfds;

	for (size_t k = 0; k < n; k++)
		pfd[k] = (struct pollfd){ .fd = r->fds[k], .events = POLLOUT };
	pfd[n] = (struct pollfd){ .fd = r->p->client_fd, .events = POLLRDHUP };
	int m = poll(pfd, n + (r->p->client_fd >= 0), wait_ms);
	if (m <= 0)
		return -1;	/* EINTR or the wait is over: the schedule decides */
	if (r->p->client_fd >= 0 && pfd[n].revents != 0 && client_gone(r->p->client_fd,
								       pfd[n].revents, res))
		return -2;
	int64_t now = monotonic_ms();
	for (size_t k = n; k-- > 0;) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (pfd[k].revents == 0)
			continue;
		if (getsockopt(pfd[k].fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == 0) {
			int fd = r->fds[k];
			addr_set(&res->peer, (const struct sockaddr *)&r->a[r->idx[k]].ss,
				 r->a[r->idx[k]].len);
			r->fds[k] = r->fds[--r->nfds];
			return fd;
		}
		race_drop(r, k, err, now);
	}
	return -1;
}

/* Runs the race until a socket connects, every address failed, the
 * deadline passed or the client left. Returns the socket or -1. */
static int race_run(struct race *r, struct connector_result *res)
{
	int fd = -1, wait = 0;

	while (fd < 0) {
		int64_t now = monotonic_ms();
		enum eyeballs_step st = eyeballs_step(&r->e, now, &wait);
		if (st == EYEBALLS_TIMEOUT && r->nfds > 0)
			r->err = eyeballs_telling(r->err, ETIMEDOUT);
		if (st == EYEBALLS_TIMEOUT || st == EYEBALLS_EXHAUSTED)
			break;
		if (st == EYEBALLS_START) {
			fd = race_start(r, res, now);
			continue;
		}
		fd = race_wait(r, wait, res);
		if (fd == -2)
			return -1;
	}
	if (fd < 0 && r->err == 0 && r->e.next < r->e.n)
		r->err = ETIMEDOUT;	/* the lookup used up the time */
	return fd;
}

int connector_connect(const struct socks5_addr *dst, const struct connector_params *p,
		      struct connector_result *res)
{
	struct addr a[CONNECTOR_ADDRS_MAX];
	struct race r = { .p = p };
	int64_t deadline = monotonic_ms() + p->timeout_ms;

	int n = connector_resolve(dst, SOCK_STREAM, a, CONNECTOR_ADDRS_MAX, res);
	if (n < 0)
		return -1;
	res->rep = SOCKS5_REP_GENERAL_FAILURE;
	eyeballs_order(a, (size_t)n, p->prefer_ipv4 ? AF_INET : AF_INET6);
	r.a = a;
	eyeballs_init(&r.e, (size_t)n, p->stagger_ms, monotonic_ms(), deadline);
	int fd = race_run(&r, res);
	for (size_t k = 0; k < r.nfds; k++)
		close(r.fds[k]);	/* the losers, at once */
	if (fd >= 0) {
		(void)connector_keepalive(fd, p->keepalive_ms);
		res->rep = SOCKS5_REP_SUCCEEDED;
		return fd;
	}
	if (res->client_closed || res->client_reset)
		return -1;
	if (res->tried == 0 && r.skipped) {
		res->err = EACCES;
		res->rep = SOCKS5_REP_NOT_ALLOWED;
		res->refused = true;
	} else {
		res->err = r.err != 0 ? r.err : EHOSTUNREACH;
		res->rep = socks5_rep_from_errno(res->err);
	}
	return -1;
}
