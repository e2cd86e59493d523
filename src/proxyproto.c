/* PROXY protocol header parser: the v1 text line and the v2 binary block of
 * HAProxy's doc/proxy-protocol.txt, nothing else. Checks run in byte order, so
 * a prefix that is already wrong is refused at once and a status other than
 * "need more" never changes when more bytes arrive. */
#include "autoconf.h"

#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const char v1_sig[] = "PROXY";
static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};
#define V2_FIXED_LEN 16

/* The v1 lines start with one of these; "UNKNOWN" is then followed by a space
 * or the CRLF, the others by the addresses. */
static const char v1_tcp4[] = "PROXY TCP4 ", v1_tcp6[] = "PROXY TCP6 ";
static const char v1_unknown[] = "PROXY UNKNOWN";
static const char *const v1_starts[] = { v1_tcp4, v1_tcp6, v1_unknown };

/* True when the len bytes at buf could begin (or be) the n-byte s. */
static bool prefix_of(const uint8_t *buf, size_t len, const void *s, size_t n)
{
	return memcmp(buf, s, len < n ? len : n) == 0;
}

/* Reads the field at line[*pos..end) up to the next space or end; a field is
 * never empty. On success *pos is past the field and its one separator. */
static bool v1_field(const char *line, size_t end, size_t *pos, const char **ret,
		     size_t *ret_len)
{
	size_t start = *pos, i = start;

	while (i < end && line[i] != ' ')
		i++;
	if (i == start)
		return false;
	*ret = line + start;
	*ret_len = i - start;
	*pos = i < end ? i + 1 : i;
	return true;
}

/* Decimal 0..65535, digits only, no leading zero (the spec forbids them so a
 * port cannot be read as octal). */
static bool v1_port(const char *s, size_t n, uint16_t *ret)
{
	unsigned long v = 0;

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*ret = (uint16_t)v;
	return true;
}

/* Fills *ss from the text address s[0..n) of family af and port. */
static bool v1_addr(int af, const char *s, size_t n, uint16_t port,
		    struct sockaddr_storage *ss, socklen_t *sslen)
{
	char text[INET6_ADDRSTRLEN];

	/* inet_pton() would stop at a NUL and take what came before it. */
	if (n >= sizeof(text) || memchr(s, '\0', n) != NULL)
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
		return inet_pton(AF_INET, text, &sin->sin_addr) == 1;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	*sslen = sizeof(*sin6);
	return inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1;
}

/* Parses a whole v1 line of n bytes before its CRLF. */
static enum proxyproto_status v1_line(const char *line, size_t n, struct proxyproto_header *ret)
{
	struct proxyproto_header h;
	const char *src, *dst, *sport, *dport;
	size_t srclen, dstlen, sportlen, dportlen;
	uint16_t sp, dp;
	size_t pos = strlen(v1_tcp4), w = strlen(v1_unknown);
	int af;

	memset(&h, 0, sizeof(h));	/* src and dst are all zero unless filled */
	h.version = 1;
	if (n >= w && memcmp(line, v1_unknown, w) == 0) {
		/* The rest of an UNKNOWN line is ignored, but the word must end. */
		if (n > w && line[w] != ' ')
			return PROXYPROTO_BAD_HEADER;
		*ret = h;
		return PROXYPROTO_OK;
	}
	/* parse_v1() saw the line start with one of v1_starts. */
	if (n < pos)
		return PROXYPROTO_BAD_HEADER;
	af = memcmp(line, v1_tcp4, pos) == 0 ? AF_INET : AF_INET6;
	if (!v1_field(line, n, &pos, &src, &srclen) || !v1_field(line, n, &pos, &dst, &dstlen) ||
	    !v1_field(line, n, &pos, &sport, &sportlen))
		return PROXYPROTO_BAD_HEADER;
	/* The last field runs to the CRLF: no trailing space, nothing after it. */
	if (!v1_field(line, n, &pos, &dport, &dportlen) || dport + dportlen != line + n)
		return PROXYPROTO_BAD_HEADER;
	if (!v1_port(sport, sportlen, &sp) || !v1_port(dport, dportlen, &dp) ||
	    !v1_addr(af, src, srclen, sp, &h.src, &h.srclen) ||
	    !v1_addr(af, dst, dstlen, dp, &h.dst, &h.dstlen))
		return PROXYPROTO_BAD_HEADER;
	h.has_addr = true;
	*ret = h;
	return PROXYPROTO_OK;
}

static enum proxyproto_status parse_v1(const uint8_t *buf, size_t len,
				       struct proxyproto_header *ret, size_t *ret_len)
{
	size_t siglen = strlen(v1_sig), i;
	bool start_ok = false;

	if (!prefix_of(buf, len, v1_sig, siglen))
		return PROXYPROTO_BAD_SIGNATURE;
	for (i = 0; i < sizeof(v1_starts) / sizeof(v1_starts[0]); i++)
		if (prefix_of(buf, len, v1_starts[i], strlen(v1_starts[i])))
			start_ok = true;
	if (!start_ok)
		return PROXYPROTO_BAD_HEADER;

	/* The line must end in CRLF within PROXYPROTO_V1_MAX_LEN bytes; a lone CR
	 * or LF is refused where it stands, before the fields are read. */
	for (i = siglen; i < len && i < PROXYPROTO_V1_MAX_LEN; i++) {
		if (buf[i] == '\n')
			return PROXYPROTO_BAD_HEADER;
		if (buf[i] != '\r')
			continue;
		if (i + 1 >= PROXYPROTO_V1_MAX_LEN)
			return PROXYPROTO_BAD_HEADER;
		if (i + 1 >= len)
			return PROXYPROTO_NEED_MORE;
		if (buf[i + 1] != '\n')
			return PROXYPROTO_BAD_HEADER;
		struct proxyproto_header h;
		enum proxyproto_status st = v1_line((const char *)buf, i, &h);
		if (st == PROXYPROTO_OK) {
			*ret = h;
			*ret_len = i + 2;
		}
		return st;
	}
	return len >= PROXYPROTO_V1_MAX_LEN ? PROXYPROTO_BAD_HEADER : PROXYPROTO_NEED_MORE;
}

/* Size of the v2 address block for the family/protocol byte, 0 when the spec
 * gives none (an UNSPEC half): then neither addresses nor TLVs can be found. */
static size_t v2_addr_len(uint8_t fam)
{
	uint8_t proto = fam & 0x0f;

	if (proto != 0x1 && proto != 0x2)
		return 0;
	switch (fam >> 4) {
	case 0x1:
		return 2 * 4 + 2 * 2;
	case 0x2:
		return 2 * 16 + 2 * 2;
	case 0x3:
		return 2 * 108;
	default:
		return 0;
	}
}

/* True when the n bytes at p are whole TLVs: type, 16-bit length, value. */
static bool v2_tlvs_ok(const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		if (n - off < 3)
			return false;
		size_t vlen = (size_t)p[off + 1] << 8 | p[off + 2];
		if (vlen > n - off - 3)
			return false;
		off += 3 + vlen;
	}
	return true;
}

/* Fills one side from the v2 address block: addr (4 or 16 bytes) and port,
 * both in network byte order as sent. */
static void v2_sockaddr(int af, const uint8_t *addr, const uint8_t *port,
			struct sockaddr_storage *ss, socklen_t *sslen)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		memcpy(&sin->sin_port, port, 2);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		memcpy(&sin6->sin6_port, port, 2);
		*sslen = sizeof(*sin6);
	}
}

static enum proxyproto_status parse_v2(const uint8_t *buf, size_t len,
				       struct proxyproto_header *ret, size_t *ret_len)
{
	struct proxyproto_header h;
	size_t alen = 0;

	if (!prefix_of(buf, len, v2_sig, sizeof(v2_sig)))
		return PROXYPROTO_BAD_SIGNATURE;
	if (len <= sizeof(v2_sig))
		return PROXYPROTO_NEED_MORE;
	uint8_t ver = buf[12] >> 4, cmd = buf[12] & 0x0f;
	if (ver != 0x2 || cmd > 0x1)
		return PROXYPROTO_UNSUPPORTED;
	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.local = cmd == 0x0;
	if (len < 14)
		return PROXYPROTO_NEED_MORE;
	uint8_t fam = buf[13];
	if (!h.local) {
		if (fam >> 4 > 0x3 || (fam & 0x0f) > 0x2)
			return PROXYPROTO_UNSUPPORTED;
		alen = v2_addr_len(fam);
	}
	if (len < V2_FIXED_LEN)
		return PROXYPROTO_NEED_MORE;
	size_t blen = (size_t)buf[14] << 8 | buf[15];
	if (blen > PROXYPROTO_MAX_LEN - V2_FIXED_LEN || blen < alen)
		return PROXYPROTO_BAD_HEADER;
	if (len < V2_FIXED_LEN + blen)
		return PROXYPROTO_NEED_MORE;

	const uint8_t *a = buf + V2_FIXED_LEN;
	if (alen > 0 && !v2_tlvs_ok(a + alen, blen - alen))
		return PROXYPROTO_BAD_HEADER;
	if (!h.local && (fam == 0x11 || fam == 0x21)) {
		int af = fam == 0x11 ? AF_INET : AF_INET6;
		size_t n = af == AF_INET ? 4 : 16;
		v2_sockaddr(af, a, a + 2 * n, &h.src, &h.srclen);
		v2_sockaddr(af, a + n, a + 2 * n + 2, &h.dst, &h.dstlen);
		h.has_addr = true;
	}
	*ret = h;
	*ret_len = V2_FIXED_LEN + blen;
	return PROXYPROTO_OK;
}

enum proxyproto_status proxyproto_parse(const uint8_t *buf, size_t len,
					struct proxyproto_header *ret, size_t *ret_len)
{
	if (len == 0)
		return PROXYPROTO_NEED_MORE;
	if (buf[0] == (uint8_t)v1_sig[0])
		return parse_v1(buf, len, ret, ret_len);
	if (buf[0] == v2_sig[0])
		return parse_v2(buf, len, ret, ret_len);
	return PROXYPROTO_BAD_SIGNATURE;
}

const char *proxyproto_status_str(enum proxyproto_status status)
{
	switch (status) {
	case PROXYPROTO_OK:
		return "ok";
	case PROXYPROTO_NEED_MORE:
		return "incomplete header";
	case PROXYPROTO_BAD_SIGNATURE:
		return "no PROXY protocol signature";
	case PROXYPROTO_BAD_HEADER:
		return "malformed PROXY protocol header";
	case PROXYPROTO_UNSUPPORTED:
		return "unsupported PROXY protocol version, command or family";
	}
	return "unknown";
}
