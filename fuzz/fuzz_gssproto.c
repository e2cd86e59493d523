/* libFuzzer target for the RFC 1961 framing (gssproto.h), which reads what a
 * GSSAPI client sends after the method reply. Besides "no crash", it checks
 * what the header promises: a verdict other than "need more" is final at
 * every longer prefix, out-parameters are written only on OK, a message's
 * length is its header plus its token and never reads past the buffer, the
 * header alone agrees with the whole-message parser, and a token written
 * with gssproto_build_header() parses back to itself.
 *
 * Run: ./fuzz_gssproto -max_total_time=30 -max_len=1024 fuzz/corpus-gssproto
 * (the first input byte picks the expected message type). */
#include "autoconf.h"

#include "fuzz.h"

#include "gssproto.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool status_ok(enum gssproto_status st)
{
	return st == GSSPROTO_OK || st == GSSPROTO_NEED_MORE || st == GSSPROTO_BAD_VERSION ||
	       st == GSSPROTO_BAD_TYPE || st == GSSPROTO_BAD_LENGTH;
}

/* One parser on an exact heap copy (ASan sees a read past the end). */
static enum gssproto_status parse(bool whole, const uint8_t *buf, size_t len, uint8_t expect,
				  struct gssproto_msg *m, size_t *used)
{
	uint8_t *copy = malloc(len ? len : 1);
	CHECK(copy != NULL);
	if (len > 0)
		memcpy(copy, buf, len);
	memset(m, 0xa5, sizeof(*m));
	memset(used, 0xa5, sizeof(*used));
	enum gssproto_status st = whole ? gssproto_parse(copy, len, expect, m, used)
					: gssproto_parse_header(copy, len, expect, m, used);
	CHECK(status_ok(st));
	if (st != GSSPROTO_OK)
		CHECK(fuzz_all_bytes(m, 0xa5, sizeof(*m)) && fuzz_all_bytes(used, 0xa5, sizeof(*used)));
	if (st == GSSPROTO_OK && m->token != NULL) {
		CHECK(m->token >= copy && m->token + m->token_len <= copy + len);
		m->token = buf + (m->token - copy);	/* into the caller's bytes */
	}
	free(copy);
	return st;
}

static void check_msg(bool whole, const struct gssproto_msg *m, size_t used, const uint8_t *buf,
		      uint8_t expect)
{
	if (m->type == GSSPROTO_ABORT) {
		CHECK(used == GSSPROTO_ABORT_LEN && m->token_len == 0 && m->token == NULL);
		CHECK(buf[0] == GSSPROTO_VERSION && buf[1] == GSSPROTO_ABORT);
		return;
	}
	CHECK(m->type == expect && expect != GSSPROTO_ABORT);
	CHECK(m->token_len >= 1 && m->token_len <= GSSPROTO_TOKEN_MAX);
	CHECK(m->token_len == ((size_t)buf[2] << 8 | buf[3]));
	if (whole) {
		CHECK(used == GSSPROTO_HEADER_LEN + m->token_len);
		CHECK(m->token == buf + GSSPROTO_HEADER_LEN);
	} else {
		CHECK(used == GSSPROTO_HEADER_LEN && m->token == NULL);
	}
}

/* Every prefix of one parser: "need more" until decided, then the same. */
static void fuzz_parser(bool whole, const uint8_t *data, size_t size, uint8_t expect)
{
	struct gssproto_msg m, first;
	size_t used, first_used = 0;
	bool decided = false;
	enum gssproto_status verdict = GSSPROTO_NEED_MORE;

	for (size_t k = 0; k <= size; k++) {
		enum gssproto_status st = parse(whole, data, k, expect, &m, &used);
		if (st == GSSPROTO_NEED_MORE) {
			CHECK(!decided);
			continue;
		}
		if (!decided) {
			decided = true;
			verdict = st;
			first = m;
			first_used = used;
			if (st == GSSPROTO_OK) {
				CHECK(used == k);	/* decided at the last byte it needs */
				check_msg(whole, &m, used, data, expect);
			}
			continue;
		}
		CHECK(st == verdict);
		if (st == GSSPROTO_OK)
			CHECK(used == first_used && m.type == first.type &&
			      m.token_len == first.token_len && m.token == first.token);
	}
	/* A header is decided within 4 bytes; a whole message within 65539. */
	if (!whole && size >= GSSPROTO_HEADER_LEN)
		CHECK(decided);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t types[] = { GSSPROTO_AUTH, GSSPROTO_PROTECTION, GSSPROTO_DATA,
					 GSSPROTO_ABORT };
	struct gssproto_msg h, w;
	size_t hu, wu;

	if (size < 1)
		return 0;
	uint8_t expect = types[data[0] % sizeof(types)];
	data++, size--;
	fuzz_parser(false, data, size, expect);
	fuzz_parser(true, data, size, expect);

	/* The header parser and the whole-message parser agree. */
	enum gssproto_status hs = parse(false, data, size, expect, &h, &hu);
	enum gssproto_status ws = parse(true, data, size, expect, &w, &wu);
	if (hs != GSSPROTO_OK)
		CHECK(ws == hs);
	else if (ws == GSSPROTO_OK)
		CHECK(w.type == h.type && w.token_len == h.token_len);
	else
		CHECK(ws == GSSPROTO_NEED_MORE && size - hu < h.token_len);

	/* The input as a token: its frame parses back to it. */
	if (size >= 1 && size <= GSSPROTO_TOKEN_MAX && expect != GSSPROTO_ABORT) {
		uint8_t *buf = malloc(GSSPROTO_HEADER_LEN + size);
		CHECK(buf != NULL);
		CHECK(gssproto_build_header(buf, expect, size) == GSSPROTO_HEADER_LEN);
		memcpy(buf + GSSPROTO_HEADER_LEN, data, size);
		CHECK(gssproto_parse(buf, GSSPROTO_HEADER_LEN + size, expect, &w, &wu) ==
		      GSSPROTO_OK);
		CHECK(wu == GSSPROTO_HEADER_LEN + size && w.token == buf + GSSPROTO_HEADER_LEN);
		CHECK(w.type == expect && w.token_len == size);
		free(buf);
	}
	uint8_t hdr[GSSPROTO_HEADER_LEN];
	CHECK(gssproto_build_header(hdr, expect, 0) == 0);
	CHECK(gssproto_build_header(hdr, GSSPROTO_AUTH, GSSPROTO_TOKEN_MAX + 1) == 0);
	CHECK(gssproto_build_abort(hdr) == GSSPROTO_ABORT_LEN && hdr[0] == 1 && hdr[1] == 0xff);
	return 0;
}
