/* The GSSAPI method on the client socket (RFC 1961): context tokens framed
 * by gssproto, the initiator mapped to a local account that PAM's account
 * step accepts, the protection level (wrapped, or the NEC variant's bare
 * octet), and on a protected session the encapsulated request and replies.
 * The GSS-API calls are gssauth's; this file reads, writes and records why. */
#include "autoconf.h"

#include "handshake.h"
#include "handshake_int.h"

#include "auth.h"
#include "config.h"
#include "gssauth.h"
#include "gssproto.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "text.h"
#include "timeutil.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FRAME_MAX (GSSPROTO_HEADER_LEN + GSSPROTO_TOKEN_MAX)

static struct log_ratelimit acceptor_rl;

static const char *const level_names[] = { "none", "integrity", "confidentiality", "selective" };

static const char *level_name(unsigned level)
{
	return level < sizeof(level_names) / sizeof(level_names[0]) ? level_names[level]
								    : "unknown";
}

/* Takes exactly n bytes for dst: first what the greeting's read left in
 * h->in, then from the socket, never reading past them. False when the
 * client went away or the deadline passed (reason recorded). */
static bool take(struct handshake *h, uint8_t *dst, size_t n, const char *what)
{
	size_t have = h->inlen < n ? h->inlen : n;

	memcpy(dst, h->in, have);
	memmove(h->in, h->in + have, h->inlen - have);
	h->inlen -= have;
	while (have < n) {
		ssize_t r = recv(h->fd, dst + have, n - have, 0);
		if (r > 0) {
			have += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			int w = handshake_wait_fd(h->fd, POLLIN, h->deadline_ms);
			if (w == 0)
				continue;
			r = w;
		} else if (r < 0) {
			r = -errno;
		}
		handshake_read_failed(h, r, what);
		return false;
	}
	return true;
}

/* Sends the abort message (RFC 1961 section 3.8): the client is refused.
 * It gets a second to take it, whatever is left of the deadline. */
static void send_abort(struct handshake *h)
{
	uint8_t out[GSSPROTO_ABORT_LEN];

	h->replied = true;
	h->deadline_ms = monotonic_ms() + 1000;
	(void)handshake_send(h, h->fd, out, gssproto_build_abort(out));
}

/* Reads one message of type expect into f (FRAME_MAX bytes) and points
 * msg->token into it. False, reason recorded, when the client went away,
 * sent something else (it gets the abort) or aborted itself. */
static bool read_frame(struct handshake *h, uint8_t expect, uint8_t *f, struct gssproto_msg *msg,
		       const char *what)
{
	size_t hl;
	enum gssproto_status st;

	if (!take(h, f, GSSPROTO_ABORT_LEN, what))
		return false;
	st = gssproto_parse_header(f, GSSPROTO_ABORT_LEN, expect, msg, &hl);
	if (st == GSSPROTO_NEED_MORE) {
		if (!take(h, f + GSSPROTO_ABORT_LEN, GSSPROTO_HEADER_LEN - GSSPROTO_ABORT_LEN, what))
			return false;
		st = gssproto_parse_header(f, GSSPROTO_HEADER_LEN, expect, msg, &hl);
	}
	if (st != GSSPROTO_OK) {
		handshake_reason(h, "malformed %s (%s: %02x %02x)", what,
				 st == GSSPROTO_BAD_VERSION ? "not version 1" :
				 st == GSSPROTO_BAD_TYPE ? "unexpected message type" : "zero length",
				 f[0], f[1]);
		handshake_outcome(h, STATS_ERROR);
		send_abort(h);
		return false;
	}
	if (msg->type == GSSPROTO_ABORT) {
		handshake_reason(h, "client aborted the GSSAPI exchange during the %s", what);
		handshake_outcome(h, STATS_REFUSED_AUTH);
		return false;
	}
	if (!take(h, f + hl, msg->token_len, what))
		return false;
	msg->token = f + hl;
	return true;
}

/* Sends a type message with the token (1..65535 bytes) in one write: a
 * header sent on its own would wait for the client's delayed ACK (Nagle)
 * before the token follows, 40 ms a message. Returns 0 or -errno. */
static int send_frame(struct handshake *h, uint8_t type, const uint8_t *tok, size_t len)
{
	uint8_t *msg = malloc(GSSPROTO_HEADER_LEN + len);
	int r = -ENOMEM;

	if (msg == NULL)
		return r;
	if (gssproto_build_header(msg, type, len) == 0) {
		r = -EMSGSIZE;
	} else {
		memcpy(msg + GSSPROTO_HEADER_LEN, tok, len);
		r = handshake_send(h, h->fd, msg, GSSPROTO_HEADER_LEN + len);
	}
	free(msg);
	return r;
}

/* A refusal after the method was chosen: the record's reason, the failure
 * warning (for a refusal of the client's), the metrics and the abort. */
static void refuse(struct handshake *h, enum auth_status st, const char *why)
{
	handshake_reason(h, "%s", why);
	handshake_count_login(h, st);
	if (st == AUTH_DENIED)
		handshake_log_auth_failure(h->user[0] != '\0' ? h->user : h->principal,
					   (const struct sockaddr *)&h->peer.ss);
	if (st != AUTH_ABANDONED)
		send_abort(h);
}

/* The context-establishment loop (RFC 1961 section 3) within the deadline. */
static bool establish(struct handshake *h, uint8_t *f)
{
	static const char what[] = "GSSAPI context token";
	char why[512];
	struct gssproto_msg m;
	const uint8_t *out;
	size_t outlen;

	for (;;) {
		if (!read_frame(h, GSSPROTO_AUTH, f, &m, what)) {
			handshake_count_login(h, h->replied ? AUTH_DENIED : AUTH_ABANDONED);
			return false;
		}
		enum gssauth_status st = gssauth_step(h->gss, m.token, m.token_len, &out, &outlen,
						      why, sizeof(why));
		if (st == GSSAUTH_FAILED) {
			refuse(h, AUTH_DENIED, why);
			return false;
		}
		if (outlen > GSSPROTO_TOKEN_MAX) {
			refuse(h, AUTH_ERROR,
			       "gss_accept_sec_context: a reply token over 65535 bytes");
			return false;
		}
		int r = outlen > 0 ? send_frame(h, GSSPROTO_AUTH, out, outlen) : 0;
		if (r < 0) {
			handshake_reason(h, "sending a GSSAPI context token: %s", strerror(-r));
			handshake_count_login(h, AUTH_ABANDONED);
			return false;
		}
		if (st == GSSAUTH_COMPLETE)
			return true;
	}
}

/* Who the client is: the principal's local account, then PAM's account step. */
static bool identify(struct handshake *h)
{
	const struct config *c = h->cfg;
	char user[256], why[512];
	const char *p = gssauth_principal(h->gss);

	text_escape(p, strlen(p), h->principal, HANDSHAKE_NAME);
	if (!gssauth_localname(h->gss, c->gssapi_realm, user, sizeof(user), why, sizeof(why))) {
		refuse(h, AUTH_DENIED, why);
		return false;
	}
	text_escape(user, strlen(user), h->user, HANDSHAKE_NAME);
	const struct auth_request rq = {
		.service = c->pam_service,
		.user = user,
		.client = (const struct sockaddr *)&h->peer.ss,
		.client_fd = h->fd,
		.deadline_ms = h->deadline_ms,
	};
	int64_t t0 = stats_now_us();
	enum auth_status st = auth_account(&rq, why, sizeof(why));
	if (st != AUTH_ABANDONED)
		stats_observe(STATS_HIST_LOGIN, stats_now_us() - t0);
	if (st != AUTH_OK) {
		refuse(h, st, why);
		if (st == AUTH_ERROR)
			handshake_pam_error(h);
		return false;
	}
	snprintf(h->login, HANDSHAKE_NAME, "%s", user);
	h->method = SOCKS5_METHOD_GSSAPI;
	return true;
}

/* The level the gateway uses for the client's request (section 4): the one
 * asked for when gssapi_protection has it (and the context can give it),
 * else none when that is accepted; -1: abort. */
static int choose_level(const struct handshake *h, unsigned asked)
{
	unsigned ok = h->cfg->gssapi_protection;

	if (!gssauth_has_integrity(h->gss))
		ok &= ~CONFIG_PROTECTION(GSSPROTO_LEVEL_INTEGRITY);
	if (!gssauth_has_confidentiality(h->gss))
		ok &= ~CONFIG_PROTECTION(GSSPROTO_LEVEL_CONFIDENTIALITY);
	if (asked <= GSSPROTO_LEVEL_CONFIDENTIALITY && (ok & CONFIG_PROTECTION(asked)))
		return (int)asked;
	return ok & CONFIG_PROTECTION(GSSPROTO_LEVEL_NONE) ? GSSPROTO_LEVEL_NONE : -1;
}

/* The protection-level subnegotiation (RFC 1961 section 4). A one-octet
 * token is the NEC variant's bare level (no wrap token is that short), and
 * is answered the same way; otherwise the level is wrapped, as the RFC says. */
static bool negotiate_level(struct handshake *h, uint8_t *f)
{
	static const char what[] = "GSSAPI protection-level message";
	char why[512];
	struct gssproto_msg m;
	uint8_t level, tok[256];
	size_t n = 0;
	bool conf;

	if (!read_frame(h, GSSPROTO_PROTECTION, f, &m, what))
		return false;
	h->gss_nec = m.token_len == 1;
	if (h->gss_nec) {
		level = m.token[0];
	} else if (!gssauth_unwrap(h->gss, m.token, m.token_len, tok, sizeof(tok), &n, &conf, why,
				   sizeof(why)) || n != 1) {
		if (n > 1)
			snprintf(why, sizeof(why),
				 "the protection level unwrapped to %zu bytes, not 1", n);
		handshake_reason(h, "%s: %s", what, why);
		handshake_outcome(h, STATS_ERROR);
		send_abort(h);
		return false;
	} else {
		level = tok[0];
	}
	int use = choose_level(h, level);
	if (use < 0) {
		handshake_reason(h, "client asked for GSSAPI protection '%s' (0x%02x), which "
				 "gssapi_protection does not offer, and 'none' is not offered "
				 "either", level_name(level), level);
		handshake_outcome(h, STATS_REFUSED_AUTH);
		send_abort(h);
		return false;
	}
	uint8_t answer = (uint8_t)use;
	const uint8_t *out = &answer;
	n = 1;
	if (!h->gss_nec) {
		if (!gssauth_wrap(h->gss, false, &answer, 1, tok, sizeof(tok), &n, why,
				  sizeof(why))) {
			handshake_reason(h, "answering the protection level: %s", why);
			send_abort(h);
			return false;
		}
		out = tok;
	}
	int r = send_frame(h, GSSPROTO_PROTECTION, out, n);
	if (r < 0) {
		handshake_reason(h, "sending the protection level: %s", strerror(-r));
		return false;
	}
	h->gss_level = answer;
	return true;
}

bool handshake_gss_negotiate(struct handshake *h)
{
	const struct config *c = h->cfg;
	char why[512];
	bool ok = false;
	uint8_t *f = malloc(FRAME_MAX);

	if (f == NULL) {
		handshake_reason(h, "GSSAPI: %s", strerror(errno));
		send_abort(h);
		return false;
	}
	h->gss = gssauth_new(c->gssapi_keytab, c->gssapi_service, c->gssapi_hostname, why,
			     sizeof(why));
	if (h->gss == NULL) {
		/* The gateway's own keytab: the operator must hear of it. */
		log_ratelimited(&acceptor_rl, LOG_ERR, "GSSAPI: %s", why);
		refuse(h, AUTH_ERROR, why);
		goto out;
	}
	if (establish(h, f) && identify(h)) {	/* each counts its failure */
		ok = negotiate_level(h, f);
		handshake_count_login(h, ok ? AUTH_OK : h->replied ? AUTH_DENIED : AUTH_ABANDONED);
	}
	/* The GSS-API and PAM modules can touch a lot of stack; give it back. */
	pool_trim_stack();
out:
	free(f);
	return ok;
}

int handshake_gss_send(struct handshake *h, const void *buf, size_t len)
{
	char why[512];
	uint8_t *tok = malloc(GSSPROTO_TOKEN_MAX);
	size_t n;
	int r = -ENOMEM;

	if (tok == NULL)
		return r;
	if (!gssauth_wrap(h->gss, h->gss_level == GSSPROTO_LEVEL_CONFIDENTIALITY, buf, len, tok,
			  GSSPROTO_TOKEN_MAX, &n, why, sizeof(why))) {
		handshake_reason(h, "%s", why);
		r = -EBADMSG;
	} else {
		r = send_frame(h, GSSPROTO_DATA, tok, n);
	}
	free(tok);
	return r;
}

/* Unwraps one encapsulated message of the client into plain (room for a
 * whole token); *ret_len its length. False, reason recorded, when the
 * client went away, broke the framing or sent a token that does not verify
 * or is weaker than the session's level. */
static bool read_data(struct handshake *h, uint8_t *f, uint8_t *plain, size_t *ret_len,
		      const char *what)
{
	char why[512];
	struct gssproto_msg m;
	bool conf;

	if (!read_frame(h, GSSPROTO_DATA, f, &m, what))
		return false;
	if (!gssauth_unwrap(h->gss, m.token, m.token_len, plain, GSSPROTO_TOKEN_MAX, ret_len,
			    &conf, why, sizeof(why))) {
		handshake_reason(h, "%s: %s", what, why);
		handshake_outcome(h, STATS_ERROR);
		return false;
	}
	if (h->gss_level == GSSPROTO_LEVEL_CONFIDENTIALITY && !conf) {
		handshake_reason(h, "%s: an integrity-only message on a confidentiality session",
				 what);
		handshake_outcome(h, STATS_ERROR);
		return false;
	}
	return true;
}

bool handshake_gss_request(struct handshake *h, struct socks5_request *ret)
{
	static const char what[] = "protected request";
	uint8_t *f = malloc(FRAME_MAX), *plain = malloc(HANDSHAKE_INBUF + GSSPROTO_TOKEN_MAX);
	size_t have = 0, used = 0, n;
	enum socks5_status st = SOCKS5_NEED_MORE;
	bool ok = false;

	if (f == NULL || plain == NULL) {
		handshake_reason(h, "reading the %s: %s", what, strerror(ENOMEM));
		goto out;
	}
	while ((st = socks5_parse_request(plain, have, ret, &used)) == SOCKS5_NEED_MORE) {
		if (have >= HANDSHAKE_INBUF) {
			st = SOCKS5_BAD_MESSAGE;
			break;
		}
		if (!read_data(h, f, plain + have, &n, what))
			goto out;
		have += n;
	}
	switch (st) {
	case SOCKS5_OK:
		/* What came behind the request is the destination's, as in
		 * handshake_request(); the protected relay reads the socket only,
		 * so no encapsulated bytes may wait in h->in. */
		if (h->inlen > 0 || have - used > HANDSHAKE_INBUF) {
			handshake_reason(h, "client sent protected data before the reply");
			handshake_outcome(h, STATS_ERROR);
			break;
		}
		memcpy(h->in, plain + used, have - used);
		h->inlen = have - used;
		ok = true;
		break;
	case SOCKS5_BAD_ATYP:
		handshake_reason(h, "malformed %s (%s)", what, socks5_status_str(st));
		(void)handshake_reply(h, SOCKS5_REP_ATYP_NOT_SUPPORTED, NULL);
		break;
	case SOCKS5_BAD_MESSAGE:
	case SOCKS5_BAD_VERSION:
		handshake_reason(h, "malformed %s (%s)", what, socks5_status_str(st));
		(void)handshake_reply(h, SOCKS5_REP_GENERAL_FAILURE, NULL);
		break;
	case SOCKS5_NEED_MORE:
		break;
	}
out:
	if (plain != NULL)
		explicit_bzero(plain, HANDSHAKE_INBUF + GSSPROTO_TOKEN_MAX);
	free(plain);
	free(f);
	return ok;
}
