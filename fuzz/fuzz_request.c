/* libFuzzer target for the SOCKS5 request (RFC 1928: VER CMD RSV ATYP
 * DST.ADDR DST.PORT), where a client names the destination. Besides "no
 * crash": the status is final at every prefix (every proper prefix of a
 * request is "need more"), the parse re-encodes to exactly the bytes it
 * consumed, only the version and address-type bytes decide BAD_VERSION and
 * BAD_ATYP, the address's log text is printable, and a reply built for an IP
 * destination is the request's own bytes with REP for CMD (the same layout).
 * Run: fuzz/run.sh, or fuzz_request -max_len=4096 WORKDIR fuzz/corpus-request */
#include "autoconf.h"

#include "fuzz_socks5.h"

#include <netinet/in.h>
#include <sys/socket.h>

static enum socks5_status p_request(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_request(b, l, r, n);
}

static bool same_request(const void *x, const void *y)
{
	const struct socks5_request *a = x, *b = y;
	return a->cmd == b->cmd && fuzz_socks5_same_addr(&a->dst, &b->dst);
}

/* The reply builder, fed the parsed IP address: VER REP RSV(0) ATYP ADDR PORT
 * is the request with REP = CMD and RSV zeroed, and parses back as one. */
static void check_reply(const struct socks5_request *rq, const uint8_t *data, size_t used)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	const struct sockaddr *sa;
	uint8_t out[SOCKS5_REPLY_MAX], want[SOCKS5_REPLY_MAX];
	struct socks5_request back;
	size_t n, back_used;

	if (rq->dst.atyp == SOCKS5_ATYP_IPV4) {
		memcpy(&s4.sin_addr, rq->dst.u.ipv4, 4);
		s4.sin_port = htons(rq->dst.port);
		sa = (const struct sockaddr *)&s4;
	} else {
		memcpy(&s6.sin6_addr, rq->dst.u.ipv6, 16);
		s6.sin6_port = htons(rq->dst.port);
		sa = (const struct sockaddr *)&s6;
	}
	n = socks5_build_reply(out, rq->cmd, sa);
	CHECK(n == used && n <= sizeof(out));
	memcpy(want, data, n);
	want[2] = 0;
	CHECK(memcmp(out, want, n) == 0);
	CHECK(fuzz_socks5_parse(p_request, out, n, &back, sizeof(back), &back_used) ==
	      SOCKS5_OK);
	CHECK(back_used == n && same_request(&back, rq));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct socks5_request rq;
	size_t used;
	enum socks5_status st = fuzz_socks5_stream(p_request, same_request, data, size, &rq,
						   sizeof(rq), &used, SOCKS5_REQUEST_MAX);

	CHECK((st == SOCKS5_BAD_VERSION) == (size > 0 && data[0] != SOCKS5_VERSION));
	CHECK((st == SOCKS5_BAD_ATYP) == (size > 3 && data[0] == SOCKS5_VERSION &&
					  data[3] != SOCKS5_ATYP_IPV4 &&
					  data[3] != SOCKS5_ATYP_IPV6 &&
					  data[3] != SOCKS5_ATYP_DOMAIN));
	/* Only a domain name can be malformed: empty or with a NUL in it. */
	if (st == SOCKS5_BAD_MESSAGE)
		CHECK(data[3] == SOCKS5_ATYP_DOMAIN && size >= 5u + data[4] + 2 &&
		      (data[4] == 0 || memchr(data + 5, '\0', data[4]) != NULL));
	if (st != SOCKS5_OK)
		return 0;
	fuzz_socks5_check_addr(&rq.dst);
	uint8_t enc[SOCKS5_REQUEST_MAX];
	enc[0] = SOCKS5_VERSION;
	enc[1] = rq.cmd;
	enc[2] = data[2];	/* RSV: not kept, and not judged */
	size_t n = 3 + fuzz_socks5_encode_addr(&rq.dst, enc + 3);
	CHECK(n == used && memcmp(enc, data, used) == 0);
	CHECK(socks5_cmd_str(rq.cmd)[0] != '\0');
	if (rq.dst.atyp != SOCKS5_ATYP_DOMAIN)
		check_reply(&rq, data, used);
	return 0;
}
