/* RFC 1961 message framing (the GSSAPI method of SOCKS5): every message after
 * the method reply is VER(0x01) MTYP LEN(2, network order) TOKEN, and an abort
 * is the two bytes 0x01 0xff. Context tokens (section 3), the protection-level
 * message (section 4) and per-message data (section 5) share the frame.
 * Pure: no I/O, no allocation, no logging, so every function is safe to call
 * from any thread on caller-owned memory. The GSS-API calls live elsewhere. */
#ifndef SOCKSGATE_GSSPROTO_H
#define SOCKSGATE_GSSPROTO_H

#include <stddef.h>
#include <stdint.h>

#define GSSPROTO_VERSION 0x01
#define GSSPROTO_HEADER_LEN 4	/* VER MTYP LEN LEN */
#define GSSPROTO_ABORT_LEN 2	/* VER 0xff, no length */
#define GSSPROTO_TOKEN_MAX 0xffff

enum gssproto_type {
	GSSPROTO_AUTH = 0x01,		/* a context-establishment token (section 3) */
	GSSPROTO_PROTECTION = 0x02,	/* the wrapped protection level (section 4) */
	GSSPROTO_DATA = 0x03,		/* an encapsulated user message (section 5) */
	GSSPROTO_ABORT = 0xff,		/* either side gives up (section 3) */
};

/* The one octet inside the protection-level message (section 4). */
enum gssproto_level {
	GSSPROTO_LEVEL_NONE = 0x00,		/* not in the RFC's list; what curl asks for */
	GSSPROTO_LEVEL_INTEGRITY = 0x01,	/* required per-message integrity */
	GSSPROTO_LEVEL_CONFIDENTIALITY = 0x02,	/* integrity and confidentiality */
	GSSPROTO_LEVEL_SELECTIVE = 0x03,	/* either, chosen per message */
};

/* What the parser says of the bytes it was given; never mixed with -errno. */
enum gssproto_status {
	GSSPROTO_OK,		/* a whole header (and token): see the out-params */
	GSSPROTO_NEED_MORE,	/* a valid proper prefix: read more */
	GSSPROTO_BAD_VERSION,	/* first byte is not 0x01 */
	GSSPROTO_BAD_TYPE,	/* neither the expected type nor an abort */
	GSSPROTO_BAD_LENGTH,	/* a zero-length token: no message has one */
};

struct gssproto_msg {
	uint8_t type;		/* enum gssproto_type: expect or GSSPROTO_ABORT */
	size_t token_len;	/* 0 for an abort */
	const uint8_t *token;	/* into the caller's buffer; NULL for an abort */
};

/* Parses one header from buf[0..len), accepting MTYP expect or an abort.
 * On GSSPROTO_OK fills *ret (token NULL: only the header was looked at) and
 * *ret_len with the header's length (4, or 2 for an abort); the token that
 * follows is ret->token_len bytes. Out-params are written only on OK. For
 * streaming reads: read 2 bytes, parse, read 2 more unless it was an abort. */
enum gssproto_status gssproto_parse_header(const uint8_t *buf, size_t len, uint8_t expect,
					   struct gssproto_msg *ret, size_t *ret_len);

/* Parses one whole message (header and token) from buf[0..len); on OK
 * ret->token points into buf and *ret_len is header plus token.
 * NEED_MORE until the whole token is there. */
enum gssproto_status gssproto_parse(const uint8_t *buf, size_t len, uint8_t expect,
				    struct gssproto_msg *ret, size_t *ret_len);

/* Writes the header of a type message with a token_len token into out.
 * Returns GSSPROTO_HEADER_LEN, or 0 when token_len is 0 or over
 * GSSPROTO_TOKEN_MAX (nothing written). type must not be GSSPROTO_ABORT. */
size_t gssproto_build_header(uint8_t out[GSSPROTO_HEADER_LEN], uint8_t type, size_t token_len);

/* Writes the abort message; returns GSSPROTO_ABORT_LEN. */
size_t gssproto_build_abort(uint8_t out[GSSPROTO_ABORT_LEN]);

#endif
