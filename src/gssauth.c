/* One session's GSS-API acceptor (MIT krb5): credentials from the keytab,
 * gss_accept_sec_context step by step, the initiator's name and its local
 * account, wrap and unwrap for the protection-level message. Everything is
 * per session and per thread; the only shared state is inside the libraries,
 * which are thread-safe for distinct contexts. */
#include "autoconf.h"

#include "gssauth.h"

#include <errno.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gssauth {
	gss_cred_id_t cred;
	gss_ctx_id_t ctx;
	gss_buffer_desc out;		/* the last output token, released at the next step */
	OM_uint32 flags;		/* ret_flags of the completed context */
	bool complete;
	char principal[512];		/* the initiator, once complete */
};

/* Appends the texts gss_display_status() has for code (of type) to buf. */
static size_t append_status(OM_uint32 code, int type, char *buf, size_t len, size_t at)
{
	OM_uint32 ctx = 0, minor;

	do {
		gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
		OM_uint32 major = gss_display_status(&minor, code, type, GSS_C_NO_OID, &ctx, &msg);
		if (GSS_ERROR(major))
			break;
		if (at < len) {
			int n = snprintf(buf + at, len - at, "%s%.*s", at > 0 ? "; " : "",
					 (int)msg.length, (const char *)msg.value);
			at += n > 0 ? (size_t)n : 0;
		}
		(void)gss_release_buffer(&minor, &msg);
	} while (ctx != 0);
	return at;
}

const char *gssauth_status_str(const char *what, OM_uint32 major, OM_uint32 minor, char *buf,
			       size_t len)
{
	int n = snprintf(buf, len, "%s: ", what);
	size_t at = n > 0 ? (size_t)n : 0, start = at;

	/* append_status() separates from what came before: start after "what: ". */
	at = append_status(major, GSS_C_GSS_CODE, buf + start, len - start, 0) + start;
	if (minor != 0 && at < len)
		at = append_status(minor, GSS_C_MECH_CODE, buf + start, len - start, at - start) +
		     start;
	if (at < len)
		snprintf(buf + at, len - at, " (major 0x%08x, minor %u)", (unsigned)major,
			 (unsigned)minor);
	return buf;
}

/* The acceptor name service@hostname, or service alone (any host). */
static OM_uint32 import_acceptor(OM_uint32 *minor, const char *service, const char *hostname,
				 gss_name_t *ret)
{
	char text[512];
	int n = hostname != NULL && hostname[0] != '\0'
			? snprintf(text, sizeof(text), "%s@%s", service, hostname)
			: snprintf(text, sizeof(text), "%s", service);
	gss_buffer_desc buf = { .length = n > 0 ? (size_t)n : 0, .value = text };

	return gss_import_name(minor, &buf, GSS_C_NT_HOSTBASED_SERVICE, ret);
}

struct gssauth *gssauth_new(const char *keytab, const char *service, const char *hostname,
			    char *why, size_t whylen)
{
	OM_uint32 major, minor, ignored;
	gss_name_t name = GSS_C_NO_NAME;
	struct gssauth *g = calloc(1, sizeof(*g));

	if (g == NULL) {
		snprintf(why, whylen, "gssapi: %s", strerror(errno));
		return NULL;
	}
	g->cred = GSS_C_NO_CREDENTIAL;
	g->ctx = GSS_C_NO_CONTEXT;
	major = import_acceptor(&minor, service, hostname, &name);
	if (GSS_ERROR(major)) {
		gssauth_status_str("gss_import_name", major, minor, why, whylen);
		goto fail;
	}
	if (keytab != NULL && keytab[0] != '\0') {
		gss_key_value_element_desc kt = { .key = "keytab", .value = keytab };
		gss_key_value_set_desc store = { .count = 1, .elements = &kt };
		major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
					      GSS_C_ACCEPT, &store, &g->cred, NULL, NULL);
	} else {
		major = gss_acquire_cred(&minor, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
					 GSS_C_ACCEPT, &g->cred, NULL, NULL);
	}
	(void)gss_release_name(&ignored, &name);
	if (GSS_ERROR(major)) {
		gssauth_status_str("acquiring the acceptor credentials", major, minor, why, whylen);
		goto fail;
	}
	return g;
fail:
	gssauth_free(g);
	return NULL;
}

void gssauth_free(struct gssauth *g)
{
	OM_uint32 minor;

	if (g == NULL)
		return;
	(void)gss_release_buffer(&minor, &g->out);
	if (g->ctx != GSS_C_NO_CONTEXT)
		(void)gss_delete_sec_context(&minor, &g->ctx, GSS_C_NO_BUFFER);
	if (g->cred != GSS_C_NO_CREDENTIAL)
		(void)gss_release_cred(&minor, &g->cred);
	free(g);
}

/* Keeps the initiator's display name once the context is complete. */
static bool note_principal(struct gssauth *g, gss_name_t src, char *why, size_t whylen)
{
	OM_uint32 major, minor;
	gss_buffer_desc text = GSS_C_EMPTY_BUFFER;

	major = gss_display_name(&minor, src, &text, NULL);
	if (GSS_ERROR(major)) {
		gssauth_status_str("gss_display_name", major, minor, why, whylen);
		return false;
	}
	bool fits = text.length < sizeof(g->principal) &&
		    memchr(text.value, '\0', text.length) == NULL;
	if (fits) {
		memcpy(g->principal, text.value, text.length);
		g->principal[text.length] = '\0';
	} else {
		snprintf(why, whylen, "the initiator's principal name is too long or has a NUL");
	}
	(void)gss_release_buffer(&minor, &text);
	return fits;
}

enum gssauth_status gssauth_step(struct gssauth *g, const uint8_t *in, size_t inlen,
				 const uint8_t **ret_out, size_t *ret_outlen, char *why,
				 size_t whylen)
{
	OM_uint32 major, minor, ignored;
	gss_buffer_desc tok = { .length = inlen, .value = (void *)in };
	gss_name_t src = GSS_C_NO_NAME;
	enum gssauth_status st = GSSAUTH_FAILED;

	(void)gss_release_buffer(&ignored, &g->out);
	if (g->complete) {
		snprintf(why, whylen, "a context token after the context was established");
		return GSSAUTH_FAILED;
	}
	major = gss_accept_sec_context(&minor, &g->ctx, g->cred, &tok, GSS_C_NO_CHANNEL_BINDINGS,
				       &src, NULL, &g->out, &g->flags, NULL, NULL);
	if (GSS_ERROR(major)) {
		gssauth_status_str("gss_accept_sec_context", major, minor, why, whylen);
		goto out;
	}
	if (major & GSS_S_CONTINUE_NEEDED) {
		st = GSSAUTH_CONTINUE;
	} else if (note_principal(g, src, why, whylen)) {
		g->complete = true;
		st = GSSAUTH_COMPLETE;
	}
	if (st != GSSAUTH_FAILED) {
		*ret_out = g->out.value;
		*ret_outlen = g->out.length;
	}
out:
	if (src != GSS_C_NO_NAME)
		(void)gss_release_name(&ignored, &src);
	return st;
}

const char *gssauth_principal(const struct gssauth *g)
{
	return g->principal;
}

bool gssauth_has_integrity(const struct gssauth *g)
{
	return g->complete && (g->flags & GSS_C_INTEG_FLAG);
}

bool gssauth_has_confidentiality(const struct gssauth *g)
{
	return g->complete && (g->flags & GSS_C_CONF_FLAG);
}

gss_ctx_id_t gssauth_context(const struct gssauth *g)
{
	return g->ctx;
}

/* NAME@realm with one component: NAME. */
static bool strip_realm(const char *principal, const char *realm, char *user, size_t userlen,
			char *why, size_t whylen)
{
	const char *at = strrchr(principal, '@');
	size_t n = at != NULL ? (size_t)(at - principal) : 0;

	if (at == NULL || strcmp(at + 1, realm) != 0) {
		snprintf(why, whylen, "principal %s is not of the realm %s (gssapi_realm)",
			 principal, realm);
		return false;
	}
	if (n == 0 || memchr(principal, '/', n) != NULL || memchr(principal, '\\', n) != NULL ||
	    n >= userlen) {
		snprintf(why, whylen, "principal %s is not a user principal NAME@%s", principal,
			 realm);
		return false;
	}
	memcpy(user, principal, n);
	user[n] = '\0';
	return true;
}

/* krb5_aname_to_localname() on the principal's text, in a context of its own. */
static bool map_aname(const char *principal, char *user, size_t userlen, char *why,
		      size_t whylen)
{
	krb5_context kc = NULL;
	krb5_principal p = NULL;
	bool ok = false;
	krb5_error_code r = krb5_init_context(&kc);

	if (r != 0) {
		snprintf(why, whylen, "krb5_init_context: error %ld", (long)r);
		return false;
	}
	r = krb5_parse_name(kc, principal, &p);
	if (r == 0)
		r = krb5_aname_to_localname(kc, p, (int)userlen, user);
	if (r == 0) {
		ok = true;
	} else {
		const char *msg = krb5_get_error_message(kc, r);
		snprintf(why, whylen, r == KRB5_LNAME_NOTRANS
				 ? "principal %s maps to no local account (auth_to_local): %s"
				 : "mapping principal %s to a local account: %s",
			 principal, msg);
		krb5_free_error_message(kc, msg);
	}
	if (p != NULL)
		krb5_free_principal(kc, p);
	krb5_free_context(kc);
	return ok;
}

bool gssauth_localname(const struct gssauth *g, const char *realm, char *user, size_t userlen,
		       char *why, size_t whylen)
{
	char name[256], buf[4096];
	struct passwd pw, *found = NULL;

	if (!g->complete) {
		snprintf(why, whylen, "no established context");
		return false;
	}
	if (realm != NULL && realm[0] != '\0'
		    ? !strip_realm(g->principal, realm, name, sizeof(name), why, whylen)
		    : !map_aname(g->principal, name, sizeof(name), why, whylen))
		return false;
	int r = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
	if (found == NULL) {
		snprintf(why, whylen, r == 0 ? "principal %s maps to '%s', which is no local account"
					     : "principal %s maps to '%s': looking it up: %s",
			 g->principal, name, strerror(r));
		return false;
	}
	if (strlen(name) >= userlen) {
		snprintf(why, whylen, "principal %s maps to a name too long", g->principal);
		return false;
	}
	memcpy(user, name, strlen(name) + 1);
	return true;
}

bool gssauth_unwrap(struct gssauth *g, const uint8_t *in, size_t inlen, uint8_t *out,
		    size_t outcap, size_t *ret_len, bool *ret_conf, char *why, size_t whylen)
{
	OM_uint32 major, minor;
	gss_buffer_desc tok = { .length = inlen, .value = (void *)in };
	gss_buffer_desc plain = GSS_C_EMPTY_BUFFER;
	int conf = 0;
	bool ok = false;

	major = gss_unwrap(&minor, g->ctx, &tok, &plain, &conf, NULL);
	if (major != GSS_S_COMPLETE) {
		gssauth_status_str("gss_unwrap", major, minor, why, whylen);
		goto out;
	}
	if (plain.length > outcap) {
		snprintf(why, whylen, "gss_unwrap: %zu bytes of plaintext, at most %zu expected",
			 plain.length, outcap);
		goto out;
	}
	if (plain.length > 0)
		memcpy(out, plain.value, plain.length);
	*ret_len = plain.length;
	*ret_conf = conf != 0;
	ok = true;
out:
	(void)gss_release_buffer(&minor, &plain);
	return ok;
}

bool gssauth_wrap(struct gssauth *g, bool conf, const uint8_t *in, size_t inlen, uint8_t *out,
		  size_t outcap, size_t *ret_len, char *why, size_t whylen)
{
	OM_uint32 major, minor;
	gss_buffer_desc plain = { .length = inlen, .value = (void *)in };
	gss_buffer_desc tok = GSS_C_EMPTY_BUFFER;
	int conf_state = 0;
	bool ok = false;

	major = gss_wrap(&minor, g->ctx, conf, GSS_C_QOP_DEFAULT, &plain, &conf_state, &tok);
	if (GSS_ERROR(major)) {
		gssauth_status_str("gss_wrap", major, minor, why, whylen);
		goto out;
	}
	if ((conf && !conf_state) || tok.length > outcap) {
		snprintf(why, whylen, conf && !conf_state ? "gss_wrap: no confidentiality given"
							  : "gss_wrap: token too long");
		goto out;
	}
	memcpy(out, tok.value, tok.length);
	*ret_len = tok.length;
	ok = true;
out:
	(void)gss_release_buffer(&minor, &tok);
	return ok;
}
