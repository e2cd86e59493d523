/* libFuzzer target for the UDP request header (RFC 1928 section 7: RSV FRAG
 * ATYP DST.ADDR DST.PORT before each datagram), parsed for every datagram a
 * client relays. Besides "no crash": a datagram is whole, so there is never
 * "need more" and every truncation of a header is BAD_MESSAGE; the header's
 * length does not depend on the payload after it; the parse re-encodes to
 * exactly the header's bytes; and for an IP address and FRAG 0 the builder
 * (what the relay puts before replies) writes those same bytes, and 0 when
 * its buffer is too small.
 * Run: fuzz/run.sh, or fuzz_udp_header -max_len=4096 WORKDIR fuzz/corpus-udp_header */
#include "autoconf.h"

#include "fuzz_socks5.h"

#include <netinet/in.h>
#include <sys/socket.h>

static enum socks5_status p_udp(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_udp_header(b, l, r, n);
}

static bool same_udp(const struct socks5_udp_header *a, const struct socks5_udp_header *b)
{
	return a->frag == b->frag && fuzz_socks5_same_addr(&a->dst, &b->dst);
}

static void check_builder(const struct socks5_udp_header *h, const uint8_t *data, size_t used)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	const struct sockaddr *sa;
	uint8_t out[SOCKS5_UDP_HEADER_MAX], want[SOCKS5_UDP_HEADER_MAX];

	if (h->dst.atyp == SOCKS5_ATYP_IPV4) {
		memcpy(&s4.sin_addr, h->dst.u.ipv4, 4);
		s4.sin_port = htons(h->dst.port);
		sa = (const struct sockaddr *)&s4;
	} else {
		memcpy(&s6.sin6_addr, h->dst.u.ipv6, 16);
		s6.sin6_port = htons(h->dst.port);
		sa = (const struct sockaddr *)&s6;
	}
	CHECK(socks5_build_udp_header(out, used - 1, sa) == 0);
	CHECK(socks5_build_udp_header(out, sizeof(out), sa) == used);
	memcpy(want, data, used);
	want[2] = 0;	/* the builder's FRAG */
	CHECK(memcmp(out, want, used) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct socks5_udp_header h, again;
	size_t used, again_used;
	enum socks5_status st = fuzz_socks5_parse(p_udp, data, size, &h, sizeof(h), &used);

	CHECK(st == SOCKS5_OK || st == SOCKS5_BAD_MESSAGE || st == SOCKS5_BAD_ATYP);
	CHECK((st == SOCKS5_BAD_ATYP) == (size > 3 && data[0] == 0 && data[1] == 0 &&
					  data[3] != SOCKS5_ATYP_IPV4 &&
					  data[3] != SOCKS5_ATYP_IPV6 &&
					  data[3] != SOCKS5_ATYP_DOMAIN));
	if (st != SOCKS5_OK)
		return 0;
	fuzz_socks5_check_addr(&h.dst);
	CHECK(h.frag == data[2]);
	uint8_t enc[3 + 1 + 1 + 255 + 2] = { 0, 0, h.frag };
	size_t n = 3 + fuzz_socks5_encode_addr(&h.dst, enc + 3);
	CHECK(n == used && memcmp(enc, data, used) == 0);

	/* The header alone (an empty payload) is the same header; any shorter
	 * datagram is malformed. */
	CHECK(fuzz_socks5_parse(p_udp, data, used, &again, sizeof(again), &again_used) ==
	      SOCKS5_OK);
	CHECK(again_used == used && same_udp(&again, &h));
	for (size_t k = 0; k < used; k++)
		CHECK(fuzz_socks5_parse(p_udp, data, k, &again, sizeof(again), &again_used) ==
		      SOCKS5_BAD_MESSAGE);
	if (h.dst.atyp != SOCKS5_ATYP_DOMAIN)
		check_builder(&h, data, used);
	return 0;
}
