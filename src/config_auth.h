/* The authentication settings of the configuration, beside config.c's option
 * table: the method list (methods, and auth, its older spelling) and the
 * GSSAPI protection levels. Parsing runs on a config being built. */
#ifndef SOCKSGATE_CONFIG_AUTH_H
#define SOCKSGATE_CONFIG_AUTH_H

#include <stddef.h>

#include "config.h"

/* Applies "key = value" for methods, auth or gssapi_protection to c, which
 * is not yet shared, replacing what was set before (config.c refuses a
 * second line in a file, counting auth and methods as one setting; the
 * command line replaces). Returns 0, or -EINVAL with the problem in err
 * (c unchanged). */
int config_auth_set(struct config *c, const char *key, const char *value, char *err,
		    size_t errlen);

/* Writes the gssapi_protection list ("none integrity confidentiality") into
 * buf; returns buf. */
const char *config_auth_protection_str(unsigned bits, char *buf, size_t len);

#endif
