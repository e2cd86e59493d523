/* socksbench: load generator for SOCKS5 servers, loopback only.
 *
 * One process holds both ends: an in-process target server (epoll, one or more
 * threads on a loopback ephemeral port) and a SOCKS5 client that reaches the
 * target through --proxy HOST:PORT, or straight ("direct", no --proxy) for a
 * baseline.  Modes:
 *
 *   rate  --conns N loops; a session = connect, greeting, [RFC 1929 auth],
 *         CONNECT to the target, send --req bytes, read --resp bytes, then
 *         (default --close server) the target closes and the client reads
 *         EOF before closing, so TIME_WAIT sockets sit on the fixed server
 *         ports and a long run cannot exhaust the ephemeral port range of a
 *         proxy that binds its outgoing sockets (danted does).
 *         Reports sessions/s and p50/p90/p99/max session latency.
 *   bulk  --conns N proxied connections stream for --duration seconds
 *         (--dir down: target -> client, the default; up: client -> target;
 *         echo: both ways).  Reports aggregate payload MB/s (1 MB = 10^6 B).
 *   idle  opens --conns N proxied connections, holds them --hold seconds
 *         without traffic, checks each still works (1-byte echo), closes.
 *         With --server-pid reads VmRSS/Pss/Threads of that process and all
 *         its descendants (multi-process servers such as danted) before and
 *         after, and prints KiB and descriptors (/proc/PID/fd) per connection.
 *         --echo-port P: the target is an echo server on 127.0.0.1:P in
 *         another process (--mode echo), so that each process needs only one
 *         descriptor per connection: 9,000 sessions under a limit of 20,000.
 *   echo  serves as that echo target on 127.0.0.1:--echo-port (0: any; the
 *         port is printed as "port=N") until SIGTERM/SIGINT or --duration.
 *   storm --conns N clients log in at once (a login storm): every connection
 *         is opened first, then all greetings go out together; client i logs
 *         in over RFC 1929 as line i % M of --accounts FILE (user:password),
 *         CONNECTs to the target and makes one round trip, each within
 *         --timeout ms of its greeting.  Reports completed logins/s (from the
 *         greetings to the last successful login), timeouts and failures by
 *         phase, p50/p99 login latency (greeting sent to auth reply; over
 *         all clients, "inf" when that share did not log in) and,
 *         with --server-pid, the server's peak RSS and CPU seconds.  --serial: one client at
 *         a time instead (the cost of one login).
 *
 * Output: one "key=value ..." line on stdout; diagnostics on stderr.
 * Exit: 0 measured, 1 internal error or nothing could be measured, 2 usage.
 * Every socket operation has a timeout (--timeout ms) and a watchdog ends the
 * process if it runs past duration + setup + timeouts.
 *
 * Build: cc -std=gnu11 -O2 -Wall -Wextra -pthread -o socksbench socksbench.c
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_RATE, MODE_BULK, MODE_IDLE, MODE_STORM, MODE_ECHO };
enum dir { DIR_DOWN, DIR_UP, DIR_ECHO };
enum tmode { TM_RATE, TM_SINK, TM_STREAM, TM_ECHO };
enum errkind { EK_OK = 0, EK_CONNECT, EK_SOCKS, EK_IO };

#define IOBUF (64 * 1024)
#define MAX_CONNS 100000
#define MAX_LAT_PER_THREAD (8u * 1024 * 1024)

static struct {
	enum mode mode;
	enum dir dir;
	bool direct;
	struct sockaddr_storage proxy;
	socklen_t proxy_len;
	char proxy_str[300];
	long conns;
	double duration;
	double warmup;
	long count;
	long long size;
	long req, resp;
	int timeout_ms;
	double setup_s;
	double hold;
	const char *user, *pass;
	long server_pid;
	int target_threads;
	bool target6;
	bool quiet;
	bool client_close;
	bool serial_storm;
	const char *accounts;
	long echo_port;		/* idle: the target is this external echo server; echo: its port */
} o;

/* ---------- small helpers ---------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("socksbench: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	if (o.quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("socksbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl == -1)
		return -1;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl);
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_LOOPBACK(&s->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr))
			return s->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

static char g_pattern[IOBUF];	/* payload for requests, responses, streams */

/* ---------- watchdog ---------- */

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "socksbench: error: watchdog: run exceeded its hard time limit\n";
	ssize_t r = write(2, msg, sizeof msg - 1);
	(void)r;
	_exit(1);
}

static void arm_watchdog(double secs)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	unsigned s = (unsigned)(secs + 1.0);
	alarm(s < 1 ? 1 : s);
}

/* ---------- target server ---------- */

static enum tmode g_tmode;
static struct sockaddr_storage g_target;
static socklen_t g_target_len;
static atomic_bool g_target_stop;
static atomic_bool g_measure;		/* bytes are counted only while set */
static _Atomic uint64_t g_bytes;	/* bulk payload bytes in the window */
static _Atomic uint64_t g_target_conns;

struct tconn {
	int fd;
	bool listener;
	bool started;		/* TM_STREAM: go byte seen */
	bool responded;		/* TM_RATE: response fully written */
	long got;		/* TM_RATE: request bytes read */
	size_t off, len;	/* pending output (rate response / echo buffer) */
	char *buf;		/* TM_ECHO buffer */
	struct tconn *prev, *next;	/* the owning thread's list */
};

struct tthread {
	pthread_t th;
	int ep;
	struct tconn lst;	/* listener; also the head of the connection list */
};

static struct tthread *g_tthreads;

static void tconn_close(struct tthread *t, struct tconn *c)
{
	epoll_ctl(t->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->prev->next = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->buf);
	free(c);
}

static void tconn_want(int ep, struct tconn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev | EPOLLRDHUP, .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Returns false when the connection must be closed. */
static bool tconn_flush(int ep, struct tconn *c, const char *src)
{
	while (c->off < c->len) {
		ssize_t n = send(c->fd, src + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (n > 0) {
			c->off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			tconn_want(ep, c, EPOLLOUT);
			return true;
		}
		return false;
	}
	c->off = c->len = 0;
	tconn_want(ep, c, EPOLLIN);
	return true;
}

static bool tconn_event(int ep, struct tconn *c, uint32_t ev, char *scratch)
{
	if (g_tmode == TM_STREAM && c->started && (ev & EPOLLOUT)) {
		for (int i = 0; i < 64; i++) {
			ssize_t n = send(c->fd, g_pattern, IOBUF, MSG_NOSIGNAL);
			if (n > 0)
				continue;
			if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				break;
			return false;
		}
		if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
			return true;
	}
	if ((ev & EPOLLOUT) && c->len > 0) {
		if (!tconn_flush(ep, c, c->buf ? c->buf : g_pattern))
			return false;
		if (c->len > 0)
			return true;
		if (g_tmode == TM_RATE) {
			c->responded = true;
			if (!o.client_close)
				return false;	/* server closes first */
		}
	}
	if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return true;
	if (c->len > 0)		/* output pending: backpressure, read later */
		return !(ev & (EPOLLHUP | EPOLLERR));

	for (int rounds = 0; rounds < 16; rounds++) {
		char *dst = scratch;
		size_t cap = IOBUF;
		if (g_tmode == TM_ECHO) {
			if (!c->buf && !(c->buf = malloc(IOBUF)))
				return false;
			dst = c->buf;
		}
		ssize_t n = recv(c->fd, dst, cap, 0);
		if (n == 0)
			return false;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return !(ev & (EPOLLHUP | EPOLLERR));
			return false;
		}
		switch (g_tmode) {
		case TM_SINK:
			if (atomic_load_explicit(&g_measure, memory_order_relaxed))
				atomic_fetch_add_explicit(&g_bytes, (uint64_t)n, memory_order_relaxed);
			break;
		case TM_STREAM:
			if (!c->started) {
				c->started = true;
				struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
			}
			break;
		case TM_RATE:
			c->got += n;
			if (!c->responded && c->len == 0 && c->got >= o.req) {
				c->off = 0;
				c->len = (size_t)o.resp;
				if (!tconn_flush(ep, c, g_pattern))
					return false;
				if (c->len > 0)
					return true;
				c->responded = true;
				if (!o.client_close)
					return false;	/* server closes first */
			}
			break;
		case TM_ECHO:
			c->off = 0;
			c->len = (size_t)n;
			if (!tconn_flush(ep, c, c->buf))
				return false;
			if (c->len > 0)
				return true;
			break;
		}
	}
	return true;
}

static void *target_main(void *arg)
{
	struct tthread *t = arg;
	struct epoll_event evs[256];
	char *scratch = malloc(IOBUF);
	if (!scratch)
		die("out of memory");
	while (!atomic_load(&g_target_stop)) {
		int n = epoll_wait(t->ep, evs, 256, 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("target epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			struct tconn *c = evs[i].data.ptr;
			if (c->listener) {
				for (int k = 0; k < 64; k++) {
					int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0)
						break;	/* EAGAIN, or EMFILE etc.: try next round */
					int one = 1;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					struct tconn *nc = calloc(1, sizeof *nc);
					if (!nc) {
						close(fd);
						continue;
					}
					nc->fd = fd;
					nc->prev = &t->lst;
					nc->next = t->lst.next;
					if (nc->next)
						nc->next->prev = nc;
					t->lst.next = nc;
					struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc };
					if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
						close(fd);
						free(nc);
						continue;
					}
					atomic_fetch_add(&g_target_conns, 1);
				}
				continue;
			}
			if (!tconn_event(t->ep, c, evs[i].events, scratch))
				tconn_close(t, c);
		}
	}
	free(scratch);
	return NULL;
}

static void target_start(void)
{
	int nt = o.target_threads;
	if (nt == 0)
		return;	/* an external target (--echo-port) */
	struct tthread *ts = calloc((size_t)nt, sizeof *ts);
	if (!ts)
		die("out of memory");
	g_tthreads = ts;
	memset(&g_target, 0, sizeof g_target);
	if (o.target6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&g_target;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		g_target_len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&g_target;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (o.mode == MODE_ECHO)
			s4->sin_port = htons((uint16_t)o.echo_port);
		g_target_len = sizeof *s4;
	}
	for (int i = 0; i < nt; i++) {
		int fd = socket(g_target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("target socket: %s", strerror(errno));
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (nt > 1)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&g_target, g_target_len) < 0)
			die("target bind: %s", strerror(errno));
		if (listen(fd, 4096) < 0)
			die("target listen: %s", strerror(errno));
		if (i == 0) {
			socklen_t l = sizeof g_target;
			if (getsockname(fd, (struct sockaddr *)&g_target, &l) < 0)
				die("target getsockname: %s", strerror(errno));
			g_target_len = l;
		}
		ts[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (ts[i].ep < 0)
			die("epoll_create1: %s", strerror(errno));
		ts[i].lst.fd = fd;
		ts[i].lst.listener = true;
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &ts[i].lst };
		if (epoll_ctl(ts[i].ep, EPOLL_CTL_ADD, fd, &e) < 0)
			die("epoll_ctl: %s", strerror(errno));
		if (pthread_create(&ts[i].th, NULL, target_main, &ts[i]) != 0)
			die("pthread_create failed");
	}
}

static void target_stop(void)
{
	atomic_store(&g_target_stop, true);
	for (int i = 0; i < o.target_threads; i++) {
		struct tthread *t = &g_tthreads[i];
		pthread_join(t->th, NULL);
		while (t->lst.next)
			tconn_close(t, t->lst.next);
		close(t->lst.fd);
		close(t->ep);
	}
	free(g_tthreads);
}

/* ---------- blocking client I/O with timeouts ---------- */

static int dial(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int r;
		do
			r = poll(&p, 1, o.timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r <= 0) {
			errno = r == 0 ? ETIMEDOUT : errno;
			goto fail;
		}
		int err = 0;
		socklen_t el = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			errno = err ? err : errno;
			goto fail;
		}
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval tv = { o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (set_nonblock(fd, false) < 0)
		goto fail;
	return fd;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errno = ETIMEDOUT;	/* SO_RCVTIMEO/SO_SNDTIMEO */
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errno = ETIMEDOUT;	/* SO_RCVTIMEO/SO_SNDTIMEO */
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until the peer closes (bounded by the socket timeout). */
static int wait_eof(int fd, char *buf, size_t cap)
{
	for (int i = 0; i < 1024; i++) {
		ssize_t n = recv(fd, buf, cap, 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errno = ETIMEDOUT;
			return -1;
		}
	}
	errno = EPROTO;
	return -1;
}

static char g_socks_err[200];	/* first SOCKS-level failure, for diagnostics */
static atomic_flag g_socks_err_set = ATOMIC_FLAG_INIT;

static enum errkind socks_fail(const char *what, int code)
{
	if (!atomic_flag_test_and_set(&g_socks_err_set))
		snprintf(g_socks_err, sizeof g_socks_err, "%s (0x%02x)", what, code & 0xff);
	return EK_SOCKS;
}

/* The CONNECT request for the target into b (at least 22 bytes); returns its length. */
static size_t build_connect(unsigned char *b)
{
	size_t n = 0;
	b[n++] = 5; b[n++] = 1; b[n++] = 0;
	if (g_target.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&g_target;
		b[n++] = 1;
		memcpy(b + n, &s4->sin_addr, 4);
		n += 4;
		memcpy(b + n, &s4->sin_port, 2);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&g_target;
		b[n++] = 4;
		memcpy(b + n, &s6->sin6_addr, 16);
		n += 16;
		memcpy(b + n, &s6->sin6_port, 2);
	}
	return n + 2;
}

/* SOCKS5 handshake on a connected blocking socket: greeting, optional
 * RFC 1929 auth, CONNECT to the target.  Not pipelined, like common clients. */
static enum errkind socks_handshake(int fd)
{
	unsigned char b[600];
	size_t n;
	bool auth = o.user != NULL;

	b[0] = 5; b[1] = 1; b[2] = auth ? 2 : 0;
	if (send_all(fd, b, 3) < 0 || recv_all(fd, b, 2) < 0)
		return EK_IO;
	if (b[0] != 5)
		return socks_fail("bad version in method reply", b[0]);
	if (b[1] != (auth ? 2 : 0))
		return socks_fail("server refused offered method", b[1]);
	if (auth) {
		size_t ul = strlen(o.user), pl = strlen(o.pass);
		n = 0;
		b[n++] = 1;
		b[n++] = (unsigned char)ul;
		memcpy(b + n, o.user, ul);
		n += ul;
		b[n++] = (unsigned char)pl;
		memcpy(b + n, o.pass, pl);
		n += pl;
		if (send_all(fd, b, n) < 0 || recv_all(fd, b, 2) < 0)
			return EK_IO;
		if (b[0] != 1 || b[1] != 0)
			return socks_fail("authentication rejected", b[1]);
	}
	n = build_connect(b);
	if (send_all(fd, b, n) < 0 || recv_all(fd, b, 4) < 0)
		return EK_IO;
	if (b[0] != 5)
		return socks_fail("bad version in CONNECT reply", b[0]);
	if (b[1] != 0)
		return socks_fail("CONNECT refused, REP", b[1]);
	switch (b[3]) {
	case 1: n = 4 + 2; break;
	case 4: n = 16 + 2; break;
	case 3:
		if (recv_all(fd, b, 1) < 0)
			return EK_IO;
		n = (size_t)b[0] + 2;
		break;
	default:
		return socks_fail("bad ATYP in CONNECT reply", b[3]);
	}
	if (recv_all(fd, b, n) < 0)
		return EK_IO;
	return EK_OK;
}

/* Connect to the proxy (or directly to the target) and do the handshake. */
static int open_session(enum errkind *ek)
{
	int fd = o.direct ? dial(&g_target, g_target_len) : dial(&o.proxy, o.proxy_len);
	if (fd < 0) {
		*ek = EK_CONNECT;
		return -1;
	}
	if (!o.direct) {
		*ek = socks_handshake(fd);
		if (*ek != EK_OK) {
			close(fd);
			return -1;
		}
	}
	*ek = EK_OK;
	return fd;
}

struct errs {
	uint64_t connect, socks, io;
};

static void errs_add(struct errs *e, enum errkind k)
{
	if (k == EK_CONNECT)
		e->connect++;
	else if (k == EK_SOCKS)
		e->socks++;
	else if (k == EK_IO)
		e->io++;
}

static uint64_t errs_total(const struct errs *e)
{
	return e->connect + e->socks + e->io;
}

static atomic_bool g_stop;
static int g_first_errno;
static atomic_flag g_first_errno_set = ATOMIC_FLAG_INIT;

static void remember_errno(void)
{
	if (!atomic_flag_test_and_set(&g_first_errno_set))
		g_first_errno = errno;
}

static pthread_attr_t g_attr;

/* ---------- rate mode ---------- */

static _Atomic long g_started;

struct rworker {
	pthread_t th;
	uint32_t *lat;
	size_t n, cap;
	uint64_t ok, dropped;
	struct errs e;
	atomic_bool done;
};

static void *rate_main(void *arg)
{
	struct rworker *w = arg;
	char *buf = malloc((size_t)(o.resp > o.req ? o.resp : o.req) + 1);
	if (!buf)
		die("out of memory");
	while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
		bool measured = atomic_load_explicit(&g_measure, memory_order_relaxed);
		if (measured && o.count > 0 && atomic_fetch_add(&g_started, 1) >= o.count)
			break;
		double t0 = now_s();
		enum errkind ek;
		int fd = open_session(&ek);
		if (fd >= 0) {
			if (send_all(fd, g_pattern, (size_t)o.req) < 0 ||
			    recv_all(fd, buf, (size_t)o.resp) < 0 ||
			    (!o.client_close && wait_eof(fd, buf, (size_t)o.resp) < 0))
				ek = EK_IO;
			if (ek != EK_OK)
				remember_errno();
			close(fd);
		} else if (ek != EK_SOCKS) {
			remember_errno();
		}
		double t1 = now_s();
		if (!measured)
			continue;
		if (ek != EK_OK) {
			errs_add(&w->e, ek);
			/* a server that refuses at once must not spin a core */
			if (ek == EK_CONNECT)
				sleep_s(0.001);
			continue;
		}
		w->ok++;
		if (w->n == w->cap) {
			size_t nc = w->cap ? w->cap * 2 : 4096;
			uint32_t *nl = nc <= MAX_LAT_PER_THREAD ? realloc(w->lat, nc * sizeof *nl) : NULL;
			if (!nl) {
				w->dropped++;
				continue;
			}
			w->lat = nl;
			w->cap = nc;
		}
		double us = (t1 - t0) * 1e6;
		w->lat[w->n++] = us > 4e9 ? 4000000000u : (uint32_t)us;
	}
	free(buf);
	atomic_store(&w->done, true);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const uint32_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i] / 1000.0;
}

static int run_rate(void)
{
	long nw = o.conns;
	struct rworker *ws = calloc((size_t)nw, sizeof *ws);
	if (!ws)
		die("out of memory");
	atomic_store(&g_measure, o.warmup <= 0);
	for (long i = 0; i < nw; i++)
		if (pthread_create(&ws[i].th, &g_attr, rate_main, &ws[i]) != 0)
			die("pthread_create failed (thread %ld)", i);
	if (o.warmup > 0) {
		sleep_s(o.warmup);
		atomic_store(&g_measure, true);
	}
	double t0 = now_s(), deadline = t0 + o.duration;
	for (;;) {
		bool all = true;
		for (long i = 0; i < nw && all; i++)
			all = atomic_load(&ws[i].done);
		if (all || now_s() >= deadline)
			break;
		sleep_s(0.01);
	}
	atomic_store(&g_stop, true);
	for (long i = 0; i < nw; i++)
		pthread_join(ws[i].th, NULL);
	double el = now_s() - t0;

	uint64_t ok = 0, dropped = 0;
	struct errs e = { 0, 0, 0 };
	size_t nl = 0;
	for (long i = 0; i < nw; i++) {
		ok += ws[i].ok;
		dropped += ws[i].dropped;
		e.connect += ws[i].e.connect;
		e.socks += ws[i].e.socks;
		e.io += ws[i].e.io;
		nl += ws[i].n;
	}
	uint32_t *all = malloc((nl ? nl : 1) * sizeof *all);
	if (!all)
		die("out of memory");
	size_t k = 0;
	for (long i = 0; i < nw; i++) {
		if (ws[i].n)
			memcpy(all + k, ws[i].lat, ws[i].n * sizeof *all);
		k += ws[i].n;
		free(ws[i].lat);
	}
	qsort(all, nl, sizeof *all, cmp_u32);
	printf("mode=rate server=%s auth=%s conns=%ld elapsed_s=%.2f sessions=%" PRIu64
	       " sessions_per_s=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f"
	       " errors=%" PRIu64 " err_connect=%" PRIu64 " err_socks=%" PRIu64 " err_io=%" PRIu64 "\n",
	       o.direct ? "direct" : o.proxy_str, o.user ? "userpass" : "none", nw, el, ok,
	       el > 0 ? (double)ok / el : 0.0, pct_ms(all, nl, 0.50), pct_ms(all, nl, 0.90),
	       pct_ms(all, nl, 0.99), nl ? all[nl - 1] / 1000.0 : 0.0,
	       errs_total(&e), e.connect, e.socks, e.io);
	fflush(stdout);
	if (dropped)
		note("%" PRIu64 " latency samples not stored (memory cap)", dropped);
	free(all);
	free(ws);
	if (errs_total(&e)) {
		if (g_socks_err[0])
			note("first SOCKS failure: %s", g_socks_err);
		if (g_first_errno)
			note("first socket error: %s", strerror(g_first_errno));
	}
	if (ok == 0) {
		fprintf(stderr, "socksbench: error: no session succeeded\n");
		return 1;
	}
	return 0;
}

/* ---------- opening many sessions in parallel (bulk, idle) ---------- */

static int *g_fds;
static _Atomic long g_next;
static double g_setup_deadline;
static struct errs g_setup_errs;
static pthread_mutex_t g_setup_mu = PTHREAD_MUTEX_INITIALIZER;

static void *opener_main(void *arg)
{
	(void)arg;
	struct errs e = { 0, 0, 0 };
	for (;;) {
		long i = atomic_fetch_add(&g_next, 1);
		if (i >= o.conns)
			break;
		if (now_s() > g_setup_deadline) {
			e.io++;
			continue;
		}
		enum errkind ek;
		g_fds[i] = open_session(&ek);
		if (g_fds[i] < 0) {
			if (ek != EK_SOCKS)
				remember_errno();
			errs_add(&e, ek);
		}
	}
	pthread_mutex_lock(&g_setup_mu);
	g_setup_errs.connect += e.connect;
	g_setup_errs.socks += e.socks;
	g_setup_errs.io += e.io;
	pthread_mutex_unlock(&g_setup_mu);
	return NULL;
}

static long open_all(void)
{
	g_fds = malloc((size_t)o.conns * sizeof *g_fds);
	if (!g_fds)
		die("out of memory");
	for (long i = 0; i < o.conns; i++)
		g_fds[i] = -1;
	g_setup_deadline = now_s() + o.setup_s;
	long nt = o.conns < 16 ? o.conns : 16;
	pthread_t th[16];
	for (long i = 0; i < nt; i++)
		if (pthread_create(&th[i], &g_attr, opener_main, NULL) != 0)
			die("pthread_create failed");
	for (long i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	long ok = 0;
	for (long i = 0; i < o.conns; i++)
		ok += g_fds[i] >= 0;
	if (errs_total(&g_setup_errs)) {
		note("setup: %" PRIu64 " of %ld sessions failed (connect %" PRIu64 ", socks %" PRIu64
		     ", io/timeout %" PRIu64 ")", errs_total(&g_setup_errs), o.conns,
		     g_setup_errs.connect, g_setup_errs.socks, g_setup_errs.io);
		if (g_socks_err[0])
			note("first SOCKS failure: %s", g_socks_err);
		if (g_first_errno)
			note("first socket error: %s", strerror(g_first_errno));
	}
	return ok;
}

static void close_all(void)
{
	for (long i = 0; i < o.conns; i++)
		if (g_fds[i] >= 0) {
			close(g_fds[i]);
			g_fds[i] = -1;
		}
}

/* ---------- bulk mode ---------- */

struct bworker {
	pthread_t th;
	long first, end;	/* fd index range */
	uint64_t io_errs;
};

static void *bulk_main(void *arg)
{
	struct bworker *w = arg;
	char *buf = malloc(4 * IOBUF);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!buf || ep < 0)
		die("bulk worker setup failed");
	long live = 0;
	for (long i = w->first; i < w->end; i++) {
		if (g_fds[i] < 0)
			continue;
		set_nonblock(g_fds[i], true);
		uint32_t ev = EPOLLRDHUP;
		if (o.dir == DIR_DOWN) {
			if (send(g_fds[i], "G", 1, MSG_NOSIGNAL) != 1) {
				w->io_errs++;
				close(g_fds[i]);
				g_fds[i] = -1;
				continue;
			}
			ev |= EPOLLIN;
		} else if (o.dir == DIR_UP) {
			ev |= EPOLLIN | EPOLLOUT;
		} else {
			ev |= EPOLLIN | EPOLLOUT;
		}
		struct epoll_event e = { .events = ev, .data.u64 = (uint64_t)i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, g_fds[i], &e) < 0)
			die("epoll_ctl: %s", strerror(errno));
		live++;
	}
	struct epoll_event evs[64];
	while (live > 0 && !atomic_load_explicit(&g_stop, memory_order_relaxed)) {
		int n = epoll_wait(ep, evs, 64, 50);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (int k = 0; k < n; k++) {
			long i = (long)evs[k].data.u64;
			int fd = g_fds[i];
			bool bad = false;
			if (evs[k].events & EPOLLOUT) {
				ssize_t s = send(fd, g_pattern, IOBUF, MSG_NOSIGNAL);
				if (s < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					bad = true;
			}
			if (!bad && (evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
				for (int r = 0; r < 8; r++) {
					ssize_t s = recv(fd, buf, 4 * IOBUF, 0);
					if (s > 0) {
						if (o.dir != DIR_UP &&
						    atomic_load_explicit(&g_measure, memory_order_relaxed))
							atomic_fetch_add_explicit(&g_bytes, (uint64_t)s,
										  memory_order_relaxed);
						continue;
					}
					if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
						break;
					bad = true;	/* EOF or error mid-stream */
					break;
				}
				if (!bad && (evs[k].events & (EPOLLHUP | EPOLLERR)))
					bad = true;
			}
			if (bad) {
				if (!atomic_load(&g_stop)) {
					w->io_errs++;
					remember_errno();
				}
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				g_fds[i] = -1;
				live--;
			}
		}
	}
	close(ep);
	free(buf);
	return NULL;
}

static int run_bulk(void)
{
	long opened = open_all();
	if (opened == 0) {
		fprintf(stderr, "socksbench: error: no connection could be opened\n");
		return 1;
	}
	long nt = o.conns < 2 ? o.conns : 2;
	struct bworker ws[2];
	memset(ws, 0, sizeof ws);
	double t0 = now_s();
	atomic_store(&g_measure, true);
	for (long i = 0; i < nt; i++) {
		ws[i].first = o.conns * i / nt;
		ws[i].end = o.conns * (i + 1) / nt;
		if (pthread_create(&ws[i].th, &g_attr, bulk_main, &ws[i]) != 0)
			die("pthread_create failed");
	}
	double deadline = t0 + o.duration;
	uint64_t goal = o.size > 0 ? (uint64_t)o.size * (uint64_t)opened : 0;
	while (now_s() < deadline) {
		if (goal && atomic_load(&g_bytes) >= goal)
			break;
		sleep_s(0.01);
	}
	atomic_store(&g_measure, false);
	double el = now_s() - t0;
	uint64_t bytes = atomic_load(&g_bytes);
	atomic_store(&g_stop, true);
	for (long i = 0; i < nt; i++)
		pthread_join(ws[i].th, NULL);
	close_all();
	uint64_t io = ws[0].io_errs + (nt > 1 ? ws[1].io_errs : 0);
	static const char *dn[] = { "down", "up", "echo" };
	printf("mode=bulk server=%s dir=%s conns=%ld opened=%ld elapsed_s=%.2f bytes=%" PRIu64
	       " mb_per_s=%.1f errors=%" PRIu64 "\n",
	       o.direct ? "direct" : o.proxy_str, dn[o.dir], o.conns, opened, el, bytes,
	       el > 0 ? (double)bytes / el / 1e6 : 0.0, errs_total(&g_setup_errs) + io);
	fflush(stdout);
	if (bytes == 0) {
		fprintf(stderr, "socksbench: error: no payload moved\n");
		return 1;
	}
	return 0;
}

/* ---------- idle mode ---------- */

struct mem {
	bool ok;
	long rss_kib, pss_kib, hwm_kib, threads, procs, fds;
};

/* Open descriptors of pid (entries of /proc/PID/fd), 0 when unreadable. */
static long count_fds(long pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	long n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static long status_field(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static long ppid_of(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	char st;
	long pp;
	if (sscanf(p + 1, " %c %ld", &st, &pp) != 2)
		return -1;
	return pp;
}

/* The pids of root and all its descendants (danted forks children), root
 * first; *ret_pids is malloc'd, the caller frees it.  Returns the count, 0
 * when root does not exist. */
static size_t tree_pids(long root, long **ret_pids)
{
	long *pids = NULL, *pp = NULL;
	size_t n = 0, cap = 0;
	*ret_pids = NULL;
	if (root <= 0)
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		long pid = strtol(de->d_name, NULL, 10);
		long par = ppid_of(pid);
		if (par < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			long *np = realloc(pids, cap * sizeof *np), *npp;
			if (!np)
				die("out of memory");
			pids = np;
			npp = realloc(pp, cap * sizeof *npp);
			if (!npp)
				die("out of memory");
			pp = npp;
		}
		pids[n] = pid;
		pp[n] = par;
		n++;
	}
	closedir(d);
	/* breadth-first over the tree; in[] marks members */
	bool *in = calloc(n ? n : 1, sizeof *in);
	long *out = malloc((n ? n : 1) * sizeof *out);
	if (!in || !out)
		die("out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (pids[i] == root) {
			in[i] = true;
			out[k++] = root;
		}
	for (bool grew = k > 0; grew;) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (in[i])
				continue;
			for (size_t j = 0; j < n; j++)
				if (in[j] && pids[j] == pp[i]) {
					in[i] = grew = true;
					out[k++] = pids[i];
					break;
				}
		}
	}
	free(in);
	free(pids);
	free(pp);
	if (k == 0)
		free(out);
	else
		*ret_pids = out;
	return k;
}

/* Sum VmRSS, Pss (when with_pss; else Pss = VmRSS), VmHWM and Threads over
 * the given processes; those that exited meanwhile are skipped. */
static struct mem sum_mem(const long *pids, size_t n, bool with_pss)
{
	struct mem m = { false, 0, 0, 0, 0, 0, 0 };
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/status", pids[i]);
		long rss = status_field(path, "VmRSS"), thr = status_field(path, "Threads");
		long hwm = status_field(path, "VmHWM");
		long pss = -1;
		if (with_pss) {
			snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", pids[i]);
			pss = status_field(path, "Pss");
		}
		if (rss < 0 || thr < 0)
			continue;	/* exited meanwhile */
		m.rss_kib += rss;
		m.pss_kib += pss > 0 ? pss : rss;
		m.hwm_kib += hwm > 0 ? hwm : rss;
		m.threads += thr;
		m.fds += count_fds(pids[i]);
		m.procs++;
	}
	m.ok = m.procs > 0;
	return m;
}

/* Memory of root and all its descendants. */
static struct mem read_mem(long root)
{
	long *pids;
	size_t n = tree_pids(root, &pids);
	struct mem m = sum_mem(pids, n, true);
	free(pids);
	return m;
}

/* The same without Pss (no smaps_rollup walk). */
static struct mem read_mem_light(long root)
{
	long *pids;
	size_t n = tree_pids(root, &pids);
	struct mem m = sum_mem(pids, n, false);
	free(pids);
	return m;
}

/* Send one byte on every open connection and wait for every echo. */
static long verify_all(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	long pending = 0, alive = 0;
	for (long i = 0; i < o.conns; i++) {
		int fd = g_fds[i];
		if (fd < 0)
			continue;
		set_nonblock(fd, true);
		struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)i };
		if (send(fd, "p", 1, MSG_NOSIGNAL) != 1 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
			continue;
		pending++;
	}
	double deadline = now_s() + o.timeout_ms / 1000.0;
	struct epoll_event evs[256];
	while (pending > 0) {
		int left = (int)((deadline - now_s()) * 1000);
		if (left <= 0)
			break;
		int n = epoll_wait(ep, evs, 256, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (int k = 0; k < n; k++) {
			int fd = g_fds[evs[k].data.u64];
			char c;
			ssize_t r = recv(fd, &c, 1, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r == 1)
				alive++;
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			pending--;
		}
	}
	close(ep);
	return alive;
}

static int run_idle(void)
{
	struct mem before = read_mem(o.server_pid);
	if (o.server_pid > 0 && !before.ok)
		die("cannot read /proc/%ld (server not running?)", o.server_pid);
	double t0 = now_s();
	long opened = open_all();
	double setup_s = now_s() - t0;
	if (opened == 0) {
		fprintf(stderr, "socksbench: error: no connection could be opened\n");
		return 1;
	}
	double hold = o.hold < o.duration ? o.hold : o.duration;
	sleep_s(hold);
	struct mem after = read_mem(o.server_pid);
	long alive = verify_all();
	close_all();
	uint64_t errors = errs_total(&g_setup_errs) + (uint64_t)(opened - alive);

	char memtxt[640] = "rss_before_kib=na rss_after_kib=na kib_per_conn_rss=na kib_per_conn_pss=na"
			   " threads_before=na threads_after=na procs_before=na procs_after=na"
			   " fds_before=na fds_after=na fds_per_conn=na";
	if (o.server_pid > 0 && after.ok)
		snprintf(memtxt, sizeof memtxt,
			 "rss_before_kib=%ld rss_after_kib=%ld kib_per_conn_rss=%.1f kib_per_conn_pss=%.1f"
			 " threads_before=%ld threads_after=%ld procs_before=%ld procs_after=%ld"
			 " fds_before=%ld fds_after=%ld fds_per_conn=%.2f",
			 before.rss_kib, after.rss_kib,
			 (double)(after.rss_kib - before.rss_kib) / (double)opened,
			 (double)(after.pss_kib - before.pss_kib) / (double)opened,
			 before.threads, after.threads, before.procs, after.procs,
			 before.fds, after.fds, (double)(after.fds - before.fds) / (double)opened);
	printf("mode=idle server=%s conns=%ld opened=%ld alive=%ld setup_s=%.2f hold_s=%.1f %s errors=%" PRIu64 "\n",
	       o.direct ? "direct" : o.proxy_str, o.conns, opened, alive, setup_s, hold, memtxt, errors);
	fflush(stdout);
	if (o.server_pid > 0 && !after.ok)
		die("server process %ld vanished during the idle hold", o.server_pid);
	return alive > 0 ? 0 : 1;
}

/* ---------- echo mode ---------- */

static volatile sig_atomic_t g_echo_stop;

static void on_echo_stop(int sig)
{
	(void)sig;
	g_echo_stop = 1;
}

/* The echo target of another process's idle run, until a signal or --duration. */
static int run_echo(void)
{
	char a[INET6_ADDRSTRLEN];
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&g_target;
	inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
	printf("port=%u\n", ntohs(s4->sin_port));
	fflush(stdout);
	signal(SIGTERM, on_echo_stop);
	signal(SIGINT, on_echo_stop);
	double end = now_s() + o.duration;
	while (!g_echo_stop && now_s() < end)
		sleep_s(0.1);
	note("echo on %s:%u: %" PRIu64 " connections", a, ntohs(s4->sin_port),
	     atomic_load(&g_target_conns));
	return 0;
}

/* ---------- storm mode ---------- */

/* N clients log in at once: every connection is opened first, then all the
 * greetings go out together (the barrier); each client then does RFC 1929
 * auth as account i % M, CONNECT and one request/response round trip, in one
 * epoll loop, each bounded by --timeout from its own greeting.  --serial
 * runs the clients one at a time instead (the cost of one login). */

enum sphase { SP_CONNECTING, SP_READY, SP_METHOD, SP_AUTH, SP_REPLY, SP_REPLY_TAIL, SP_DATA,
	      SP_DONE, SP_N };
enum sout { SO_NONE, SO_OK, SO_TIMEOUT, SO_CLOSED, SO_REFUSED, SO_CONNECT };

static const char *const g_sphase_name[SP_N] = { "connect", "ready", "greeting", "auth",
						  "reply", "reply", "data", "done" };

struct account {
	const char *user, *pass;
};

static struct account *g_accts;
static long g_nacct;

struct sclient {
	int fd;
	enum sphase ph;
	enum sout out;
	enum sphase fail_ph;		/* where a failure happened */
	const struct account *acct;
	double t_greet, t_login, t_done, deadline;
	size_t got, need;
	unsigned char b[520];
};

struct sstats {
	long connected, greeted, logins, ok, refused, conn_fail;
	long timeout[SP_N], closed[SP_N];
	double t_release, t_last_login, t_last_done, busy_s;
};

static void sc_finish(struct sclient *c, enum sout out)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->out = out;
	c->fail_ph = c->ph;
	c->ph = SP_DONE;
	c->t_done = now_s();
}

/* Sends the whole message (all of them fit a fresh socket buffer). */
static bool sc_send(struct sclient *c, const void *p, size_t n)
{
	ssize_t r;
	do
		r = send(c->fd, p, n, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)n)
		return true;
	remember_errno();
	sc_finish(c, SO_CLOSED);
	return false;
}

/* Reads towards c->need bytes.  Returns 1 complete, 0 more to come, -1 the
 * client finished (closed by the server). */
static int sc_read(struct sclient *c)
{
	static char sink[IOBUF];	/* only the storm loop's thread reads */
	while (c->got < c->need) {
		size_t want = c->need - c->got;
		char *dst = c->ph == SP_DATA ? sink : (char *)c->b + c->got;
		if (c->ph == SP_DATA && want > sizeof sink)
			want = sizeof sink;
		ssize_t r = recv(c->fd, dst, want, 0);
		if (r > 0) {
			c->got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r < 0)
			remember_errno();
		sc_finish(c, SO_CLOSED);
		return -1;
	}
	return 1;
}

static void sc_expect(struct sclient *c, enum sphase ph, size_t need)
{
	c->ph = ph;
	c->got = 0;
	c->need = need;
}

static void sc_greet(struct sclient *c)
{
	static const unsigned char greet[3] = { 5, 1, 2 };
	c->t_greet = now_s();
	c->deadline = c->t_greet + o.timeout_ms / 1000.0;
	sc_expect(c, SP_METHOD, 2);
	sc_send(c, greet, sizeof greet);
}

/* Advances one client after its socket became readable. */
static void sc_step(struct sclient *c)
{
	unsigned char m[520];
	size_t n, ul, pl;
	for (;;) {
		if (c->ph == SP_DONE || sc_read(c) <= 0)
			return;
		switch (c->ph) {
		case SP_METHOD:
			if (c->b[0] != 5 || c->b[1] != 2) {
				socks_fail("server refused offered method", c->b[1]);
				sc_finish(c, SO_REFUSED);
				return;
			}
			ul = strlen(c->acct->user);
			pl = strlen(c->acct->pass);
			n = 0;
			m[n++] = 1;
			m[n++] = (unsigned char)ul;
			memcpy(m + n, c->acct->user, ul);
			n += ul;
			m[n++] = (unsigned char)pl;
			memcpy(m + n, c->acct->pass, pl);
			n += pl;
			sc_expect(c, SP_AUTH, 2);
			if (!sc_send(c, m, n))
				return;
			break;
		case SP_AUTH:
			if (c->b[0] != 1 || c->b[1] != 0) {
				socks_fail("authentication rejected", c->b[1]);
				sc_finish(c, SO_REFUSED);
				return;
			}
			c->t_login = now_s();
			n = build_connect(m);
			sc_expect(c, SP_REPLY, 5);
			if (!sc_send(c, m, n))
				return;
			break;
		case SP_REPLY:
			if (c->b[0] != 5 || c->b[1] != 0) {
				socks_fail(c->b[0] != 5 ? "bad version in CONNECT reply" :
					   "CONNECT refused, REP", c->b[1]);
				sc_finish(c, SO_REFUSED);
				return;
			}
			n = c->b[3] == 1 ? 4 - 1 + 2 : c->b[3] == 4 ? 16 - 1 + 2 :
			    c->b[3] == 3 ? (size_t)c->b[4] + 2 : 0;
			if (n == 0) {
				socks_fail("bad ATYP in CONNECT reply", c->b[3]);
				sc_finish(c, SO_REFUSED);
				return;
			}
			sc_expect(c, SP_REPLY_TAIL, n);
			break;
		case SP_REPLY_TAIL:
			sc_expect(c, SP_DATA, (size_t)o.resp);
			if (!sc_send(c, g_pattern, (size_t)o.req))
				return;
			break;
		case SP_DATA:
			sc_finish(c, SO_OK);
			return;
		default:
			return;
		}
	}
}

/* Opens the sockets of cs[0..n) and waits (up to --setup-timeout) until each
 * is connected or failed.  Returns the number connected. */
static long storm_connect(int ep, struct sclient *cs, long n)
{
	long pending = 0, connected = 0;
	for (long i = 0; i < n; i++) {
		struct sclient *c = &cs[i];
		c->ph = SP_CONNECTING;
		c->fd = socket(o.proxy.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			die("socket: %s", strerror(errno));
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct epoll_event e = { .events = EPOLLOUT, .data.u64 = (uint64_t)i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0)
			die("epoll_ctl: %s", strerror(errno));
		if (connect(c->fd, (struct sockaddr *)&o.proxy, o.proxy_len) == 0 ||
		    errno == EINPROGRESS) {
			pending++;
			continue;
		}
		remember_errno();
		sc_finish(c, SO_CONNECT);
	}
	double deadline = now_s() + o.setup_s;
	struct epoll_event evs[256];
	while (pending > 0) {
		int left = (int)((deadline - now_s()) * 1000);
		if (left <= 0)
			break;
		int k = epoll_wait(ep, evs, 256, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("epoll_wait: %s", strerror(errno));
		for (int j = 0; j < k; j++) {
			struct sclient *c = &cs[evs[j].data.u64];
			if (c->ph == SP_READY) {	/* closed before the barrier */
				sc_finish(c, SO_CLOSED);
				continue;
			}
			if (c->ph != SP_CONNECTING)
				continue;
			int err = 0;
			socklen_t el = sizeof err;
			pending--;
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
				errno = err ? err : errno;
				remember_errno();
				sc_finish(c, SO_CONNECT);
				continue;
			}
			/* nothing until the barrier; HUP/ERR still arrive */
			struct epoll_event e = { .events = 0, .data.u64 = evs[j].data.u64 };
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
			c->ph = SP_READY;
			connected++;
		}
	}
	for (long i = 0; i < n; i++)
		if (cs[i].ph == SP_CONNECTING) {
			errno = ETIMEDOUT;
			remember_errno();
			sc_finish(&cs[i], SO_CONNECT);
		}
	return connected;
}

/* One batch: connect all, greet all at once, run each to its end. */
static void storm_batch(struct sclient *cs, long n, struct sstats *st)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	st->connected += storm_connect(ep, cs, n);
	double t0 = now_s();
	if (st->t_release == 0)
		st->t_release = t0;
	long active = 0;
	for (long i = 0; i < n; i++) {
		struct sclient *c = &cs[i];
		if (c->ph != SP_READY)
			continue;
		struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)i };
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
		sc_greet(c);
		st->greeted++;
		active += c->ph != SP_DONE;
	}
	struct epoll_event evs[256];
	while (active > 0) {
		int k = epoll_wait(ep, evs, 256, 20);
		if (k < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int j = 0; j < k; j++) {
			struct sclient *c = &cs[evs[j].data.u64];
			if (c->ph == SP_DONE)
				continue;	/* a stale event of this round */
			sc_step(c);
			if (c->ph == SP_DONE)
				active--;
		}
		double t = now_s();
		for (long i = 0; i < n && active > 0; i++)
			if (cs[i].ph != SP_DONE && cs[i].ph != SP_READY && t > cs[i].deadline) {
				sc_finish(&cs[i], SO_TIMEOUT);
				active--;
			}
	}
	close(ep);
	st->busy_s += now_s() - t0;
}

/* ---- server memory and CPU during the storm ---- */

/* /proc/PID/status can block for seconds while the server's threads fight
 * over its mmap lock (400 yescrypt checks mapping 16 MiB each), so the
 * sampler reads /proc/PID/stat only; VmHWM, found only in status, is read
 * once at the end by a helper thread, with a bounded wait. */

/* CPU ticks (user + system, with reaped children's) and RSS of one process
 * from /proc/PID/stat.  Returns false when it exited. */
static bool read_stat(long pid, unsigned long long *ret_ticks, long *ret_rss_kib)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long ut, st, cut, cst;
	long rss;
	/* after the command: state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime cutime cstime priority nice
	 * num_threads itrealvalue starttime vsize rss */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu"
			 " %*d %*d %*d %*d %*u %*u %ld", &ut, &st, &cut, &cst, &rss) != 5)
		return false;
	*ret_ticks = ut + st + cut + cst;
	*ret_rss_kib = rss * (sysconf(_SC_PAGESIZE) / 1024);
	return true;
}

struct tstat {
	bool ok;
	long rss_kib, procs;
	double cpu_s;
};

static struct tstat tree_stat(const long *pids, size_t n)
{
	struct tstat t = { false, 0, 0, 0 };
	unsigned long long ticks = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned long long tk;
		long rss;
		if (!read_stat(pids[i], &tk, &rss))
			continue;
		ticks += tk;
		t.rss_kib += rss;
		t.procs++;
	}
	long hz = sysconf(_SC_CLK_TCK);
	t.cpu_s = hz > 0 ? (double)ticks / (double)hz : 0;
	t.ok = t.procs > 0;
	return t;
}

static struct tstat tree_stat_now(long root)
{
	long *pids;
	size_t n = tree_pids(root, &pids);
	struct tstat t = tree_stat(pids, n);
	free(pids);
	return t;
}

static atomic_bool g_sampling;
static long g_rss_peak, g_procs_peak;

/* Every 50 ms: RSS summed over the server's process tree (the tree is
 * listed again every 200 ms, which is cheaper than every time). */
static void *sampler_main(void *arg)
{
	(void)arg;
	long *pids = NULL;
	size_t n = 0;
	for (unsigned tick = 0; atomic_load(&g_sampling); tick++) {
		if (tick % 4 == 0) {
			free(pids);
			n = tree_pids(o.server_pid, &pids);
		}
		struct tstat t = tree_stat(pids, n);
		if (t.ok && t.rss_kib > g_rss_peak)
			g_rss_peak = t.rss_kib;
		if (t.ok && t.procs > g_procs_peak)
			g_procs_peak = t.procs;
		sleep_s(0.05);
	}
	free(pids);
	return NULL;
}

struct hwm_read {
	struct mem m;
	atomic_bool done;
};

static void *hwm_main(void *arg)
{
	struct hwm_read *h = arg;
	h->m = read_mem_light(o.server_pid);
	atomic_store(&h->done, true);
	return NULL;
}

/* VmHWM summed over the server's tree, waiting at most wait_s; -1 when the
 * read did not finish (the thread is left behind; the process exits soon). */
static long read_hwm_bounded(double wait_s)
{
	static struct hwm_read h;	/* outlives a thread left behind */
	pthread_t th;
	atomic_store(&h.done, false);
	if (pthread_create(&th, &g_attr, hwm_main, &h) != 0)
		return -1;
	double end = now_s() + wait_s;
	while (!atomic_load(&h.done) && now_s() < end)
		sleep_s(0.02);
	if (!atomic_load(&h.done)) {
		pthread_detach(th);
		return -1;
	}
	pthread_join(th, NULL);
	return h.m.ok ? h.m.hwm_kib : -1;
}

/* Resets VmHWM of the server's processes, so it covers this storm only. */
static void reset_hwm(void)
{
	long *pids;
	size_t n = tree_pids(o.server_pid, &pids);
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/clear_refs", pids[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "5", 1) != 1)
			note("cannot reset VmHWM of %ld: %s", pids[i], strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(pids);
}

/* Reads "user:password" lines (the password may hold ':'). */
static void load_accounts(const char *file)
{
	FILE *f = fopen(file, "re");
	if (!f)
		die("%s: %s", file, strerror(errno));
	char line[600];
	long cap = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (line[0] == 0 || line[0] == '#')
			continue;
		char *colon = strchr(line, ':');
		if (!colon || colon == line || strlen(colon + 1) < 1 || colon - line > 255 ||
		    strlen(colon + 1) > 255)
			die("%s: want user:password (1..255 bytes each) per line", file);
		*colon = 0;
		if (g_nacct == cap) {
			cap = cap ? cap * 2 : 64;
			g_accts = realloc(g_accts, (size_t)cap * sizeof *g_accts);
			if (!g_accts)
				die("out of memory");
		}
		g_accts[g_nacct].user = strdup(line);
		g_accts[g_nacct].pass = strdup(colon + 1);
		if (!g_accts[g_nacct].user || !g_accts[g_nacct].pass)
			die("out of memory");
		g_nacct++;
	}
	fclose(f);
	if (g_nacct == 0)
		die("%s: no account", file);
}

/* pct_ms() as text, "inf" for a client that never got there. */
static void fmt_pct(char *buf, size_t len, const uint32_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	if (n == 0 || v[i] == UINT32_MAX)
		snprintf(buf, len, "inf");
	else
		snprintf(buf, len, "%.1f", v[i] / 1000.0);
}

/* What --server-pid measured around one storm. */
struct smeas {
	bool on, alive;
	long rss_before_kib;
	long hwm_kib;		/* VmHWM summed over the tree at the end, -1 unknown */
	long procs_end;
	double cpu_s;		/* CPU seconds the tree used during the storm, -1 unknown */
};

static void storm_report(const struct sclient *cs, const struct sstats *st, const struct smeas *sm)
{
	long n = o.conns, nl = 0, ns = 0;
	uint32_t *lu = malloc((size_t)n * sizeof *lu), *su = malloc((size_t)n * sizeof *su);
	if (!lu || !su)
		die("out of memory");
	/* Percentiles over every client; one that did not log in (or did not
	 * finish) counts as slower than any other: UINT32_MAX, printed "inf". */
	double lsum = 0;
	long nlog = 0;
	for (long i = 0; i < n; i++) {
		if (cs[i].t_login > 0) {
			double us = (cs[i].t_login - cs[i].t_greet) * 1e6;
			lu[nl++] = us >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)us;
			lsum += us / 1000.0;
			nlog++;
		} else {
			lu[nl++] = UINT32_MAX;
		}
		su[ns++] = cs[i].out == SO_OK ? (uint32_t)((cs[i].t_done - cs[i].t_greet) * 1e6) :
			   UINT32_MAX;
	}
	qsort(lu, (size_t)nl, sizeof *lu, cmp_u32);
	qsort(su, (size_t)ns, sizeof *su, cmp_u32);
	char l50[24], l99[24], lmax[24], s50[24], s99[24];
	fmt_pct(l50, sizeof l50, lu, (size_t)nl, 0.50);
	fmt_pct(l99, sizeof l99, lu, (size_t)nl, 0.99);
	fmt_pct(lmax, sizeof lmax, lu, (size_t)nl, 1.0);
	fmt_pct(s50, sizeof s50, su, (size_t)ns, 0.50);
	fmt_pct(s99, sizeof s99, su, (size_t)ns, 0.99);
	long tmo = 0, closed = 0;
	char by[400] = "";
	size_t bl = 0;
	for (int p = 0; p < SP_N; p++) {
		tmo += st->timeout[p];
		closed += st->closed[p];
		if (st->timeout[p] && bl < sizeof by)
			bl += (size_t)snprintf(by + bl, sizeof by - bl, " timeout_%s=%ld",
					       g_sphase_name[p], st->timeout[p]);
		if (st->closed[p] && bl < sizeof by)
			bl += (size_t)snprintf(by + bl, sizeof by - bl, " closed_%s=%ld",
					       g_sphase_name[p], st->closed[p]);
	}
	/* serial: the time spent in batches; storm: greetings to the last login */
	double lwall = o.serial_storm ? st->busy_s : nlog ? st->t_last_login - st->t_release : 0;
	double wall = o.serial_storm ? st->busy_s : st->t_last_done - st->t_release;
	char cputxt[100] = "server_cpu_s=na cpu_per_login_ms=na";
	if (sm->on && sm->cpu_s >= 0)
		snprintf(cputxt, sizeof cputxt, "server_cpu_s=%.2f cpu_per_login_ms=%.2f", sm->cpu_s,
			 nlog ? sm->cpu_s * 1000 / (double)nlog : 0.0);
	char memtxt[300] = "rss_before_kib=na rss_peak_kib=na hwm_kib=na peak_kib=na procs_peak=na";
	if (sm->on && sm->alive) {
		/* one process: its VmHWM is exact; a process tree: sampled sums */
		long peak = g_rss_peak;
		if (sm->procs_end == 1 && g_procs_peak <= 1 && sm->hwm_kib > peak)
			peak = sm->hwm_kib;
		char hwm[24] = "na";
		if (sm->hwm_kib >= 0)
			snprintf(hwm, sizeof hwm, "%ld", sm->hwm_kib);
		snprintf(memtxt, sizeof memtxt,
			 "rss_before_kib=%ld rss_peak_kib=%ld hwm_kib=%s peak_kib=%ld procs_peak=%ld",
			 sm->rss_before_kib, g_rss_peak, hwm, peak, g_procs_peak);
	}
	printf("mode=storm server=%s clients=%ld accounts=%ld serial=%d client_timeout_ms=%d connected=%ld"
	       " greeted=%ld logins=%ld ok=%ld refused=%ld timeouts=%ld closed=%ld"
	       " err_connect=%ld errors=%ld wall_s=%.3f login_wall_s=%.3f logins_per_s=%.1f"
	       " login_p50_ms=%s login_p99_ms=%s login_max_ms=%s login_mean_ms=%.2f"
	       " session_p50_ms=%s session_p99_ms=%s %s %s%s\n",
	       o.proxy_str, n, g_nacct, o.serial_storm, o.timeout_ms, st->connected, st->greeted,
	       nlog, st->ok, st->refused, tmo, closed, st->conn_fail, n - st->ok, wall, lwall,
	       lwall > 0 ? (double)nlog / lwall : 0.0, l50, l99, lmax,
	       nlog ? lsum / (double)nlog : 0.0, s50, s99, cputxt, memtxt, by);
	fflush(stdout);
	free(lu);
	free(su);
}

static int run_storm(void)
{
	struct sclient *cs = calloc((size_t)o.conns, sizeof *cs);
	if (!cs)
		die("out of memory");
	for (long i = 0; i < o.conns; i++) {
		cs[i].fd = -1;
		cs[i].acct = &g_accts[i % g_nacct];
	}
	struct sstats st;
	memset(&st, 0, sizeof st);
	struct smeas sm = { o.server_pid > 0, false, 0, -1, 0, -1 };
	pthread_t sampler;
	struct tstat t0 = { false, 0, 0, 0 };
	if (sm.on) {
		reset_hwm();
		t0 = tree_stat_now(o.server_pid);
		if (!t0.ok)
			die("cannot read /proc/%ld (server not running?)", o.server_pid);
		sm.rss_before_kib = t0.rss_kib;
		atomic_store(&g_sampling, true);
		if (pthread_create(&sampler, &g_attr, sampler_main, NULL) != 0)
			die("pthread_create failed");
	}
	if (o.serial_storm)
		for (long i = 0; i < o.conns; i++)
			storm_batch(&cs[i], 1, &st);
	else
		storm_batch(cs, o.conns, &st);
	if (sm.on) {
		struct tstat t1 = tree_stat_now(o.server_pid);
		atomic_store(&g_sampling, false);
		pthread_join(sampler, NULL);
		sm.alive = t1.ok;
		sm.procs_end = t1.procs;
		sm.cpu_s = t1.ok ? t1.cpu_s - t0.cpu_s : -1;
		sm.hwm_kib = t1.ok ? read_hwm_bounded(20) : -1;
		if (t1.ok && sm.hwm_kib < 0)
			note("VmHWM not readable within 20 s (the server's mmap lock is busy):"
			     " peak RSS from the 50 ms samples only");
	}
	for (long i = 0; i < o.conns; i++) {
		const struct sclient *c = &cs[i];
		if (c->t_login > 0 && c->t_login > st.t_last_login)
			st.t_last_login = c->t_login;
		if (c->t_greet > 0 && c->t_done > st.t_last_done)
			st.t_last_done = c->t_done;
		switch (c->out) {
		case SO_OK: st.ok++; break;
		case SO_REFUSED: st.refused++; break;
		case SO_CONNECT: st.conn_fail++; break;
		case SO_TIMEOUT: st.timeout[c->fail_ph]++; break;
		case SO_CLOSED: st.closed[c->fail_ph]++; break;
		default: break;
		}
	}
	storm_report(cs, &st, &sm);
	if (st.ok < o.conns) {
		note("%ld of %ld clients did not finish their session", o.conns - st.ok, o.conns);
		if (g_socks_err[0])
			note("first SOCKS failure: %s", g_socks_err);
		if (g_first_errno)
			note("first socket error: %s", strerror(g_first_errno));
	}
	if (sm.on && !sm.alive)
		die("server process %ld vanished during the storm", o.server_pid);
	free(cs);
	return st.ok > 0 ? 0 : 1;
}

/* ---------- main ---------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: socksbench [--proxy HOST:PORT] [--mode rate|bulk|idle|storm|echo] [options]\n"
"  --proxy HOST:PORT   SOCKS5 server (loopback only; [::1]:PORT for IPv6).\n"
"                      Omitted: direct to the target, a baseline.\n"
"  --mode M            rate (default), bulk, idle or storm\n"
"  --conns N           concurrency / connections (default 32; idle 1000)\n"
"  --duration S        measurement window, hard cap (default 8)\n"
"  --warmup S          rate: seconds run but not measured first (default 0)\n"
"  --count N           rate: stop after N measured sessions (default 2000000)\n"
"  --size BYTES        bulk: stop once conns x BYTES moved in all (0 = run for duration)\n"
"  --dir down|up|echo  bulk direction (default down: target streams to client)\n"
"  --req B / --resp B  rate: request / response payload bytes (default 64 / 64)\n"
"  --close server|client  rate: who closes first (default server: the target\n"
"                      closes after its response and the client waits for EOF,\n"
"                      so TIME_WAIT stays on server ports, not ephemeral ones)\n"
"  --user U --pass P   RFC 1929 username/password (offers method 0x02 only)\n"
"  --server-pid PID    idle: measure VmRSS/Pss/Threads of PID and its descendants;\n"
"                      storm: their peak RSS (VmHWM, and VmRSS summed every 50 ms)\n"
"  --accounts FILE     storm: user:password lines; client i logs in as line i %% M\n"
"  --serial            storm: one client at a time instead of all at once\n"
"  --hold S            idle: seconds to hold the connections (default 2)\n"
"  --echo-port P       idle: the target is the echo server (--mode echo) on\n"
"                      127.0.0.1:P; echo: the port to serve on (0: any, printed)\n"
"  --timeout MS        per socket operation (default 5000); storm: per client,\n"
"                      from its greeting to the end of its session (default 15000)\n"
"  --setup-timeout S   bulk/idle/storm: cap on opening all connections (default 30)\n"
"  --target-threads N  in-process target server threads (default: CPUs, max 4)\n"
"  --target6           target listens on ::1, CONNECT uses an IPv6 address\n"
"  -q, --quiet         no diagnostics on stderr\n"
"Output: one key=value line on stdout. Exit 0 ok, 1 error, 2 usage.\n");
}

static long num(const char *s, const char *what, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *s == 0 || *end || v < lo || v > hi) {
		fprintf(stderr, "socksbench: bad %s: %s (range %ld..%ld)\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

static double fnum(const char *s, const char *what, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *s == 0 || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "socksbench: bad %s: %s (range %g..%g)\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

static void parse_proxy(const char *arg)
{
	char host[256];
	const char *port;
	if (arg[0] == '[') {
		const char *rb = strchr(arg, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - arg - 1) >= sizeof host)
			goto bad;
		memcpy(host, arg + 1, (size_t)(rb - arg - 1));
		host[rb - arg - 1] = 0;
		port = rb + 2;
	} else {
		const char *c = strrchr(arg, ':');
		if (!c || (size_t)(c - arg) >= sizeof host)
			goto bad;
		memcpy(host, arg, (size_t)(c - arg));
		host[c - arg] = 0;
		port = c + 1;
	}
	struct addrinfo hints, *res;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int r = getaddrinfo(host, port, &hints, &res);
	if (r) {
		fprintf(stderr, "socksbench: --proxy %s: %s\n", arg, gai_strerror(r));
		exit(2);
	}
	memcpy(&o.proxy, res->ai_addr, res->ai_addrlen);
	o.proxy_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (!is_loopback(&o.proxy)) {
		fprintf(stderr, "socksbench: --proxy %s is not a loopback address; refusing\n", arg);
		exit(2);
	}
	snprintf(o.proxy_str, sizeof o.proxy_str, "%s", arg);
	return;
bad:
	fprintf(stderr, "socksbench: --proxy wants HOST:PORT or [V6]:PORT, got %s\n", arg);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "proxy", required_argument, NULL, 'x' },
		{ "mode", required_argument, NULL, 'm' },
		{ "conns", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'D' },
		{ "req", required_argument, NULL, 'R' },
		{ "resp", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "pass", required_argument, NULL, 'p' },
		{ "server-pid", required_argument, NULL, 'P' },
		{ "hold", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },
		{ "setup-timeout", required_argument, NULL, 'T' },
		{ "target-threads", required_argument, NULL, 'j' },
		{ "target6", no_argument, NULL, '6' },
		{ "close", required_argument, NULL, 'C' },
		{ "serial", no_argument, NULL, 'L' },
		{ "accounts", required_argument, NULL, 'A' },
		{ "echo-port", required_argument, NULL, 'E' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	o.mode = MODE_RATE;
	o.dir = DIR_DOWN;
	o.direct = true;
	o.conns = -1;
	o.duration = 8;
	o.count = 2000000;
	o.req = o.resp = 64;
	o.timeout_ms = 5000;
	o.setup_s = 30;
	o.hold = 2;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o.target_threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;

	bool timeout_set = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
		switch (ch) {
		case 'x': parse_proxy(optarg); o.direct = false; break;
		case 'm':
			if (!strcmp(optarg, "rate")) o.mode = MODE_RATE;
			else if (!strcmp(optarg, "bulk")) o.mode = MODE_BULK;
			else if (!strcmp(optarg, "idle")) o.mode = MODE_IDLE;
			else if (!strcmp(optarg, "storm")) o.mode = MODE_STORM;
			else if (!strcmp(optarg, "echo")) o.mode = MODE_ECHO;
			else { fprintf(stderr, "socksbench: bad --mode %s\n", optarg); return 2; }
			break;
		case 'D':
			if (!strcmp(optarg, "down")) o.dir = DIR_DOWN;
			else if (!strcmp(optarg, "up")) o.dir = DIR_UP;
			else if (!strcmp(optarg, "echo")) o.dir = DIR_ECHO;
			else { fprintf(stderr, "socksbench: bad --dir %s\n", optarg); return 2; }
			break;
		case 'c': o.conns = num(optarg, "--conns", 1, MAX_CONNS); break;
		case 'd': o.duration = fnum(optarg, "--duration", 0.1, 3600); break;
		case 'w': o.warmup = fnum(optarg, "--warmup", 0, 600); break;
		case 'n': o.count = num(optarg, "--count", 1, LONG_MAX); break;
		case 's': o.size = num(optarg, "--size", 0, LONG_MAX); break;
		case 'R': o.req = num(optarg, "--req", 1, IOBUF); break;
		case 'S': o.resp = num(optarg, "--resp", 1, IOBUF); break;
		case 'u': o.user = optarg; break;
		case 'p': o.pass = optarg; break;
		case 'P': o.server_pid = num(optarg, "--server-pid", 1, INT_MAX); break;
		case 'H': o.hold = fnum(optarg, "--hold", 0, 3600); break;
		case 't': o.timeout_ms = (int)num(optarg, "--timeout", 1, 600000); timeout_set = true; break;
		case 'T': o.setup_s = fnum(optarg, "--setup-timeout", 0.1, 3600); break;
		case 'j': o.target_threads = (int)num(optarg, "--target-threads", 1, 64); break;
		case '6': o.target6 = true; break;
		case 'C':
			if (!strcmp(optarg, "server")) o.client_close = false;
			else if (!strcmp(optarg, "client")) o.client_close = true;
			else { fprintf(stderr, "socksbench: bad --close %s\n", optarg); return 2; }
			break;
		case 'L': o.serial_storm = true; break;
		case 'A': o.accounts = optarg; break;
		case 'E': o.echo_port = num(optarg, "--echo-port", 0, 65535); break;
		case 'q': o.quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (o.conns < 0)
		o.conns = o.mode == MODE_IDLE ? 1000 : 32;
	if ((o.user == NULL) != (o.pass == NULL)) {
		fprintf(stderr, "socksbench: --user and --pass go together\n");
		return 2;
	}
	if (o.user && (strlen(o.user) < 1 || strlen(o.user) > 255 || strlen(o.pass) < 1 || strlen(o.pass) > 255)) {
		fprintf(stderr, "socksbench: --user/--pass must be 1..255 bytes\n");
		return 2;
	}
	if (o.user && o.direct) {
		fprintf(stderr, "socksbench: --user/--pass need --proxy\n");
		return 2;
	}
	if (o.server_pid && o.mode != MODE_IDLE && o.mode != MODE_STORM)
		note("--server-pid is used by --mode idle and storm only");
	if ((o.serial_storm || o.accounts) && o.mode != MODE_STORM) {
		fprintf(stderr, "socksbench: --serial and --accounts go with --mode storm\n");
		return 2;
	}
	if (o.mode == MODE_STORM) {
		if (o.direct || (!o.accounts && !o.user)) {
			fprintf(stderr, "socksbench: --mode storm needs --proxy and --accounts"
				" (or --user/--pass)\n");
			return 2;
		}
		if (!timeout_set)
			o.timeout_ms = 15000;
		if (o.accounts) {
			load_accounts(o.accounts);
		} else {
			static struct account one;
			one.user = o.user;
			one.pass = o.pass;
			g_accts = &one;
			g_nacct = 1;
		}
	}

	bool ext_target = o.mode == MODE_IDLE && o.echo_port > 0;
	if (o.echo_port > 0 && o.mode != MODE_IDLE && o.mode != MODE_ECHO) {
		fprintf(stderr, "socksbench: --echo-port goes with --mode idle or echo\n");
		return 2;
	}
	if (o.mode == MODE_ECHO && (o.direct == false || o.target6)) {
		fprintf(stderr, "socksbench: --mode echo serves on 127.0.0.1: no --proxy, --target6\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			note("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)((ext_target ? 1 : 2) * o.conns + 64) > rl.rlim_cur)
		die("--conns %ld needs about %ld descriptors, RLIMIT_NOFILE is %lu%s", o.conns,
		    (ext_target ? 1 : 2) * o.conns + 64, (unsigned long)rl.rlim_cur,
		    ext_target ? "" : " (--echo-port halves that)");

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof g_pattern; i++)
		g_pattern[i] = (char)('a' + i % 26);
	pthread_attr_init(&g_attr);
	pthread_attr_setstacksize(&g_attr, 256 * 1024);

	double tmo = o.timeout_ms / 1000.0;
	switch (o.mode) {
	case MODE_RATE:
		g_tmode = TM_RATE;
		arm_watchdog(o.warmup + o.duration + 8 * tmo + 10);
		break;
	case MODE_BULK:
		g_tmode = o.dir == DIR_DOWN ? TM_STREAM : o.dir == DIR_UP ? TM_SINK : TM_ECHO;
		arm_watchdog(o.setup_s + o.duration + 8 * tmo + 10);
		break;
	case MODE_IDLE:
		g_tmode = TM_ECHO;
		arm_watchdog(o.setup_s + o.duration + 8 * tmo + 10);
		break;
	case MODE_STORM:
		g_tmode = TM_RATE;
		/* + the bounded VmHWM read at the end */
		arm_watchdog((o.serial_storm ? (double)o.conns : 1.0) * (o.setup_s + tmo) + 40);
		break;
	case MODE_ECHO:
		g_tmode = TM_ECHO;
		break;
	}
	if (ext_target) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&g_target;
		memset(&g_target, 0, sizeof g_target);
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons((uint16_t)o.echo_port);
		g_target_len = sizeof *s4;
		o.target_threads = 0;	/* nothing to start or stop */
	}
	target_start();

	int rc;
	switch (o.mode) {
	case MODE_RATE: rc = run_rate(); break;
	case MODE_BULK: rc = run_bulk(); break;
	case MODE_STORM: rc = run_storm(); break;
	case MODE_ECHO: rc = run_echo(); break;
	default: rc = run_idle(); break;
	}
	target_stop();
	free(g_fds);
	pthread_attr_destroy(&g_attr);
	return rc;
}
