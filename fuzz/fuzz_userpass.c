/* libFuzzer target for the RFC 1929 username/password request (VER ULEN
 * UNAME PLEN PASSWD), the bytes that reach PAM. Besides "no crash": the
 * status is final at every prefix (every proper prefix of a request is "need
 * more"), the parse re-encodes to exactly the bytes it consumed, user and
 * password are NUL-terminated at their lengths, and only the version byte
 * (0x01, not the SOCKS version) decides BAD_VERSION.
 * Run: fuzz/run.sh, or fuzz_userpass -max_len=4096 WORKDIR fuzz/corpus-userpass */
#include "autoconf.h"

#include "fuzz_socks5.h"

#define USERPASS_MAX (3 + 255 + 255)

static enum socks5_status p_userpass(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_userpass(b, l, r, n);
}

static bool same_userpass(const void *x, const void *y)
{
	const struct socks5_userpass *a = x, *b = y;
	return a->ulen == b->ulen && a->plen == b->plen &&
	       memcmp(a->user, b->user, a->ulen + 1u) == 0 &&
	       memcmp(a->pass, b->pass, a->plen + 1u) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct socks5_userpass up;
	size_t used;
	enum socks5_status st = fuzz_socks5_stream(p_userpass, same_userpass, data, size, &up,
						   sizeof(up), &used, USERPASS_MAX);

	CHECK(st == SOCKS5_OK || st == SOCKS5_NEED_MORE || st == SOCKS5_BAD_VERSION);
	CHECK((st == SOCKS5_BAD_VERSION) == (size > 0 && data[0] != SOCKS5_USERPASS_VERSION));
	if (st != SOCKS5_OK)
		return 0;
	CHECK(up.user[up.ulen] == '\0' && up.pass[up.plen] == '\0');
	uint8_t enc[USERPASS_MAX];
	enc[0] = SOCKS5_USERPASS_VERSION;
	enc[1] = up.ulen;
	memcpy(enc + 2, up.user, up.ulen);
	enc[2 + up.ulen] = up.plen;
	memcpy(enc + 3 + up.ulen, up.pass, up.plen);
	CHECK(used == 3u + up.ulen + up.plen && memcmp(enc, data, used) == 0);

	uint8_t out[2];
	CHECK(socks5_build_userpass_reply(out, data[1]) == 2 &&
	      out[0] == SOCKS5_USERPASS_VERSION && out[1] == data[1]);
	return 0;
}
