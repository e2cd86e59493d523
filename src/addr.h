/* Socket address helpers: parsing ADDR:PORT settings and printing addresses.
 * Pure and thread-safe. */
#ifndef SOCKSGATE_ADDR_H
#define SOCKSGATE_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address with its length, as the socket calls want it. */
struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* "[ffff:...:ffff]:65535" plus NUL. */
#define ADDR_STRLEN 56
#define ADDR_HOSTLEN 48

/* Parses "a.b.c.d:PORT" or "[v6]:PORT" (numeric only, port 0..65535).
 * Returns 0 and fills *ret, or -EINVAL. */
int addr_parse(const char *s, struct addr *ret);

/* Formats sa as "host:port" or "[host]:port"; returns buf. */
char *addr_str(const struct sockaddr *sa, char *buf, size_t len);
/* Host part only, without brackets; returns buf. */
char *addr_host(const struct sockaddr *sa, char *buf, size_t len);
/* Port in host byte order, 0 for non-IP families. */
uint16_t addr_port(const struct sockaddr *sa);
/* True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
bool addr_is_loopback(const struct sockaddr *sa);
/* Turns an IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack
 * listener reports for IPv4 clients) into the plain IPv4 address, port kept;
 * anything else is left as it is. */
void addr_unmap(struct addr *a);
/* True when a and b are the same IP address (same family; IPv6 scope ids are
 * compared too), and, when with_port, the same port. */
bool addr_same(const struct sockaddr *a, const struct sockaddr *b, bool with_port);
/* True for 0.0.0.0 and :: (the "any address" a client may name). */
bool addr_is_any(const struct sockaddr *sa);
/* Fills ret with sa (IPv4 or IPv6). */
void addr_set(struct addr *ret, const struct sockaddr *sa, socklen_t len);

#endif
