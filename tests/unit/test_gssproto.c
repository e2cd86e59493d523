/* Unit tests for the RFC 1961 framing: every truncation point of each message
 * type, aborts where any type is expected, wrong versions and types at the
 * byte that decides them, zero and largest lengths, the builders, and seeded
 * garbage checked for final answers. Pure: no I/O. */
#include "autoconf.h"

#include "gssproto.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Parses buf[0..len) from an exact heap copy (so ASan sees any overread)
 * and checks the out-params are left alone unless the answer is OK. */
static enum gssproto_status parse(const uint8_t *buf, size_t len, uint8_t expect, bool whole,
				  struct gssproto_msg *m, size_t *used)
{
	uint8_t *p = unit_dup_exact(buf, len);
	struct gssproto_msg fill;
	size_t u = 0x5a5a;

	memset(&fill, 0x5a, sizeof(fill));
	*m = fill;
	enum gssproto_status st = whole ? gssproto_parse(p, len, expect, m, &u)
					: gssproto_parse_header(p, len, expect, m, &u);
	if (st != GSSPROTO_OK)
		CHECK(u == 0x5a5a && memcmp(m, &fill, sizeof(fill)) == 0,
		      "out-params written on status %d", (int)st);
	*used = u;
	if (st == GSSPROTO_OK && m->token != NULL)
		m->token = buf + (m->token - p);	/* into the caller's buffer */
	free(p);
	return st;
}

/* A message of type with an n-byte token of 'a'..: header then token. */
static size_t message(uint8_t *out, uint8_t type, size_t n)
{
	size_t h = gssproto_build_header(out, type, n);
	CHECK_INT(h, GSSPROTO_HEADER_LEN);
	for (size_t i = 0; i < n; i++)
		out[h + i] = (uint8_t)('a' + i % 26);
	return h + n;
}

static void test_truncations(void)
{
	static const uint8_t types[] = { GSSPROTO_AUTH, GSSPROTO_PROTECTION, GSSPROTO_DATA };
	uint8_t buf[GSSPROTO_HEADER_LEN + 300];
	struct gssproto_msg m;
	size_t used;

	for (size_t t = 0; t < sizeof(types); t++) {
		size_t len = message(buf, types[t], 300);
		for (size_t cut = 0; cut < len; cut++) {
			CHECK_INT(parse(buf, cut, types[t], true, &m, &used), GSSPROTO_NEED_MORE);
			if (cut < GSSPROTO_HEADER_LEN)
				CHECK_INT(parse(buf, cut, types[t], false, &m, &used),
					  GSSPROTO_NEED_MORE);
		}
		CHECK_INT(parse(buf, len, types[t], true, &m, &used), GSSPROTO_OK);
		CHECK_INT(used, len);
		CHECK_INT(m.type, types[t]);
		CHECK_INT(m.token_len, 300);
		CHECK(m.token == buf + GSSPROTO_HEADER_LEN, "token not after the header");
		/* Bytes after the message are not taken. */
		CHECK_INT(parse(buf, GSSPROTO_HEADER_LEN, types[t], false, &m, &used), GSSPROTO_OK);
		CHECK_INT(used, GSSPROTO_HEADER_LEN);
		CHECK(m.token == NULL, "header parse gave a token");
		CHECK_INT(m.token_len, 300);
	}
}

static void test_abort(void)
{
	static const uint8_t types[] = { GSSPROTO_AUTH, GSSPROTO_PROTECTION, GSSPROTO_DATA };
	uint8_t buf[8] = { 0 };
	struct gssproto_msg m;
	size_t used;

	CHECK_INT(gssproto_build_abort(buf), GSSPROTO_ABORT_LEN);
	CHECK(buf[0] == 0x01 && buf[1] == 0xff, "abort is not 01 ff");
	for (size_t t = 0; t < sizeof(types); t++) {
		for (int whole = 0; whole < 2; whole++) {
			CHECK_INT(parse(buf, 1, types[t], whole, &m, &used), GSSPROTO_NEED_MORE);
			/* Whatever follows the two bytes is not part of the abort. */
			CHECK_INT(parse(buf, sizeof(buf), types[t], whole, &m, &used), GSSPROTO_OK);
			CHECK_INT(used, GSSPROTO_ABORT_LEN);
			CHECK_INT(m.type, GSSPROTO_ABORT);
			CHECK_INT(m.token_len, 0);
			CHECK(m.token == NULL, "abort has a token");
		}
	}
}

static void test_bad_version_and_type(void)
{
	uint8_t buf[GSSPROTO_HEADER_LEN + 4];
	struct gssproto_msg m;
	size_t used, len = message(buf, GSSPROTO_AUTH, 4);

	/* SOCKS5 version, a zero byte, the abort's type as a version. */
	static const uint8_t versions[] = { 0x05, 0x00, 0x02, 0xff };
	for (size_t v = 0; v < sizeof(versions); v++) {
		buf[0] = versions[v];
		for (size_t cut = 1; cut <= len; cut++)
			CHECK_INT(parse(buf, cut, GSSPROTO_AUTH, true, &m, &used),
				  GSSPROTO_BAD_VERSION);
	}
	buf[0] = GSSPROTO_VERSION;
	/* A data message where a context token is expected, and the reverse:
	 * decided at the second byte. */
	static const uint8_t others[] = { 0x00, GSSPROTO_PROTECTION, GSSPROTO_DATA, 0x04, 0xfe };
	for (size_t o = 0; o < sizeof(others); o++) {
		buf[1] = others[o];
		for (size_t cut = 2; cut <= len; cut++)
			CHECK_INT(parse(buf, cut, GSSPROTO_AUTH, true, &m, &used),
				  GSSPROTO_BAD_TYPE);
	}
	buf[1] = GSSPROTO_AUTH;
	CHECK_INT(parse(buf, len, GSSPROTO_DATA, true, &m, &used), GSSPROTO_BAD_TYPE);
	/* Expecting an abort and nothing else is not a use the parser has. */
	CHECK_INT(parse(buf, len, GSSPROTO_ABORT, true, &m, &used), GSSPROTO_BAD_TYPE);
}

static void test_lengths(void)
{
	static uint8_t buf[GSSPROTO_HEADER_LEN + GSSPROTO_TOKEN_MAX + 1];
	struct gssproto_msg m;
	size_t used;
	const uint8_t zero[] = { 0x01, 0x01, 0x00, 0x00, 0xaa };

	CHECK_INT(parse(zero, 3, GSSPROTO_AUTH, true, &m, &used), GSSPROTO_NEED_MORE);
	CHECK_INT(parse(zero, 4, GSSPROTO_AUTH, true, &m, &used), GSSPROTO_BAD_LENGTH);
	CHECK_INT(parse(zero, 5, GSSPROTO_AUTH, false, &m, &used), GSSPROTO_BAD_LENGTH);

	size_t len = message(buf, GSSPROTO_DATA, GSSPROTO_TOKEN_MAX);
	CHECK(buf[2] == 0xff && buf[3] == 0xff, "largest length not ff ff");
	CHECK_INT(parse(buf, len - 1, GSSPROTO_DATA, true, &m, &used), GSSPROTO_NEED_MORE);
	CHECK_INT(parse(buf, len + 1, GSSPROTO_DATA, true, &m, &used), GSSPROTO_OK);
	CHECK_INT(used, len);
	CHECK_INT(m.token_len, GSSPROTO_TOKEN_MAX);

	/* The builder refuses what the frame cannot carry and writes nothing. */
	uint8_t h[GSSPROTO_HEADER_LEN];
	memset(h, 0x77, sizeof(h));
	CHECK_INT(gssproto_build_header(h, GSSPROTO_AUTH, 0), 0);
	CHECK_INT(gssproto_build_header(h, GSSPROTO_AUTH, GSSPROTO_TOKEN_MAX + 1), 0);
	CHECK_INT(gssproto_build_header(h, GSSPROTO_ABORT, 5), 0);
	CHECK(unit_all_bytes(h, 0x77, sizeof(h)), "a refused header wrote bytes");
	CHECK_INT(gssproto_build_header(h, GSSPROTO_PROTECTION, 0x0102), GSSPROTO_HEADER_LEN);
	CHECK(h[0] == 1 && h[1] == 2 && h[2] == 1 && h[3] == 2, "header bytes wrong");
}

/* Seeded garbage: an answer at some length stays the answer with more bytes
 * (OK keeps its length, errors stay errors), and OK never takes more than
 * it was given. */
static void test_random(void)
{
	unsigned state = unit_seed();
	uint8_t buf[16];
	struct gssproto_msg m, m2;
	size_t used, used2;

	for (int round = 0; round < 20000; round++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)unit_below(&state, 4) == 0 ? (uint8_t)unit_below(&state, 256)
								     : (uint8_t)unit_below(&state, 4);
		uint8_t expect = (uint8_t)(1 + unit_below(&state, 3));
		for (size_t len = 0; len <= sizeof(buf); len++) {
			enum gssproto_status st = parse(buf, len, expect, true, &m, &used);
			if (st == GSSPROTO_NEED_MORE)
				continue;
			CHECK(st != GSSPROTO_OK || used <= len, "took %zu of %zu", used, len);
			enum gssproto_status st2 = parse(buf, sizeof(buf), expect, true, &m2, &used2);
			CHECK_INT(st2, st);
			if (st == GSSPROTO_OK)
				CHECK_INT(used2, used);
			break;
		}
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "every truncation of each message type", test_truncations },
		{ "abort accepted wherever a message is", test_abort },
		{ "wrong versions and types at the deciding byte", test_bad_version_and_type },
		{ "zero and largest lengths, builders", test_lengths },
		{ "seeded garbage: answers are final", test_random },
	};
	return UNIT_RUN("gssproto", tests);
}
