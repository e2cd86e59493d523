/* The address settings of the configuration, beside config.c's option
 * table: listen (each address optionally followed by "proxy"), proxy_from,
 * proxy_listen, external_address and outgoing_address (the source of outgoing
 * connections), all comma-separated lists; what the
 * daemon asks of them at accept time and in replies; and their -t lines.
 * Parsing runs on a config being built; the questions on a shared one. */
#ifndef SOCKSGATE_CONFIG_ADDR_H
#define SOCKSGATE_CONFIG_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "config.h"

/* Applies "key = value" for one of those keys to c, which is not yet shared:
 * listen and proxy_from and proxy_listen add to their lists (config.c resets
 * the listen list where a new one replaces the default or the file's),
 * external_address and outgoing_address replace what an earlier line set. Returns 0, or -EINVAL
 * with the problem in err (items before the bad one may have been added). */
int config_addr_set(struct config *c, const char *key, const char *value, char *err,
		    size_t errlen);

/* True when a listen entry of c says "proxy". */
bool config_addr_proxy_listener(const struct config *c);

/* Does a listening socket bound to local expect a PROXY protocol header?
 * Sockets passed by systemd (passed true) do when local is one of
 * proxy_listen; sockets bound from the config when the listen entry for
 * local said "proxy". Cheap, no allocation: safe on the acceptor thread. */
bool config_addr_proxy_socket(const struct config *c, const struct sockaddr *local, bool passed);

/* May peer, a connection's address on such a socket, send the header (is it
 * inside one of proxy_from)? */
bool config_addr_proxy_trusted(const struct config *c, const struct sockaddr *peer);

/* The external_address of sa's family (its port 0), or NULL when none is set
 * for that family. */
const struct addr *config_addr_external(const struct config *c, const struct sockaddr *sa);

/* Writes the listen lines and the other address settings in file syntax,
 * an unset one as "# key: why" (config_dump's convention). */
void config_addr_dump(const struct config *c, FILE *out);

#endif
