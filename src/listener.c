/* Listener: binding, checking inherited sockets, the acceptor thread, and
 * changing the set of sockets at a reload. Running out of descriptors pauses
 * accepting for a moment with a rate-limited warning instead of spinning on a
 * readable listen socket. */
#include "autoconf.h"

#include "listener.h"

#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define LISTENER_MAX 64
/* How long accepting pauses when the process is out of descriptors. */
#define BACKOFF_MS 100
/* Connections taken from one listener before poll() runs again. */
#define ACCEPT_BATCH 256

struct listener {
	pthread_t thread;
	int fds[LISTENER_MAX];
	struct addr addrs[LISTENER_MAX];	/* what each of fds is bound to */
	size_t nfds;
	int wake;		/* eventfd: stop request */
	listener_accept_fn fn;
	void *ctx;
	_Atomic int64_t heartbeat;
};

static struct log_ratelimit emfile_rl, accept_rl, refuse_rl;

int listener_bind(const struct addr *a, int backlog)
{
	int one = 1;
	int fd = addr_socket(a->ss.ss_family, SOCK_STREAM, true);
	if (fd < 0)
		return fd;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, backlog) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int listener_from_systemd(int *fds, size_t max)
{
	char a[ADDR_STRLEN];
	int n = sd_listen_fds(1);
	int r = 0;

	if (n <= 0) {
		if (n < 0)
			log_msg(LOG_ERR, "socket activation: %s", strerror(-n));
		return n;
	}
	if ((size_t)n > max) {
		log_msg(LOG_ERR, "socket activation: %d sockets passed, at most %zu are supported",
			n, max);
		r = -E2BIG;
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		struct addr self;
		self.len = sizeof(self.ss);
		/* sd_is_socket() checks type and listening state; the family must be
		 * IP because sessions log and rule on IP peer addresses. */
		int ok = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);
		if (ok > 0 && getsockname(fd, (struct sockaddr *)&self.ss, &self.len) == 0 &&
		    (self.ss.ss_family == AF_INET || self.ss.ss_family == AF_INET6)) {
			fds[i] = fd;
			log_msg(LOG_NOTICE, "listening on %s (socket activation)",
				addr_str((struct sockaddr *)&self.ss, a, sizeof(a)));
			continue;
		}
		log_msg(LOG_ERR,
			"socket activation: descriptor %d is not a listening TCP socket (%s); "
			"check ListenStream= in the .socket unit",
			fd, ok < 0 ? strerror(-ok) : "wrong type, family or state");
		r = ok < 0 ? ok : -EINVAL;
		goto fail;
	}
	return n;
fail:
	for (int i = 0; i < n; i++)
		close(SD_LISTEN_FDS_START + i);
	return r;
}

/* Accepts what is pending on fd, up to ACCEPT_BATCH: then back to poll(), so
 * that the heartbeat stays fresh (the watchdog must not take a flood for a
 * stuck acceptor) and other listeners get their turn. Returns true when out
 * of descriptors. */
static bool accept_all(struct listener *l, size_t idx)
{
	int fd = l->fds[idx];

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct addr peer;
		peer.len = sizeof(peer.ss);
		int c = accept4(fd, (struct sockaddr *)&peer.ss, &peer.len,
				SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			switch (errno) {
			case EAGAIN:
			case EINTR:
				return false;
			case ECONNABORTED:
			case EPROTO:
			case EPERM:	/* firewall */
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				log_ratelimited(&emfile_rl, LOG_WARNING,
						"accept: %s; pausing new connections for %d ms",
						strerror(errno), BACKOFF_MS);
				return true;
			default:
				log_ratelimited(&accept_rl, LOG_ERR, "accept: %s", strerror(errno));
				return false;
			}
		}
		/* An IPv4 client on a dual-stack socket (systemd's ListenStream=1080)
		 * arrives as ::ffff:a.b.c.d: logs, PAM_RHOST, limits and rules see
		 * the a.b.c.d that the client and the firewall know. */
		addr_unmap(&peer);
		/* Replies and relayed bytes must not wait for the client's delayed
		 * ACK (Nagle): a server's banner would reach it ~40 ms late. */
		int one = 1;
		(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		int r = l->fn(c, &peer, &l->addrs[idx], l->ctx);
		if (r < 0) {
			char a[ADDR_STRLEN];
			log_ratelimited(&refuse_rl, LOG_WARNING, "closing connection from %s: %s",
					addr_str((struct sockaddr *)&peer.ss, a, sizeof(a)),
					r == -EAGAIN ? "every worker is busy and the queue is full"
						     : strerror(-r));
			close(c);
		}
	}
	return false;
}

static void *acceptor_main(void *arg)
{
	struct listener *l = arg;
	struct pollfd p[LISTENER_MAX + 1];
	bool backoff = false;

	for (;;) {
		atomic_store(&l->heartbeat, monotonic_ms());
		p[0] = (struct pollfd){ .fd = l->wake, .events = POLLIN };
		for (size_t i = 0; i < l->nfds; i++)
			p[i + 1] = (struct pollfd){ .fd = l->fds[i], .events = backoff ? 0 : POLLIN };
		int n = poll(p, l->nfds + 1, backoff ? BACKOFF_MS : 1000);
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "acceptor: poll: %s", strerror(errno));
			continue;
		}
		if (p[0].revents & POLLIN)
			break;
		backoff = false;
		for (size_t i = 0; i < l->nfds; i++)
			if (n > 0 && (p[i + 1].revents & POLLIN))
				backoff |= accept_all(l, i);
		if (n == 0 && !backoff) {
			/* Woken by the timeout after a pause: try every socket again. */
			for (size_t i = 0; i < l->nfds && !backoff; i++)
				backoff |= accept_all(l, i);
		}
	}
	return NULL;
}

/* Makes fds[0..n) non-blocking (inherited sockets may be blocking;
 * accept_all() relies on EAGAIN) and notes their addresses. */
static int adopt(struct listener *l, const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int fl = fcntl(fds[i], F_GETFL);
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
		l->addrs[i].len = sizeof(l->addrs[i].ss);
		if (getsockname(fds[i], (struct sockaddr *)&l->addrs[i].ss, &l->addrs[i].len) < 0)
			return -errno;
		l->fds[i] = fds[i];
	}
	l->nfds = n;
	return 0;
}

int listener_start(struct listener **ret, const int *fds, size_t nfds, listener_check_fn check,
		   listener_accept_fn fn, void *ctx, char *why, size_t whylen)
{
	int r;
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL || nfds > LISTENER_MAX) {
		r = l == NULL ? -ENOMEM : -E2BIG;
		snprintf(why, whylen, "%s", strerror(-r));
		goto fail;
	}
	l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake < 0) {
		r = -errno;
		snprintf(why, whylen, "eventfd: %s", strerror(-r));
		goto fail;
	}
	if ((r = adopt(l, fds, nfds)) < 0)
		snprintf(why, whylen, "%s", strerror(-r));
	else if (check != NULL)
		r = check(l->addrs, l->nfds, why, whylen, ctx);
	if (r < 0) {
		close(l->wake);
		goto fail;
	}
	l->fn = fn;
	l->ctx = ctx;
	atomic_init(&l->heartbeat, monotonic_ms());
	r = -pthread_create(&l->thread, NULL, acceptor_main, l);
	if (r < 0) {
		snprintf(why, whylen, "cannot start the acceptor thread: %s", strerror(-r));
		close(l->wake);
		goto fail;
	}
	*ret = l;
	return 0;
fail:
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	free(l);
	return r;
}

/* Stops the acceptor thread; the sockets stay open (connections wait in
 * their backlog meanwhile). */
static void acceptor_halt(struct listener *l)
{
	uint64_t one = 1, v;

	if (write(l->wake, &one, sizeof(one)) < 0)
		log_msg(LOG_ERR, "cannot wake the acceptor: %s", strerror(errno));
	pthread_join(l->thread, NULL);
	(void)!read(l->wake, &v, sizeof(v));	/* ready for the next start */
}

void listener_stop(struct listener *l)
{
	if (l == NULL)
		return;
	acceptor_halt(l);
	/* Connections that completed their handshake while the acceptor was
	 * stopping would be reset by the close: one last turn takes them (a load
	 * balancer already sent them the client's first bytes). New ones are
	 * refused from the close on, which is what tells a balancer to go
	 * elsewhere. */
	for (size_t i = 0; i < l->nfds; i++)
		(void)accept_all(l, i);
	for (size_t i = 0; i < l->nfds; i++)
		close(l->fds[i]);
	close(l->wake);
	free(l);
}

int64_t listener_heartbeat(const struct listener *l)
{
	return atomic_load(&l->heartbeat);
}

size_t listener_addrs(const struct listener *l, struct addr *ret, size_t max)
{
	size_t n = l->nfds < max ? l->nfds : max;
	memcpy(ret, l->addrs, n * sizeof(*ret));
	return n;
}

/* The index of the socket bound to a, or -1. */
static int find_addr(const struct listener *l, const struct addr *a)
{
	for (size_t i = 0; i < l->nfds; i++)
		if (addr_same((const struct sockaddr *)&l->addrs[i].ss,
			      (const struct sockaddr *)&a->ss, true))
			return (int)i;
	return -1;
}

int listener_reconfigure(struct listener *l, const struct addr *want, size_t n,
			 listener_check_fn check, char *why, size_t whylen)
{
	int fds[LISTENER_MAX];
	bool fresh[LISTENER_MAX] = { false };
	char a[ADDR_STRLEN];
	size_t i;
	int r = 0;

	if (n > LISTENER_MAX) {
		snprintf(why, whylen, "more than %d listen addresses", LISTENER_MAX);
		return -E2BIG;
	}
	for (i = 0; i < n; i++) {
		int k = find_addr(l, &want[i]);
		fds[i] = k >= 0 ? l->fds[k] : listener_bind(&want[i], SOMAXCONN);
		if (fds[i] < 0) {
			r = fds[i];
			snprintf(why, whylen, "cannot listen on %s: %s",
				 addr_str((const struct sockaddr *)&want[i].ss, a, sizeof(a)),
				 strerror(-r));
			goto fail;
		}
		fresh[i] = k < 0;
	}
	if (check != NULL && (r = check(want, n, why, whylen, l->ctx)) < 0)
		goto fail;

	acceptor_halt(l);
	for (size_t j = 0; j < l->nfds; j++) {
		bool stays = false;
		for (size_t k = 0; k < n && !stays; k++)
			stays = fds[k] == l->fds[j];
		if (stays)
			continue;
		log_msg(LOG_NOTICE, "no longer listening on %s",
			addr_str((const struct sockaddr *)&l->addrs[j].ss, a, sizeof(a)));
		close(l->fds[j]);
	}
	for (size_t k = 0; k < n; k++)
		if (fresh[k])
			log_msg(LOG_NOTICE, "listening on %s",
				addr_str((const struct sockaddr *)&want[k].ss, a, sizeof(a)));
	r = adopt(l, fds, n);
	if (r < 0)	/* fcntl/getsockname on sockets we hold: not expected */
		log_msg(LOG_ERR, "listener: %s", strerror(-r));
	r = -pthread_create(&l->thread, NULL, acceptor_main, l);
	if (r < 0) {	/* the watchdog sees the heartbeat stop */
		log_msg(LOG_CRIT, "cannot restart the acceptor: %s", strerror(-r));
		snprintf(why, whylen, "cannot restart the acceptor: %s", strerror(-r));
	}
	return r;
fail:
	for (size_t k = 0; k < i; k++)
		if (fresh[k])
			close(fds[k]);
	return r;
}
