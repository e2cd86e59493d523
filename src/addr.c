/* Address helpers shared by the config parser, the listener and the session
 * log, and the address/network type (struct addr_net) with its parser,
 * matcher and formatter, used by the rules, the quotas and the limiter; and
 * the IPv4 addresses that IPv6 forms (NAT64, 6to4, ...) carry inside them. */
#include "autoconf.h"

#include "addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int addr_parse_port(const char *s, uint16_t *ret)
{
	unsigned v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
		if (v > 65535)
			return -EINVAL;
	}
	*ret = (uint16_t)v;
	return 0;
}

int addr_parse(const char *s, struct addr *ret)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	const char *hs;
	size_t hlen;
	uint16_t port;
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hlen = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		hs = s;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	if (addr_parse_port(colon + 1, &port) < 0)
		return -EINVAL;

	struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.ss;
	if (s[0] != '[' && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a.len = sizeof(*s4);
	} else if (s[0] == '[' && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a.len = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

int addr_parse_host(const char *s, struct addr *ret)
{
	struct addr a;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.ss;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		a.len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		a.len = sizeof(*s6);
		addr_unmap(&a);
	} else {
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

char *addr_host(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *src = NULL;

	if (sa->sa_family == AF_INET)
		src = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		src = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (src == NULL || inet_ntop(sa->sa_family, src, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

uint16_t addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

char *addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[ADDR_HOSTLEN];

	addr_host(sa, host, sizeof(host));
	snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
		 addr_port(sa));
	return buf;
}

bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}

void addr_set(struct addr *ret, const struct sockaddr *sa, socklen_t len)
{
	memset(ret, 0, sizeof(*ret));
	if (len > sizeof(ret->ss))
		len = sizeof(ret->ss);
	memcpy(&ret->ss, sa, len);
	ret->len = len;
}

socklen_t addr_len(int family)
{
	if (family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

void addr_set_port(struct addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

int addr_socket(int family, int type, bool v6only)
{
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (v6only && family == AF_INET6) {
		int one = 1;
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	return fd;
}

void addr_unmap(struct addr *a)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
	struct sockaddr_in s4;

	if (a->ss.ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	addr_set(a, (const struct sockaddr *)&s4, sizeof(s4));
}

bool addr_same(const struct sockaddr *a, const struct sockaddr *b, bool with_port)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (with_port && addr_port(a) != addr_port(b))
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
		return IN6_ARE_ADDR_EQUAL(&x->sin6_addr, &y->sin6_addr) &&
		       x->sin6_scope_id == y->sin6_scope_id;
	}
	return false;
}

bool addr_is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

/* ---- networks ---- */

_Static_assert(sizeof(struct addr_net) == 2 * sizeof(int) + 16,
	       "struct addr_net must have no padding: it is compared and hashed bytewise");

static const uint8_t v4mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool addr_net_from_sockaddr(const struct sockaddr *sa, struct addr_net *ret)
{
	struct addr_net n;

	memset(&n, 0, sizeof(n));
	if (sa->sa_family == AF_INET) {
		memcpy(n.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		n.family = AF_INET;
		n.prefix = 32;
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, v4mapped_prefix, 12) == 0) {
			memcpy(n.addr, a + 12, 4);
			n.family = AF_INET;
			n.prefix = 32;
		} else {
			memcpy(n.addr, a, 16);
			n.family = AF_INET6;
			n.prefix = 128;
		}
	} else {
		return false;
	}
	*ret = n;
	return true;
}

bool addr_net_within(const struct addr_net *inner, const struct addr_net *outer)
{
	return inner->family == outer->family && inner->prefix >= outer->prefix &&
	       prefix_equal(inner->addr, outer->addr, outer->prefix);
}

int addr_net_parse_list(const char *s, struct addr_net *nets, size_t max, size_t *n, char *bad,
			size_t badlen)
{
	char item[INET6_ADDRSTRLEN + 8];

	while (*s != '\0') {
		size_t len = strcspn(s, ",");
		const char *p = s, *next = s[len] == ',' ? s + len + 1 : s + len;
		while (len > 0 && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (*n == max)
			return -E2BIG;
		snprintf(item, sizeof(item), "%.*s", (int)len, p);
		if (len >= sizeof(item) || addr_net_parse(item, &nets[*n]) < 0) {
			snprintf(bad, badlen, "%.*s", (int)len, p);
			return -EINVAL;
		}
		(*n)++;
		s = next;
	}
	return 0;
}

bool addr_net_contains(const struct addr_net *n, const struct sockaddr *sa)
{
	struct addr_net a;
	return addr_net_from_sockaddr(sa, &a) && addr_net_within(&a, n);
}

bool addr_net_equal(const struct addr_net *a, const struct addr_net *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

int addr_net_parse(const char *s, struct addr_net *ret)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct addr_net n;
	unsigned max;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	memset(&n, 0, sizeof(n));
	char *slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, n.addr) == 1) {
		n.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, n.addr) == 1) {
		n.family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	n.prefix = max;
	if (slash != NULL) {
		const char *p = slash + 1;
		if (!isdigit((unsigned char)p[0]) || strlen(p) > 3 ||
		    strspn(p, "0123456789") != strlen(p))
			return -EINVAL;
		n.prefix = (unsigned)atoi(p);
		if (n.prefix > max)
			return -EINVAL;
	}
	/* ::ffff:a.b.c.d/104 is the IPv4 network a.b.c.d/8. */
	if (n.family == AF_INET6 && n.prefix >= 96 && memcmp(n.addr, v4mapped_prefix, 12) == 0) {
		memmove(n.addr, n.addr + 12, 4);
		memset(n.addr + 4, 0, 12);
		n.family = AF_INET;
		n.prefix -= 96;
	}
	/* Host bits set is a typo more often than not: say so. */
	struct addr_net masked = n;
	unsigned bytes = n.prefix / 8;
	if (bytes < 16) {
		masked.addr[bytes] &= (uint8_t)(n.prefix % 8 ? 0xff << (8 - n.prefix % 8) : 0);
		memset(masked.addr + bytes + 1, 0, 16 - bytes - 1);
	}
	if (memcmp(masked.addr, n.addr, 16) != 0)
		return -EINVAL;
	*ret = n;
	return 0;
}

char *addr_net_format(const struct addr_net *n, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(n->family, n->addr, a, sizeof(a));
	if (n->prefix == (n->family == AF_INET ? 32u : 128u))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, n->prefix);
	return buf;
}

/* ---- IPv4 inside IPv6 ---- */

/* The IPv6 bit that holds bit k (0 = most significant) of e's IPv4 address. */
static unsigned embedded_pos(const struct addr_embedded *e, unsigned k)
{
	unsigned pos = e->start + k;
	return e->skip_u && pos >= 64 ? pos + 8 : pos;
}

static void embedded_read(const uint8_t *a6, struct addr_embedded *e)
{
	memset(e->v4, 0, sizeof(e->v4));
	for (unsigned k = 0; k < 32; k++) {
		unsigned pos = embedded_pos(e, k);
		if (a6[pos / 8] & (0x80u >> (pos % 8)))
			e->v4[k / 8] |= (uint8_t)(0x80u >> (k % 8));
	}
}

size_t addr_embedded_ipv4(const struct sockaddr *sa, struct addr_embedded *ret, size_t max)
{
	static const uint8_t zero[12], nat64[12] = { 0, 0x64, 0xff, 0x9b },
			     local[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 }, teredo[4] = { 0x20, 0x01 };
	static const struct {
		unsigned prefix, start;
		bool skip_u;
		const char *form;
	} local_forms[] = {
		{ 48, 48, true, "NAT64 64:ff9b:1::/48 (at /48)" },
		{ 48, 56, true, "NAT64 64:ff9b:1::/48 (at /56)" },
		{ 48, 64, true, "NAT64 64:ff9b:1::/48 (at /64)" },
		{ 48, 96, false, "NAT64 64:ff9b:1::/48 (at /96)" },
	};
	struct addr_embedded e[ADDR_EMBEDDED_MAX];
	size_t n = 0;

	if (sa->sa_family != AF_INET6)
		return 0;
	const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, zero, 12) == 0 && memcmp(a + 12, "\0\0\0", 3) == 0 && a[15] <= 1)
		return 0;	/* :: and ::1 are themselves */
	if (memcmp(a, zero, 12) == 0)
		e[n++] = (struct addr_embedded){ .prefix = 96, .start = 96,
						 .form = "IPv4-compatible ::/96" };
	else if (memcmp(a, nat64, 12) == 0)
		e[n++] = (struct addr_embedded){ .prefix = 96, .start = 96,
						 .form = "NAT64 64:ff9b::/96" };
	else if (memcmp(a, local, 6) == 0)
		for (size_t i = 0; i < sizeof(local_forms) / sizeof(local_forms[0]); i++)
			e[n++] = (struct addr_embedded){ .prefix = local_forms[i].prefix,
							 .start = local_forms[i].start,
							 .skip_u = local_forms[i].skip_u,
							 .one_of_several = true,
							 .form = local_forms[i].form };
	else if (a[0] == 0x20 && a[1] == 0x02)
		e[n++] = (struct addr_embedded){ .prefix = 16, .start = 16,
						 .form = "6to4 2002::/16" };
	else if (memcmp(a, teredo, 4) == 0)
		e[n++] = (struct addr_embedded){ .prefix = 32, .start = 32,
						 .form = "Teredo 2001::/32 (server)" };
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		embedded_read(a, &e[i]);
		ret[i] = e[i];
	}
	return n;
}

unsigned addr_embedded_bits(const struct addr_embedded *e, unsigned v4bits)
{
	if (v4bits == 0)
		return e->prefix;
	if (v4bits > 32)
		v4bits = 32;
	unsigned need = embedded_pos(e, v4bits - 1) + 1;
	return need > e->prefix ? need : e->prefix;
}

void addr_embedded_sockaddr(const struct addr_embedded *e, uint16_t port, struct addr *ret)
{
	struct sockaddr_in s4;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = htons(port);
	memcpy(&s4.sin_addr, e->v4, 4);
	addr_set(ret, (const struct sockaddr *)&s4, sizeof(s4));
}
