/* Socket address helpers: parsing ADDR:PORT settings, printing addresses, and
 * the address/network type that rules match and that the quotas and the
 * login limiter key their tables by. Thread-safe; pure but for addr_socket(). */
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
/* Parses an IPv4 or IPv6 address without a port ("192.0.2.1", "2001:db8::1";
 * IPv4-mapped IPv6 becomes IPv4), port 0. Returns 0 and fills *ret, or
 * -EINVAL. */
int addr_parse_host(const char *s, struct addr *ret);
/* Parses a decimal port, 0..65535: digits only (leading zeros allowed), no
 * sign or space. Returns 0 and fills *ret, or -EINVAL. */
int addr_parse_port(const char *s, uint16_t *ret);

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
/* The size of a socket address of family: sizeof(struct sockaddr_in) for
 * AF_INET, sizeof(struct sockaddr_in6) for AF_INET6, 0 for any other. */
socklen_t addr_len(int family);
/* Sets a's port (host byte order); does nothing for non-IP families. */
void addr_set_port(struct addr *a, uint16_t port);
/* Opens socket(family, type, 0) non-blocking and close-on-exec; with v6only
 * and family AF_INET6 it also sets IPV6_V6ONLY (best effort), so the socket
 * never carries IPv4-mapped traffic. Returns the descriptor, which the
 * caller owns, or -errno. */
int addr_socket(int family, int type, bool v6only);

/* An IPv4 or IPv6 network; with the full prefix (/32, /128) a single address.
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) is always held as IPv4, so a client is
 * one key however a listener saw it. Every byte is defined (no padding, host
 * bits and unused bytes zero): equal networks are equal under memcmp() and
 * may be hashed bytewise. */
struct addr_net {
	int family;		/* AF_INET or AF_INET6 */
	unsigned prefix;	/* 0..32 or 0..128 */
	uint8_t addr[16];	/* network byte order; IPv4 in the first 4 bytes */
};

/* Parses "ADDR" or "ADDR/PREFIX" (IPv4 or IPv6). Host bits must be zero.
 * Returns 0 and fills *ret, or -EINVAL. */
int addr_net_parse(const char *s, struct addr_net *ret);
/* Parses a comma list of networks as addr_net_parse() takes them ("10.0.0.0/8,
 * 192.0.2.7"; blanks around entries allowed) and appends them to
 * nets[*n..max), adding to *n. Returns 0, -EINVAL with the first bad entry
 * copied to bad (cut to badlen), or -E2BIG when more than max in all; the
 * entries before the bad one are kept either way. */
int addr_net_parse_list(const char *s, struct addr_net *nets, size_t max, size_t *n, char *bad,
			size_t badlen);
/* The lookup key of an address: sets *ret to the single address of sa (/32 or
 * /128, IPv4-mapped as IPv4; the port is ignored). Returns false, *ret
 * untouched, for families other than AF_INET and AF_INET6. */
bool addr_net_from_sockaddr(const struct sockaddr *sa, struct addr_net *ret);
/* True when sa (IPv4-mapped IPv6 counts as IPv4) lies inside n. */
bool addr_net_contains(const struct addr_net *n, const struct sockaddr *sa);
/* True when the whole of inner lies inside outer (same family, prefix at least
 * as long, same leading bits); for a single address: inner is in outer. */
bool addr_net_within(const struct addr_net *inner, const struct addr_net *outer);
/* True when a and b are the same network (or address). */
bool addr_net_equal(const struct addr_net *a, const struct addr_net *b);
/* Writes "a.b.c.d/p", or the bare address for a single host; returns buf.
 * INET6_ADDRSTRLEN + 4 bytes always suffice. */
char *addr_net_format(const struct addr_net *n, char *buf, size_t len);

/* An IPv4 address that an IPv6 address carries inside it, and where. */
struct addr_embedded {
	uint8_t v4[4];		/* network byte order */
	unsigned prefix;	/* length of the IPv6 prefix that marks the form */
	unsigned start;		/* the IPv6 bit where the IPv4 address begins */
	bool skip_u;		/* RFC 6052: bits 64-71 (the "u" octet) lie between */
	bool one_of_several;	/* the form has several readings (64:ff9b:1::/48): the
				 * other readings' bits are this one's zero padding */
	const char *form;	/* "IPv4-compatible ::/96", "NAT64 64:ff9b::/96", ... */
};
/* Enough for every reading of one address (64:ff9b:1::/48 has four). */
#define ADDR_EMBEDDED_MAX 4

/* The IPv4 addresses an IPv6 address sa may stand for on a network that
 * routes the form: IPv4-compatible ::a.b.c.d (::/96 but :: and ::1), NAT64
 * 64:ff9b::/96 (the last 32 bits) and the local-use 64:ff9b:1::/48 (each
 * RFC 6052 position a subprefix of it may use: /48, /56, /64, /96), 6to4
 * 2002:AABB:CCDD::/48 and the Teredo server address (2001:0:AABB:CCDD::/64).
 * IPv4-mapped addresses are IPv4 already and are not listed. Writes up to
 * max readings to ret and returns how many (0 for IPv4, other IPv6 and other
 * families). Pure. */
size_t addr_embedded_ipv4(const struct sockaddr *sa, struct addr_embedded *ret, size_t max);

/* How long an IPv6 prefix must be to fix the first v4bits (0..32) bits of
 * e's IPv4 address: a network that contains the address and has at least
 * that prefix embeds only IPv4 addresses sharing those bits. v4bits 0 gives
 * the form's own prefix. */
unsigned addr_embedded_bits(const struct addr_embedded *e, unsigned v4bits);

/* e's IPv4 address as a socket address with port; ret is filled. */
void addr_embedded_sockaddr(const struct addr_embedded *e, uint16_t port, struct addr *ret);

#endif
