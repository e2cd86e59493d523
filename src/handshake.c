/* The handshake: the codecs parse, this module reads and writes the client
 * socket against the session's deadline: the PROXY protocol header behind a
 * load balancer, the method, the RFC 1929 login through PAM with the
 * equal-time rule and the per-address block, and the request. Nothing here
 * logs a session's failure: it records the reason, and the session record
 * carries it. */
#include "autoconf.h"

#include "handshake.h"
#include "handshake_int.h"

#include "auth.h"
#include "config.h"
#include "gssauth.h"
#include "limiter.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "proxyproto.h"
#include "text.h"
#include "timeutil.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long a refused client gets to read its reply before the socket closes. */
#define LINGER_MS 500

static struct log_ratelimit pam_error_rl, limiter_full_rl;
static const char blocked_reason[] = "address blocked after repeated authentication failures";
static atomic_uint_fast64_t auth_failures;

uint64_t handshake_auth_failures(void)
{
	return atomic_load(&auth_failures);
}

void handshake_reason(struct handshake *h, const char *fmt, ...)
{
	va_list ap;

	if (h->reason[0] != '\0')	/* keep the first, root cause */
		return;
	va_start(ap, fmt);
	vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
	va_end(ap);
}

void handshake_outcome(struct handshake *h, int outcome)
{
	if (h->outcome == STATS_OUTCOME_UNSET)
		h->outcome = outcome;
}

int handshake_outcome_final(const struct handshake *h)
{
	if (h->outcome != STATS_OUTCOME_UNSET)
		return h->outcome;
	if (h->reply == SOCKS5_REP_SUCCEEDED)
		return STATS_OK;
	return h->reply >= 0 ? STATS_ERROR : STATS_CLIENT_GONE;
}

static int remaining(int64_t deadline_ms)
{
	int64_t left = deadline_ms - monotonic_ms();
	return left > 0 ? (int)left : 0;
}

int handshake_wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int n = poll(&p, 1, remaining(deadline_ms));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Reads more handshake bytes: returns how many (> 0), 0 when the client
 * closed its side, or -errno (-ETIMEDOUT, -ECONNRESET, -EMSGSIZE when the
 * buffer is full). */
static ssize_t recv_more(struct handshake *h)
{
	if (h->inlen == HANDSHAKE_INBUF)
		return -EMSGSIZE;
	for (;;) {
		ssize_t n = recv(h->fd, h->in + h->inlen, HANDSHAKE_INBUF - h->inlen, 0);
		if (n > 0) {
			h->inlen += (size_t)n;
			return n;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int r = handshake_wait_fd(h->fd, POLLIN, h->deadline_ms);
		if (r < 0)
			return r;
	}
}

int handshake_send(const struct handshake *h, int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		int r = handshake_wait_fd(fd, POLLOUT, h->deadline_ms);
		if (r < 0)
			return r;
	}
	return 0;
}

int handshake_reply(struct handshake *h, uint8_t rep, const struct sockaddr *bnd)
{
	uint8_t out[SOCKS5_REPLY_MAX];
	size_t n = socks5_build_reply(out, rep, bnd);

	h->reply = rep;
	h->replied = true;
	int r = h->gss_level != 0 ? handshake_gss_send(h, out, n) : handshake_send(h, h->fd, out, n);
	if (r < 0)
		handshake_reason(h, "sending the reply: %s", strerror(-r));
	return r;
}

typedef enum socks5_status (*parse_fn)(const uint8_t *buf, size_t len, void *ret,
				       size_t *ret_len);

static enum socks5_status parse_greeting(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_greeting(b, l, r, n);
}

static enum socks5_status parse_request(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_request(b, l, r, n);
}

static enum socks5_status parse_userpass(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_userpass(b, l, r, n);
}

/* Reads one message with parse, leaving the bytes behind it in the buffer.
 * Returns SOCKS5_OK, the codec's complaint (reason recorded), or
 * SOCKS5_NEED_MORE when the client went away or the deadline passed before
 * the message was whole (reason recorded). */
static enum socks5_status read_message(struct handshake *h, parse_fn parse, void *ret,
				       const char *what)
{
	for (;;) {
		size_t used;
		enum socks5_status st = parse(h->in, h->inlen, ret, &used);
		if (st == SOCKS5_OK) {
			memmove(h->in, h->in + used, h->inlen - used);
			h->inlen -= used;
			/* No stale copy of a password stays behind in the buffer. */
			explicit_bzero(h->in + h->inlen, HANDSHAKE_INBUF - h->inlen);
			return st;
		}
		if (st != SOCKS5_NEED_MORE) {
			handshake_reason(h, "malformed %s (%s)", what, socks5_status_str(st));
			handshake_outcome(h, STATS_ERROR);
			return st;
		}
		ssize_t r = recv_more(h);
		if (r > 0)
			continue;
		handshake_read_failed(h, r, what);
		return SOCKS5_NEED_MORE;
	}
}

void handshake_read_failed(struct handshake *h, ssize_t r, const char *what)
{
	handshake_outcome(h, r == -EMSGSIZE ? STATS_ERROR : STATS_CLIENT_GONE);
	if (r == 0)
		handshake_reason(h, "client closed during the %s", what);
	else if (r == -ETIMEDOUT)
		handshake_reason(h, "handshake timeout waiting for the %s", what);
	else if (r == -ECONNRESET)
		handshake_reason(h, "client reset the connection during the %s", what);
	else
		handshake_reason(h, "reading the %s: %s", what, strerror((int)-r));
}

enum handshake_proxy_end handshake_proxy_header(struct handshake *h)
{
	static const char what[] = "the PROXY protocol header";
	struct proxyproto_header hdr;
	enum proxyproto_status st;
	size_t used;

	h->via = h->peer;
	while ((st = proxyproto_parse(h->in, h->inlen, &hdr, &used)) == PROXYPROTO_NEED_MORE) {
		ssize_t r = recv_more(h);
		if (r > 0)
			continue;
		if (r == 0)
			handshake_reason(h, "connection closed before %s", what);
		else if (r == -ETIMEDOUT)
			handshake_reason(h, "handshake timeout waiting for %s", what);
		else if (r == -ECONNRESET)
			handshake_reason(h, "connection reset before %s", what);
		else
			handshake_reason(h, "reading %s: %s", what, strerror((int)-r));
		return HANDSHAKE_PROXY_FAILED;
	}
	if (st != PROXYPROTO_OK) {
		handshake_reason(h, "%s (first byte 0x%02x%s)", proxyproto_status_str(st), h->in[0],
				 st == PROXYPROTO_BAD_SIGNATURE && h->in[0] == 0x05
					 ? ": a SOCKS5 client, not the load balancer's header" : "");
		return HANDSHAKE_PROXY_FAILED;
	}
	memmove(h->in, h->in + used, h->inlen - used);
	h->inlen -= used;
	if (hdr.local)
		return HANDSHAKE_PROXY_LOCAL;
	if (!hdr.has_addr)
		return HANDSHAKE_PROXY_KEPT;
	addr_set(&h->peer, (const struct sockaddr *)&hdr.src, hdr.srclen);
	addr_unmap(&h->peer);
	return HANDSHAKE_PROXY_CLIENT;
}

/* Sleeps until the deadline (the equal-time rule for failed logins). */
static void sleep_until(int64_t deadline_ms)
{
	int64_t left = deadline_ms - monotonic_ms();
	if (left > 0) {
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

/* "authentication failure for USER from HOST" with SOCKS_USER and
 * SOCKS_CLIENT_ADDR/PORT fields: what fail2ban and operators match on. */
void handshake_log_auth_failure(const char *user, const struct sockaddr *client)
{
	char host[ADDR_HOSTLEN];
	struct log_fields f;

	if (!log_enabled(LOG_WARNING))
		return;
	log_fields_init(&f);
	addr_host(client, host, sizeof(host));
	log_field(&f, "SOCKS_USER=%s", user);
	log_field(&f, "SOCKS_CLIENT_ADDR=%s", host);
	log_field(&f, "SOCKS_CLIENT_PORT=%u", (unsigned)addr_port(client));
	/* An empty name still leaves a word for a "for \S+ from" pattern. */
	log_fields_send(LOG_WARNING, LOG_ID_AUTH_FAILURE, &f, "authentication failure for %s from %s",
			user[0] != '\0' ? user : "\"\"", host);
}

/* Counts a failure against the client's address; says when a block starts. */
static void note_failure(struct handshake *h, enum auth_status st)
{
	const struct config *c = h->cfg;
	const struct sockaddr *peer = (const struct sockaddr *)&h->peer.ss;
	char host[ADDR_HOSTLEN];

	if (st == AUTH_ERROR) {
		/* The PAM stack is broken or its backend unreachable: the operator
		 * must hear of it, and the client's address is not to blame. */
		handshake_pam_error(h);
		return;
	}
	atomic_fetch_add(&auth_failures, 1);
	addr_host(peer, host, sizeof(host));
	handshake_log_auth_failure(h->user, peer);
	if (limiter_fail(peer, monotonic_ms(), c->auth_fail_limit, c->auth_fail_window_ms,
			 c->auth_block_time_ms))
		log_msg(LOG_WARNING, "blocking %s for %u s after %u authentication failures within %u s",
			host, c->auth_block_time_ms / 1000, c->auth_fail_limit,
			c->auth_fail_window_ms / 1000);
	if (c->auth_fail_limit > 0 && limiter_full())
		log_ratelimited(&limiter_full_rl, LOG_WARNING,
				"the login-failure table is full (%d addresses): failures from new "
				"addresses now forget the least recent unblocked ones",
				LIMITER_SLOTS);
}

void handshake_pam_error(const struct handshake *h)
{
	log_ratelimited(&pam_error_rl, LOG_ERR, "PAM service '%s' failed: %s", h->cfg->pam_service,
			h->reason);
}

/* Why credentials are refused before PAM is asked, or NULL: PAM would see
 * another name or password than the client sent, or the address is blocked
 * (a block that started after this connection's greeting). */
static const char *refused_early(const struct handshake *h, const struct socks5_userpass *up)
{
	const struct config *c = h->cfg;

	if (up->ulen == 0)
		return "empty username";
	if (strlen(up->user) != up->ulen)
		return "NUL byte in username";
	if (strlen(up->pass) != up->plen)
		return "NUL byte in password";
	if (limiter_blocked((const struct sockaddr *)&h->peer.ss, monotonic_ms(), c->auth_fail_limit,
			    c->auth_block_time_ms))
		return blocked_reason;
	return NULL;
}

/* The login's result for the metrics and, when it failed, the session's
 * outcome. early: why it was refused before PAM was asked, or NULL. */
static void count_login(struct handshake *h, enum auth_status st, const char *early)
{
	enum stats_login r = STATS_LOGIN_FAILURE;

	switch (st) {
	case AUTH_OK:
		r = h->cached ? STATS_LOGIN_CACHE_HIT : STATS_LOGIN_SUCCESS;
		break;
	case AUTH_DENIED:
		r = early == blocked_reason ? STATS_LOGIN_BLOCKED : STATS_LOGIN_FAILURE;
		break;
	case AUTH_ERROR:
		r = STATS_LOGIN_PAM_ERROR;
		break;
	case AUTH_ABANDONED:
		r = STATS_LOGIN_ABANDONED;
		break;
	}
	stats_login(r);
	if (r == STATS_LOGIN_BLOCKED)
		stats_refusal(STATS_REFUSAL_BLOCK);
	if (st != AUTH_OK)
		handshake_outcome(h, st == AUTH_ABANDONED ? STATS_CLIENT_GONE : STATS_REFUSED_AUTH);
}

void handshake_count_login(struct handshake *h, enum auth_status st)
{
	count_login(h, st, NULL);
}

/* RFC 1929 sub-negotiation checked through PAM. True when authenticated. */
static bool authenticate(struct handshake *h)
{
	struct socks5_userpass up;
	uint8_t out[2];
	enum auth_status st;

	if (read_message(h, parse_userpass, &up, "username/password") != SOCKS5_OK)
		return false;
	/* Every failure answers this long after the credentials arrived,
	 * however long the client took to send them. */
	int64_t complete = monotonic_ms();
	text_escape(up.user, up.ulen, h->user, HANDSHAKE_NAME);
	const char *early = refused_early(h, &up);
	if (early != NULL) {
		st = AUTH_DENIED;
		handshake_reason(h, "%s", early);
	} else {
		char why[256];
		const struct auth_request rq = {
			.service = h->cfg->pam_service,
			.user = up.user,
			.password = up.pass,
			.client = (const struct sockaddr *)&h->peer.ss,
			.client_fd = h->fd,
			.deadline_ms = h->deadline_ms,
		};
		int64_t t0 = stats_now_us();
		st = auth_login(&rq, &h->cached, why, sizeof(why));
		if (st != AUTH_ABANDONED)
			stats_observe(STATS_HIST_LOGIN, stats_now_us() - t0);
		/* The authentication modules can touch a lot of stack (pam_cap puts
		 * a 256 KiB array on it); give it back. A cache hit ran only the
		 * account step, and the madvise() with its TLB shootdown would cost
		 * more than the few pages it could return. */
		if (!h->cached)
			pool_trim_stack();
		if (st != AUTH_OK) {
			handshake_reason(h, "%s", why);
		} else {
			memcpy(h->login, up.user, (size_t)up.ulen + 1);
			h->method = SOCKS5_METHOD_USERPASS;
		}
	}
	explicit_bzero(&up, sizeof(up));
	count_login(h, st, early);
	if (st == AUTH_ABANDONED)
		return false;	/* gone or out of time: nobody to answer, nothing to count */

	if (st == AUTH_OK) {
		int r = handshake_send(h, h->fd, out, socks5_build_userpass_reply(out, 0x00));
		if (r < 0)
			handshake_reason(h, "sending the authentication reply: %s", strerror(-r));
		return r == 0;
	}
	note_failure(h, st);
	/* Unknown user, wrong password or broken stack: the same time every way. */
	sleep_until(complete + h->cfg->auth_fail_delay_ms);
	h->replied = true;
	h->deadline_ms = monotonic_ms() + 1000;
	(void)handshake_send(h, h->fd, out, socks5_build_userpass_reply(out, 0x01));
	return false;
}

bool handshake_negotiate(struct handshake *h)
{
	const struct config *c = h->cfg;
	struct socks5_greeting g;
	uint8_t out[2];

	enum socks5_status st = read_message(h, parse_greeting, &g, "greeting");
	if (st == SOCKS5_BAD_VERSION) {
		h->reason[0] = '\0';
		handshake_reason(h, "not a SOCKS5 client (first byte 0x%02x%s)", h->in[0],
				 h->in[0] == 0x04 ? ", SOCKS4" :
				 (h->in[0] >= 'A' && h->in[0] <= 'Z') ? ", HTTP?" : "");
	}
	if (st != SOCKS5_OK)
		return false;

	/* A blocked address may not guess passwords; a Kerberos ticket or
	 * method none does not depend on one. */
	bool blocked = config_has_method(c, SOCKS5_METHOD_USERPASS) &&
		       limiter_blocked((struct sockaddr *)&h->peer.ss, monotonic_ms(),
				       c->auth_fail_limit, c->auth_block_time_ms);
	uint8_t allowed[CONFIG_METHODS_MAX];
	size_t nallowed = 0;
	for (size_t i = 0; i < c->nmethods; i++)
		if (!blocked || c->methods[i] != SOCKS5_METHOD_USERPASS)
			allowed[nallowed++] = c->methods[i];
	uint8_t method = socks5_select_method(&g, allowed, nallowed);
	blocked = blocked && method == SOCKS5_METHOD_NO_ACCEPTABLE &&
		  memchr(g.methods, SOCKS5_METHOD_USERPASS, g.nmethods) != NULL;
	int r = handshake_send(h, h->fd, out, socks5_build_method(out, method));
	if (r < 0) {
		handshake_reason(h, "sending the method: %s", strerror(-r));
		return false;
	}
	if (method == SOCKS5_METHOD_NO_ACCEPTABLE) {
		h->replied = true;
		handshake_reason(h, "%s", blocked ? blocked_reason
						  : "no acceptable authentication method offered");
		handshake_outcome(h, STATS_REFUSED_AUTH);
		if (blocked) {
			stats_login(STATS_LOGIN_BLOCKED);
			stats_refusal(STATS_REFUSAL_BLOCK);
		}
		return false;
	}
	if (method == SOCKS5_METHOD_USERPASS)
		return authenticate(h);
	if (method == SOCKS5_METHOD_GSSAPI)
		return handshake_gss_negotiate(h);
	return true;
}

bool handshake_request(struct handshake *h, struct socks5_request *ret)
{
	if (h->gss_level != 0)
		return handshake_gss_request(h, ret);
	switch (read_message(h, parse_request, ret, "request")) {
	case SOCKS5_OK:
		return true;
	case SOCKS5_BAD_ATYP:
		(void)handshake_reply(h, SOCKS5_REP_ATYP_NOT_SUPPORTED, NULL);
		return false;
	case SOCKS5_BAD_MESSAGE:
		(void)handshake_reply(h, SOCKS5_REP_GENERAL_FAILURE, NULL);
		return false;
	case SOCKS5_BAD_VERSION:	/* not speaking SOCKS5 now: no reply it could read */
	case SOCKS5_NEED_MORE:
		break;
	}
	return false;
}

void handshake_close(struct handshake *h)
{
	char sink[512];
	int64_t until = monotonic_ms() + LINGER_MS;

	/* A close with unread input sends RST, which would destroy a refusal
	 * still in flight: half-close, and let the client read it first. */
	if (h->replied && h->reply != SOCKS5_REP_SUCCEEDED && shutdown(h->fd, SHUT_WR) == 0) {
		for (;;) {
			int64_t left = until - monotonic_ms();
			struct pollfd p = { .fd = h->fd, .events = POLLIN };
			if (left <= 0 || poll(&p, 1, (int)left) <= 0)
				break;
			ssize_t n = recv(h->fd, sink, sizeof(sink), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	close(h->fd);
	gssauth_free(h->gss);
	h->gss = NULL;
}
