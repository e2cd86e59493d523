/* The per-connection flow. The worker that owns the connection runs it start to
 * end with blocking steps bounded by deadlines; the codec parses, this module
 * does the I/O and writes the one session record (the only place a session's
 * failure is logged). */
#include "autoconf.h"

#include "session.h"

#include "auth.h"
#include "bind.h"
#include "config.h"
#include "connector.h"
#include "groups.h"
#include "limiter.h"
#include "quota.h"
#include "log.h"
#include "pool.h"
#include "relay.h"
#include "rules.h"
#include "socks5.h"
#include "text.h"
#include "timeutil.h"
#include "udprelay.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The longest client message is RFC 1929's (513 bytes); leave room for a
 * request pipelined behind it. */
#define SESSION_INBUF 1024
/* How long a refused client gets to read its reply before the socket closes. */
#define LINGER_MS 500
/* Addresses of a BIND destination name that an inbound peer may come from. */
#define BIND_ADDRS 16

struct session {
	uint64_t id;
	int fd, dest;
	struct addr peer, local;
	struct config *cfg;
	int64_t start_ms, deadline_ms;
	uint8_t in[SESSION_INBUF];
	size_t inlen;
	struct socks5_request req;
	bool have_req;
	bool replied;		/* a reply went out: close gently so it is read */
	int reply;
	struct addr dest_addr;
	bool have_dest;
	struct relay_stats stats;
	bool udp;		/* UDP ASSOCIATE: the record carries datagram counts */
	struct udprelay_counts dgrams;
	char user[256];		/* escaped for logs; empty before authentication */
	char login[256];	/* the name as authenticated, for rules and limits; or empty */
	const char *dest_name;	/* the destination name that name rules see, or NULL */
	char refusal[200];	/* why dest_allowed() last said no */
	bool refused_by_rule;	/* the request was refused by a rule or the default policy */
	bool held_user, held_session;	/* limits taken, to release at the end */
	char reason[320];
	/* the registry of live sessions */
	struct session *prev, *next;
};

static struct {
	atomic_uint_fast64_t active, total, auth_failures, bytes_up, bytes_down, next_id;
} counters;

static struct log_ratelimit pam_error_rl;

static struct log_ratelimit client_rule_rl, rate_rl, client_limit_rl, user_limit_rl,
	sessions_limit_rl;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct session *registry;

static void registry_add(struct session *s)
{
	pthread_mutex_lock(&registry_lock);
	s->prev = NULL;
	s->next = registry;
	if (registry != NULL)
		registry->prev = s;
	registry = s;
	pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(struct session *s)
{
	pthread_mutex_lock(&registry_lock);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		registry = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&registry_lock);
}

/* Sets the dest fd under the registry lock so session_shutdown_all() never
 * touches a descriptor number that is being closed and reused. */
static void set_dest(struct session *s, int fd)
{
	pthread_mutex_lock(&registry_lock);
	s->dest = fd;
	pthread_mutex_unlock(&registry_lock);
}

void session_shutdown_all(void)
{
	pthread_mutex_lock(&registry_lock);
	for (struct session *s = registry; s != NULL; s = s->next) {
		(void)shutdown(s->fd, SHUT_RDWR);
		if (s->dest >= 0)
			(void)shutdown(s->dest, SHUT_RDWR);
	}
	pthread_mutex_unlock(&registry_lock);
}

void session_get_stats(struct session_stats *ret)
{
	ret->active = atomic_load(&counters.active);
	ret->total = atomic_load(&counters.total);
	ret->auth_failures = atomic_load(&counters.auth_failures);
	ret->bytes_up = atomic_load(&counters.bytes_up);
	ret->bytes_down = atomic_load(&counters.bytes_down);
}

static void set_reason(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_reason(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->reason[0] != '\0')	/* keep the first, root cause */
		return;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

static int remaining(int64_t deadline_ms)
{
	int64_t left = deadline_ms - monotonic_ms();
	return left > 0 ? (int)left : 0;
}

/* Waits for events on fd until the deadline. Returns >0, or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int n = poll(&p, 1, remaining(deadline_ms));
		if (n > 0)
			return n;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* recv_more()'s answer when the client closed its side (EOF), told apart
 * from a reset (-ECONNRESET) so the record says which it was. */
#define CLIENT_EOF (-ENODATA)

/* Reads more handshake bytes. Returns >0, CLIENT_EOF, or -errno. */
static int recv_more(struct session *s)
{
	if (s->inlen == sizeof(s->in))
		return -EMSGSIZE;
	for (;;) {
		ssize_t n = recv(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen, 0);
		if (n > 0) {
			s->inlen += (size_t)n;
			return (int)n;
		}
		if (n == 0)
			return CLIENT_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int r = wait_fd(s->fd, POLLIN, s->deadline_ms);
		if (r < 0)
			return r;
	}
}

/* Writes all of buf to the non-blocking fd before the deadline. Returns 0 or -errno. */
static int send_all(int fd, const void *buf, size_t len, int64_t deadline_ms)
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
		int r = wait_fd(fd, POLLOUT, deadline_ms);
		if (r < 0)
			return r;
	}
	return 0;
}

typedef int (*parse_fn)(const uint8_t *buf, size_t len, void *ret);

/* Reads one message with parser; leaves any bytes behind it in the buffer.
 * Returns 0, an S5_ERR_* code, or -errno for I/O trouble. */
static int read_message(struct session *s, parse_fn parse, void *ret, const char *what)
{
	for (;;) {
		int r = parse(s->in, s->inlen, ret);
		if (r > 0) {
			memmove(s->in, s->in + r, s->inlen - (size_t)r);
			s->inlen -= (size_t)r;
			/* No stale copy of a password stays behind in the buffer. */
			explicit_bzero(s->in + s->inlen, sizeof(s->in) - s->inlen);
			return 0;
		}
		if (r != S5_ERR_NEED_MORE) {
			set_reason(s, "malformed %s (%s)", what,
				   r == S5_ERR_VERSION ? "wrong version" :
				   r == S5_ERR_ATYP    ? "unknown address type" :
							 "bad field");
			return r;
		}
		r = recv_more(s);
		if (r < 0) {
			if (r == -ETIMEDOUT)
				set_reason(s, "handshake timeout waiting for the %s", what);
			else if (r == CLIENT_EOF)
				set_reason(s, "client closed during the %s", what);
			else if (r == -ECONNRESET)
				set_reason(s, "client reset the connection during the %s", what);
			else
				set_reason(s, "reading the %s: %s", what, strerror(-r));
			return r;
		}
	}
}

/* Sends a command reply; bnd may be NULL. */
static int send_reply(struct session *s, uint8_t rep, const struct sockaddr *bnd)
{
	uint8_t out[SOCKS5_REPLY_MAX];
	size_t n = socks5_build_reply(out, rep, bnd);

	s->reply = rep;
	s->replied = true;
	int r = send_all(s->fd, out, n, s->deadline_ms);
	if (r < 0)
		set_reason(s, "sending the reply: %s", strerror(-r));
	return r;
}

static int parse_greeting(const uint8_t *b, size_t l, void *r)
{
	return socks5_parse_greeting(b, l, r);
}

static int parse_request(const uint8_t *b, size_t l, void *r)
{
	return socks5_parse_request(b, l, r);
}

static int parse_userpass(const uint8_t *b, size_t l, void *r)
{
	return socks5_parse_userpass(b, l, r);
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

/* RFC 1929 sub-negotiation checked through PAM. Returns 0 when authenticated. */
static int authenticate(struct session *s)
{
	struct socks5_userpass up;
	uint8_t out[2];
	char host[ADDR_HOSTLEN];
	enum auth_status st;
	int64_t started = monotonic_ms();

	int r = read_message(s, parse_userpass, &up, "username/password");
	if (r < 0)
		return r;
	text_escape(up.user, up.ulen, s->user, sizeof(s->user));
	if (up.ulen == 0 || strlen(up.user) != up.ulen) {
		/* PAM would see a different name than the client sent: never ask it. */
		st = AUTH_DENIED;
		set_reason(s, "%s username", up.ulen == 0 ? "empty" : "NUL byte in");
	} else {
		char why[256];
		st = auth_pam(s->cfg->pam_service, up.user, up.pass,
			      (struct sockaddr *)&s->peer.ss, why, sizeof(why));
		pool_trim_stack();	/* PAM modules can touch a lot of stack */
		if (st != AUTH_OK)
			set_reason(s, "%s", why);
		else
			memcpy(s->login, up.user, (size_t)up.ulen + 1);
	}
	explicit_bzero(&up, sizeof(up));

	if (st == AUTH_OK) {
		r = send_all(s->fd, out, socks5_build_userpass_reply(out, 0x00), s->deadline_ms);
		if (r < 0)
			set_reason(s, "sending the authentication reply: %s", strerror(-r));
		return r;
	}

	if (st == AUTH_ERROR) {
		/* The PAM stack is broken or its backend unreachable: the operator
		 * must hear of it, and the client's address is not to blame. */
		log_ratelimited(&pam_error_rl, LOG_ERR, "PAM service '%s' failed: %s",
				s->cfg->pam_service, s->reason);
	} else {
		atomic_fetch_add(&counters.auth_failures, 1);
		addr_host((struct sockaddr *)&s->peer.ss, host, sizeof(host));
		log_auth_failure(s->user, (struct sockaddr *)&s->peer.ss);
		if (limiter_fail((struct sockaddr *)&s->peer.ss, monotonic_ms(),
				 s->cfg->auth_fail_limit, s->cfg->auth_fail_window_ms,
				 s->cfg->auth_block_time_ms))
			log_msg(LOG_WARNING,
				"blocking %s for %u s after %u authentication failures within %u s",
				host, s->cfg->auth_block_time_ms / 1000, s->cfg->auth_fail_limit,
				s->cfg->auth_fail_window_ms / 1000);
	}
	/* Unknown user, wrong password or broken stack: the same time every way. */
	sleep_until(started + s->cfg->auth_fail_delay_ms);
	s->replied = true;
	(void)send_all(s->fd, out, socks5_build_userpass_reply(out, 0x01), monotonic_ms() + 1000);
	return -EACCES;
}

/* Greeting, method selection and authentication. Returns 0 when the client may
 * go on to its request. */
static int negotiate(struct session *s)
{
	struct socks5_greeting g;
	uint8_t out[2];

	int r = read_message(s, parse_greeting, &g, "greeting");
	if (r == S5_ERR_VERSION) {
		s->reason[0] = '\0';
		set_reason(s, "not a SOCKS5 client (first byte 0x%02x%s)", s->in[0],
			   s->in[0] == 0x04 ? ", SOCKS4" :
			   (s->in[0] >= 'A' && s->in[0] <= 'Z') ? ", HTTP?" : "");
	}
	if (r < 0)
		return r;

	const uint8_t allowed[] = { s->cfg->auth == CONFIG_AUTH_PAM ? SOCKS5_METHOD_USERPASS
								     : SOCKS5_METHOD_NONE };
	uint8_t method = socks5_select_method(&g, allowed, sizeof(allowed));
	bool blocked = s->cfg->auth == CONFIG_AUTH_PAM &&
		       limiter_blocked((struct sockaddr *)&s->peer.ss, monotonic_ms(),
				       s->cfg->auth_fail_limit, s->cfg->auth_block_time_ms);
	if (blocked)
		method = SOCKS5_METHOD_NO_ACCEPTABLE;
	r = send_all(s->fd, out, socks5_build_method(out, method), s->deadline_ms);
	if (r < 0) {
		set_reason(s, "sending the method: %s", strerror(-r));
		return r;
	}
	if (method == SOCKS5_METHOD_NO_ACCEPTABLE) {
		s->replied = true;
		set_reason(s, blocked ? "address blocked after repeated authentication failures"
				      : "no acceptable authentication method offered");
		return -EPERM;
	}
	if (method == SOCKS5_METHOD_USERPASS)
		return authenticate(s);
	return 0;
}

static unsigned rule_cmd(uint8_t cmd)
{
	switch (cmd) {
	case SOCKS5_CMD_CONNECT:
		return RULE_CMD_CONNECT;
	case SOCKS5_CMD_BIND:
		return RULE_CMD_BIND;
	case SOCKS5_CMD_UDP_ASSOCIATE:
		return RULE_CMD_UDP;
	}
	return 0;
}

/* The request as the rules see it; dest NULL before resolution. */
static void rules_query_for(const struct session *s, const struct sockaddr *dest, uint16_t port,
			    struct rules_query *q)
{
	*q = (struct rules_query){
		.client = (const struct sockaddr *)&s->peer.ss,
		.user = s->login[0] != '\0' ? s->login : NULL,
		.cmd = rule_cmd(s->req.cmd),
		.name = s->dest_name,
		.dest = dest,
		.port = port,
		.group_member = groups_member,
		.self = s->cfg->self,
		.nself = s->cfg->nself,
	};
}

static void note_refusal(struct session *s, const struct rules_verdict *v)
{
	if (v->rule != NULL)
		snprintf(s->refusal, sizeof(s->refusal), "refused by rule %s:%u", v->rule->file,
			 v->rule->line);
	else
		snprintf(s->refusal, sizeof(s->refusal),
			 "refused by the built-in default policy (%s)", v->why);
}

/* Ends a request that the rules refused: the reason names the rule. */
static void refuse_by_rule(struct session *s)
{
	s->refused_by_rule = true;
	set_reason(s, "%s", s->refusal);
	(void)send_reply(s, SOCKS5_REP_NOT_ALLOWED, NULL);
}

/* The rules seam for destinations: may this session reach sa (address and
 * port) with its command (s->req.cmd)? Asked for every address a CONNECT
 * tries, every BIND peer and every UDP datagram destination, so the check
 * holds on the address really used. ctx is the struct session; set
 * s->dest_name first when the client named the destination, so name rules
 * see it. On false, s->refusal says which rule (or the default) refused;
 * refuse_by_rule() turns that into the reply and the session's reason.
 * Called on the session's own thread; cheap (group answers are cached). */
static bool dest_allowed(const struct sockaddr *sa, void *ctx)
{
	struct session *s = ctx;
	struct rules_query q;
	struct rules_verdict v;

	rules_query_for(s, sa, addr_port(sa), &q);
	rules_check(s->cfg->rules, s->cfg->nrules, &q, &v);
	if (!v.allow)
		note_refusal(s, &v);
	return v.allow;
}

/* The limits a request counts against: per user, then gateway-wide. Returns
 * true when the request may go on; otherwise the reason is set. */
static bool take_limits(struct session *s)
{
	char host[ADDR_HOSTLEN];
	unsigned max;

	if (s->login[0] != '\0') {
		max = s->cfg->max_sessions_per_user;
		if (!quota_user_acquire(s->login, max)) {
			set_reason(s, "over max_sessions_per_user (%u)", max);
			log_ratelimited(&user_limit_rl, LOG_WARNING,
					"refusing a request of %s from %s: that user is at "
					"max_sessions_per_user (%u)", s->user,
					addr_host((struct sockaddr *)&s->peer.ss, host, sizeof(host)),
					max);
			return false;
		}
		s->held_user = true;
	}
	max = s->cfg->max_sessions;
	if (!quota_session_acquire(max)) {
		set_reason(s, "over max_sessions (%u)", max);
		log_ratelimited(&sessions_limit_rl, LOG_WARNING,
				"refusing a request from %s: the gateway is at max_sessions (%u)",
				addr_host((struct sockaddr *)&s->peer.ss, host, sizeof(host)), max);
		return false;
	}
	s->held_session = true;
	return true;
}

bool session_admit(const struct addr *peer, const struct config *cfg)
{
	const struct sockaddr *sa = (const struct sockaddr *)&peer->ss;
	struct rules_verdict v;
	char host[ADDR_HOSTLEN];

	rules_check_client(cfg->rules, cfg->nrules, sa, &v);
	if (!v.allow) {
		log_ratelimited(&client_rule_rl, LOG_NOTICE,
				"closing connection from %s: refused by client rule %s:%u",
				addr_host(sa, host, sizeof(host)), v.rule->file, v.rule->line);
		return false;
	}
	if (!quota_rate(sa, cfg->max_connection_rate, monotonic_ms())) {
		log_ratelimited(&rate_rl, LOG_WARNING,
				"closing connection from %s: more than %u new connections per "
				"second from that address (max_connection_rate)",
				addr_host(sa, host, sizeof(host)), cfg->max_connection_rate);
		return false;
	}
	/* Counted from accept, not from when a worker takes it: connections
	 * waiting in the queue count too, so one address cannot fill it. */
	if (!quota_client_acquire(sa, cfg->max_sessions_per_client)) {
		log_ratelimited(&client_limit_rl, LOG_WARNING,
				"closing connection from %s: that address is at "
				"max_sessions_per_client (%u)",
				addr_host(sa, host, sizeof(host)), cfg->max_sessions_per_client);
		return false;
	}
	return true;
}

void session_unadmit(const struct addr *peer)
{
	quota_client_release((const struct sockaddr *)&peer->ss);
}

void session_discard(struct pool_job *job, void *ctx)
{
	(void)ctx;
	session_unadmit(&job->peer);
	close(job->fd);
	config_unref(job->cfg);
}

/* dest_allowed() for one UDP datagram, whose destination name (if any) the
 * name rules must see as well. */
static bool udp_dest_allowed(const struct sockaddr *sa, const char *name, void *ctx)
{
	struct session *s = ctx;

	s->dest_name = name;
	bool ok = dest_allowed(sa, ctx);
	s->dest_name = NULL;
	return ok;
}

/* BIND and UDP ASSOCIATE learn their destinations later, one by one; a rule
 * that refuses the command outright answers 0x02 now instead of opening a
 * socket whose every use would be refused. */
static bool command_refused(struct session *s)
{
	struct rules_query q;
	struct rules_verdict v;

	rules_query_for(s, NULL, 0, &q);
	if (!rules_refuse_command(s->cfg->rules, s->cfg->nrules, &q, &v))
		return false;
	note_refusal(s, &v);
	refuse_by_rule(s);
	return true;
}

static void handle_connect(struct session *s)
{
	struct connector_result res;
	struct addr bnd;

	if (s->req.dst.atyp == SOCKS5_ATYP_DOMAIN) {
		/* A name refused as a name costs no DNS query; the rest is decided
		 * address by address below. */
		struct rules_query q;
		struct rules_verdict v;
		s->dest_name = s->req.dst.u.domain;
		rules_query_for(s, NULL, s->req.dst.port, &q);
		if (rules_refuse_name(s->cfg->rules, s->cfg->nrules, &q, &v)) {
			note_refusal(s, &v);
			refuse_by_rule(s);
			return;
		}
	}
	int fd = connector_connect(&s->req.dst, s->cfg->connect_timeout_ms, dest_allowed, s,
				   &res);
	if (fd < 0 && res.refused) {
		if (res.peer.len > 0) {
			s->dest_addr = res.peer;
			s->have_dest = true;
		}
		refuse_by_rule(s);
		return;
	}
	if (fd < 0) {
		if (res.gai_failed)
			set_reason(s, "resolving: %s", gai_strerror(res.err));
		else
			set_reason(s, "connect: %s", strerror(res.err));
		if (res.peer.len > 0) {
			s->dest_addr = res.peer;
			s->have_dest = true;
		}
		(void)send_reply(s, res.rep, NULL);
		return;
	}
	set_dest(s, fd);
	s->dest_addr = res.peer;
	s->have_dest = true;
	bnd.len = sizeof(bnd.ss);
	if (getsockname(fd, (struct sockaddr *)&bnd.ss, &bnd.len) < 0) {
		set_reason(s, "getsockname: %s", strerror(errno));
		(void)send_reply(s, SOCKS5_REP_GENERAL_FAILURE, NULL);
		return;
	}
	/* The reply has the whole handshake deadline's worth of time again. */
	s->deadline_ms = monotonic_ms() + s->cfg->handshake_timeout_ms;
	if (send_reply(s, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&bnd.ss) < 0)
		return;

	/* Bytes the client sent behind its request belong to the destination. */
	if (s->inlen > 0) {
		int r = send_all(fd, s->in, s->inlen, s->deadline_ms);
		if (r < 0) {
			set_reason(s, "forwarding early data: %s", strerror(-r));
			return;
		}
		relay_count(&s->stats, true, s->inlen);
		s->inlen = 0;
	}

	int err = 0;
	enum relay_end end = relay_run(s->fd, fd, s->cfg->idle_timeout_ms, &s->stats, &err);
	if (end == RELAY_END_IDLE)
		set_reason(s, "idle timeout");
	else if (end == RELAY_END_ERROR)
		set_reason(s, "relay: %s", strerror(err));
}

/* Is peer the host (and port, when the client named one) that the BIND
 * request named? The any address (0.0.0.0, ::) stands for every host. */
static bool bind_peer_expected(const struct addr *want, int nwant, uint16_t port,
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

/* BIND: a listener on the address facing the destination, the first reply
 * with it, one inbound connection from the expected peer, the second reply
 * with the peer's address, then the relay as for CONNECT. */
static void handle_bind(struct session *s)
{
	struct connector_result res;
	struct addr want[BIND_ADDRS], bnd, peer;
	char a[ADDR_STRLEN];

	int nwant = connector_resolve(&s->req.dst, SOCK_STREAM, want, BIND_ADDRS, &res);
	if (nwant < 0) {
		set_reason(s, "resolving: %s", gai_strerror(res.err));
		(void)send_reply(s, res.rep, NULL);
		return;
	}
	/* The listener takes the family of the first address; a name's other
	 * addresses still count as the expected peer. */
	int lfd = bind_listen((struct sockaddr *)&want[0].ss, (struct sockaddr *)&s->local.ss,
			      &bnd);
	if (lfd < 0) {
		set_reason(s, "bind: %s", strerror(-lfd));
		(void)send_reply(s, socks5_rep_from_errno(-lfd), NULL);
		return;
	}
	s->deadline_ms = monotonic_ms() + s->cfg->handshake_timeout_ms;
	if (send_reply(s, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&bnd.ss) < 0) {
		close(lfd);
		return;
	}
	/* Bytes pipelined behind the request count as speaking too early. */
	int fd = s->inlen > 0 ? -EPROTO : bind_wait(lfd, s->fd, s->cfg->bind_timeout_ms, &peer);
	close(lfd);	/* one connection per BIND: the port is free from here on */
	s->deadline_ms = monotonic_ms() + s->cfg->handshake_timeout_ms;
	switch (fd) {
	case -ETIMEDOUT:
		set_reason(s, "no inbound connection within bind_timeout (%u ms)",
			   s->cfg->bind_timeout_ms);
		(void)send_reply(s, SOCKS5_REP_TTL_EXPIRED, NULL);
		return;
	case -ESHUTDOWN:
		set_reason(s, "client closed while waiting for the inbound connection");
		return;
	case -ECONNRESET:
		set_reason(s, "client reset the connection while waiting for the inbound connection");
		return;
	case -EPROTO:
		set_reason(s, "client sent data before the inbound connection");
		(void)send_reply(s, SOCKS5_REP_GENERAL_FAILURE, NULL);
		return;
	default:
		if (fd < 0) {
			set_reason(s, "waiting for the inbound connection: %s", strerror(-fd));
			(void)send_reply(s, socks5_rep_from_errno(-fd), NULL);
			return;
		}
	}
	s->dest_addr = peer;
	s->have_dest = true;
	bool expected = bind_peer_expected(want, nwant, s->req.dst.port, &peer);
	if (!expected || !dest_allowed((struct sockaddr *)&peer.ss, s)) {
		close(fd);	/* the wrong peer learns nothing and is gone at once */
		if (!expected)
			set_reason(s, "inbound connection from %s, not the requested peer",
				   addr_str((struct sockaddr *)&peer.ss, a, sizeof(a)));
		else {
			s->refused_by_rule = true;
			set_reason(s, "inbound connection from %s %s",
				   addr_str((struct sockaddr *)&peer.ss, a, sizeof(a)), s->refusal);
		}
		(void)send_reply(s, SOCKS5_REP_NOT_ALLOWED, (struct sockaddr *)&peer.ss);
		return;
	}
	set_dest(s, fd);
	if (send_reply(s, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&peer.ss) < 0)
		return;

	int err = 0;
	enum relay_end end = relay_run(s->fd, fd, s->cfg->idle_timeout_ms, &s->stats, &err);
	if (end == RELAY_END_IDLE)
		set_reason(s, "idle timeout");
	else if (end == RELAY_END_ERROR)
		set_reason(s, "relay: %s", strerror(err));
}

/* UDP ASSOCIATE: a relay socket on the address the client reached us on,
 * the reply with it, then the relay until the control connection ends. The
 * client's datagrams must come from the control connection's IP address,
 * whatever DST.ADDR says; DST.PORT, when not zero, fixes their source port. */
static void handle_udp(struct session *s)
{
	struct addr bnd;

	s->udp = true;
	int fd = udprelay_open((struct sockaddr *)&s->local.ss, &bnd);
	if (fd < 0) {
		set_reason(s, "udp socket: %s", strerror(-fd));
		(void)send_reply(s, socks5_rep_from_errno(-fd), NULL);
		return;
	}
	s->deadline_ms = monotonic_ms() + s->cfg->handshake_timeout_ms;
	if (send_reply(s, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&bnd.ss) < 0) {
		close(fd);
		return;
	}
	s->inlen = 0;	/* the control connection carries nothing more */

	const struct udprelay_params p = {
		.ctl = s->fd,
		.fd = fd,	/* udprelay_run() closes it */
		.client = (struct sockaddr *)&s->peer.ss,
		.client_port = s->req.dst.port,
		.idle_timeout_ms = s->cfg->udp_idle_timeout_ms,
		.check = udp_dest_allowed,
		.ctx = s,
	};
	int err = 0;
	enum udprelay_end end = udprelay_run(&p, &s->stats, &s->dgrams, &err);
	if (end == UDPRELAY_END_IDLE)
		set_reason(s, "udp idle timeout");
	else if (end == UDPRELAY_END_ERROR)
		set_reason(s, "udp relay: %s", strerror(err));
}

static void session_log(struct session *s, const char *dest_asked)
{
	struct log_session rec = {
		.id = s->id,
		.client = (struct sockaddr *)&s->peer.ss,
		.user = s->user[0] != '\0' ? s->user : NULL,
		.command = s->have_req ? socks5_cmd_str(s->req.cmd) : NULL,
		.dest_asked = s->have_req ? dest_asked : NULL,
		.dest = s->have_dest ? (struct sockaddr *)&s->dest_addr.ss : NULL,
		.reply = s->reply,
		.reason = s->reason[0] != '\0' ? s->reason : NULL,
		.refused_by_rule = s->refused_by_rule,
		.bytes_up = s->stats.up,
		.bytes_down = s->stats.down,
		.duration_ms = (uint64_t)(monotonic_ms() - s->start_ms),
		.udp = s->udp,
		.dgrams_up = s->dgrams.up,
		.dgrams_down = s->dgrams.down,
		.dgrams_dropped = s->dgrams.dropped,
	};
	log_session_end(&rec);
}

/* Half-closes and gives the client a moment to read what was sent, so a close
 * with unread input (which sends RST) does not destroy the reply in flight. */
static void close_gently(int fd)
{
	char sink[512];
	int64_t until = monotonic_ms() + LINGER_MS;

	if (shutdown(fd, SHUT_WR) == 0) {
		for (;;) {
			int64_t left = until - monotonic_ms();
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (left <= 0 || poll(&p, 1, (int)left) <= 0)
				break;
			ssize_t n = recv(fd, sink, sizeof(sink), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	close(fd);
}

void session_run(struct pool_job *job, void *ctx)
{
	struct session s;
	char dest_asked[SOCKS5_ADDR_STRLEN] = "-";

	memset(&s, 0, sizeof(s));
	s.id = atomic_fetch_add(&counters.next_id, 1) + 1;
	s.fd = job->fd;
	s.dest = -1;
	s.stats.total_up = &counters.bytes_up;
	s.stats.total_down = &counters.bytes_down;
	s.peer = job->peer;
	s.cfg = job->cfg;
	s.reply = -1;
	s.start_ms = job->accepted_ms;
	s.deadline_ms = s.start_ms + s.cfg->handshake_timeout_ms;
	atomic_fetch_add(&counters.active, 1);
	atomic_fetch_add(&counters.total, 1);
	registry_add(&s);

	s.local.len = sizeof(s.local.ss);
	if (getsockname(s.fd, (struct sockaddr *)&s.local.ss, &s.local.len) < 0) {
		set_reason(&s, "getsockname: %s", strerror(errno));
		goto out;
	}
	addr_unmap(&s.local);	/* as the peer is: one family per session */
	if (negotiate(&s) < 0)
		goto out;

	int r = read_message(&s, parse_request, &s.req, "request");
	if (r == S5_ERR_ATYP) {
		(void)send_reply(&s, SOCKS5_REP_ATYP_NOT_SUPPORTED, NULL);
		goto out;
	}
	if (r == S5_ERR_PROTO) {
		(void)send_reply(&s, SOCKS5_REP_GENERAL_FAILURE, NULL);
		goto out;
	}
	if (r < 0)
		goto out;
	s.have_req = true;
	socks5_addr_str(&s.req.dst, dest_asked, sizeof(dest_asked));
	if (!take_limits(&s)) {
		(void)send_reply(&s, SOCKS5_REP_NOT_ALLOWED, NULL);
		goto out;
	}

	switch (s.req.cmd) {
	case SOCKS5_CMD_CONNECT:
		handle_connect(&s);
		break;
	case SOCKS5_CMD_BIND:
	case SOCKS5_CMD_UDP_ASSOCIATE:
		if (command_refused(&s))
			break;
		if (s.req.cmd == SOCKS5_CMD_BIND)
			handle_bind(&s);
		else
			handle_udp(&s);
		break;
	default:
		set_reason(&s, "command 0x%02x not supported", s.req.cmd);
		(void)send_reply(&s, SOCKS5_REP_CMD_NOT_SUPPORTED, NULL);
		break;
	}

out:
	session_log(&s, dest_asked);	/* the totals took the bytes as they moved */
	registry_remove(&s);
	if (s.dest >= 0)
		close(s.dest);
	if (s.replied && s.reply != SOCKS5_REP_SUCCEEDED)
		close_gently(s.fd);
	else
		close(s.fd);
	if (s.held_session)
		quota_session_release();
	if (s.held_user)
		quota_user_release(s.login);
	session_unadmit(&s.peer);	/* the slot session_admit() took */
	atomic_fetch_sub(&counters.active, 1);
	explicit_bzero(s.login, sizeof(s.login));
	config_unref(s.cfg);
}
