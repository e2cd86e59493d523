/* SOCKS5 protocol codec (RFC 1928, RFC 1929): parses client messages from byte
 * buffers and builds server replies. Pure: no I/O, no allocation, no logging,
 * so every function is safe to call from any thread on caller-owned memory. */
#ifndef SOCKSGATE_SOCKS5_H
#define SOCKSGATE_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

enum socks5_method {
	SOCKS5_METHOD_NONE = 0x00,
	SOCKS5_METHOD_GSSAPI = 0x01,
	SOCKS5_METHOD_USERPASS = 0x02,
	SOCKS5_METHOD_NO_ACCEPTABLE = 0xff,
};

enum socks5_cmd {
	SOCKS5_CMD_CONNECT = 0x01,
	SOCKS5_CMD_BIND = 0x02,
	SOCKS5_CMD_UDP_ASSOCIATE = 0x03,
};

enum socks5_atyp {
	SOCKS5_ATYP_IPV4 = 0x01,
	SOCKS5_ATYP_DOMAIN = 0x03,
	SOCKS5_ATYP_IPV6 = 0x04,
};

enum socks5_rep {
	SOCKS5_REP_SUCCEEDED = 0x00,
	SOCKS5_REP_GENERAL_FAILURE = 0x01,
	SOCKS5_REP_NOT_ALLOWED = 0x02,
	SOCKS5_REP_NET_UNREACHABLE = 0x03,
	SOCKS5_REP_HOST_UNREACHABLE = 0x04,
	SOCKS5_REP_CONN_REFUSED = 0x05,
	SOCKS5_REP_TTL_EXPIRED = 0x06,
	SOCKS5_REP_CMD_NOT_SUPPORTED = 0x07,
	SOCKS5_REP_ATYP_NOT_SUPPORTED = 0x08,
	SOCKS5_REP_MAX
};

/* What a parser says of the bytes it was given. Its own range, never mixed
 * with -errno values (docs/HACKING, "Errors"). */
enum socks5_status {
	SOCKS5_OK,		/* a whole message; *ret_len says how many bytes it took */
	SOCKS5_NEED_MORE,	/* the message is not complete yet: read more */
	SOCKS5_BAD_VERSION,	/* wrong protocol or sub-negotiation version */
	SOCKS5_BAD_MESSAGE,	/* malformed message */
	SOCKS5_BAD_ATYP,	/* unknown address type: reply 0x08 and close */
};

#define SOCKS5_VERSION 0x05
#define SOCKS5_USERPASS_VERSION 0x01
/* Largest reply: VER REP RSV ATYP + 16-byte IPv6 address + port. */
#define SOCKS5_REPLY_MAX 22
/* Largest request: VER CMD RSV ATYP LEN + 255-byte name + port. */
#define SOCKS5_REQUEST_MAX 262

struct socks5_addr {
	uint8_t atyp;		/* enum socks5_atyp */
	uint8_t domain_len;	/* for SOCKS5_ATYP_DOMAIN */
	uint16_t port;		/* host byte order */
	union {
		uint8_t ipv4[4];
		uint8_t ipv6[16];
		char domain[256];	/* NUL-terminated, never contains NUL itself */
	} u;
};

/* The header RFC 1928 section 7 puts before every relayed UDP datagram:
 * RSV(2, zero) FRAG(1) ATYP DST.ADDR DST.PORT, then the payload. */
struct socks5_udp_header {
	uint8_t frag;		/* 0: a whole datagram; anything else is a fragment */
	struct socks5_addr dst;
};

struct socks5_greeting {
	uint8_t nmethods;
	uint8_t methods[255];
};

struct socks5_userpass {
	uint8_t ulen, plen;
	char user[256];		/* NUL-terminated copy; ulen counts the real bytes */
	char pass[256];		/* the caller wipes it after use */
};

struct socks5_request {
	uint8_t cmd;		/* as sent; may be an unknown command */
	struct socks5_addr dst;
};

/* Each parser reads one message from the start of buf[0..len). On SOCKS5_OK
 * it fills *ret and sets *ret_len to the bytes the message took (> 0); both
 * are written only then. Bytes after the message are left alone. */
enum socks5_status socks5_parse_greeting(const uint8_t *buf, size_t len,
					 struct socks5_greeting *ret, size_t *ret_len);
enum socks5_status socks5_parse_userpass(const uint8_t *buf, size_t len,
					 struct socks5_userpass *ret, size_t *ret_len);
enum socks5_status socks5_parse_request(const uint8_t *buf, size_t len,
					struct socks5_request *ret, size_t *ret_len);

/* Parses the UDP request header at the start of a whole datagram. On
 * SOCKS5_OK, *ret_len is the header length (the payload starts there; it may
 * be empty). Otherwise SOCKS5_BAD_MESSAGE (short datagram, RSV not zero,
 * empty or NUL-bearing name) or SOCKS5_BAD_ATYP (unknown address type). A
 * datagram is complete as received, so there is no "need more". FRAG is
 * reported, not judged: the caller drops fragments. */
enum socks5_status socks5_parse_udp_header(const uint8_t *buf, size_t len,
					   struct socks5_udp_header *ret, size_t *ret_len);

/* "need more", "wrong version", "bad field", "unknown address type" ("ok"). */
const char *socks5_status_str(enum socks5_status st);

/* Returns the first method in methods_allowed order that the client offered,
 * or SOCKS5_METHOD_NO_ACCEPTABLE. */
uint8_t socks5_select_method(const struct socks5_greeting *g, const uint8_t *allowed,
			     size_t nallowed);

/* Builders write into out (at least 2 or SOCKS5_REPLY_MAX bytes) and return
 * the length written. A NULL or non-IP bnd gives the address 0.0.0.0:0. */
size_t socks5_build_method(uint8_t *out, uint8_t method);
size_t socks5_build_userpass_reply(uint8_t *out, uint8_t status);
size_t socks5_build_reply(uint8_t *out, uint8_t rep, const struct sockaddr *bnd);

/* Largest header socks5_build_udp_header() writes: an IPv6 address. */
#define SOCKS5_UDP_HEADER_MAX 22
/* Writes the UDP header for a datagram from src (FRAG 0) into out. Returns its
 * length (10 or 22), or 0 when src is not IPv4/IPv6 or outlen is too small. */
size_t socks5_build_udp_header(uint8_t *out, size_t outlen, const struct sockaddr *src);

/* Maps an errno from socket()/connect()/bind() to a reply code. */
uint8_t socks5_rep_from_errno(int err);
/* Maps a getaddrinfo() result (EAI_*, with errno for EAI_SYSTEM) to a reply code. */
uint8_t socks5_rep_from_gai(int gai_err, int err);
/* Short text for a reply code, for logs ("succeeded", "connection refused"...). */
const char *socks5_rep_str(uint8_t rep);
/* "connect", "bind", "udp" or "unknown". */
const char *socks5_cmd_str(uint8_t cmd);

/* Room for socks5_addr_str(): a 255-byte name escaped as \xNN, ":", port. */
#define SOCKS5_ADDR_STRLEN 1032
/* Formats addr as "host:port" ("[v6]:port" for IPv6) into out; returns out.
 * Bytes of a domain name outside printable ASCII are written as \xNN. */
char *socks5_addr_str(const struct socks5_addr *addr, char *out, size_t outlen);

#endif
