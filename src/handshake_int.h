/* Private to the handshake module (handshake.c, handshake_gss.c): the
 * socket helpers and the login bookkeeping the GSSAPI method shares with the
 * username/password one. Nothing else includes this. */
#ifndef SOCKSGATE_HANDSHAKE_INT_H
#define SOCKSGATE_HANDSHAKE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "auth.h"
#include "handshake.h"

/* Waits for events on fd until deadline_ms. Returns 0, or -ETIMEDOUT / -errno. */
int handshake_wait_fd(int fd, short events, int64_t deadline_ms);

/* Records why reading "what" ended: r is 0 (the client closed) or -errno
 * from a read (-ETIMEDOUT: the deadline), with the matching outcome. */
void handshake_read_failed(struct handshake *h, ssize_t r, const char *what);

/* The "authentication failure for USER from HOST" warning fail2ban reads. */
void handshake_log_auth_failure(const char *user, const struct sockaddr *client);

/* Counts a login's result for the metrics and, when it failed, sets the
 * session's outcome (as the RFC 1929 login does; no early refusal). */
void handshake_count_login(struct handshake *h, enum auth_status st);

/* Logs (rate-limited) that the PAM stack failed: the operator's problem,
 * not the client's. */
void handshake_pam_error(const struct handshake *h);

/* Method 0x01 after the method reply: the RFC 1961 context tokens, the
 * principal's local account and its PAM account step, the protection level.
 * True when the client may go on to its request (h->login, h->principal and
 * h->gss_level are set); otherwise it got the abort message (or went away)
 * and the reason is recorded. */
bool handshake_gss_negotiate(struct handshake *h);

/* The request of a protected session: read from encapsulated messages
 * (RFC 1961 section 5, as RFC 1928 section 3 says), answered as
 * handshake_request() answers. Plaintext behind the request is left in h->in
 * for the destination. */
bool handshake_gss_request(struct handshake *h, struct socks5_request *ret);

/* Sends buf to the client of a protected session as one encapsulated
 * message. Returns 0 or -errno (-EBADMSG: gss_wrap failed; reason recorded). */
int handshake_gss_send(struct handshake *h, const void *buf, size_t len);

#endif
