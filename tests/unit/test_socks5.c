/* Unit tests for the SOCKS5 codec: every message split at every byte offset,
 * pipelined messages, each error code, seeded garbage, exact reply bytes, the
 * errno/getaddrinfo mappings and the log text helpers. Pure: no I/O. */
#include "autoconf.h"

#include "socks5.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>


/* Deterministic generator, so a failure reproduces. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

enum kind { GREETING, USERPASS, REQUEST };

union parsed {
	struct socks5_greeting g;
	struct socks5_userpass u;
	struct socks5_request r;
};

static enum socks5_status parse(enum kind k, const uint8_t *buf, size_t len, union parsed *out,
				size_t *used)
{
	switch (k) {
	case GREETING:
		return socks5_parse_greeting(buf, len, &out->g, used);
	case USERPASS:
		return socks5_parse_userpass(buf, len, &out->u, used);
	case REQUEST:
		return socks5_parse_request(buf, len, &out->r, used);
	}
	return SOCKS5_BAD_MESSAGE;
}

/* Compares what a parse means, not bytes the parser had no reason to write
 * (the unused part of the address union, padding). */
static bool same_parse(enum kind k, const union parsed *a, const union parsed *b)
{
	switch (k) {
	case GREETING:
		return a->g.nmethods == b->g.nmethods &&
		       memcmp(a->g.methods, b->g.methods, a->g.nmethods) == 0;
	case USERPASS:
		return a->u.ulen == b->u.ulen && a->u.plen == b->u.plen &&
		       memcmp(a->u.user, b->u.user, a->u.ulen + 1u) == 0 &&
		       memcmp(a->u.pass, b->u.pass, a->u.plen + 1u) == 0;
	case REQUEST:
		if (a->r.cmd != b->r.cmd || a->r.dst.atyp != b->r.dst.atyp ||
		    a->r.dst.port != b->r.dst.port)
			return false;
		switch (a->r.dst.atyp) {
		case SOCKS5_ATYP_IPV4:
			return memcmp(a->r.dst.u.ipv4, b->r.dst.u.ipv4, 4) == 0;
		case SOCKS5_ATYP_IPV6:
			return memcmp(a->r.dst.u.ipv6, b->r.dst.u.ipv6, 16) == 0;
		case SOCKS5_ATYP_DOMAIN:
			return a->r.dst.domain_len == b->r.dst.domain_len &&
			       memcmp(a->r.dst.u.domain, b->r.dst.u.domain,
				      a->r.dst.domain_len + 1u) == 0;
		}
		return false;
	}
	return false;
}

/* Feeds every prefix of msg: each one short of the whole must be "need more"
 * and leave *ret alone; the whole, and the whole with bytes behind it, must
 * give the length and the same parse as expect. */
static void check_split(enum kind k, const uint8_t *msg, size_t len, const union parsed *expect)
{
	union parsed got;
	size_t used;

	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *p = unit_dup_exact(msg, cut);
		memset(&got, 0xa5, sizeof(got));
		used = 0xa5a5;
		enum socks5_status r = parse(k, p, cut, &got, &used);
		CHECK(r == SOCKS5_NEED_MORE, "kind %d, %zu of %zu bytes: got %d, expected NEED_MORE",
		      (int)k, cut, len, (int)r);
		CHECK(unit_all_bytes(&got, 0xa5, sizeof(got)), "kind %d: *ret written on NEED_MORE at %zu",
		      (int)k, cut);
		CHECK_INT(used, 0xa5a5);
		free(p);
	}

	uint8_t *p = unit_dup_exact(msg, len);
	memset(&got, 0, sizeof(got));
	enum socks5_status r = parse(k, p, len, &got, &used);
	CHECK_INT(r, SOCKS5_OK);
	CHECK_INT(used, len);
	CHECK(same_parse(k, &got, expect), "kind %d: whole message parsed differently", (int)k);
	free(p);

	/* Bytes behind the message are neither consumed nor looked at. */
	uint8_t more[1024];
	CU_ASSERT_FATAL(len + 7 <= sizeof(more));
	memcpy(more, msg, len);
	memset(more + len, 0xff, 7);
	p = unit_dup_exact(more, len + 7);
	memset(&got, 0, sizeof(got));
	r = parse(k, p, len + 7, &got, &used);
	CHECK_INT(r, SOCKS5_OK);
	CHECK_INT(used, len);
	CHECK(same_parse(k, &got, expect), "kind %d: parse differs with trailing bytes", (int)k);
	free(p);
}

/* ---- greetings ---- */

static void test_greeting_valid(void)
{
	static const uint8_t one[] = { 0x05, 0x01, 0x00 };
	static const uint8_t two[] = { 0x05, 0x02, 0x00, 0x02 };
	union parsed e;

	memset(&e, 0, sizeof(e));
	e.g.nmethods = 1;
	e.g.methods[0] = 0x00;
	check_split(GREETING, one, sizeof(one), &e);

	memset(&e, 0, sizeof(e));
	e.g.nmethods = 2;
	e.g.methods[0] = 0x00;
	e.g.methods[1] = 0x02;
	check_split(GREETING, two, sizeof(two), &e);

	/* The largest greeting: 255 methods. */
	uint8_t big[257];
	big[0] = 0x05;
	big[1] = 255;
	memset(&e, 0, sizeof(e));
	e.g.nmethods = 255;
	for (int i = 0; i < 255; i++)
		big[2 + i] = e.g.methods[i] = (uint8_t)i;
	check_split(GREETING, big, sizeof(big), &e);
}

static void test_greeting_errors(void)
{
	size_t used = 0x5a5a;
	struct socks5_greeting g;
	static const uint8_t socks4[] = { 0x04, 0x01, 0x00, 0x50, 0x7f, 0x00, 0x00, 0x01, 0x00 };
	static const uint8_t http[] = "GET / HTTP/1.1\r\n";
	static const uint8_t long_claim[] = { 0x05, 0xff, 0x00, 0x01, 0x02 };

	memset(&g, 0x5a, sizeof(g));
	CHECK_INT(socks5_parse_greeting(socks4, sizeof(socks4), &g, &used), SOCKS5_BAD_VERSION);
	/* The version is judged from the first byte alone. */
	CHECK_INT(socks5_parse_greeting(socks4, 1, &g, &used), SOCKS5_BAD_VERSION);
	CHECK_INT(socks5_parse_greeting(http, sizeof(http) - 1, &g, &used), SOCKS5_BAD_VERSION);
	CHECK(unit_all_bytes(&g, 0x5a, sizeof(g)), "*ret written on error");
	CHECK_INT(used, 0x5a5a);
	/* A count claiming more methods than arrived is not complete yet. */
	CHECK_INT(socks5_parse_greeting(long_claim, sizeof(long_claim), &g, &used), SOCKS5_NEED_MORE);
	CHECK_INT(socks5_parse_greeting(NULL, 0, &g, &used), SOCKS5_NEED_MORE);
}

/* ---- username/password (RFC 1929) ---- */

static size_t build_userpass(uint8_t *out, const char *user, size_t ulen, const char *pass,
			     size_t plen)
{
	size_t n = 0;
	out[n++] = 0x01;
	out[n++] = (uint8_t)ulen;
	memcpy(out + n, user, ulen);
	n += ulen;
	out[n++] = (uint8_t)plen;
	memcpy(out + n, pass, plen);
	return n + plen;
}

static void test_userpass_valid(void)
{
	uint8_t msg[520];
	union parsed e;

	size_t n = build_userpass(msg, "alice", 5, "s3cr3t!", 7);
	CHECK_INT(n, 15);
	memset(&e, 0, sizeof(e));
	e.u.ulen = 5;
	e.u.plen = 7;
	strcpy(e.u.user, "alice");
	strcpy(e.u.pass, "s3cr3t!");
	check_split(USERPASS, msg, n, &e);

	/* Longest fields: 255 bytes each, the longest client message there is. */
	char user[255], pass[255];
	memset(user, 'u', sizeof(user));
	memset(pass, 'p', sizeof(pass));
	n = build_userpass(msg, user, 255, pass, 255);
	CHECK_INT(n, 513);
	memset(&e, 0, sizeof(e));
	e.u.ulen = 255;
	e.u.plen = 255;
	memcpy(e.u.user, user, 255);
	memcpy(e.u.pass, pass, 255);
	check_split(USERPASS, msg, n, &e);
}

static void test_userpass_errors(void)
{
	size_t used = 0x5a5a;
	struct socks5_userpass u;
	static const uint8_t v5[] = { 0x05, 0x01, 'a', 0x01, 'b' };
	static const uint8_t v0[] = { 0x00, 0x01, 'a', 0x01, 'b' };
	/* ULEN says 200, PLEN (were it there) unknown: incomplete. */
	static const uint8_t ulong[] = { 0x01, 200, 'a', 'b', 'c' };
	/* ULEN fine, PLEN claims 255 but 3 bytes follow. */
	static const uint8_t plong[] = { 0x01, 0x01, 'a', 0xff, 'x', 'y', 'z' };

	memset(&u, 0x5a, sizeof(u));
	/* The sub-negotiation has its own version, 1: a SOCKS version byte is wrong. */
	CHECK_INT(socks5_parse_userpass(v5, sizeof(v5), &u, &used), SOCKS5_BAD_VERSION);
	CHECK_INT(socks5_parse_userpass(v0, 1, &u, &used), SOCKS5_BAD_VERSION);
	CHECK_INT(socks5_parse_userpass(ulong, sizeof(ulong), &u, &used), SOCKS5_NEED_MORE);
	CHECK_INT(socks5_parse_userpass(plong, sizeof(plong), &u, &used), SOCKS5_NEED_MORE);
	CHECK(unit_all_bytes(&u, 0x5a, sizeof(u)), "*ret written on error");
}

/* ---- requests ---- */

static void test_request_ipv4(void)
{
	static const uint8_t msg[] = { 0x05, 0x01, 0x00, 0x01, 192, 0, 2, 7, 0x1f, 0x90 };
	union parsed e;

	memset(&e, 0, sizeof(e));
	e.r.cmd = SOCKS5_CMD_CONNECT;
	e.r.dst.atyp = SOCKS5_ATYP_IPV4;
	e.r.dst.port = 8080;
	memcpy(e.r.dst.u.ipv4, (uint8_t[]){ 192, 0, 2, 7 }, 4);
	check_split(REQUEST, msg, sizeof(msg), &e);
}

static void test_request_ipv6(void)
{
	uint8_t msg[22] = { 0x05, 0x01, 0x00, 0x04 };
	union parsed e;
	struct in6_addr a;

	CU_ASSERT_FATAL(inet_pton(AF_INET6, "2001:db8::1:2", &a) == 1);
	memcpy(msg + 4, &a, 16);
	msg[20] = 0x01;
	msg[21] = 0xbb;
	memset(&e, 0, sizeof(e));
	e.r.cmd = SOCKS5_CMD_CONNECT;
	e.r.dst.atyp = SOCKS5_ATYP_IPV6;
	e.r.dst.port = 443;
	memcpy(e.r.dst.u.ipv6, &a, 16);
	check_split(REQUEST, msg, sizeof(msg), &e);
}

static size_t build_domain_request(uint8_t *out, uint8_t cmd, const char *name, size_t len,
				   uint16_t port)
{
	size_t n = 0;
	out[n++] = 0x05;
	out[n++] = cmd;
	out[n++] = 0x00;
	out[n++] = SOCKS5_ATYP_DOMAIN;
	out[n++] = (uint8_t)len;
	memcpy(out + n, name, len);
	n += len;
	out[n++] = (uint8_t)(port >> 8);
	out[n++] = (uint8_t)port;
	return n;
}

static void test_request_domain(void)
{
	uint8_t msg[SOCKS5_REQUEST_MAX + 8];
	union parsed e;

	size_t n = build_domain_request(msg, SOCKS5_CMD_CONNECT, "example.com", 11, 80);
	CHECK_INT(n, 18);
	memset(&e, 0, sizeof(e));
	e.r.cmd = SOCKS5_CMD_CONNECT;
	e.r.dst.atyp = SOCKS5_ATYP_DOMAIN;
	e.r.dst.domain_len = 11;
	e.r.dst.port = 80;
	strcpy(e.r.dst.u.domain, "example.com");
	check_split(REQUEST, msg, n, &e);

	/* One-byte and 255-byte names; the latter is the longest request. */
	n = build_domain_request(msg, SOCKS5_CMD_CONNECT, "x", 1, 65535);
	memset(&e, 0, sizeof(e));
	e.r.cmd = SOCKS5_CMD_CONNECT;
	e.r.dst.atyp = SOCKS5_ATYP_DOMAIN;
	e.r.dst.domain_len = 1;
	e.r.dst.port = 65535;
	strcpy(e.r.dst.u.domain, "x");
	check_split(REQUEST, msg, n, &e);

	char name[255];
	memset(name, 'a', sizeof(name));
	n = build_domain_request(msg, SOCKS5_CMD_CONNECT, name, 255, 1);
	CHECK_INT(n, SOCKS5_REQUEST_MAX);
	memset(&e, 0, sizeof(e));
	e.r.cmd = SOCKS5_CMD_CONNECT;
	e.r.dst.atyp = SOCKS5_ATYP_DOMAIN;
	e.r.dst.domain_len = 255;
	e.r.dst.port = 1;
	memcpy(e.r.dst.u.domain, name, 255);
	check_split(REQUEST, msg, n, &e);
}

static void test_request_other_commands(void)
{
	size_t used = 0x5a5a;
	struct socks5_request r;
	uint8_t msg[32];

	/* The parser reports the command as sent; the session decides. */
	static const uint8_t cmds[] = { SOCKS5_CMD_BIND, SOCKS5_CMD_UDP_ASSOCIATE, 0x00, 0x7f,
					0xff };
	for (size_t i = 0; i < sizeof(cmds); i++) {
		size_t n = build_domain_request(msg, cmds[i], "h", 1, 53);
		memset(&r, 0, sizeof(r));
		CHECK_INT(socks5_parse_request(msg, n, &r, &used), SOCKS5_OK);
		CHECK_INT(used, n);
		CHECK_INT(r.cmd, cmds[i]);
		CHECK_INT(r.dst.port, 53);
	}
}

static void test_request_errors(void)
{
	size_t used = 0x5a5a;
	struct socks5_request r;
	uint8_t msg[SOCKS5_REQUEST_MAX];
	size_t n;

	memset(&r, 0x5a, sizeof(r));

	/* Wrong version, whatever follows. */
	static const uint8_t v4[] = { 0x04, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0, 80 };
	CHECK_INT(socks5_parse_request(v4, sizeof(v4), &r, &used), SOCKS5_BAD_VERSION);
	CHECK_INT(socks5_parse_request(v4, 1, &r, &used), SOCKS5_BAD_VERSION);

	/* Unknown address types. */
	static const uint8_t atyps[] = { 0x00, 0x02, 0x05, 0x06, 0x7f, 0xff };
	for (size_t i = 0; i < sizeof(atyps); i++) {
		uint8_t m[] = { 0x05, 0x01, 0x00, atyps[i], 1, 2, 3, 4, 0, 80 };
		CHECK(socks5_parse_request(m, sizeof(m), &r, &used) == SOCKS5_BAD_ATYP, "ATYP 0x%02x accepted",
		      atyps[i]);
		/* Known as soon as the ATYP byte is there. */
		CHECK(socks5_parse_request(m, 4, &r, &used) == SOCKS5_BAD_ATYP, "ATYP 0x%02x, 4 bytes",
		      atyps[i]);
	}

	/* An empty domain name. */
	static const uint8_t empty[] = { 0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x50 };
	CHECK_INT(socks5_parse_request(empty, sizeof(empty), &r, &used), SOCKS5_BAD_MESSAGE);

	/* A NUL anywhere in the name: first, middle, last byte. */
	n = build_domain_request(msg, 1, "\0bc", 3, 80);
	CHECK_INT(socks5_parse_request(msg, n, &r, &used), SOCKS5_BAD_MESSAGE);
	n = build_domain_request(msg, 1, "a\0c", 3, 80);
	CHECK_INT(socks5_parse_request(msg, n, &r, &used), SOCKS5_BAD_MESSAGE);
	n = build_domain_request(msg, 1, "ab\0", 3, 80);
	CHECK_INT(socks5_parse_request(msg, n, &r, &used), SOCKS5_BAD_MESSAGE);
	CHECK(unit_all_bytes(&r, 0x5a, sizeof(r)), "*ret written on error");
	CHECK_INT(used, 0x5a5a);

	/* A name length claiming more than arrived is incomplete, not an error. */
	static const uint8_t long_name[] = { 0x05, 0x01, 0x00, 0x03, 0xff, 'a', 'b', 'c', 0, 80 };
	CHECK_INT(socks5_parse_request(long_name, sizeof(long_name), &r, &used), SOCKS5_NEED_MORE);
	/* Truncated IPv6 address. */
	static const uint8_t short6[] = { 0x05, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80 };
	CHECK_INT(socks5_parse_request(short6, sizeof(short6), &r, &used), SOCKS5_NEED_MORE);
	CHECK(unit_all_bytes(&r, 0x5a, sizeof(r)), "*ret written on NEED_MORE");
}

/* A greeting, then a userpass, then a request in one buffer: each parser takes
 * exactly its own message. */
static void test_pipelined(void)
{
	uint8_t buf[600];
	size_t n = 0;
	struct socks5_greeting g;
	struct socks5_userpass u;
	struct socks5_request r;

	static const uint8_t greeting[] = { 0x05, 0x02, 0x00, 0x02 };
	memcpy(buf, greeting, sizeof(greeting));
	n += sizeof(greeting);
	size_t ulen = build_userpass(buf + n, "bob", 3, "pw", 2);
	n += ulen;
	size_t rlen = build_domain_request(buf + n, SOCKS5_CMD_CONNECT, "host.test", 9, 22);
	n += rlen;

	size_t off = 0, k = 0;
	CHECK_INT(socks5_parse_greeting(buf + off, n - off, &g, &k), SOCKS5_OK);
	CHECK_INT(k, sizeof(greeting));
	CHECK_INT(g.nmethods, 2);
	off += k;
	k = 0;
	CHECK_INT(socks5_parse_userpass(buf + off, n - off, &u, &k), SOCKS5_OK);
	CHECK_INT(k, ulen);
	CHECK_STR(u.user, "bob");
	CHECK_STR(u.pass, "pw");
	off += k;
	k = 0;
	CHECK_INT(socks5_parse_request(buf + off, n - off, &r, &k), SOCKS5_OK);
	CHECK_INT(k, rlen);
	CHECK_STR(r.dst.u.domain, "host.test");
	CHECK_INT(r.dst.port, 22);
	off += k;
	CHECK_INT(off, n);

	/* Greeting directly followed by an IPv4 request, no auth. */
	static const uint8_t two[] = { 0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0, 25 };
	CHECK_INT(socks5_parse_greeting(two, sizeof(two), &g, &k), SOCKS5_OK);
	CHECK_INT(k, 3);
	CHECK_INT(socks5_parse_request(two + 3, sizeof(two) - 3, &r, &k), SOCKS5_OK);
	CHECK_INT(k, 10);
	CHECK_INT(r.dst.atyp, SOCKS5_ATYP_IPV4);
	CHECK_INT(r.dst.port, 25);
}

/* ---- garbage ---- */

static void check_garbage_result(enum kind k, const uint8_t *buf, size_t len,
				 enum socks5_status st, size_t r, const union parsed *got)
{
	static const size_t maxlen[] = { [GREETING] = 257, [USERPASS] = 513,
					 [REQUEST] = SOCKS5_REQUEST_MAX };

	if (st != SOCKS5_OK) {
		CHECK(st == SOCKS5_NEED_MORE || st == SOCKS5_BAD_VERSION ||
			      st == SOCKS5_BAD_MESSAGE || st == SOCKS5_BAD_ATYP,
		      "kind %d: unknown result %d", (int)k, (int)st);
		return;
	}
	CHECK(r > 0 && r <= len && r <= maxlen[k], "kind %d: consumed %zu of %zu bytes", (int)k, r,
	      len);
	switch (k) {
	case GREETING:
		CHECK_INT(r, 2 + got->g.nmethods);
		break;
	case USERPASS:
		CHECK_INT(r, 3 + got->u.ulen + got->u.plen);
		CHECK(got->u.user[got->u.ulen] == '\0' && got->u.pass[got->u.plen] == '\0',
		      "userpass fields not terminated");
		break;
	case REQUEST:
		CHECK(buf[0] == SOCKS5_VERSION, "request with version %u accepted", buf[0]);
		if (got->r.dst.atyp == SOCKS5_ATYP_DOMAIN) {
			CHECK(got->r.dst.domain_len > 0 &&
				      strlen(got->r.dst.u.domain) == got->r.dst.domain_len,
			      "domain length %u, string length %zu", got->r.dst.domain_len,
			      strlen(got->r.dst.u.domain));
			CHECK_INT(r, 7 + got->r.dst.domain_len);
		} else {
			CHECK(got->r.dst.atyp == SOCKS5_ATYP_IPV4 ||
				      got->r.dst.atyp == SOCKS5_ATYP_IPV6,
			      "atyp %u accepted", got->r.dst.atyp);
			CHECK_INT(r, got->r.dst.atyp == SOCKS5_ATYP_IPV4 ? 10 : 22);
		}
		char s[SOCKS5_ADDR_STRLEN];
		socks5_addr_str(&got->r.dst, s, sizeof(s));
		CHECK(strlen(s) < sizeof(s), "address text too long");
		break;
	}
}

static void test_garbage(void)
{
	static const uint8_t atyps[] = { 0x01, 0x03, 0x04 };
	uint8_t buf[700];
	union parsed got;
	unsigned accepted = 0;

	rng_state = 0x50c45ea7e5eedULL;
	for (int iter = 0; iter < 30000; iter++) {
		size_t len = (size_t)(rng_next() % sizeof(buf));
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rng_next();
		/* Make most buffers look plausible so the parsers get past the first byte. */
		unsigned shape = (unsigned)(rng_next() % 4);
		if (len > 0 && shape != 0)
			buf[0] = (iter % 3 == USERPASS) ? 0x01 : 0x05;
		if (len > 3 && shape >= 2)
			buf[3] = atyps[rng_next() % 3];
		if (len > 4 && shape == 3)
			buf[4] = (uint8_t)(rng_next() % 16);	/* short names or lengths */
		if (len > 1 && shape == 3 && iter % 3 != REQUEST)
			buf[1] = (uint8_t)(rng_next() % 16);

		uint8_t *p = unit_dup_exact(buf, len);
		for (int k = GREETING; k <= REQUEST; k++) {
			size_t used = 0;
			memset(&got, 0, sizeof(got));
			enum socks5_status st = parse((enum kind)k, p, len, &got, &used);
			check_garbage_result((enum kind)k, p, len, st, used, &got);
			accepted += st == SOCKS5_OK;
		}
		free(p);
	}
	/* The shaping above must have let some messages through, or the loop
	 * only ever tested the first byte. */
	CHECK(accepted > 1000, "only %u garbage buffers parsed", accepted);
}

/* ---- replies ---- */

static void test_build_reply(void)
{
	uint8_t out[SOCKS5_REPLY_MAX + 8];
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = htons(1080);
	s4.sin_addr.s_addr = htonl(0x7f000001);
	memset(out, 0xee, sizeof(out));
	static const uint8_t want4[] = { 0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x04, 0x38 };
	size_t n = socks5_build_reply(out, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&s4);
	CHECK_INT(n, sizeof(want4));
	CHECK(memcmp(out, want4, sizeof(want4)) == 0, "IPv4 reply bytes differ");
	CHECK(unit_all_bytes(out + n, 0xee, sizeof(out) - n), "IPv4 reply wrote past its length");

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(0xabcd);
	CU_ASSERT_FATAL(inet_pton(AF_INET6, "2001:db8::fe", &s6.sin6_addr) == 1);
	memset(out, 0xee, sizeof(out));
	static const uint8_t want6[] = { 0x05, 0x05, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0,
					 0,    0,    0,    0,    0,    0,    0,    0,    0xfe, 0xab, 0xcd };
	n = socks5_build_reply(out, SOCKS5_REP_CONN_REFUSED, (struct sockaddr *)&s6);
	CHECK_INT(n, sizeof(want6));
	CHECK_INT(n, SOCKS5_REPLY_MAX);
	CHECK(memcmp(out, want6, sizeof(want6)) == 0, "IPv6 reply bytes differ");
	CHECK(unit_all_bytes(out + n, 0xee, sizeof(out) - n), "IPv6 reply wrote past its length");

	/* No address: 0.0.0.0:0. */
	static const uint8_t want0[] = { 0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0 };
	memset(out, 0xee, sizeof(out));
	n = socks5_build_reply(out, SOCKS5_REP_CMD_NOT_SUPPORTED, NULL);
	CHECK_INT(n, sizeof(want0));
	CHECK(memcmp(out, want0, sizeof(want0)) == 0, "NULL-address reply bytes differ");

	/* A non-IP address is treated like no address. */
	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	strcpy(su.sun_path, "/x");
	memset(out, 0xee, sizeof(out));
	static const uint8_t wantu[] = { 0x05, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0 };
	n = socks5_build_reply(out, SOCKS5_REP_GENERAL_FAILURE, (struct sockaddr *)&su);
	CHECK_INT(n, sizeof(wantu));
	CHECK(memcmp(out, wantu, sizeof(wantu)) == 0, "AF_UNIX reply bytes differ");
}

static void test_build_method_userpass(void)
{
	uint8_t out[4];

	memset(out, 0xee, sizeof(out));
	CHECK_INT(socks5_build_method(out, SOCKS5_METHOD_USERPASS), 2);
	CHECK(out[0] == 0x05 && out[1] == 0x02 && out[2] == 0xee, "method reply %02x %02x", out[0],
	      out[1]);
	CHECK_INT(socks5_build_method(out, SOCKS5_METHOD_NO_ACCEPTABLE), 2);
	CHECK(out[0] == 0x05 && out[1] == 0xff, "no-acceptable reply %02x %02x", out[0], out[1]);

	memset(out, 0xee, sizeof(out));
	CHECK_INT(socks5_build_userpass_reply(out, 0x00), 2);
	CHECK(out[0] == 0x01 && out[1] == 0x00 && out[2] == 0xee, "auth ok reply %02x %02x",
	      out[0], out[1]);
	CHECK_INT(socks5_build_userpass_reply(out, 0x01), 2);
	CHECK(out[0] == 0x01 && out[1] == 0x01, "auth fail reply %02x %02x", out[0], out[1]);
}

static void test_select_method(void)
{
	struct socks5_greeting g;
	static const uint8_t none[] = { SOCKS5_METHOD_NONE };
	static const uint8_t up[] = { SOCKS5_METHOD_USERPASS };
	static const uint8_t up_then_none[] = { SOCKS5_METHOD_USERPASS, SOCKS5_METHOD_NONE };

	memset(&g, 0, sizeof(g));
	g.nmethods = 3;
	g.methods[0] = SOCKS5_METHOD_NONE;
	g.methods[1] = SOCKS5_METHOD_GSSAPI;
	g.methods[2] = SOCKS5_METHOD_USERPASS;
	CHECK_INT(socks5_select_method(&g, none, 1), SOCKS5_METHOD_NONE);
	CHECK_INT(socks5_select_method(&g, up, 1), SOCKS5_METHOD_USERPASS);
	/* The server's order decides, not the client's. */
	CHECK_INT(socks5_select_method(&g, up_then_none, 2), SOCKS5_METHOD_USERPASS);
	CHECK_INT(socks5_select_method(&g, up, 0), SOCKS5_METHOD_NO_ACCEPTABLE);

	g.nmethods = 1;
	g.methods[0] = SOCKS5_METHOD_GSSAPI;
	CHECK_INT(socks5_select_method(&g, up_then_none, 2), SOCKS5_METHOD_NO_ACCEPTABLE);
	/* Only the first nmethods entries count. */
	g.methods[1] = SOCKS5_METHOD_NONE;
	CHECK_INT(socks5_select_method(&g, none, 1), SOCKS5_METHOD_NO_ACCEPTABLE);
	g.nmethods = 0;
	g.methods[0] = SOCKS5_METHOD_NONE;
	CHECK_INT(socks5_select_method(&g, none, 1), SOCKS5_METHOD_NO_ACCEPTABLE);
}

/* ---- UDP request header (RFC 1928 section 7) ---- */

/* Parses a heap copy of exactly len bytes; *ret is pre-filled with 0xa5 so a
 * write on error shows. */
static enum socks5_status parse_udp(const uint8_t *buf, size_t len,
				    struct socks5_udp_header *ret, size_t *used)
{
	uint8_t *p = unit_dup_exact(buf, len);
	memset(ret, 0xa5, sizeof(*ret));
	*used = 0xa5a5;
	enum socks5_status r = socks5_parse_udp_header(p, len, ret, used);
	if (r != SOCKS5_OK)
		CHECK(*used == 0xa5a5, "header length written on status %d", (int)r);
	free(p);
	return r;
}

/* Every proper prefix of a header is malformed (a datagram does not grow) and
 * leaves *ret alone. */
static void check_udp_truncations(const uint8_t *msg, size_t hdrlen)
{
	struct socks5_udp_header h;

	for (size_t cut = 0; cut < hdrlen; cut++) {
		size_t used;
		enum socks5_status r = parse_udp(msg, cut, &h, &used);
		CHECK(r == SOCKS5_BAD_MESSAGE, "header cut at %zu of %zu gives %d", cut, hdrlen,
		      (int)r);
		CHECK(unit_all_bytes(&h, 0xa5, sizeof(h)), "*ret written for a header cut at %zu", cut);
	}
}

static void test_udp_header_ipv4(void)
{
	size_t used = 0x5a5a;
	static const uint8_t msg[] = { 0, 0, 0, 0x01, 10, 1, 2, 3, 0x00, 0x35, 'a', 'b', 'c' };
	struct socks5_udp_header h;

	CHECK_INT(parse_udp(msg, sizeof(msg), &h, &used), SOCKS5_OK);
	CHECK_INT(used, 10);
	CHECK_INT(h.frag, 0);
	CHECK_INT(h.dst.atyp, SOCKS5_ATYP_IPV4);
	CHECK(memcmp(h.dst.u.ipv4, (uint8_t[]){ 10, 1, 2, 3 }, 4) == 0, "IPv4 address differs");
	CHECK_INT(h.dst.port, 53);
	/* An empty payload is a datagram like any other. */
	CHECK_INT(parse_udp(msg, 10, &h, &used), SOCKS5_OK);
	CHECK_INT(used, 10);
	check_udp_truncations(msg, 10);
}

static void test_udp_header_ipv6(void)
{
	size_t used = 0x5a5a;
	uint8_t msg[22 + 4] = { 0, 0, 0, 0x04 };
	struct socks5_udp_header h;

	CU_ASSERT_FATAL(inet_pton(AF_INET6, "2001:db8::7", msg + 4) == 1);
	msg[20] = 0xff;
	msg[21] = 0xfe;
	memcpy(msg + 22, "data", 4);
	CHECK_INT(parse_udp(msg, sizeof(msg), &h, &used), SOCKS5_OK);
	CHECK_INT(used, 22);
	CHECK_INT(h.dst.atyp, SOCKS5_ATYP_IPV6);
	CHECK(memcmp(h.dst.u.ipv6, msg + 4, 16) == 0, "IPv6 address differs");
	CHECK_INT(h.dst.port, 0xfffe);
	check_udp_truncations(msg, 22);
}

static void test_udp_header_domain(void)
{
	size_t used = 0x5a5a;
	uint8_t msg[3 + 1 + 1 + 255 + 2 + 1];
	struct socks5_udp_header h;

	static const uint8_t small[] = { 0, 0, 0, 0x03, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',
					 0x1f, 0x90, 'x' };
	CHECK_INT(parse_udp(small, sizeof(small), &h, &used), SOCKS5_OK);
	CHECK_INT(used, 16);
	CHECK_INT(h.dst.atyp, SOCKS5_ATYP_DOMAIN);
	CHECK_INT(h.dst.domain_len, 9);
	CHECK_STR(h.dst.u.domain, "localhost");
	CHECK_INT(h.dst.port, 8080);
	check_udp_truncations(small, 16);

	/* The longest name a length byte allows. */
	memset(msg, 0, 4);
	msg[3] = 0x03;
	msg[4] = 255;
	memset(msg + 5, 'n', 255);
	msg[260] = 0x00;
	msg[261] = 0x07;
	msg[262] = '!';
	CHECK_INT(parse_udp(msg, sizeof(msg), &h, &used), SOCKS5_OK);
	CHECK_INT(used, 262);
	CHECK_INT(h.dst.domain_len, 255);
	CHECK_INT(strlen(h.dst.u.domain), 255);
	CHECK_INT(h.dst.port, 7);
	check_udp_truncations(msg, 262);

	/* A length byte that claims more than the datagram holds. */
	static const uint8_t oversized[] = { 0, 0, 0, 0x03, 200, 'a', 'b', 0, 80 };
	CHECK_INT(parse_udp(oversized, sizeof(oversized), &h, &used), SOCKS5_BAD_MESSAGE);
	/* An empty name, and names with a NUL byte. */
	static const uint8_t empty[] = { 0, 0, 0, 0x03, 0, 0, 80, 'x' };
	CHECK_INT(parse_udp(empty, sizeof(empty), &h, &used), SOCKS5_BAD_MESSAGE);
	CHECK(unit_all_bytes(&h, 0xa5, sizeof(h)), "*ret written for an empty name");
	static const uint8_t nul[] = { 0, 0, 0, 0x03, 3, 'a', 0, 'c', 0, 80 };
	CHECK_INT(parse_udp(nul, sizeof(nul), &h, &used), SOCKS5_BAD_MESSAGE);
}

static void test_udp_header_errors(void)
{
	size_t used = 0x5a5a;
	struct socks5_udp_header h;

	/* RSV must be zero. */
	static const uint8_t rsv1[] = { 0, 1, 0, 0x01, 127, 0, 0, 1, 0, 80 };
	static const uint8_t rsv2[] = { 5, 0, 0, 0x01, 127, 0, 0, 1, 0, 80 };
	CHECK_INT(parse_udp(rsv1, sizeof(rsv1), &h, &used), SOCKS5_BAD_MESSAGE);
	CHECK_INT(parse_udp(rsv2, sizeof(rsv2), &h, &used), SOCKS5_BAD_MESSAGE);
	/* Unknown address types, whatever follows them. */
	static const uint8_t atyps[] = { 0x00, 0x02, 0x05, 0x7f, 0xff };
	for (size_t i = 0; i < sizeof(atyps); i++) {
		uint8_t m[] = { 0, 0, 0, atyps[i], 127, 0, 0, 1, 0, 80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
				11, 12, 13, 14, 15, 16 };
		CHECK(parse_udp(m, sizeof(m), &h, &used) == SOCKS5_BAD_ATYP, "ATYP 0x%02x accepted", atyps[i]);
		CHECK(unit_all_bytes(&h, 0xa5, sizeof(h)), "*ret written for ATYP 0x%02x", atyps[i]);
	}
	CHECK_INT(socks5_parse_udp_header(NULL, 0, &h, &used), SOCKS5_BAD_MESSAGE);
}

static void test_udp_header_frag(void)
{
	size_t used = 0x5a5a;
	struct socks5_udp_header h;
	static const uint8_t frags[] = { 0x00, 0x01, 0x7f, 0x80, 0x81, 0xff };

	/* FRAG is reported as sent; dropping fragments is the relay's decision. */
	for (size_t i = 0; i < sizeof(frags); i++) {
		uint8_t m[] = { 0, 0, frags[i], 0x01, 192, 0, 2, 1, 0x01, 0xbb, 'p' };
		CHECK_INT(parse_udp(m, sizeof(m), &h, &used), SOCKS5_OK);
		CHECK_INT(used, 10);
		CHECK(h.frag == frags[i], "FRAG 0x%02x parsed as 0x%02x", frags[i], h.frag);
		CHECK_INT(h.dst.port, 443);
	}
}

static void test_udp_header_garbage(void)
{
	uint8_t buf[300];
	struct socks5_udp_header h;
	unsigned accepted = 0;

	rng_state = 0x5eed0dd;
	for (unsigned iter = 0; iter < 200000; iter++) {
		size_t len = rng_next() % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rng_next();
		/* Shape some of them so the parser gets past the first checks. */
		if (len > 4 && (iter & 1)) {
			buf[0] = buf[1] = 0;
			buf[3] = (uint8_t[]){ 1, 3, 4, 3 }[rng_next() % 4];
			if (buf[3] == 3)
				buf[4] = (uint8_t)(rng_next() % 64);
		}
		size_t used;
		enum socks5_status r = parse_udp(buf, len, &h, &used);
		/* 8 bytes is the shortest header: a one-byte name. */
		CHECK(r == SOCKS5_BAD_MESSAGE || r == SOCKS5_BAD_ATYP ||
			      (r == SOCKS5_OK && used >= 8 && used <= len),
		      "garbage of %zu bytes gives %d (%zu bytes)", len, (int)r, used);
		if (r == SOCKS5_OK) {
			accepted++;
			if (h.dst.atyp == SOCKS5_ATYP_DOMAIN)
				CHECK(strlen(h.dst.u.domain) == h.dst.domain_len && h.dst.domain_len > 0,
				      "domain length %u", h.dst.domain_len);
		}
	}
	CHECK(accepted > 1000, "only %u garbage datagrams parsed", accepted);
}

static void test_build_udp_header(void)
{
	uint8_t out[SOCKS5_UDP_HEADER_MAX + 8];
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct socks5_udp_header h;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = htons(5353);
	s4.sin_addr.s_addr = htonl(0xc0000201);
	memset(out, 0xee, sizeof(out));
	static const uint8_t want4[] = { 0, 0, 0, 0x01, 192, 0, 2, 1, 0x14, 0xe9 };
	CHECK_INT(socks5_build_udp_header(out, sizeof(out), (struct sockaddr *)&s4), 10);
	CHECK(memcmp(out, want4, sizeof(want4)) == 0, "IPv4 header bytes differ");
	CHECK(unit_all_bytes(out + 10, 0xee, sizeof(out) - 10), "IPv4 header wrote past its length");
	/* What the gateway builds, a client's parser reads back. */
	size_t used;
	CHECK_INT(socks5_parse_udp_header(out, 10, &h, &used), SOCKS5_OK);
	CHECK_INT(used, 10);
	CHECK_INT(h.dst.port, 5353);

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(1);
	CU_ASSERT_FATAL(inet_pton(AF_INET6, "::1", &s6.sin6_addr) == 1);
	memset(out, 0xee, sizeof(out));
	static const uint8_t want6[] = { 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x01 };
	CHECK_INT(socks5_build_udp_header(out, sizeof(out), (struct sockaddr *)&s6), 22);
	CHECK(memcmp(out, want6, sizeof(want6)) == 0, "IPv6 header bytes differ");
	CHECK(unit_all_bytes(out + 22, 0xee, sizeof(out) - 22), "IPv6 header wrote past its length");

	/* Too little room or no IP address: nothing written. */
	memset(out, 0xee, sizeof(out));
	CHECK_INT(socks5_build_udp_header(out, 9, (struct sockaddr *)&s4), 0);
	CHECK_INT(socks5_build_udp_header(out, 21, (struct sockaddr *)&s6), 0);
	CHECK_INT(socks5_build_udp_header(out, sizeof(out), NULL), 0);
	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	CHECK_INT(socks5_build_udp_header(out, sizeof(out), (struct sockaddr *)&su), 0);
	CHECK(unit_all_bytes(out, 0xee, sizeof(out)), "a refused header wrote bytes");
}

/* BIND answers twice on one stream: the listening address, then the peer that
 * connected. The two replies follow each other byte for byte. */
static void test_bind_replies(void)
{
	uint8_t out[2 * SOCKS5_REPLY_MAX];
	struct sockaddr_in bnd, peer4;
	struct sockaddr_in6 peer6;
	size_t n;

	memset(&bnd, 0, sizeof(bnd));
	bnd.sin_family = AF_INET;
	bnd.sin_port = htons(40000);
	bnd.sin_addr.s_addr = htonl(0x7f000001);
	memset(&peer4, 0, sizeof(peer4));
	peer4.sin_family = AF_INET;
	peer4.sin_port = htons(51515);
	peer4.sin_addr.s_addr = htonl(0x7f000002);
	n = socks5_build_reply(out, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&bnd);
	n += socks5_build_reply(out + n, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&peer4);
	static const uint8_t want[] = { 5, 0, 0, 1, 127, 0, 0, 1, 0x9c, 0x40,
					5, 0, 0, 1, 127, 0, 0, 2, 0xc9, 0x3b };
	CHECK_INT(n, sizeof(want));
	CHECK(memcmp(out, want, sizeof(want)) == 0, "BIND reply pair differs");

	/* An IPv6 listener and peer; then a refused peer (0x02) after the first reply. */
	memset(&peer6, 0, sizeof(peer6));
	peer6.sin6_family = AF_INET6;
	peer6.sin6_port = htons(2);
	CU_ASSERT_FATAL(inet_pton(AF_INET6, "::1", &peer6.sin6_addr) == 1);
	n = socks5_build_reply(out, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&peer6);
	n += socks5_build_reply(out + n, SOCKS5_REP_NOT_ALLOWED, (struct sockaddr *)&peer6);
	CHECK_INT(n, 44);
	CHECK(out[22] == 5 && out[23] == SOCKS5_REP_NOT_ALLOWED && out[25] == SOCKS5_ATYP_IPV6 &&
		      out[43] == 2,
	      "second IPv6 reply %02x %02x .. %02x", out[22], out[23], out[43]);
}

/* ---- mappings and text ---- */

static void test_rep_from_errno(void)
{
	CHECK_INT(socks5_rep_from_errno(ECONNREFUSED), SOCKS5_REP_CONN_REFUSED);
	CHECK_INT(socks5_rep_from_errno(ENETUNREACH), SOCKS5_REP_NET_UNREACHABLE);
	CHECK_INT(socks5_rep_from_errno(EHOSTUNREACH), SOCKS5_REP_HOST_UNREACHABLE);
	CHECK_INT(socks5_rep_from_errno(ETIMEDOUT), SOCKS5_REP_TTL_EXPIRED);
	CHECK_INT(socks5_rep_from_errno(EACCES), SOCKS5_REP_NOT_ALLOWED);
	CHECK_INT(socks5_rep_from_errno(EPERM), SOCKS5_REP_NOT_ALLOWED);
	static const int other[] = { EIO, ENOMEM, EINVAL, EMFILE, EBADF, ENOBUFS, 12345 };
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		CHECK(socks5_rep_from_errno(other[i]) == SOCKS5_REP_GENERAL_FAILURE,
		      "errno %d maps to %u", other[i], socks5_rep_from_errno(other[i]));
}

static void test_rep_from_gai(void)
{
	CHECK_INT(socks5_rep_from_gai(0, 0), SOCKS5_REP_SUCCEEDED);
	CHECK_INT(socks5_rep_from_gai(EAI_NONAME, 0), SOCKS5_REP_HOST_UNREACHABLE);
	CHECK_INT(socks5_rep_from_gai(EAI_NODATA, 0), SOCKS5_REP_HOST_UNREACHABLE);
	CHECK_INT(socks5_rep_from_gai(EAI_AGAIN, 0), SOCKS5_REP_HOST_UNREACHABLE);
	CHECK_INT(socks5_rep_from_gai(EAI_FAIL, 0), SOCKS5_REP_HOST_UNREACHABLE);
	CHECK_INT(socks5_rep_from_gai(EAI_ADDRFAMILY, 0), SOCKS5_REP_HOST_UNREACHABLE);
	CHECK_INT(socks5_rep_from_gai(EAI_FAMILY, 0), SOCKS5_REP_ATYP_NOT_SUPPORTED);
	/* EAI_SYSTEM defers to errno. */
	CHECK_INT(socks5_rep_from_gai(EAI_SYSTEM, ECONNREFUSED), SOCKS5_REP_CONN_REFUSED);
	CHECK_INT(socks5_rep_from_gai(EAI_SYSTEM, ETIMEDOUT), SOCKS5_REP_TTL_EXPIRED);
	CHECK_INT(socks5_rep_from_gai(EAI_SYSTEM, EIO), SOCKS5_REP_GENERAL_FAILURE);
	CHECK_INT(socks5_rep_from_gai(EAI_MEMORY, 0), SOCKS5_REP_GENERAL_FAILURE);
	CHECK_INT(socks5_rep_from_gai(EAI_BADFLAGS, 0), SOCKS5_REP_GENERAL_FAILURE);
}

static void test_rep_cmd_str(void)
{
	static const char *const want[] = {
		"succeeded",	       "general failure",   "not allowed by rules",
		"network unreachable", "host unreachable",  "connection refused",
		"timed out",	       "command not supported", "address type not supported",
	};
	for (unsigned i = 0; i < SOCKS5_REP_MAX; i++)
		CHECK_STR(socks5_rep_str((uint8_t)i), want[i]);
	CHECK_INT(SOCKS5_REP_MAX, 9);
	CHECK_STR(socks5_rep_str(9), "unassigned");
	CHECK_STR(socks5_rep_str(0x80), "unassigned");
	CHECK_STR(socks5_rep_str(0xff), "unassigned");

	CHECK_STR(socks5_cmd_str(SOCKS5_CMD_CONNECT), "connect");
	CHECK_STR(socks5_cmd_str(SOCKS5_CMD_BIND), "bind");
	CHECK_STR(socks5_cmd_str(SOCKS5_CMD_UDP_ASSOCIATE), "udp");
	CHECK_STR(socks5_cmd_str(0), "unknown");
	CHECK_STR(socks5_cmd_str(4), "unknown");
	CHECK_STR(socks5_cmd_str(0xff), "unknown");
}

static struct socks5_addr domain_addr(const char *name, size_t len, uint16_t port)
{
	struct socks5_addr a;
	memset(&a, 0, sizeof(a));
	a.atyp = SOCKS5_ATYP_DOMAIN;
	a.domain_len = (uint8_t)len;
	a.port = port;
	memcpy(a.u.domain, name, len);
	return a;
}

static void test_addr_str(void)
{
	char out[SOCKS5_ADDR_STRLEN];
	struct socks5_addr a;

	memset(&a, 0, sizeof(a));
	a.atyp = SOCKS5_ATYP_IPV4;
	memcpy(a.u.ipv4, (uint8_t[]){ 10, 1, 2, 3 }, 4);
	a.port = 80;
	CHECK(socks5_addr_str(&a, out, sizeof(out)) == out, "does not return out");
	CHECK_STR(out, "10.1.2.3:80");

	memset(&a, 0, sizeof(a));
	a.atyp = SOCKS5_ATYP_IPV6;
	CU_ASSERT_FATAL(inet_pton(AF_INET6, "2001:db8::1", a.u.ipv6) == 1);
	a.port = 65535;
	CHECK_STR(socks5_addr_str(&a, out, sizeof(out)), "[2001:db8::1]:65535");

	a = domain_addr("example.com", 11, 8080);
	CHECK_STR(socks5_addr_str(&a, out, sizeof(out)), "example.com:8080");

	/* Bytes that could forge a log line or break key=value fields are escaped:
	 * controls, space, backslash, DEL and everything above ASCII. */
	a = domain_addr("a\nb", 3, 1);
	CHECK_STR(socks5_addr_str(&a, out, sizeof(out)), "a\\x0ab:1");
	a = domain_addr("x y", 3, 2);
	CHECK_STR(socks5_addr_str(&a, out, sizeof(out)), "x\\x20y:2");
	a = domain_addr("a\\b", 3, 3);
	CHECK_STR(socks5_addr_str(&a, out, sizeof(out)), "a\\x5cb:3");
	a = domain_addr("\x7f\x80\xff\x01\r\t", 6, 4);
	CHECK_STR(socks5_addr_str(&a, out, sizeof(out)), "\\x7f\\x80\\xff\\x01\\x0d\\x09:4");
	a = domain_addr("host=evil reason=x", 18, 5);
	CHECK_STR(socks5_addr_str(&a, out, sizeof(out)), "host=evil\\x20reason=x:5");

	/* The worst case fits SOCKS5_ADDR_STRLEN: 255 escaped bytes and a 5-digit port. */
	char worst[255];
	memset(worst, 0x01, sizeof(worst));
	a = domain_addr(worst, 255, 65535);
	socks5_addr_str(&a, out, sizeof(out));
	CHECK_INT(strlen(out), 255 * 4 + 6);
	CHECK(strncmp(out, "\\x01\\x01", 8) == 0 && strcmp(out + 1020, ":65535") == 0,
	      "worst-case text is \"%.16s...%s\"", out, out + (strlen(out) > 8 ? strlen(out) - 8 : 0));

	/* A short buffer is cut and terminated. */
	char small[8];
	memset(small, 'z', sizeof(small));
	a = domain_addr("example.com", 11, 80);
	socks5_addr_str(&a, small, sizeof(small));
	CHECK(memchr(small, '\0', sizeof(small)) != NULL, "short buffer not terminated");
	CHECK(strncmp(small, "example", strlen(small)) == 0, "short buffer holds \"%s\"", small);

	memset(&a, 0, sizeof(a));
	a.atyp = 0x09;
	a.port = 7;
	CHECK_STR(socks5_addr_str(&a, out, sizeof(out)), "?:7");
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "greeting: valid, split at every offset", test_greeting_valid },
		{ "greeting: errors", test_greeting_errors },
		{ "userpass: valid, split at every offset", test_userpass_valid },
		{ "userpass: errors", test_userpass_errors },
		{ "request: IPv4, split at every offset", test_request_ipv4 },
		{ "request: IPv6, split at every offset", test_request_ipv6 },
		{ "request: domain, split at every offset", test_request_domain },
		{ "request: other commands are reported", test_request_other_commands },
		{ "request: errors", test_request_errors },
		{ "pipelined messages", test_pipelined },
		{ "random garbage", test_garbage },
		{ "build_reply bytes", test_build_reply },
		{ "build_method and build_userpass_reply", test_build_method_userpass },
		{ "select_method", test_select_method },
		{ "rep_from_errno", test_rep_from_errno },
		{ "rep_from_gai", test_rep_from_gai },
		{ "rep_str and cmd_str", test_rep_cmd_str },
		{ "addr_str and escaping", test_addr_str },
		{ "udp header: IPv4, every truncation", test_udp_header_ipv4 },
		{ "udp header: IPv6, every truncation", test_udp_header_ipv6 },
		{ "udp header: domain names, oversized and empty", test_udp_header_domain },
		{ "udp header: RSV and ATYP errors", test_udp_header_errors },
		{ "udp header: FRAG reported", test_udp_header_frag },
		{ "udp header: random garbage", test_udp_header_garbage },
		{ "build_udp_header bytes", test_build_udp_header },
		{ "bind: two replies", test_bind_replies },
	};
	return UNIT_RUN("socks5", tests);
}
