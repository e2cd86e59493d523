/* Unit tests for the address helpers: parsing ADDR:PORT settings, printing
 * them back, telling loopback addresses apart, and the address/network type
 * (parsing, CIDR matching, lookup keys), and the IPv4 addresses inside IPv6
 * forms. Pure: no sockets. */
#include "autoconf.h"

#include "addr.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>


static const struct sockaddr *sa_of(const struct addr *a)
{
	return (const struct sockaddr *)&a->ss;
}

static struct sockaddr_in sin4(const char *host, uint16_t port)
{
	struct sockaddr_in s;
	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(port);
	CU_ASSERT_FATAL(inet_pton(AF_INET, host, &s.sin_addr) == 1);
	return s;
}

static struct sockaddr_in6 sin6(const char *host, uint16_t port)
{
	struct sockaddr_in6 s;
	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons(port);
	CU_ASSERT_FATAL(inet_pton(AF_INET6, host, &s.sin6_addr) == 1);
	return s;
}

static void test_parse_ipv4(void)
{
	struct addr a;

	memset(&a, 0x5a, sizeof(a));
	CHECK_INT(addr_parse("127.0.0.1:1080", &a), 0);
	CHECK_INT(a.ss.ss_family, AF_INET);
	CHECK_INT(a.len, sizeof(struct sockaddr_in));
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a.ss;
	CHECK_INT(ntohs(s4->sin_port), 1080);
	CHECK_INT(ntohl(s4->sin_addr.s_addr), 0x7f000001);
	/* Whatever was in *ret before is gone: the struct is filled anew. */
	CHECK(memcmp(s4->sin_zero, "\0\0\0\0\0\0\0\0", 8) == 0, "sin_zero not cleared");

	CHECK_INT(addr_parse("0.0.0.0:0", &a), 0);
	CHECK_INT(addr_port(sa_of(&a)), 0);
	CHECK_INT(addr_parse("255.255.255.255:65535", &a), 0);
	CHECK_INT(addr_port(sa_of(&a)), 65535);
	CHECK_INT(ntohl(((const struct sockaddr_in *)&a.ss)->sin_addr.s_addr), 0xffffffffu);
}

static void test_parse_ipv6(void)
{
	struct addr a;
	struct in6_addr want;

	memset(&a, 0x5a, sizeof(a));
	CHECK_INT(addr_parse("[::1]:443", &a), 0);
	CHECK_INT(a.ss.ss_family, AF_INET6);
	CHECK_INT(a.len, sizeof(struct sockaddr_in6));
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a.ss;
	CHECK_INT(ntohs(s6->sin6_port), 443);
	CHECK(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr), "not ::1");
	CHECK_INT(s6->sin6_scope_id, 0);
	CHECK_INT(s6->sin6_flowinfo, 0);

	CHECK_INT(addr_parse("[2001:db8::1:2]:65535", &a), 0);
	CU_ASSERT_FATAL(inet_pton(AF_INET6, "2001:db8::1:2", &want) == 1);
	CHECK(memcmp(&s6->sin6_addr, &want, 16) == 0, "2001:db8::1:2 parsed wrong");
	CHECK_INT(addr_port(sa_of(&a)), 65535);

	CHECK_INT(addr_parse("[::]:0", &a), 0);
	CHECK_INT(a.ss.ss_family, AF_INET6);
	CHECK_INT(addr_parse("[::ffff:127.0.0.1]:80", &a), 0);
	CHECK_INT(a.ss.ss_family, AF_INET6);
}

static void test_parse_errors(void)
{
	static const char *const bad[] = {
		"",
		":",
		":80",
		"127.0.0.1",		/* missing port */
		"127.0.0.1:",
		"[::1]",
		"[::1]:",
		"[::1]80",
		"[::1",
		"::1:80",		/* IPv6 needs brackets */
		"[]:80",
		"[127.0.0.1]:80",	/* brackets are for IPv6 */
		"127.0.0.1:65536",	/* port out of range */
		"127.0.0.1:99999",
		"127.0.0.1:4294967376",	/* 65536 + 2^32: no wrap-around */
		"127.0.0.1:99999999999999999999999",
		"127.0.0.1:-1",
		"127.0.0.1:+80",
		"127.0.0.1: 80",
		"127.0.0.1:80 ",
		"127.0.0.1:80x",
		"127.0.0.1:0x50",
		" 127.0.0.1:80",
		"256.0.0.1:80",		/* bad hosts */
		"1.2.3:80",
		"1.2.3.4.5:80",
		"1.2.3.4:80:90",
		"[::g]:80",
		"[1:2:3:4:5:6:7:8:9]:80",
		"localhost:80",		/* names are not resolved */
		"example.com:1080",
		"*:1080",
		"[2001:db8::1]:65536",
		"[0000:0000:0000:0000:0000:0000:0000:0000:0000]:1",	/* longer than any address */
	};
	struct addr a, poison;

	memset(&poison, 0x5a, sizeof(poison));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = poison;
		int r = addr_parse(bad[i], &a);
		CHECK(r == -EINVAL, "\"%s\": returned %d, expected -EINVAL", bad[i], r);
		CHECK(memcmp(&a, &poison, sizeof(a)) == 0, "\"%s\": *ret written on error", bad[i]);
	}
}

static void test_round_trip(void)
{
	static const struct {
		const char *in, *out, *host;
		uint16_t port;
	} cases[] = {
		{ "127.0.0.1:1080", "127.0.0.1:1080", "127.0.0.1", 1080 },
		{ "10.20.30.40:0", "10.20.30.40:0", "10.20.30.40", 0 },
		{ "255.255.255.255:65535", "255.255.255.255:65535", "255.255.255.255", 65535 },
		{ "[::1]:443", "[::1]:443", "::1", 443 },
		{ "[::]:1", "[::]:1", "::", 1 },
		{ "[2001:0db8:0000:0000:0000:0000:0000:0001]:8080", "[2001:db8::1]:8080",
		  "2001:db8::1", 8080 },
		{ "[FE80::A:B]:22", "[fe80::a:b]:22", "fe80::a:b", 22 },
		{ "[::ffff:192.0.2.1]:53", "[::ffff:192.0.2.1]:53", "::ffff:192.0.2.1", 53 },
		{ "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535 },
	};
	char buf[ADDR_STRLEN], host[ADDR_HOSTLEN];
	struct addr a;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = addr_parse(cases[i].in, &a);
		CHECK(r == 0, "\"%s\": returned %d", cases[i].in, r);
		if (r != 0)
			continue;
		CHECK(addr_str(sa_of(&a), buf, sizeof(buf)) == buf, "addr_str does not return buf");
		CHECK_STR(buf, cases[i].out);
		CHECK(addr_host(sa_of(&a), host, sizeof(host)) == host, "addr_host: not buf");
		CHECK_STR(host, cases[i].host);
		CHECK_INT(addr_port(sa_of(&a)), cases[i].port);

		/* The printed form parses back to the same address. */
		struct addr b;
		CHECK(addr_parse(buf, &b) == 0, "\"%s\" does not parse back", buf);
		CHECK(a.len == b.len && memcmp(&a.ss, &b.ss, a.len) == 0, "\"%s\" differs", buf);
	}

	/* The longest text fits ADDR_STRLEN. */
	CHECK(strlen("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535") < ADDR_STRLEN,
	      "ADDR_STRLEN too small");
	struct sockaddr_in6 s6 = sin6("::ffff:255.255.255.255", 65535);
	CHECK_STR(addr_str((struct sockaddr *)&s6, buf, sizeof(buf)),
		  "[::ffff:255.255.255.255]:65535");

	/* Cut short, but terminated. */
	char small[6];
	struct sockaddr_in s4 = sin4("192.168.100.200", 1234);
	addr_str((struct sockaddr *)&s4, small, sizeof(small));
	CHECK_STR(small, "192.1");

	/* Other families. */
	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	strcpy(su.sun_path, "/run/x");
	CHECK_INT(addr_port((struct sockaddr *)&su), 0);
	CHECK_STR(addr_host((struct sockaddr *)&su, host, sizeof(host)), "?");
	CHECK_STR(addr_str((struct sockaddr *)&su, buf, sizeof(buf)), "?:0");
}

static void test_loopback(void)
{
	static const struct {
		const char *host;
		bool loopback;
	} v4[] = {
		{ "127.0.0.1", true },	 { "127.0.0.0", true },	    { "127.255.255.255", true },
		{ "127.1.2.3", true },	 { "126.255.255.255", false }, { "128.0.0.1", false },
		{ "0.0.0.0", false },	 { "10.0.0.1", false },	    { "192.168.1.127", false },
		{ "255.255.255.255", false },
	}, v6[] = {
		{ "::1", true },
		{ "::ffff:127.0.0.1", true },
		{ "::ffff:127.200.0.9", true },
		{ "::", false },
		{ "::2", false },
		{ "::ffff:10.0.0.1", false },
		{ "::ffff:128.0.0.1", false },
		{ "::127.0.0.1", false },	/* IPv4-compatible, not mapped */
		{ "fe80::1", false },
		{ "2001:db8::1", false },
		{ "::1:0:0:1", false },
	};

	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		struct sockaddr_in s = sin4(v4[i].host, 80);
		CHECK(addr_is_loopback((struct sockaddr *)&s) == v4[i].loopback, "%s: %s", v4[i].host,
		      v4[i].loopback ? "not loopback" : "loopback");
	}
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		struct sockaddr_in6 s = sin6(v6[i].host, 80);
		CHECK(addr_is_loopback((struct sockaddr *)&s) == v6[i].loopback, "%s: %s", v6[i].host,
		      v6[i].loopback ? "not loopback" : "loopback");
	}
	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	CHECK(!addr_is_loopback((struct sockaddr *)&su), "AF_UNIX is loopback");

	/* Through addr_parse, as the config uses it. */
	struct addr a;
	CHECK_INT(addr_parse("127.0.0.1:1", &a), 0);
	CHECK(addr_is_loopback(sa_of(&a)), "parsed 127.0.0.1");
	CHECK_INT(addr_parse("[::1]:1", &a), 0);
	CHECK(addr_is_loopback(sa_of(&a)), "parsed ::1");
	CHECK_INT(addr_parse("0.0.0.0:1", &a), 0);
	CHECK(!addr_is_loopback(sa_of(&a)), "parsed 0.0.0.0");
}

static void test_set(void)
{
	struct addr a;
	struct sockaddr_in s4 = sin4("192.0.2.9", 99);
	struct sockaddr_in6 s6 = sin6("2001:db8::9", 100);
	char buf[ADDR_STRLEN];

	memset(&a, 0x5a, sizeof(a));
	addr_set(&a, (struct sockaddr *)&s4, sizeof(s4));
	CHECK_INT(a.len, sizeof(s4));
	CHECK(memcmp(&a.ss, &s4, sizeof(s4)) == 0, "IPv4 copy differs");
	CHECK_STR(addr_str(sa_of(&a), buf, sizeof(buf)), "192.0.2.9:99");

	addr_set(&a, (struct sockaddr *)&s6, sizeof(s6));
	CHECK_INT(a.len, sizeof(s6));
	CHECK_STR(addr_str(sa_of(&a), buf, sizeof(buf)), "[2001:db8::9]:100");

	/* A length beyond the storage is clipped, never copied past it. */
	struct {
		struct sockaddr_in6 s;
		char pad[sizeof(struct sockaddr_storage)];
	} big;
	memset(&big, 0, sizeof(big));
	big.s = s6;
	addr_set(&a, (struct sockaddr *)&big, (socklen_t)sizeof(big));
	CHECK_INT(a.len, sizeof(a.ss));
}

static void test_unmap_same_any(void)
{
	struct addr a, b;
	char buf[ADDR_STRLEN];

	/* A dual-stack listener's view of an IPv4 client becomes plain IPv4. */
	CHECK_INT(addr_parse("[::ffff:192.0.2.1]:53", &a), 0);
	addr_unmap(&a);
	CHECK_INT(a.ss.ss_family, AF_INET);
	CHECK_INT(a.len, sizeof(struct sockaddr_in));
	CHECK_STR(addr_str(sa_of(&a), buf, sizeof(buf)), "192.0.2.1:53");
	/* Everything else stays. */
	static const char *const keep[] = { "[::1]:5", "[::192.0.2.1]:6", "[2001:db8::1]:7",
					    "10.0.0.1:8" };
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		CHECK_INT(addr_parse(keep[i], &a), 0);
		b = a;
		addr_unmap(&a);
		CHECK(a.len == b.len && memcmp(&a.ss, &b.ss, a.len) == 0, "%s changed", keep[i]);
	}

	CHECK_INT(addr_parse("127.0.0.1:1", &a), 0);
	CHECK_INT(addr_parse("127.0.0.1:2", &b), 0);
	CHECK(addr_same(sa_of(&a), sa_of(&b), false), "same IPv4 host");
	CHECK(!addr_same(sa_of(&a), sa_of(&b), true), "different ports compared equal");
	CHECK_INT(addr_parse("127.0.0.2:1", &b), 0);
	CHECK(!addr_same(sa_of(&a), sa_of(&b), false), "127.0.0.1 equals 127.0.0.2");
	CHECK_INT(addr_parse("[::ffff:127.0.0.1]:1", &b), 0);
	CHECK(!addr_same(sa_of(&a), sa_of(&b), false), "families differ yet equal");
	CHECK_INT(addr_parse("[::1]:9", &a), 0);
	CHECK_INT(addr_parse("[::1]:9", &b), 0);
	CHECK(addr_same(sa_of(&a), sa_of(&b), true), "same IPv6 address and port");
	((struct sockaddr_in6 *)&b.ss)->sin6_scope_id = 3;
	CHECK(!addr_same(sa_of(&a), sa_of(&b), true), "scope ids differ yet equal");

	CHECK_INT(addr_parse("0.0.0.0:0", &a), 0);
	CHECK(addr_is_any(sa_of(&a)), "0.0.0.0");
	CHECK_INT(addr_parse("[::]:7", &a), 0);
	CHECK(addr_is_any(sa_of(&a)), "::");
	CHECK_INT(addr_parse("0.0.0.1:0", &a), 0);
	CHECK(!addr_is_any(sa_of(&a)), "0.0.0.1");
	CHECK_INT(addr_parse("[::1]:0", &a), 0);
	CHECK(!addr_is_any(sa_of(&a)), "::1");
}

static void test_port_len_set_port(void)
{
	static const struct {
		const char *in;
		uint16_t port;
	} good[] = { { "0", 0 }, { "1", 1 }, { "1080", 1080 }, { "65535", 65535 },
		     { "00080", 80 }, { "0000000000000443", 443 } };
	static const char *const bad[] = {
		"", "65536", "99999", "4294967376", "99999999999999999999999", "-1", "+1",
		" 1", "1 ", "0x10", "1e3", "80a", "\xd9\xa0",
	};
	uint16_t p;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p = 1234;
		int r = addr_parse_port(good[i].in, &p);
		CHECK(r == 0 && p == good[i].port, "\"%s\": returned %d, port %u, expected %u",
		      good[i].in, r, p, good[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = 1234;
		int r = addr_parse_port(bad[i], &p);
		CHECK(r == -EINVAL, "\"%s\": returned %d, expected -EINVAL", bad[i], r);
		CHECK_INT(p, 1234);
	}

	CHECK_INT(addr_len(AF_INET), sizeof(struct sockaddr_in));
	CHECK_INT(addr_len(AF_INET6), sizeof(struct sockaddr_in6));
	CHECK_INT(addr_len(AF_UNIX), 0);
	CHECK_INT(addr_len(AF_UNSPEC), 0);

	struct addr a, b;
	char buf[ADDR_STRLEN];
	CHECK_INT(addr_parse("192.0.2.1:53", &a), 0);
	addr_set_port(&a, 65535);
	CHECK_STR(addr_str(sa_of(&a), buf, sizeof(buf)), "192.0.2.1:65535");
	CHECK_INT(a.len, sizeof(struct sockaddr_in));
	CHECK_INT(addr_parse("[2001:db8::1]:53", &a), 0);
	((struct sockaddr_in6 *)&a.ss)->sin6_scope_id = 7;
	b = a;
	addr_set_port(&a, 0);
	CHECK_STR(addr_str(sa_of(&a), buf, sizeof(buf)), "[2001:db8::1]:0");
	CHECK(addr_same(sa_of(&a), sa_of(&b), false), "address or scope changed");
	/* Other families are left as they are. */
	memset(&a, 0x5a, sizeof(a));
	a.ss.ss_family = AF_UNIX;
	b = a;
	addr_set_port(&a, 80);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0, "AF_UNIX address changed");
}

/* ---- networks ---- */

static struct sockaddr_storage ip_buf[4];
static unsigned ip_next;

/* A sockaddr for a numeric IPv4 or IPv6 address; valid for the next 3 calls. */
static const struct sockaddr *ip(const char *host, uint16_t port)
{
	struct sockaddr_storage *ss = &ip_buf[ip_next++ % 4];
	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':') == NULL)
		*(struct sockaddr_in *)ss = sin4(host, port);
	else
		*(struct sockaddr_in6 *)ss = sin6(host, port);
	return (const struct sockaddr *)ss;
}

static void test_net_parse(void)
{
	struct addr_net n;
	char buf[64];

	CHECK_INT(addr_net_parse("10.0.0.0/8", &n), 0);
	CHECK_INT(n.family, AF_INET);
	CHECK_INT(n.prefix, 8);
	CHECK_STR(addr_net_format(&n, buf, sizeof(buf)), "10.0.0.0/8");
	CHECK_INT(addr_net_parse("0.0.0.0/0", &n), 0);
	CHECK_INT(n.prefix, 0);
	CHECK_INT(addr_net_parse("fe80::/10", &n), 0);
	CHECK_INT(n.family, AF_INET6);
	CHECK_INT(addr_net_parse("::/0", &n), 0);
	CHECK_INT(addr_net_parse("10.1.0.0/15", &n), -EINVAL);
	CHECK_INT(addr_net_parse("10.0.0.0/", &n), -EINVAL);
	CHECK_INT(addr_net_parse("", &n), -EINVAL);
	CHECK_INT(addr_net_parse("::ffff:127.0.0.1", &n), 0);
	CHECK_INT(n.family, AF_INET);
	CHECK_STR(addr_net_format(&n, buf, sizeof(buf)), "127.0.0.1");

	/* More refusals; *ret is left alone on each. */
	static const char *const bad[] = {
		"10.0.0.0/33", "::/129", "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/0008",
		"10.0.0.1/8", "2001:db8::1/32", "localhost", "10.0.0.0 /8", "/8",
		"[::1]", "10.0.0.0/-1",
	};
	struct addr_net poison;
	memset(&poison, 0x5a, sizeof(poison));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = poison;
		int r = addr_net_parse(bad[i], &n);
		CHECK(r == -EINVAL, "\"%s\": returned %d, expected -EINVAL", bad[i], r);
		CHECK(memcmp(&n, &poison, sizeof(n)) == 0, "\"%s\": *ret written on error", bad[i]);
	}
	/* An IPv4-mapped network is the IPv4 network; the longest text fits. */
	CHECK_INT(addr_net_parse("::ffff:10.0.0.0/104", &n), 0);
	CHECK_STR(addr_net_format(&n, buf, sizeof(buf)), "10.0.0.0/8");
	CHECK_INT(addr_net_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124", &n), 0);
	char exact[INET6_ADDRSTRLEN + 4];
	CHECK_STR(addr_net_format(&n, exact, sizeof(exact)),
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124");
}

static void test_cidr_match(void)
{
	struct addr_net n;

	CU_ASSERT_FATAL(addr_net_parse("10.0.0.0/8", &n) == 0);
	CHECK(addr_net_contains(&n, ip("10.255.1.2", 1)), "10.255.1.2 in 10/8");
	CHECK(!addr_net_contains(&n, ip("11.0.0.1", 1)), "11.0.0.1 in 10/8");
	CHECK(addr_net_contains(&n, ip("::ffff:10.1.2.3", 1)), "::ffff:10.1.2.3 in 10/8");
	CHECK(!addr_net_contains(&n, ip("::a01:203", 1)), "::a01:203 in 10/8");
	CU_ASSERT_FATAL(addr_net_parse("192.168.4.0/22", &n) == 0);
	CHECK(addr_net_contains(&n, ip("192.168.7.255", 1)), "192.168.7.255 in /22");
	CHECK(!addr_net_contains(&n, ip("192.168.8.0", 1)), "192.168.8.0 in /22");
	CHECK(!addr_net_contains(&n, ip("192.168.3.255", 1)), "192.168.3.255 in /22");
	CU_ASSERT_FATAL(addr_net_parse("2001:db8:40::/42", &n) == 0);
	CHECK(addr_net_contains(&n, ip("2001:db8:7f:ffff::1", 1)), "2001:db8:7f:ffff::1 in /42");
	CHECK(!addr_net_contains(&n, ip("2001:db8:80::1", 1)), "2001:db8:80::1 in /42");
	CU_ASSERT_FATAL(addr_net_parse("0.0.0.0/0", &n) == 0);
	CHECK(addr_net_contains(&n, ip("203.0.113.9", 1)), "203.0.113.9 in 0/0");
	CHECK(!addr_net_contains(&n, ip("2001:db8::1", 1)), "2001:db8::1 in 0/0");
	CU_ASSERT_FATAL(addr_net_parse("::/0", &n) == 0);
	CHECK(addr_net_contains(&n, ip("2001:db8::1", 1)), "2001:db8::1 in ::/0");
	CHECK(!addr_net_contains(&n, ip("203.0.113.9", 1)), "203.0.113.9 in ::/0");

	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	CHECK(!addr_net_contains(&n, (struct sockaddr *)&su), "AF_UNIX in ::/0");
}

static void test_net_within(void)
{
	static const struct {
		const char *inner, *outer;
		bool within;
	} cases[] = {
		{ "10.1.0.0/16", "10.0.0.0/8", true },
		{ "10.0.0.0/8", "10.0.0.0/8", true },
		{ "10.0.0.0/8", "10.1.0.0/16", false },
		{ "10.0.0.0/7", "10.0.0.0/8", false },
		{ "11.0.0.0/8", "10.0.0.0/8", false },
		{ "10.255.255.255", "10.0.0.0/8", true },
		{ "127.0.0.1", "0.0.0.0/0", true },
		{ "::1", "0.0.0.0/0", false },
		{ "10.0.0.0/8", "::/0", false },
		{ "2001:db8:1::/48", "2001:db8::/32", true },
		{ "2001:db9::/32", "2001:db8::/31", true },
		{ "2001:dba::/32", "2001:db8::/31", false },
		{ "::ffff:10.0.0.0/104", "10.0.0.0/8", true },
	};
	struct addr_net a, b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_FATAL(addr_net_parse(cases[i].inner, &a) == 0);
		CU_ASSERT_FATAL(addr_net_parse(cases[i].outer, &b) == 0);
		CHECK(addr_net_within(&a, &b) == cases[i].within, "%s within %s: expected %s",
		      cases[i].inner, cases[i].outer, cases[i].within ? "yes" : "no");
	}
}

/* The lookup key: one address, one key, however it is written or seen. */
static void test_net_key(void)
{
	struct addr_net a, b, poison;
	char buf[64];

	CHECK(addr_net_from_sockaddr(ip("192.0.2.7", 1), &a), "IPv4 refused");
	CHECK_INT(a.family, AF_INET);
	CHECK_INT(a.prefix, 32);
	CHECK_STR(addr_net_format(&a, buf, sizeof(buf)), "192.0.2.7");
	/* The port does not count; the IPv4-mapped form is the same key. */
	CHECK(addr_net_from_sockaddr(ip("::ffff:192.0.2.7", 9), &b), "mapped refused");
	CHECK(addr_net_equal(&a, &b), "192.0.2.7 and ::ffff:192.0.2.7 differ");
	CHECK(memcmp(&a, &b, sizeof(a)) == 0, "equal keys differ bytewise");
	/* Bytes past the address are zero whatever was in *ret. */
	memset(&b, 0xa5, sizeof(b));
	CHECK(addr_net_from_sockaddr(ip("192.0.2.7", 2), &b), "IPv4 refused");
	CHECK(memcmp(&a, &b, sizeof(a)) == 0, "stale bytes left in the key");
	CHECK(addr_net_from_sockaddr(ip("192.0.2.8", 1), &b), "IPv4 refused");
	CHECK(!addr_net_equal(&a, &b), "192.0.2.7 equals 192.0.2.8");

	CHECK(addr_net_from_sockaddr(ip("2001:db8::7", 1), &a), "IPv6 refused");
	CHECK_INT(a.family, AF_INET6);
	CHECK_INT(a.prefix, 128);
	CHECK_STR(addr_net_format(&a, buf, sizeof(buf)), "2001:db8::7");
	/* IPv4-compatible (::a.b.c.d) is IPv6, not IPv4. */
	CHECK(addr_net_from_sockaddr(ip("::192.0.2.7", 1), &b), "IPv6 refused");
	CHECK_INT(b.family, AF_INET6);
	CHECK(addr_net_from_sockaddr(ip("192.0.2.7", 1), &a), "IPv4 refused");
	CHECK(!addr_net_equal(&a, &b), "::192.0.2.7 equals 192.0.2.7");
	/* Same address, another prefix: another network. */
	CU_ASSERT_FATAL(addr_net_parse("192.0.2.7/32", &b) == 0);
	CHECK(addr_net_equal(&a, &b), "192.0.2.7/32 differs from the key");
	CU_ASSERT_FATAL(addr_net_parse("192.0.2.0/24", &a) == 0);
	CU_ASSERT_FATAL(addr_net_parse("192.0.2.0/25", &b) == 0);
	CHECK(!addr_net_equal(&a, &b), "/24 equals /25");

	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	memset(&poison, 0x5a, sizeof(poison));
	a = poison;
	CHECK(!addr_net_from_sockaddr((struct sockaddr *)&su, &a), "AF_UNIX has a key");
	CHECK(memcmp(&a, &poison, sizeof(a)) == 0, "*ret written for AF_UNIX");
}

/* The single reading of an IPv6 address as dotted IPv4, or "" when none. */
static const char *embedded_one(const char *v6, char *buf, size_t len)
{
	struct sockaddr_in6 s = sin6(v6, 0);
	struct addr_embedded e[ADDR_EMBEDDED_MAX];

	buf[0] = '\0';
	size_t n = addr_embedded_ipv4((const struct sockaddr *)&s, e, ADDR_EMBEDDED_MAX);
	CHECK(n <= 1, "%s: %zu readings", v6, n);
	if (n == 1)
		inet_ntop(AF_INET, e[0].v4, buf, (socklen_t)len);
	return buf;
}

static void test_embedded_forms(void)
{
	static const struct {
		const char *v6, *v4;
	} cases[] = {
		{ "::127.0.0.1", "127.0.0.1" },
		{ "::a9fe:a9fe", "169.254.169.254" },
		{ "::2", "0.0.0.2" },
		{ "::", "" },
		{ "::1", "" },
		{ "64:ff9b::7f00:1", "127.0.0.1" },
		{ "64:ff9b::169.254.169.254", "169.254.169.254" },
		{ "64:ff9b:0:0:1::7f00:1", "" },	/* not the well-known /96 */
		{ "2002:7f00:1::", "127.0.0.1" },
		{ "2002:a9fe:a9fe:1234::5", "169.254.169.254" },
		{ "2001:0:7f00:1::", "127.0.0.1" },
		{ "2001:0:c000:201:0:f227:3fff:fffe", "192.0.2.1" },
		{ "2001:db8::7f00:1", "" },
		{ "::ffff:127.0.0.1", "" },	/* mapped: IPv4 already */
		{ "fe80::7f00:1", "" },
	};
	char buf[INET_ADDRSTRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(strcmp(embedded_one(cases[i].v6, buf, sizeof(buf)), cases[i].v4) == 0,
		      "%s reads as '%s', expected '%s'", cases[i].v6, buf, cases[i].v4);

	struct sockaddr_in s4 = sin4("127.0.0.1", 80);
	struct addr_embedded e[ADDR_EMBEDDED_MAX];
	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s4, e, ADDR_EMBEDDED_MAX), 0);
}

static void test_embedded_local_use(void)
{
	/* 64:ff9b:1::/48: every RFC 6052 position of a subprefix, the u octet
	 * (bits 64-71) skipped. 127.0.0.1 at /48: bytes 6-7 = 7f00, 9-10 = 0001. */
	struct sockaddr_in6 s = sin6("64:ff9b:1:7f00:0:100::", 0);
	struct addr_embedded e[ADDR_EMBEDDED_MAX];
	char buf[INET_ADDRSTRLEN];

	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s, e, ADDR_EMBEDDED_MAX), 4);
	CHECK_STR(inet_ntop(AF_INET, e[0].v4, buf, sizeof(buf)), "127.0.0.1");
	CHECK_INT(e[0].prefix, 48);
	s = sin6("64:ff9b:1:7f:0:1::", 0);	/* at /56: byte 7, then 9-11 */
	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s, e, ADDR_EMBEDDED_MAX), 4);
	CHECK_STR(inet_ntop(AF_INET, e[1].v4, buf, sizeof(buf)), "127.0.0.1");
	s = sin6("64:ff9b:1::7f:0:100:0", 0);	/* at /64: bytes 9-12 */
	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s, e, ADDR_EMBEDDED_MAX), 4);
	CHECK_STR(inet_ntop(AF_INET, e[2].v4, buf, sizeof(buf)), "127.0.0.1");
	s = sin6("64:ff9b:1::7f00:1", 0);	/* at /96: the last 32 bits */
	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s, e, ADDR_EMBEDDED_MAX), 4);
	CHECK_STR(inet_ntop(AF_INET, e[3].v4, buf, sizeof(buf)), "127.0.0.1");
	/* max cuts the list; nothing is written past it */
	struct addr_embedded one[2];
	memset(one, 0xa5, sizeof(one));
	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s, one, 1), 1);
	CHECK(unit_all_bytes(&one[1], 0xa5, sizeof(one[1])), "wrote past max");
}

static void test_embedded_bits(void)
{
	struct addr_embedded e[ADDR_EMBEDDED_MAX];
	struct sockaddr_in6 s = sin6("64:ff9b::7f00:1", 0);
	struct addr a;

	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s, e, ADDR_EMBEDDED_MAX), 1);
	CHECK_INT(addr_embedded_bits(&e[0], 0), 96);
	CHECK_INT(addr_embedded_bits(&e[0], 8), 104);	/* 127.0.0.0/8 */
	CHECK_INT(addr_embedded_bits(&e[0], 32), 128);
	s = sin6("2002:7f00:1::", 0);
	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s, e, ADDR_EMBEDDED_MAX), 1);
	CHECK_INT(addr_embedded_bits(&e[0], 8), 24);
	CHECK_INT(addr_embedded_bits(&e[0], 16), 32);
	s = sin6("2001:0:a9fe:a9fe::", 0);
	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s, e, ADDR_EMBEDDED_MAX), 1);
	CHECK_INT(addr_embedded_bits(&e[0], 16), 48);
	s = sin6("64:ff9b:1:7f00::", 0);
	CHECK_INT(addr_embedded_ipv4((const struct sockaddr *)&s, e, ADDR_EMBEDDED_MAX), 4);
	CHECK_INT(addr_embedded_bits(&e[0], 16), 64);	/* bytes 6-7 */
	CHECK_INT(addr_embedded_bits(&e[0], 17), 73);	/* past the u octet */
	CHECK_INT(addr_embedded_bits(&e[2], 1), 73);	/* /64: starts after it */
	addr_embedded_sockaddr(&e[0], 443, &a);
	char buf[ADDR_STRLEN];
	CHECK_STR(addr_str(sa_of(&a), buf, sizeof(buf)), "127.0.0.0:443");
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "parse IPv4", test_parse_ipv4 },
		{ "parse [IPv6]", test_parse_ipv6 },
		{ "parse errors", test_parse_errors },
		{ "addr_str, addr_host, addr_port round trips", test_round_trip },
		{ "addr_is_loopback", test_loopback },
		{ "addr_set", test_set },
		{ "addr_unmap, addr_same, addr_is_any", test_unmap_same_any },
		{ "addr_parse_port, addr_len, addr_set_port", test_port_len_set_port },
		{ "networks parse strictly", test_net_parse },
		{ "CIDR matching, IPv4 and IPv6", test_cidr_match },
		{ "addr_net_within", test_net_within },
		{ "addresses as lookup keys", test_net_key },
		{ "IPv4 inside IPv6: each form", test_embedded_forms },
		{ "IPv4 inside IPv6: 64:ff9b:1::/48 positions", test_embedded_local_use },
		{ "IPv4 inside IPv6: prefix that fixes the bits", test_embedded_bits },
	};
	return UNIT_RUN("addr", tests);
}
