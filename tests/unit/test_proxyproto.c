/* Unit tests for the PROXY protocol header parser: v1 and v2 headers split at
 * every byte offset, the exact consumed length with a SOCKS5 greeting behind,
 * the byte at which each error is decided, oversized lengths, TLVs, and seeded
 * garbage checked for final answers. Pure: no I/O. */
#include "autoconf.h"

#include "proxyproto.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};
/* What a SOCKS5 client sends first: version 5, one method, "no auth". */
static const uint8_t greeting[] = { 0x05, 0x01, 0x00 };

/* Deterministic generator, so a failure reproduces. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* Parses buf[0..len) from an exact heap copy; checks that *ret and *ret_len
 * are left alone unless the answer is OK. */
static enum proxyproto_status parse(const uint8_t *buf, size_t len, struct proxyproto_header *h,
				    size_t *used)
{
	struct proxyproto_header got;
	size_t got_len;

	memset(&got, 0xa5, sizeof(got));
	memset(&got_len, 0xa5, sizeof(got_len));
	uint8_t *p = unit_dup_exact(buf, len);
	enum proxyproto_status st = proxyproto_parse(p, len, &got, &got_len);
	free(p);
	if (st != PROXYPROTO_OK) {
		CHECK(unit_all_bytes(&got, 0xa5, sizeof(got)) &&
			      unit_all_bytes(&got_len, 0xa5, sizeof(got_len)),
		      "%zu bytes: *ret written with status %d", len, (int)st);
	} else {
		*h = got;
		*used = got_len;
	}
	return st;
}

static bool same_header(const struct proxyproto_header *a, const struct proxyproto_header *b)
{
	return a->version == b->version && a->local == b->local && a->has_addr == b->has_addr &&
	       a->srclen == b->srclen && a->dstlen == b->dstlen &&
	       memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	       memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0;
}

/* An expected header; addresses as text ("1.2.3.4" or "::1"), NULL for none. */
static struct proxyproto_header expect(uint8_t version, bool local, const char *src,
				       uint16_t sport, const char *dst, uint16_t dport)
{
	struct proxyproto_header h;
	const char *text[2] = { src, dst };
	uint16_t port[2] = { sport, dport };
	struct sockaddr_storage *ss[2];
	socklen_t *sslen[2];

	memset(&h, 0, sizeof(h));
	ss[0] = &h.src, ss[1] = &h.dst;
	sslen[0] = &h.srclen, sslen[1] = &h.dstlen;
	h.version = version;
	h.local = local;
	h.has_addr = src != NULL;
	for (int i = 0; i < 2 && h.has_addr; i++) {
		if (strchr(text[i], ':') == NULL) {
			struct sockaddr_in *sin = (struct sockaddr_in *)ss[i];
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port[i]);
			CU_ASSERT_FATAL(inet_pton(AF_INET, text[i], &sin->sin_addr) == 1);
			*sslen[i] = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss[i];
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port[i]);
			CU_ASSERT_FATAL(inet_pton(AF_INET6, text[i], &sin6->sin6_addr) == 1);
			*sslen[i] = sizeof(*sin6);
		}
	}
	return h;
}

/* Every prefix short of the whole header is NEED_MORE and writes nothing; the
 * whole header, alone or with a SOCKS5 greeting behind it, is OK, consumes
 * exactly len bytes and means *want. */
static void check_split(const uint8_t *msg, size_t len, const struct proxyproto_header *want)
{
	struct proxyproto_header got;
	size_t used = 0;
	uint8_t more[PROXYPROTO_MAX_LEN + sizeof(greeting)];

	for (size_t cut = 0; cut < len; cut++) {
		enum proxyproto_status st = parse(msg, cut, &got, &used);
		CHECK(st == PROXYPROTO_NEED_MORE, "%zu of %zu bytes: status %d, expected NEED_MORE",
		      cut, len, (int)st);
	}
	memset(&got, 0, sizeof(got));
	CHECK_INT(parse(msg, len, &got, &used), PROXYPROTO_OK);
	CHECK_INT(used, len);
	CHECK(same_header(&got, want), "%zu-byte header parsed differently", len);

	CU_ASSERT_FATAL(len <= PROXYPROTO_MAX_LEN);
	memcpy(more, msg, len);
	memcpy(more + len, greeting, sizeof(greeting));
	used = 0;
	memset(&got, 0, sizeof(got));
	CHECK_INT(parse(more, len + sizeof(greeting), &got, &used), PROXYPROTO_OK);
	CHECK_INT(used, len);
	CHECK(same_header(&got, want), "header parsed differently with a greeting behind");
}

static void check_split_str(const char *line, const struct proxyproto_header *want)
{
	check_split((const uint8_t *)line, strlen(line), want);
}

/* msg is refused with want, first at exactly decided bytes (every shorter
 * prefix is NEED_MORE) and then at every longer prefix too. */
static void check_refused(const uint8_t *msg, size_t len, size_t decided,
			  enum proxyproto_status want)
{
	struct proxyproto_header got;
	size_t used;

	CU_ASSERT_FATAL(decided > 0 && decided <= len);
	for (size_t cut = 0; cut <= len; cut++) {
		enum proxyproto_status st = parse(msg, cut, &got, &used);
		enum proxyproto_status exp = cut < decided ? PROXYPROTO_NEED_MORE : want;
		CHECK(st == exp, "%zu of %zu bytes (decided at %zu): status %d, expected %d", cut,
		      len, decided, (int)st, (int)exp);
	}
}

/* Like check_refused() for a text line; decided is the offset of the byte
 * that decides (as found by strcspn() or given), counted from 1. */
static void check_refused_str(const char *line, size_t decided, enum proxyproto_status want)
{
	check_refused((const uint8_t *)line, strlen(line), decided, want);
}

/* ---- v1 ---- */

static void test_v1_tcp4(void)
{
	struct proxyproto_header w = expect(1, false, "192.168.0.1", 56324, "192.168.0.11", 443);
	check_split_str("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", &w);

	/* The spec's longest TCP4 line, and the smallest values. */
	w = expect(1, false, "255.255.255.255", 65535, "255.255.255.255", 65535);
	check_split_str("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", &w);
	w = expect(1, false, "0.0.0.0", 0, "10.0.0.5", 1080);
	check_split_str("PROXY TCP4 0.0.0.0 10.0.0.5 0 1080\r\n", &w);
}

static void test_v1_tcp6(void)
{
	struct proxyproto_header w = expect(1, false, "2001:db8::1", 40000, "::1", 1080);
	check_split_str("PROXY TCP6 2001:db8::1 ::1 40000 1080\r\n", &w);
	/* Upper case hex, and an IPv4-mapped address kept as sent. */
	w = expect(1, false, "2001:db8::abcd", 1, "::ffff:10.0.0.5", 1080);
	check_split_str("PROXY TCP6 2001:DB8::ABCD ::ffff:10.0.0.5 1 1080\r\n", &w);

	/* The spec's longest TCP6 line: 104 bytes. */
	static const char full[] = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
	char line[160];
	snprintf(line, sizeof(line), "PROXY TCP6 %s %s 65535 65535\r\n", full, full);
	CHECK_INT(strlen(line), 104);
	w = expect(1, false, full, 65535, full, 65535);
	check_split_str(line, &w);
}

static void test_v1_unknown(void)
{
	struct proxyproto_header w = expect(1, false, NULL, 0, NULL, 0);
	check_split_str("PROXY UNKNOWN\r\n", &w);
	/* Whatever follows UNKNOWN is ignored, even nonsense. */
	check_split_str("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", &w);
	check_split_str("PROXY UNKNOWN what  ever\tthis\x01 is \r\n", &w);

	/* The spec's worst case is 107 bytes, the longest line accepted. */
	static const char full[] = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
	char line[160];
	snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 65535\r\n", full, full);
	CHECK_INT(strlen(line), PROXYPROTO_V1_MAX_LEN);
	check_split_str(line, &w);
}

/* Lines that are refused once their CRLF has arrived: the fields are judged
 * only then, so the answer comes with the LF. */
static void test_v1_bad_fields(void)
{
	static const char *const bad[] = {
		"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",		/* two spaces */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",		/* trailing space */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",		/* a field too many */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",		/* no destination port */
		"PROXY TCP4 1.2.3.4 5.6.7.8\r\n",
		"PROXY TCP4 1.2.3.4\r\n",
		"PROXY TCP4 \r\n",
		"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",		/* bad IPv4 */
		"PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n",
		"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",		/* leading zero (octal?) */
		"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 localhost 1 2\r\n",
		"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",		/* wrong family */
		"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
		"PROXY TCP6 ::1 ::1::2 1 2\r\n",
		"PROXY TCP6 ::1 fe80::1%lo 1 2\r\n",		/* no scope ids */
		"PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n",
		"PROXY TCP6 ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",	/* ports */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 000001 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 0x50 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2a\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\t2\r\n",
		"PROXY UNKNOWNX\r\n",				/* the word must end */
		"PROXY UNKNOWN\t1\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);
		check_refused_str(bad[i], n, PROXYPROTO_BAD_HEADER);
	}
	/* A NUL inside an address is not the end of it. */
	static const uint8_t nul[] = "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n";
	check_refused(nul, sizeof(nul) - 1, sizeof(nul) - 1, PROXYPROTO_BAD_HEADER);
}

/* Lines refused before their end, at the byte that cannot be right. */
static void test_v1_bad_early(void)
{
	/* The protocol word. */
	check_refused_str("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", 6, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 7, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", 7, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", 10, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY TCP4\r\n", 11, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", 8, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY \r\n", 7, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY\r\n", 6, PROXYPROTO_BAD_HEADER);

	/* A lone LF, a CR not followed by LF, LF CR. */
	check_refused_str("PROXY UNKNOWN\n", 14, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r", 31, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx\n", 32, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY UNKNOWN \n\r\n", 15, PROXYPROTO_BAD_HEADER);
	check_refused_str("PROXY UNKNOWN \r\r\n", 16, PROXYPROTO_BAD_HEADER);

	/* No CRLF within 107 bytes: refused at the 107th, not before. */
	char line[200] = "PROXY UNKNOWN ";
	while (strlen(line) < 110)
		strcat(line, "x");
	strcat(line, "\r\n");
	check_refused_str(line, PROXYPROTO_V1_MAX_LEN, PROXYPROTO_BAD_HEADER);
	/* A CR as the 107th byte cannot have its LF in time either. */
	memset(line, 0, sizeof(line));
	strcpy(line, "PROXY UNKNOWN ");
	while (strlen(line) < PROXYPROTO_V1_MAX_LEN - 1)
		strcat(line, "y");
	strcat(line, "\r\n");
	CHECK_INT(strlen(line), PROXYPROTO_V1_MAX_LEN + 1);
	check_refused_str(line, PROXYPROTO_V1_MAX_LEN, PROXYPROTO_BAD_HEADER);
}

/* ---- signatures ---- */

static void test_bad_signature(void)
{
	static const uint8_t socks4[] = { 0x04, 0x01, 0x00, 0x50, 0x7f, 0x00, 0x00, 0x01, 0x00 };
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x00, 0xa5 };
	struct proxyproto_header h;
	size_t used;

	/* A SOCKS5 client that speaks first is refused from its first byte. */
	check_refused(greeting, sizeof(greeting), 1, PROXYPROTO_BAD_SIGNATURE);
	check_refused(socks4, sizeof(socks4), 1, PROXYPROTO_BAD_SIGNATURE);
	check_refused(tls, sizeof(tls), 1, PROXYPROTO_BAD_SIGNATURE);
	check_refused_str("GET / HTTP/1.1\r\n\r\n", 1, PROXYPROTO_BAD_SIGNATURE);
	check_refused_str("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 1, PROXYPROTO_BAD_SIGNATURE);
	/* A shared first byte waits for the one that differs. */
	check_refused_str("POST / HTTP/1.1\r\n\r\n", 2, PROXYPROTO_BAD_SIGNATURE);
	check_refused_str("PROXX TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 5, PROXYPROTO_BAD_SIGNATURE);
	check_refused_str("\r\n\r\nGET / HTTP/1.1\r\n", 5, PROXYPROTO_BAD_SIGNATURE);

	/* The v2 signature wrong at each of its bytes after the first. */
	for (size_t i = 1; i < sizeof(v2_sig); i++) {
		uint8_t msg[32];
		memcpy(msg, v2_sig, sizeof(v2_sig));
		memset(msg + sizeof(v2_sig), 0, sizeof(msg) - sizeof(v2_sig));
		msg[12] = 0x21;
		msg[13] = 0x11;
		msg[15] = 12;
		msg[i] ^= 0x40;
		check_refused(msg, 28, i + 1, PROXYPROTO_BAD_SIGNATURE);
	}
	CHECK_INT(parse(NULL, 0, &h, &used), PROXYPROTO_NEED_MORE);
}

/* ---- v2 ---- */

/* Builds a v2 header: signature, ver_cmd, fam, length, then body. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, size_t blen)
{
	memcpy(out, v2_sig, sizeof(v2_sig));
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	if (blen > 0)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

static const uint8_t body4[] = {
	192, 0, 2, 7,		/* source */
	10, 0, 0, 5,		/* destination */
	0xdb, 0x04,		/* 56068 */
	0x04, 0x38,		/* 1080 */
};

static const uint8_t body6[] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	0xff, 0xff,		/* 65535 */
	0x00, 0x00,		/* 0 */
};

static void test_v2_tcp(void)
{
	uint8_t msg[PROXYPROTO_MAX_LEN];
	struct proxyproto_header w;

	w = expect(2, false, "192.0.2.7", 56068, "10.0.0.5", 1080);
	check_split(msg, v2(msg, 0x21, 0x11, body4, sizeof(body4)), &w);
	w = expect(2, false, "2001:db8::1", 65535, "::1", 0);
	check_split(msg, v2(msg, 0x21, 0x21, body6, sizeof(body6)), &w);
}

static void test_v2_tlvs(void)
{
	uint8_t body[PROXYPROTO_MAX_LEN], msg[PROXYPROTO_MAX_LEN];
	struct proxyproto_header w = expect(2, false, "192.0.2.7", 56068, "10.0.0.5", 1080);
	size_t n = sizeof(body4);

	/* ALPN "socks", an empty NOOP, a 32-byte unique id: skipped, consumed. */
	memcpy(body, body4, n);
	memcpy(body + n, "\x01\x00\x05socks", 8);
	n += 8;
	memcpy(body + n, "\x04\x00\x00", 3);
	n += 3;
	body[n++] = 0x05, body[n++] = 0x00, body[n++] = 32;
	memset(body + n, 'u', 32);
	n += 32;
	check_split(msg, v2(msg, 0x21, 0x11, body, n), &w);

	/* The largest header accepted: a NOOP fills it to PROXYPROTO_MAX_LEN. */
	size_t fill = PROXYPROTO_MAX_LEN - 16 - sizeof(body4) - 3;
	memcpy(body, body4, sizeof(body4));
	body[12] = 0x04, body[13] = (uint8_t)(fill >> 8), body[14] = (uint8_t)fill;
	memset(body + 15, 0, fill);
	CHECK_INT(v2(msg, 0x21, 0x11, body, 15 + fill), PROXYPROTO_MAX_LEN);
	check_split(msg, PROXYPROTO_MAX_LEN, &w);

	/* TLVs that do not tile the rest: a short TLV header, a value running
	 * past the end; judged once the whole header is in. */
	static const uint8_t tails[][5] = {
		{ 1, 0x04 }, { 2, 0x04, 0x00 }, { 3, 0x04, 0x00, 0x01 }, { 4, 0x04, 0x00, 0x02, 0 },
	};
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		memcpy(body, body4, sizeof(body4));
		memcpy(body + sizeof(body4), tails[i] + 1, tails[i][0]);
		size_t len = v2(msg, 0x21, 0x11, body, sizeof(body4) + tails[i][0]);
		check_refused(msg, len, len, PROXYPROTO_BAD_HEADER);
	}
	/* Six bytes of the IPv6 block missing: the length is too short. */
	size_t len = v2(msg, 0x21, 0x21, body6, sizeof(body6));
	msg[15] = sizeof(body6) - 6;
	check_refused(msg, len, 16, PROXYPROTO_BAD_HEADER);
}

static void test_v2_local(void)
{
	uint8_t msg[PROXYPROTO_MAX_LEN], junk[40];
	struct proxyproto_header w = expect(2, true, NULL, 0, NULL, 0);

	/* HAProxy's health check: LOCAL, UNSPEC, no addresses. */
	check_split(msg, v2(msg, 0x20, 0x00, NULL, 0), &w);
	/* Addresses and family are ignored for LOCAL, whatever they are, and the
	 * length is trusted for what to skip, even less than a family's block. */
	check_split(msg, v2(msg, 0x20, 0x11, body4, sizeof(body4)), &w);
	check_split(msg, v2(msg, 0x20, 0x21, body4, sizeof(body4)), &w);
	check_split(msg, v2(msg, 0x20, 0xff, body4, 3), &w);
	memset(junk, 0xee, sizeof(junk));
	check_split(msg, v2(msg, 0x20, 0x77, junk, sizeof(junk)), &w);
}

static void test_v2_unspec(void)
{
	uint8_t msg[PROXYPROTO_MAX_LEN], body[300], junk[5] = { 1, 2, 3, 4, 5 };
	struct proxyproto_header w = expect(2, false, NULL, 0, NULL, 0);

	/* PROXY with AF_UNSPEC: the real addresses are kept; what the block holds
	 * is not read, so neither addresses nor TLVs are judged. */
	check_split(msg, v2(msg, 0x21, 0x00, NULL, 0), &w);
	check_split(msg, v2(msg, 0x21, 0x00, junk, sizeof(junk)), &w);
	check_split(msg, v2(msg, 0x21, 0x10, junk, sizeof(junk)), &w);
	check_split(msg, v2(msg, 0x21, 0x01, junk, sizeof(junk)), &w);
	/* UDP and AF_UNIX fall back to UNSPEC, as the spec asks of a receiver that
	 * does not implement them; their blocks must still be whole. */
	check_split(msg, v2(msg, 0x21, 0x12, body4, sizeof(body4)), &w);
	check_split(msg, v2(msg, 0x21, 0x22, body6, sizeof(body6)), &w);
	memset(body, 0, sizeof(body));
	memcpy(body, "/run/a.sock", 11);
	check_split(msg, v2(msg, 0x21, 0x31, body, 216), &w);
	memcpy(body + 216, "\x04\x00\x01x", 4);
	check_split(msg, v2(msg, 0x21, 0x32, body, 220), &w);

	size_t len = v2(msg, 0x21, 0x31, body, 215);
	check_refused(msg, len, 16, PROXYPROTO_BAD_HEADER);
	len = v2(msg, 0x21, 0x12, body4, 11);
	check_refused(msg, len, 16, PROXYPROTO_BAD_HEADER);
	len = v2(msg, 0x21, 0x11, NULL, 0);
	check_refused(msg, len, 16, PROXYPROTO_BAD_HEADER);
}

static void test_v2_unsupported(void)
{
	uint8_t msg[PROXYPROTO_MAX_LEN];
	size_t len;

	/* Versions other than 2 and commands other than LOCAL/PROXY: at byte 13. */
	static const uint8_t ver_cmds[] = { 0x11, 0x10, 0x31, 0x00, 0xf1, 0x22, 0x2f, 0x2a };
	for (size_t i = 0; i < sizeof(ver_cmds); i++) {
		len = v2(msg, ver_cmds[i], 0x11, body4, sizeof(body4));
		check_refused(msg, len, 13, PROXYPROTO_UNSUPPORTED);
	}
	/* Families above AF_UNIX, protocols above DGRAM: at byte 14. */
	static const uint8_t fams[] = { 0x41, 0xf1, 0x13, 0x1f, 0x03, 0x40, 0x33 };
	for (size_t i = 0; i < sizeof(fams); i++) {
		len = v2(msg, 0x21, fams[i], body4, sizeof(body4));
		check_refused(msg, len, 14, PROXYPROTO_UNSUPPORTED);
	}
}

static void test_v2_oversized(void)
{
	uint8_t msg[PROXYPROTO_MAX_LEN + 16];
	size_t limit = PROXYPROTO_MAX_LEN - 16;

	/* Refused from the length field alone, before any of the body is read. */
	static const unsigned lens[] = { 0xffff, 0x8000, 1024 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		v2(msg, 0x21, 0x11, body4, sizeof(body4));
		msg[14] = (uint8_t)(lens[i] >> 8), msg[15] = (uint8_t)lens[i];
		check_refused(msg, 16 + sizeof(body4), 16, PROXYPROTO_BAD_HEADER);
	}
	/* One byte over the limit, also for LOCAL; the limit itself is fine. */
	memset(msg, 0, sizeof(msg));
	v2(msg, 0x20, 0x00, NULL, 0);
	msg[14] = (uint8_t)((limit + 1) >> 8), msg[15] = (uint8_t)(limit + 1);
	check_refused(msg, sizeof(msg), 16, PROXYPROTO_BAD_HEADER);
	msg[14] = (uint8_t)(limit >> 8), msg[15] = (uint8_t)limit;
	struct proxyproto_header w = expect(2, true, NULL, 0, NULL, 0);
	check_split(msg, PROXYPROTO_MAX_LEN, &w);
}

/* ---- seeded garbage ---- */

/* Random bytes behind each signature: whatever the answer, the shorter
 * prefixes say NEED_MORE until it is decided and then give the same answer,
 * and an OK consumes no more than it was given. */
static void test_random(void)
{
	static const char *const starts[] = { "", "PROXY ", "PROXY TCP4 ", "PROXY TCP6 ",
					      "PROXY UNKNOWN" };
	uint8_t msg[160];
	struct proxyproto_header h;
	size_t used;

	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 3000; round++) {
		size_t len = 1 + rng_next() % sizeof(msg), pre;
		for (size_t i = 0; i < len; i++) {
			/* Mostly address-like text, so some lines parse. */
			static const char alpha[] = "0123456789.: abcdef\r\n";
			uint64_t r = rng_next();
			msg[i] = r % 4 ? (uint8_t)alpha[(r >> 8) % (sizeof(alpha) - 1)]
				       : (uint8_t)(r >> 16);
		}
		if (round % 6 == 5) {
			pre = sizeof(v2_sig) < len ? sizeof(v2_sig) : len;
			memcpy(msg, v2_sig, pre);
			if (len > 12)
				msg[12] = 0x20 | (msg[12] & 1);
			if (len > 15)
				msg[14] = 0, msg[15] = (uint8_t)(msg[15] % 64);
		} else {
			const char *s = starts[round % 5];
			pre = strlen(s) < len ? strlen(s) : len;
			memcpy(msg, s, pre);
		}
		enum proxyproto_status whole = parse(msg, len, &h, &used);
		bool decided = false;
		for (size_t cut = 0; cut <= len; cut++) {
			enum proxyproto_status st = parse(msg, cut, &h, &used);
			if (st == PROXYPROTO_NEED_MORE) {
				CHECK(!decided, "round %d: NEED_MORE at %zu after a final answer",
				      round, cut);
				continue;
			}
			decided = true;
			CHECK(st == whole, "round %d: status %d at %zu, %d for all %zu", round,
			      (int)st, cut, (int)whole, len);
			if (st == PROXYPROTO_OK)
				CHECK(used <= cut, "round %d: consumed %zu of %zu", round, used,
				      cut);
		}
	}
}

static void test_status_str(void)
{
	static const enum proxyproto_status all[] = {
		PROXYPROTO_OK, PROXYPROTO_NEED_MORE, PROXYPROTO_BAD_SIGNATURE,
		PROXYPROTO_BAD_HEADER, PROXYPROTO_UNSUPPORTED,
	};
	const size_t n = sizeof(all) / sizeof(all[0]);

	CHECK_STR(proxyproto_status_str(PROXYPROTO_OK), "ok");
	for (size_t i = 0; i < n; i++) {
		const char *s = proxyproto_status_str(all[i]);
		CHECK(s != NULL && s[0] != '\0' && strcmp(s, "unknown") != 0,
		      "status %d has no name", (int)all[i]);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(s, proxyproto_status_str(all[j])) != 0,
			      "statuses %d and %d share a name", (int)all[i], (int)all[j]);
	}
	CHECK_STR(proxyproto_status_str((enum proxyproto_status)99), "unknown");
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "v1 TCP4: split at every offset, exact length", test_v1_tcp4 },
		{ "v1 TCP6: split at every offset, longest line", test_v1_tcp6 },
		{ "v1 UNKNOWN: rest ignored, 107-byte worst case", test_v1_unknown },
		{ "v1: bad addresses, ports, spacing", test_v1_bad_fields },
		{ "v1: refused at the deciding byte, no CRLF in 107", test_v1_bad_early },
		{ "signatures: SOCKS5 first is refused at byte 1", test_bad_signature },
		{ "v2 TCP over IPv4 and IPv6", test_v2_tcp },
		{ "v2 TLVs: skipped, validated, largest header", test_v2_tlvs },
		{ "v2 LOCAL: health check, block skipped", test_v2_local },
		{ "v2 UNSPEC, UDP, AF_UNIX: no addresses", test_v2_unspec },
		{ "v2 bad version, command, family", test_v2_unsupported },
		{ "v2 oversized lengths", test_v2_oversized },
		{ "seeded garbage: answers are final", test_random },
		{ "status names", test_status_str },
	};
	return UNIT_RUN("proxyproto", tests);
}
