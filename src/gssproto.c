/* RFC 1961 framing: the header parser and builders behind gssproto.h. Pure:
 * the caller reads and writes the bytes. */
#include "autoconf.h"

#include "gssproto.h"

enum gssproto_status gssproto_parse_header(const uint8_t *buf, size_t len, uint8_t expect,
					   struct gssproto_msg *ret, size_t *ret_len)
{
	if (len < 1)
		return GSSPROTO_NEED_MORE;
	if (buf[0] != GSSPROTO_VERSION)
		return GSSPROTO_BAD_VERSION;
	if (len < 2)
		return GSSPROTO_NEED_MORE;
	if (buf[1] == GSSPROTO_ABORT) {
		*ret = (struct gssproto_msg){ .type = GSSPROTO_ABORT };
		*ret_len = GSSPROTO_ABORT_LEN;
		return GSSPROTO_OK;
	}
	if (buf[1] != expect || expect == GSSPROTO_ABORT)
		return GSSPROTO_BAD_TYPE;
	if (len < GSSPROTO_HEADER_LEN)
		return GSSPROTO_NEED_MORE;
	size_t n = (size_t)buf[2] << 8 | buf[3];
	if (n == 0)
		return GSSPROTO_BAD_LENGTH;
	*ret = (struct gssproto_msg){ .type = buf[1], .token_len = n };
	*ret_len = GSSPROTO_HEADER_LEN;
	return GSSPROTO_OK;
}

enum gssproto_status gssproto_parse(const uint8_t *buf, size_t len, uint8_t expect,
				    struct gssproto_msg *ret, size_t *ret_len)
{
	struct gssproto_msg m;
	size_t hl;
	enum gssproto_status st = gssproto_parse_header(buf, len, expect, &m, &hl);

	if (st != GSSPROTO_OK)
		return st;
	if (len - hl < m.token_len)
		return GSSPROTO_NEED_MORE;
	if (m.type != GSSPROTO_ABORT)
		m.token = buf + hl;
	*ret = m;
	*ret_len = hl + m.token_len;
	return GSSPROTO_OK;
}

size_t gssproto_build_header(uint8_t out[GSSPROTO_HEADER_LEN], uint8_t type, size_t token_len)
{
	if (token_len == 0 || token_len > GSSPROTO_TOKEN_MAX || type == GSSPROTO_ABORT)
		return 0;
	out[0] = GSSPROTO_VERSION;
	out[1] = type;
	out[2] = (uint8_t)(token_len >> 8);
	out[3] = (uint8_t)token_len;
	return GSSPROTO_HEADER_LEN;
}

size_t gssproto_build_abort(uint8_t out[GSSPROTO_ABORT_LEN])
{
	out[0] = GSSPROTO_VERSION;
	out[1] = GSSPROTO_ABORT;
	return GSSPROTO_ABORT_LEN;
}
