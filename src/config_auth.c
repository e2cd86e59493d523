/* The authentication settings: the ordered method list ("methods", or the
 * older "auth = none|pam"), and the list of GSSAPI protection levels the
 * gateway accepts. Pure parsing into a config that is not yet shared. */
#include "autoconf.h"

#include "config_auth.h"

#include "gssproto.h"
#include "socks5.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	uint8_t code;
} methods[] = {
	{ "none", SOCKS5_METHOD_NONE },
	{ "gssapi", SOCKS5_METHOD_GSSAPI },
	{ "userpass", SOCKS5_METHOD_USERPASS },
};

static const char *const levels[] = {
	[GSSPROTO_LEVEL_NONE] = "none",
	[GSSPROTO_LEVEL_INTEGRITY] = "integrity",
	[GSSPROTO_LEVEL_CONFIDENTIALITY] = "confidentiality",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SEPARATORS " \t,"

const char *config_method_name(uint8_t method)
{
	for (size_t i = 0; i < N(methods); i++)
		if (methods[i].code == method)
			return methods[i].name;
	return "?";
}

bool config_has_method(const struct config *c, uint8_t method)
{
	return memchr(c->methods, method, c->nmethods) != NULL;
}

/* "methods = WORD..." in preference order, each once. */
static int set_methods(struct config *c, const char *value, char *err, size_t errlen)
{
	uint8_t list[CONFIG_METHODS_MAX];
	size_t n = 0;

	for (const char *p = value + strspn(value, SEPARATORS); *p != '\0';
	     p += strspn(p, SEPARATORS)) {
		size_t len = strcspn(p, SEPARATORS), i;
		for (i = 0; i < N(methods); i++)
			if (strlen(methods[i].name) == len && strncmp(p, methods[i].name, len) == 0)
				break;
		if (i == N(methods)) {
			snprintf(err, errlen, "methods: '%.*s' is not one of none, userpass, gssapi",
				 (int)len, p);
			return -EINVAL;
		}
		if (memchr(list, methods[i].code, n) != NULL) {
			snprintf(err, errlen, "methods: '%s' is listed twice", methods[i].name);
			return -EINVAL;
		}
		list[n++] = methods[i].code;
		p += len;
	}
	if (n == 0) {
		snprintf(err, errlen, "methods: no method listed");
		return -EINVAL;
	}
	memcpy(c->methods, list, n);
	c->nmethods = n;
	return 0;
}

/* "gssapi_protection = LEVEL..." (any order, each once). */
static int set_protection(struct config *c, const char *value, char *err, size_t errlen)
{
	unsigned bits = 0;

	for (const char *p = value + strspn(value, SEPARATORS); *p != '\0';
	     p += strspn(p, SEPARATORS)) {
		size_t len = strcspn(p, SEPARATORS), i;
		for (i = 0; i < N(levels); i++)
			if (strlen(levels[i]) == len && strncmp(p, levels[i], len) == 0)
				break;
		if (i == N(levels)) {
			snprintf(err, errlen, "gssapi_protection: '%.*s' is not one of none, "
				 "integrity, confidentiality", (int)len, p);
			return -EINVAL;
		}
		if (bits & CONFIG_PROTECTION(i)) {
			snprintf(err, errlen, "gssapi_protection: '%s' is listed twice", levels[i]);
			return -EINVAL;
		}
		bits |= CONFIG_PROTECTION(i);
		p += len;
	}
	if (bits == 0) {
		snprintf(err, errlen, "gssapi_protection: no level listed");
		return -EINVAL;
	}
	c->gssapi_protection = bits;
	return 0;
}

int config_auth_set(struct config *c, const char *key, const char *value, char *err,
		    size_t errlen)
{
	if (strcmp(key, "methods") == 0)
		return set_methods(c, value, err, errlen);
	if (strcmp(key, "gssapi_protection") == 0)
		return set_protection(c, value, err, errlen);
	/* auth = none | pam: the spelling before methods existed. */
	if (strcmp(value, "none") == 0 || strcmp(value, "pam") == 0) {
		c->methods[0] = value[0] == 'n' ? SOCKS5_METHOD_NONE : SOCKS5_METHOD_USERPASS;
		c->nmethods = 1;
		return 0;
	}
	snprintf(err, errlen, "auth: '%s' is not one of none, pam (see also methods)", value);
	return -EINVAL;
}

const char *config_auth_protection_str(unsigned bits, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N(levels); i++) {
		if (!(bits & CONFIG_PROTECTION(i)))
			continue;
		int n = snprintf(buf + at, len - at, "%s%s", at > 0 ? " " : "", levels[i]);
		if (n < 0 || (size_t)n >= len - at)
			break;
		at += (size_t)n;
	}
	return buf;
}
