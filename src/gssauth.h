/* The GSSAPI method's security context on the auth side (RFC 1961, MIT
 * krb5): acceptor credentials from a keytab, the context-establishment steps,
 * the initiator's principal and the local account it maps to, and the wrap
 * and unwrap of the protection-level message. No I/O: the handshake frames
 * and moves the tokens (gssproto.h). One struct gssauth per session, used
 * only by the thread that owns that session (GSS-API contexts are not safe
 * to share); different sessions run side by side. */
#ifndef SOCKSGATE_GSSAUTH_H
#define SOCKSGATE_GSSAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gssapi/gssapi.h>

struct gssauth;

enum gssauth_status {
	GSSAUTH_CONTINUE,	/* send the output token, then read the client's next */
	GSSAUTH_COMPLETE,	/* established: send the output token if there is one */
	GSSAUTH_FAILED,		/* refused or broken: why says so (GSS major/minor) */
};

/* Writes "what: MAJOR TEXT; MINOR TEXT (major 0x.., minor ..)" with
 * gss_display_status() into buf; returns buf. Thread-safe. */
const char *gssauth_status_str(const char *what, OM_uint32 major, OM_uint32 minor, char *buf,
			       size_t len);

/* A session's acceptor: credentials for service@hostname (hostname NULL or
 * "": any host name the keytab holds for service) from keytab (NULL or "":
 * KRB5_KTNAME, else the system's default keytab). Returns it, or NULL with
 * the reason (the keytab cannot be read, holds no such key...) in why. The
 * caller owns it: gssauth_free(). */
struct gssauth *gssauth_new(const char *keytab, const char *service, const char *hostname,
			    char *why, size_t whylen);

/* Frees the context and the credentials (gss_delete_sec_context without an
 * output token: RFC 1961 section 6). NULL is a no-op. */
void gssauth_free(struct gssauth *g);

/* Feeds one context token from the client to gss_accept_sec_context. On
 * CONTINUE and COMPLETE, *ret_out / *ret_outlen are the token to send back
 * (length 0: none); it stays valid until the next call or gssauth_free().
 * On FAILED, why has the GSS major/minor status and nothing is written. */
enum gssauth_status gssauth_step(struct gssauth *g, const uint8_t *in, size_t inlen,
				 const uint8_t **ret_out, size_t *ret_outlen, char *why,
				 size_t whylen);

/* After COMPLETE: the initiator's principal ("alice@CORP.EXAMPLE"), owned by
 * g; "" before. */
const char *gssauth_principal(const struct gssauth *g);

/* After COMPLETE: may the context protect messages with integrity
 * (GSS_C_INTEG_FLAG) and confidentiality (GSS_C_CONF_FLAG)? */
bool gssauth_has_integrity(const struct gssauth *g);
bool gssauth_has_confidentiality(const struct gssauth *g);

/* After COMPLETE: the established context, for the protected relay; it stays
 * g's (freed by gssauth_free()). */
gss_ctx_id_t gssauth_context(const struct gssauth *g);

/* After COMPLETE: the local account name of the principal, into user
 * (userlen bytes). With realm NULL or "": krb5_aname_to_localname (the
 * realm's auth_to_local rules; the default maps a one-component principal of
 * the default realm to its first component). With a realm: the principal
 * must be NAME@realm with one component, and NAME is the account. The
 * account must exist (getpwnam_r). Returns true, or false with why. */
bool gssauth_localname(const struct gssauth *g, const char *realm, char *user, size_t userlen,
		       char *why, size_t whylen);

/* gss_unwrap of one client token into out (outcap bytes): *ret_len is the
 * plaintext's length, *ret_conf whether it was encrypted. Returns true, or
 * false with why (the token does not verify, or its plaintext is over
 * outcap). */
bool gssauth_unwrap(struct gssauth *g, const uint8_t *in, size_t inlen, uint8_t *out,
		    size_t outcap, size_t *ret_len, bool *ret_conf, char *why, size_t whylen);

/* gss_wrap of in (conf: encrypted too) into out (outcap bytes), *ret_len
 * its length. Returns true, or false with why (also when conf was asked and
 * not given, or the token is over outcap). */
bool gssauth_wrap(struct gssauth *g, bool conf, const uint8_t *in, size_t inlen, uint8_t *out,
		  size_t outcap, size_t *ret_len, char *why, size_t whylen);

#endif
