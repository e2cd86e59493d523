/* libFuzzer target for the SOCKS5 greeting (RFC 1928: VER NMETHODS METHODS),
 * the first bytes any client sends. Besides "no crash": the status is final
 * at every prefix (every proper prefix of a greeting is "need more"), the
 * parse re-encodes to exactly the bytes it consumed, only the version byte
 * decides BAD_VERSION, and method selection picks an allowed method the
 * client offered, in the server's order.
 * Run: fuzz/run.sh, or fuzz_greeting -max_len=4096 WORKDIR fuzz/corpus-greeting */
#include "autoconf.h"

#include "fuzz_socks5.h"

#define GREETING_MAX (2 + 255)

static enum socks5_status p_greeting(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_greeting(b, l, r, n);
}

static bool same_greeting(const void *x, const void *y)
{
	const struct socks5_greeting *a = x, *b = y;
	return a->nmethods == b->nmethods && memcmp(a->methods, b->methods, a->nmethods) == 0;
}

/* The server's choice, with the allowed list taken from the input. */
static void check_select(const struct socks5_greeting *g, const uint8_t *allowed, size_t n)
{
	uint8_t m = socks5_select_method(g, allowed, n), out[2];
	size_t first = n;

	for (size_t i = 0; i < n && first == n; i++)
		if (memchr(g->methods, allowed[i], g->nmethods) != NULL)
			first = i;
	if (first == n)
		CHECK(m == SOCKS5_METHOD_NO_ACCEPTABLE);
	else
		CHECK(m == allowed[first]);
	CHECK(socks5_build_method(out, m) == 2 && out[0] == SOCKS5_VERSION && out[1] == m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct socks5_greeting g;
	size_t used;
	enum socks5_status st = fuzz_socks5_stream(p_greeting, same_greeting, data, size, &g,
						   sizeof(g), &used, GREETING_MAX);

	CHECK(st == SOCKS5_OK || st == SOCKS5_NEED_MORE || st == SOCKS5_BAD_VERSION);
	CHECK((st == SOCKS5_BAD_VERSION) == (size > 0 && data[0] != SOCKS5_VERSION));
	if (st != SOCKS5_OK)
		return 0;
	uint8_t enc[GREETING_MAX];
	enc[0] = SOCKS5_VERSION;
	enc[1] = g.nmethods;
	memcpy(enc + 2, g.methods, g.nmethods);
	CHECK(used == 2u + g.nmethods && memcmp(enc, data, used) == 0);

	static const uint8_t shipped[] = { SOCKS5_METHOD_USERPASS, SOCKS5_METHOD_NONE };
	check_select(&g, shipped, sizeof(shipped));
	check_select(&g, data + used, size - used < 4 ? size - used : 4);
	return 0;
}
