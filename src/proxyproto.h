/* PROXY protocol header parser (HAProxy's doc/proxy-protocol.txt, versions 1
 * and 2, told apart by their first byte): reads the header a trusted load
 * balancer puts before the client's bytes. Pure: no I/O, no allocation, no
 * logging, so every function is safe to call from any thread on caller-owned
 * memory. Whether a peer may send a header at all is the caller's decision. */
#ifndef SOCKSGATE_PROXYPROTO_H
#define SOCKSGATE_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum proxyproto_status {
	PROXYPROTO_OK,			/* a whole, valid header: see *ret and *ret_len */
	PROXYPROTO_NEED_MORE,		/* a valid prefix of a header: read more */
	PROXYPROTO_BAD_SIGNATURE,	/* not a PROXY header at all (a SOCKS5 greeting...) */
	PROXYPROTO_BAD_HEADER,		/* a PROXY signature, then something malformed */
	PROXYPROTO_UNSUPPORTED,		/* v2 version, command or family/protocol we refuse */
};

/* Longest v1 line, CRLF included (the spec's worst case, "PROXY UNKNOWN" with
 * two full IPv6 addresses and ports). */
#define PROXYPROTO_V1_MAX_LEN 107
/* Longest header proxyproto_parse() accepts, TLVs included: the 16-byte v2
 * fixed part plus 536 bytes, the smallest TCP segment every host takes, into
 * which the spec designs the whole header to fit. A v2 header announcing more
 * is PROXYPROTO_BAD_HEADER as soon as its length field has arrived, so a
 * caller's buffer of this size (plus room for what follows) is always enough. */
#define PROXYPROTO_MAX_LEN (16 + 536)

struct proxyproto_header {
	uint8_t version;		/* 1 (text) or 2 (binary) */
	bool local;			/* v2 LOCAL: the balancer's own connection (a health
					 * check); has_addr is then false */
	bool has_addr;			/* src and dst are set: v1 TCP4/TCP6, v2 PROXY with
					 * TCP over IPv4/IPv6. False for v1 UNKNOWN, v2 LOCAL
					 * and every other v2 family/protocol: the caller
					 * keeps the real connection's addresses */
	struct sockaddr_storage src;	/* the client: AF_INET or AF_INET6 with its port */
	struct sockaddr_storage dst;	/* the address the client connected to */
	socklen_t srclen, dstlen;	/* sizeof(struct sockaddr_in or _in6); 0 and src,
					 * dst all zero when has_addr is false */
};

/* Parses the header at the start of buf[0..len), bytes as they arrived.
 * Returns PROXYPROTO_OK and fills *ret and *ret_len (the header's length, v2
 * TLVs included; what follows it, such as the SOCKS5 greeting, is neither
 * consumed nor looked at), or another status with *ret and *ret_len untouched.
 * A status other than PROXYPROTO_NEED_MORE is final: more bytes never change
 * it. It is given as soon as the bytes so far decide it; in particular the
 * first byte that cannot continue either signature ("PROXY" or v2's 12 bytes)
 * gives PROXYPROTO_BAD_SIGNATURE, so a SOCKS5 client's first byte 0x05 is
 * refused at once.
 *
 * v1 ("PROXY TCP4 src dst sport dport\r\n", TCP6, or "PROXY UNKNOWN...\r\n"):
 * exactly one space between fields; addresses as inet_pton() reads them for
 * the announced family (IPv4 dotted quad without leading zeros; IPv6 in any
 * textual form, an IPv4-mapped one kept as it is); ports decimal 0..65535
 * without sign or leading zeros, as the spec requires; CRLF within
 * PROXYPROTO_V1_MAX_LEN bytes, a lone CR or LF is PROXYPROTO_BAD_HEADER. After
 * UNKNOWN the rest of the line is ignored, as the spec requires.
 *
 * v2: version 2, else PROXYPROTO_UNSUPPORTED; command LOCAL (0x0) or PROXY
 * (0x1), else PROXYPROTO_UNSUPPORTED. For LOCAL the family byte and the whole
 * address block are skipped unread, as the spec requires. For PROXY: a family
 * above AF_UNIX (0x3) or a protocol above DGRAM (0x2) is
 * PROXYPROTO_UNSUPPORTED; TCP over IPv4 (0x11) or IPv6 (0x21) gives the
 * addresses; every other combination (UNSPEC, UDP, AF_UNIX) is accepted with
 * has_addr false, the spec's fallback to UNSPEC for what a receiver does not
 * implement. The length must cover the family's address block (12, 36, 216
 * bytes) or it is PROXYPROTO_BAD_HEADER; past that block, TLVs must tile the
 * rest exactly (type, 16-bit length, value) or it is PROXYPROTO_BAD_HEADER;
 * their contents are skipped, a CRC32C TLV is not verified. Where the spec
 * gives no block size (LOCAL, an UNSPEC family or protocol) the TLVs cannot
 * be located, and everything the length covers is skipped unread. */
enum proxyproto_status proxyproto_parse(const uint8_t *buf, size_t len,
					struct proxyproto_header *ret, size_t *ret_len);

/* Short text for a status, for logs ("ok", "no PROXY protocol signature"...);
 * "unknown" for a value outside the enum. Static storage. */
const char *proxyproto_status_str(enum proxyproto_status status);

#endif
