/* One client connection from accept to the last relayed byte: admission and
 * the pool job, the setup frame (handshake to the relay's start), CONNECT and
 * the steps the handlers share, the relay, and the gateway's counters; BIND
 * and UDP ASSOCIATE (session_bind.c), the registry (session_registry.c) and
 * the record (session_record.c) are the module's other files. The handshake and the
 * policy modules do the reading and the deciding. */
#include "autoconf.h"

#include "session.h"
#include "session_int.h"

#include "auth.h"
#include "config.h"
#include "connector.h"
#include "gssauth.h"
#include "gssproto.h"
#include "gssrelay.h"
#include "handshake.h"
#include "log.h"
#include "policy.h"
#include "pool.h"
#include "relay.h"
#include "socks5.h"
#include "stats.h"
#include "timeutil.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The names of a session that has none (never written to). */
static char no_name[1];

/* One accepted connection waiting in the pool's queue. */
struct session_job {
	int fd;
	struct addr peer;
	int64_t accepted_ms;	/* CLOCK_MONOTONIC */
	struct config *cfg;	/* one reference */
	bool proxy;		/* from a trusted balancer: a PROXY header comes first,
				 * and admission waits for it */
};

static struct {
	atomic_uint_fast64_t active, total, bytes_up, bytes_down, next_id;
} counters;

void session_ids_init(uint64_t first)
{
	atomic_store(&counters.next_id, first > 0 ? first - 1 : 0);
}

void session_get_stats(struct session_stats *ret)
{
	ret->active = atomic_load(&counters.active);
	ret->total = atomic_load(&counters.total);
	struct auth_stats as;
	auth_get_stats(&as);
	ret->auth_failures = handshake_auth_failures();
	ret->auth_cache_hits = as.cache_hits;
	ret->bytes_up = atomic_load(&counters.bytes_up);
	ret->bytes_down = atomic_load(&counters.bytes_down);
}

int session_submit(struct pool *pool, int fd, const struct addr *peer, bool proxy,
		   struct config *cfg)
{
	/* Behind a balancer the client is known only once its header is read. */
	if (proxy ? !policy_balancer_trusted(peer, cfg) : !policy_admit(peer, cfg)) {
		close(fd);
		config_unref(cfg);
		return 0;	/* ours to close; policy_admit() said why */
	}
	struct session_job *job = malloc(sizeof(*job));
	if (job == NULL) {
		if (!proxy)
			policy_unadmit(peer);
		config_unref(cfg);
		return -ENOMEM;
	}
	*job = (struct session_job){
		.fd = fd, .peer = *peer, .accepted_ms = monotonic_ms(), .cfg = cfg, .proxy = proxy
	};
	int r = pool_submit(pool, job);
	if (r < 0) {
		if (!proxy)
			policy_unadmit(peer);
		config_unref(cfg);
		free(job);
	}
	return r;
}

void session_discard(void *job, void *ctx)
{
	struct session_job *j = job;

	(void)ctx;
	if (!j->proxy)
		policy_unadmit(&j->peer);
	close(j->fd);
	config_unref(j->cfg);
	free(j);
}

/* Ends a request that a rule or the default policy refused: the reason
 * names which. */
void session_refuse_by_rule(struct session *s)
{
	s->refused_by_rule = true;
	handshake_outcome(&s->h, policy_refusal_outcome(&s->pol));
	handshake_reason(&s->h, "%s", s->pol.refusal);
	(void)handshake_reply(&s->h, SOCKS5_REP_NOT_ALLOWED, NULL);
}

void session_note_dest(struct session *s, const struct addr *a)
{
	if (a->len > 0) {
		s->dest_addr = *a;
		s->have_dest = true;
	}
}

/* Why the protected relay stopped, in words. Not inlined: its text buffer
 * would sit in the relay's frame for the whole session. */
static __attribute__((noinline)) void relay_gss_reason(struct session *s,
						       const struct gssrelay_why *why)
{
	static const char *const faults[] = {
		[GSSRELAY_FAULT_FRAME] = "client broke the RFC 1961 framing",
		[GSSRELAY_FAULT_TRUNCATED] = "client closed inside a protected message",
		[GSSRELAY_FAULT_ABORT] = "client sent the GSSAPI abort message",
		[GSSRELAY_FAULT_UNWRAP] = "a client message did not verify",
		[GSSRELAY_FAULT_WEAK] = "an integrity-only message on a confidentiality session",
		[GSSRELAY_FAULT_WRAP] = "wrapping a message failed",
	};
	char text[256];
	size_t i = (size_t)why->fault;
	const char *what = i < sizeof(faults) / sizeof(faults[0]) && faults[i] != NULL
				   ? faults[i] : "protected relay failed";

	if (why->major != 0)
		handshake_reason(&s->h, "relay: %s", gssauth_status_str(what, why->major,
									 why->minor, text,
									 sizeof(text)));
	else
		handshake_reason(&s->h, "relay: %s", what);
}

/* The shared tail of CONNECT and BIND's setup once the last reply is out:
 * keepalive, and the bytes the client sent behind its request, which belong
 * to the destination fd. True when the relay may run (session_relay()). */
bool session_relay_tail(struct session *s, int fd)
{
	/* A peer that went away silently (a laptop asleep) must not hold the
	 * worker until idle_timeout: keepalive on the client's leg, and on
	 * BIND's inbound one (a CONNECT's has it from the connector). */
	(void)connector_keepalive(s->h.fd, s->cfg->tcp_keepalive_ms);
	if (s->cmd == SOCKS5_CMD_BIND)
		(void)connector_keepalive(fd, s->cfg->tcp_keepalive_ms);
	if (s->h.inlen > 0) {
		int r = handshake_send(&s->h, fd, s->h.in, s->h.inlen);
		if (r < 0) {
			handshake_reason(&s->h, "forwarding early data: %s", strerror(-r));
			return false;
		}
		relay_count(&s->stats, true, s->h.inlen);
		s->h.inlen = 0;
	}
	return true;
}

/* The relay of CONNECT and BIND between the client and s->dest, until both
 * sides are done; from session_run()'s own frame, with nothing of the setup
 * below it. */
static void session_relay(struct session *s)
{
	int fd = s->dest;
	int err = 0;
	struct gssrelay_why why = { 0 };
	enum relay_end end;
	if (s->h.gss_level != GSSPROTO_LEVEL_NONE)	/* every message wrapped: copy mode */
		end = gssrelay_run(s->h.fd, fd, gssauth_context(s->h.gss),
				   s->h.gss_level == GSSPROTO_LEVEL_CONFIDENTIALITY,
				   s->cfg->idle_timeout_ms, &s->stats, &err, &why);
	else
		end = relay_run(s->h.fd, fd, s->cfg->idle_timeout_ms, &s->stats, &err);
	if (end == RELAY_END_IDLE)
		handshake_reason(&s->h, "idle timeout");
	else if (end == RELAY_END_ERROR && why.fault != GSSRELAY_FAULT_NONE)
		relay_gss_reason(s, &why);
	else if (end == RELAY_END_ERROR)
		handshake_reason(&s->h, "relay: %s", strerror(err));
}

/* A CONNECT that did not connect: the reason and the reply (none when the
 * client has gone). */
static void connect_failed(struct session *s, const struct connector_result *res)
{
	session_note_dest(s, &res->peer);
	if (res->refused) {
		session_refuse_by_rule(s);
		return;
	}
	if (res->client_closed || res->client_reset) {
		handshake_reason(&s->h, "client %s while connecting (%u address%s tried)",
				 res->client_reset ? "reset the connection" : "closed",
				 res->tried, res->tried == 1 ? "" : "es");
		return;
	}
	if (res->gai_failed)
		handshake_reason(&s->h, "resolving: %s", gai_strerror(res->err));
	else if (res->tried > 1)
		handshake_reason(&s->h, "connect: %s (%u addresses tried)", strerror(res->err),
				 res->tried);
	else
		handshake_reason(&s->h, "connect: %s", strerror(res->err));
	(void)handshake_reply(&s->h, res->rep, NULL);
}

/* CONNECT up to the relay. True when the relay may run on s->dest. */
static bool handle_connect(struct session *s)
{
	struct connector_result res;
	struct addr bnd;

	if (s->su->req.dst.atyp == SOCKS5_ATYP_DOMAIN) {
		s->pol.dest_name = s->su->req.dst.u.domain;
		if (policy_name_refused(&s->pol, s->su->req.dst.port)) {
			session_refuse_by_rule(s);
			return false;
		}
	}
	struct connector_params p = {
		.timeout_ms = s->cfg->connect_timeout_ms,
		.stagger_ms = s->cfg->connect_stagger_ms,
		.prefer_ipv4 = s->cfg->prefer_ipv4,
		.keepalive_ms = s->cfg->tcp_keepalive_ms,
		.source = { s->cfg->outgoing[0], s->cfg->outgoing[1] },
		.client_fd = s->h.fd,
		.check = policy_connect_allowed,
		.ctx = &s->pol,
	};
	int64_t t0 = stats_now_us();
	int fd = connector_connect(&s->su->req.dst, &p, &res);
	if (fd < 0) {
		connect_failed(s, &res);
		return false;
	}
	stats_observe(STATS_HIST_CONNECT, stats_now_us() - t0);
	session_set_dest(s, fd);
	session_note_dest(s, &res.peer);
	bnd.len = sizeof(bnd.ss);
	if (getsockname(fd, (struct sockaddr *)&bnd.ss, &bnd.len) < 0) {
		handshake_reason(&s->h, "getsockname: %s", strerror(errno));
		(void)handshake_reply(&s->h, SOCKS5_REP_GENERAL_FAILURE, NULL);
		return false;
	}
	s->h.deadline_ms = monotonic_ms() + s->cfg->handshake_timeout_ms;
	if (handshake_reply(&s->h, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&bnd.ss) < 0)
		return false;
	return session_relay_tail(s, fd);
}

/* The command, up to the relay (UDP's runs here). True when the relay of
 * CONNECT or BIND may run on s->dest. */
static bool serve_request(struct session *s)
{
	char why[128];

	if (!policy_take_limits(&s->pol, why, sizeof(why))) {
		handshake_outcome(&s->h, STATS_REFUSED_LIMIT);
		handshake_reason(&s->h, "%s", why);
		(void)handshake_reply(&s->h, SOCKS5_REP_NOT_ALLOWED, NULL);
		return false;
	}
	switch (s->cmd) {
	case SOCKS5_CMD_CONNECT:
		return handle_connect(s);
	case SOCKS5_CMD_BIND:
	case SOCKS5_CMD_UDP_ASSOCIATE:
		if (s->cmd == SOCKS5_CMD_UDP_ASSOCIATE &&
		    s->h.gss_level != GSSPROTO_LEVEL_NONE) {
			/* RFC 1961's wrapped datagrams are not implemented. */
			handshake_reason(&s->h, "UDP ASSOCIATE is not offered on a GSSAPI session "
						"with per-message protection");
			(void)handshake_reply(&s->h, SOCKS5_REP_CMD_NOT_SUPPORTED, NULL);
			return false;
		}
		/* These learn their destinations later, one by one; a rule that
		 * refuses the command outright answers 0x02 now instead of
		 * opening a socket whose every use would be refused. */
		if (policy_command_refused(&s->pol))
			session_refuse_by_rule(s);
		else if (s->cmd == SOCKS5_CMD_BIND)
			return session_handle_bind(s);
		else
			session_handle_udp(s);
		return false;
	default:
		handshake_reason(&s->h, "command 0x%02x not supported", s->cmd);
		(void)handshake_reply(&s->h, SOCKS5_REP_CMD_NOT_SUPPORTED, NULL);
		return false;
	}
}

/* A session that gets a record: its number, and the count since start. */
static void session_count(struct session *s)
{
	s->id = atomic_fetch_add(&counters.next_id, 1) + 1;
	atomic_fetch_add(&counters.total, 1);
}

static void session_start(struct session *s, struct session_job *job)
{
	memset(s, 0, sizeof(*s));
	s->start_ms = job->accepted_ms;
	s->cfg = job->cfg;
	s->h.fd = job->fd;
	s->h.peer = job->peer;
	s->h.cfg = s->cfg;
	s->h.reply = -1;
	s->h.deadline_ms = s->start_ms + s->cfg->handshake_timeout_ms;
	s->dest = -1;
	s->stats.total_up = &counters.bytes_up;
	s->stats.total_down = &counters.bytes_down;
	/* A relay gone quiet gives back the stack its login (a credential-cache
	 * hit is not trimmed at once: see handshake.c) and its connect touched. */
	s->stats.on_quiet = pool_trim_stack;
	s->dest_asked = "-";
	s->h.user = s->h.login = s->h.principal = no_name;
	s->admitted = !job->proxy;	/* session_submit() admitted it */
	if (!job->proxy)
		session_count(s);
	atomic_fetch_add(&counters.active, 1);
	session_registry_add(s);
}

static void session_end(struct session *s)
{
	if (!s->quiet) {
		/* The metrics count the session before its record is out. */
		stats_session_end(s->have_req ? s->cmd : 0, handshake_outcome_final(&s->h));
		if (s->h.login[0] != '\0')
			stats_user_end(s->h.user, s->stats.up, s->stats.down);
		session_note_ended_by(s);
		session_record_log(s);	/* the totals took the bytes as they moved */
	}
	session_registry_remove(s);
	if (s->dest >= 0)
		close(s->dest);
	handshake_close(&s->h);
	policy_release(&s->pol);
	if (s->admitted)
		policy_unadmit(&s->h.peer);	/* the slot policy_admit() took */
	atomic_fetch_sub(&counters.active, 1);
	explicit_bzero(s->h.login, strlen(s->h.login));
	free(s->names);
	config_unref(s->cfg);
}

/* Behind a balancer: the header names the client, which is admitted only
 * now, as session_submit() admits a direct one. False when there is no
 * session to serve; a health check and a refusal leave no record. */
static bool session_proxied(struct session *s)
{
	switch (handshake_proxy_header(&s->h)) {
	case HANDSHAKE_PROXY_LOCAL:
		if (log_enabled(LOG_DEBUG)) {
			char a[ADDR_STRLEN];
			log_msg(LOG_DEBUG, "health check from %s (PROXY protocol LOCAL)",
				addr_str((const struct sockaddr *)&s->h.via.ss, a, sizeof(a)));
		}
		s->quiet = true;
		return false;
	case HANDSHAKE_PROXY_FAILED:
		session_count(s);
		return false;
	case HANDSHAKE_PROXY_CLIENT:
	case HANDSHAKE_PROXY_KEPT:
		break;
	}
	if (!policy_admit(&s->h.peer, s->cfg)) {
		s->quiet = true;	/* policy_admit() said why, as at accept */
		return false;
	}
	s->admitted = true;
	session_count(s);
	return true;
}

/* Once the handshake is over, its names and the destination asked for (dest,
 * or NULL) move out of the setup frame into one allocation of their size.
 * False when there is no memory for it (reason recorded; the names are then
 * gone, so that no rule sees the session as anonymous). */
static bool session_keep_names(struct session *s, const char *dest)
{
	char **name[3] = { &s->h.user, &s->h.login, &s->h.principal };
	size_t len[3], total = dest != NULL ? strlen(dest) + 1 : 0;

	for (size_t i = 0; i < 3; i++) {
		len[i] = strlen(*name[i]);
		total += len[i] > 0 ? len[i] + 1 : 0;
	}
	char *p = total > 0 ? malloc(total) : NULL;
	bool ok = total == 0 || p != NULL;
	s->names = p;
	for (size_t i = 0; i < 3; i++) {
		if (len[i] == 0 || p == NULL) {
			*name[i] = no_name;
			continue;
		}
		memcpy(p, *name[i], len[i] + 1);
		*name[i] = p;
		p += len[i] + 1;
	}
	if (dest != NULL && p != NULL) {
		memcpy(p, dest, strlen(dest) + 1);
		s->dest_asked = p;
	}
	if (!ok) {
		handshake_reason(&s->h, "no memory for the session's names");
		handshake_outcome(&s->h, STATS_ERROR);
	}
	return ok;
}

/* From the socket to its request: the PROXY header, the greeting and the
 * login, the request. True when there is a request to serve. */
static bool session_handshake(struct session *s, bool proxy)
{
	struct addr *local = &s->su->local;

	local->len = sizeof(local->ss);
	if (getsockname(s->h.fd, (struct sockaddr *)&local->ss, &local->len) < 0) {
		handshake_reason(&s->h, "getsockname: %s", strerror(errno));
		return false;
	}
	addr_unmap(local);	/* as the peer is: one family per session */
	if (proxy && !session_proxied(s))
		return false;
	return handshake_negotiate(&s->h) && handshake_request(&s->h, &s->su->req);
}

/* Everything before the relay, on a frame of its own with the handshake's
 * buffers (struct session_setup): handshake, rules, the command's setup and
 * replies, and UDP's relay. True when the relay of CONNECT or BIND may run
 * on s->dest; on return nothing of s points into the frame. Not inlined, so
 * that the frame is gone while the relay runs. */
static __attribute__((noinline)) bool session_open(struct session *s, bool proxy)
{
	struct session_setup su;
	bool relay = false;

	su.user[0] = su.login[0] = su.principal[0] = '\0';
	s->su = &su;
	s->h.in = su.in;
	s->h.user = su.user;
	s->h.login = su.login;
	s->h.principal = su.principal;
	bool ok = session_handshake(s, proxy);
	if (ok)
		socks5_addr_str(&su.req.dst, su.dest, sizeof(su.dest));
	/* Before the control socket may read them, and before the rules keep
	 * pointers to them. */
	ok = session_keep_names(s, ok ? su.dest : NULL) && ok;
	explicit_bzero(su.login, sizeof(su.login));
	if (ok) {
		s->have_req = true;
		s->cmd = su.req.cmd;
		stats_observe(STATS_HIST_HANDSHAKE, (monotonic_ms() - s->start_ms) * 1000);
		session_registry_show(s);
		policy_init(&s->pol, s->cfg, (const struct sockaddr *)&s->h.peer.ss, s->h.login,
			    s->h.user, s->cmd);
		relay = serve_request(s);
	}
	s->pol.dest_name = NULL;	/* it pointed into su.req */
	s->h.in = NULL;
	s->h.inlen = 0;
	s->su = NULL;
	return relay;
}

void session_run(void *job, void *ctx)
{
	struct session s;
	bool proxy = ((struct session_job *)job)->proxy;

	(void)ctx;
	session_start(&s, job);
	free(job);
	if (session_open(&s, proxy))
		session_relay(&s);
	session_end(&s);
}
