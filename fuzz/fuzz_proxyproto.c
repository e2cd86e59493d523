/* libFuzzer target for the PROXY protocol header parser, the first bytes a
 * balancer (or anyone reaching a proxy listener) sends. Besides "no crash", it
 * checks what proxyproto.h promises: answers other than "need more" are final
 * at every prefix, *ret is written only on OK, the consumed length is exact,
 * and addresses it returns read back the same when written as a header.
 *
 * Build (BUILDDIR is a configured build tree, for autoconf.h):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -I src -I BUILDDIR fuzz/fuzz_proxyproto.c src/proxyproto.c -o fuzz_proxyproto
 * Run: ./fuzz_proxyproto -max_total_time=30 -max_len=1024 fuzz/corpus-proxyproto */
#include "autoconf.h"

#include "fuzz.h"

#include "proxyproto.h"

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

static bool same_header(const struct proxyproto_header *a, const struct proxyproto_header *b)
{
	return a->version == b->version && a->local == b->local && a->has_addr == b->has_addr &&
	       a->srclen == b->srclen && a->dstlen == b->dstlen &&
	       memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	       memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0;
}

/* Parses an exact heap copy of buf[0..len), so ASan sees a read past the end;
 * checks the status is in range and *ret untouched unless it is OK. */
static enum proxyproto_status parse(const uint8_t *buf, size_t len, struct proxyproto_header *h,
				    size_t *used)
{
	uint8_t *copy = malloc(len ? len : 1);
	CHECK(copy != NULL);
	if (len > 0)
		memcpy(copy, buf, len);
	memset(h, 0xa5, sizeof(*h));
	memset(used, 0xa5, sizeof(*used));
	enum proxyproto_status st = proxyproto_parse(copy, len, h, used);
	free(copy);
	CHECK(st == PROXYPROTO_OK || st == PROXYPROTO_NEED_MORE || st == PROXYPROTO_BAD_SIGNATURE ||
	      st == PROXYPROTO_BAD_HEADER || st == PROXYPROTO_UNSUPPORTED);
	CHECK(proxyproto_status_str(st)[0] != '\0');
	if (st != PROXYPROTO_OK)
		CHECK(fuzz_all_bytes(h, 0xa5, sizeof(*h)) && fuzz_all_bytes(used, 0xa5, sizeof(*used)));
	return st;
}

/* What an OK header promises about itself. */
static void check_header(const struct proxyproto_header *h, const uint8_t *buf, size_t used,
			 size_t len)
{
	CHECK(used > 0 && used <= len && used <= PROXYPROTO_MAX_LEN);
	CHECK(h->version == 1 || h->version == 2);
	if (h->version == 1) {
		CHECK(used <= PROXYPROTO_V1_MAX_LEN && memcmp(buf, "PROXY ", 6) == 0);
		CHECK(buf[used - 2] == '\r' && buf[used - 1] == '\n');
		CHECK(memchr(buf, '\n', used - 1) == NULL);
		CHECK(!h->local);
	} else {
		CHECK(used >= 16 && memcmp(buf, v2_sig, sizeof(v2_sig)) == 0);
		CHECK(used == 16 + ((size_t)buf[14] << 8 | buf[15]));
	}
	if (h->local)
		CHECK(!h->has_addr);
	if (!h->has_addr) {
		CHECK(h->srclen == 0 && h->dstlen == 0);
		CHECK(fuzz_all_bytes(&h->src, 0, sizeof(h->src)));
		CHECK(fuzz_all_bytes(&h->dst, 0, sizeof(h->dst)));
		return;
	}
	int af = h->src.ss_family;
	CHECK(af == AF_INET || af == AF_INET6);
	CHECK(h->dst.ss_family == af);
	socklen_t want = af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	CHECK(h->srclen == want && h->dstlen == want);
}

/* Writes the header's addresses as a v1 line and as a v2 block; both must
 * parse back to the same addresses. */
static void check_round_trip(const struct proxyproto_header *h)
{
	struct proxyproto_header again;
	char line[PROXYPROTO_V1_MAX_LEN + 1], s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	uint8_t block[16 + 36];
	size_t used;
	uint16_t sp, dp;
	bool v4 = h->src.ss_family == AF_INET;
	const void *sa, *da;
	size_t n = v4 ? 4 : 16;

	if (v4) {
		const struct sockaddr_in *a = (const void *)&h->src, *b = (const void *)&h->dst;
		sa = &a->sin_addr, da = &b->sin_addr;
		sp = ntohs(a->sin_port), dp = ntohs(b->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const void *)&h->src, *b = (const void *)&h->dst;
		sa = &a->sin6_addr, da = &b->sin6_addr;
		sp = ntohs(a->sin6_port), dp = ntohs(b->sin6_port);
	}
	CHECK(inet_ntop(v4 ? AF_INET : AF_INET6, sa, s, sizeof(s)) != NULL);
	CHECK(inet_ntop(v4 ? AF_INET : AF_INET6, da, d, sizeof(d)) != NULL);
	int len = snprintf(line, sizeof(line), "PROXY TCP%c %s %s %u %u\r\n", v4 ? '4' : '6', s, d,
			   sp, dp);
	CHECK(len > 0 && (size_t)len < sizeof(line));
	CHECK(parse((const uint8_t *)line, (size_t)len, &again, &used) == PROXYPROTO_OK);
	CHECK(used == (size_t)len && again.version == 1);
	again.version = h->version;
	CHECK(same_header(&again, h));

	memcpy(block, v2_sig, sizeof(v2_sig));
	block[12] = 0x21;
	block[13] = v4 ? 0x11 : 0x21;
	block[14] = 0;
	block[15] = (uint8_t)(2 * n + 4);
	memcpy(block + 16, sa, n);
	memcpy(block + 16 + n, da, n);
	block[16 + 2 * n] = (uint8_t)(sp >> 8), block[17 + 2 * n] = (uint8_t)sp;
	block[18 + 2 * n] = (uint8_t)(dp >> 8), block[19 + 2 * n] = (uint8_t)dp;
	CHECK(parse(block, 20 + 2 * n, &again, &used) == PROXYPROTO_OK);
	CHECK(used == 20 + 2 * n && again.version == 2);
	again.version = h->version;
	CHECK(same_header(&again, h));
}

/* The whole input, then every prefix: "need more" until the answer is
 * decided, then that same answer (and the same header) at every longer one. */
static void fuzz_one(const uint8_t *data, size_t size)
{
	struct proxyproto_header whole, part;
	size_t used, part_used;
	enum proxyproto_status st = parse(data, size, &whole, &used);

	if (st == PROXYPROTO_OK) {
		check_header(&whole, data, used, size);
		if (whole.has_addr)
			check_round_trip(&whole);
	}
	/* Every header is decided within PROXYPROTO_MAX_LEN bytes, so longer
	 * prefixes need not be tried, and a buffer that size is always enough. */
	if (size >= PROXYPROTO_MAX_LEN)
		CHECK(st != PROXYPROTO_NEED_MORE);
	size_t last = size < PROXYPROTO_MAX_LEN ? size : PROXYPROTO_MAX_LEN;
	bool decided = false;
	for (size_t k = 0; k <= last; k++) {
		enum proxyproto_status sk = parse(data, k, &part, &part_used);
		if (sk == PROXYPROTO_NEED_MORE) {
			CHECK(!decided);
			continue;
		}
		decided = true;
		CHECK(sk == st);
		if (sk == PROXYPROTO_OK)
			CHECK(part_used == used && same_header(&part, &whole));
	}
	CHECK(decided || st == PROXYPROTO_NEED_MORE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);

	/* The input as the inside of a v2 header whose length field is right,
	 * which blind mutation rarely gets: data[0] picks LOCAL or PROXY, data[1]
	 * is the family byte, the rest is the address block and TLVs. */
	if (size >= 2 && size - 2 <= PROXYPROTO_MAX_LEN - 16) {
		uint8_t buf[PROXYPROTO_MAX_LEN];
		size_t blen = size - 2;
		memcpy(buf, v2_sig, sizeof(v2_sig));
		buf[12] = (uint8_t)(0x20 | (data[0] & 1));
		buf[13] = data[1];
		buf[14] = (uint8_t)(blen >> 8);
		buf[15] = (uint8_t)blen;
		memcpy(buf + 16, data + 2, blen);
		fuzz_one(buf, 16 + blen);
	}
	return 0;
}
