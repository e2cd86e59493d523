/* SOCKS5 codec: the wire formats of RFC 1928 and RFC 1929, nothing else.
 * Parsers never trust a length byte beyond the buffer they were given and
 * report "need more" until a whole message is present. */
#include "autoconf.h"

#include "socks5.h"

#include "text.h"

#include <errno.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

enum socks5_status socks5_parse_greeting(const uint8_t *buf, size_t len,
					 struct socks5_greeting *ret, size_t *ret_len)
{
	if (len < 1)
		return SOCKS5_NEED_MORE;
	if (buf[0] != SOCKS5_VERSION)
		return SOCKS5_BAD_VERSION;
	if (len < 2)
		return SOCKS5_NEED_MORE;
	size_t n = buf[1];
	if (len < 2 + n)
		return SOCKS5_NEED_MORE;
	ret->nmethods = (uint8_t)n;
	memcpy(ret->methods, buf + 2, n);
	*ret_len = 2 + n;
	return SOCKS5_OK;
}

enum socks5_status socks5_parse_userpass(const uint8_t *buf, size_t len,
					 struct socks5_userpass *ret, size_t *ret_len)
{
	if (len < 1)
		return SOCKS5_NEED_MORE;
	if (buf[0] != SOCKS5_USERPASS_VERSION)
		return SOCKS5_BAD_VERSION;
	if (len < 2)
		return SOCKS5_NEED_MORE;
	size_t ulen = buf[1];
	if (len < 2 + ulen + 1)
		return SOCKS5_NEED_MORE;
	size_t plen = buf[2 + ulen];
	if (len < 3 + ulen + plen)
		return SOCKS5_NEED_MORE;
	ret->ulen = (uint8_t)ulen;
	memcpy(ret->user, buf + 2, ulen);
	ret->user[ulen] = '\0';
	ret->plen = (uint8_t)plen;
	memcpy(ret->pass, buf + 3 + ulen, plen);
	ret->pass[plen] = '\0';
	*ret_len = 3 + ulen + plen;
	return SOCKS5_OK;
}

/* Parses ATYP ADDR PORT at buf; on SOCKS5_OK *ret_len is the bytes used. */
static enum socks5_status parse_addr(const uint8_t *buf, size_t len, struct socks5_addr *ret,
				     size_t *ret_len)
{
	size_t alen;

	if (len < 1)
		return SOCKS5_NEED_MORE;
	switch (buf[0]) {
	case SOCKS5_ATYP_IPV4:
		alen = 4;
		break;
	case SOCKS5_ATYP_IPV6:
		alen = 16;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (len < 2)
			return SOCKS5_NEED_MORE;
		alen = 1 + (size_t)buf[1];
		break;
	default:
		return SOCKS5_BAD_ATYP;
	}
	if (len < 1 + alen + 2)
		return SOCKS5_NEED_MORE;

	const uint8_t *a = buf + 1;
	ret->atyp = buf[0];
	ret->domain_len = 0;
	if (buf[0] == SOCKS5_ATYP_DOMAIN) {
		size_t n = a[0];
		/* An empty name or one with a NUL in it cannot be resolved as sent. */
		if (n == 0 || memchr(a + 1, '\0', n) != NULL)
			return SOCKS5_BAD_MESSAGE;
		memcpy(ret->u.domain, a + 1, n);
		ret->u.domain[n] = '\0';
		ret->domain_len = (uint8_t)n;
	} else {
		memcpy(buf[0] == SOCKS5_ATYP_IPV4 ? ret->u.ipv4 : ret->u.ipv6, a, alen);
	}
	ret->port = (uint16_t)(a[alen] << 8 | a[alen + 1]);
	*ret_len = 1 + alen + 2;
	return SOCKS5_OK;
}

enum socks5_status socks5_parse_request(const uint8_t *buf, size_t len,
					struct socks5_request *ret, size_t *ret_len)
{
	struct socks5_addr dst;
	size_t alen;

	if (len < 1)
		return SOCKS5_NEED_MORE;
	if (buf[0] != SOCKS5_VERSION)
		return SOCKS5_BAD_VERSION;
	if (len < 3)
		return SOCKS5_NEED_MORE;
	/* buf[2] is RSV; like most servers we do not insist on 0x00. */
	enum socks5_status st = parse_addr(buf + 3, len - 3, &dst, &alen);
	if (st != SOCKS5_OK)
		return st;
	ret->cmd = buf[1];
	ret->dst = dst;
	*ret_len = 3 + alen;
	return SOCKS5_OK;
}

enum socks5_status socks5_parse_udp_header(const uint8_t *buf, size_t len,
					   struct socks5_udp_header *ret, size_t *ret_len)
{
	struct socks5_addr dst;
	size_t alen;

	if (len < 4)
		return SOCKS5_BAD_MESSAGE;
	if (buf[0] != 0x00 || buf[1] != 0x00)
		return SOCKS5_BAD_MESSAGE;
	enum socks5_status st = parse_addr(buf + 3, len - 3, &dst, &alen);
	if (st == SOCKS5_NEED_MORE)	/* the datagram is all there is */
		return SOCKS5_BAD_MESSAGE;
	if (st != SOCKS5_OK)
		return st;
	ret->frag = buf[2];
	ret->dst = dst;
	*ret_len = 3 + alen;
	return SOCKS5_OK;
}

const char *socks5_status_str(enum socks5_status st)
{
	switch (st) {
	case SOCKS5_OK:
		return "ok";
	case SOCKS5_NEED_MORE:
		return "need more";
	case SOCKS5_BAD_VERSION:
		return "wrong version";
	case SOCKS5_BAD_ATYP:
		return "unknown address type";
	case SOCKS5_BAD_MESSAGE:
		break;
	}
	return "bad field";
}

uint8_t socks5_select_method(const struct socks5_greeting *g, const uint8_t *allowed,
			     size_t nallowed)
{
	for (size_t i = 0; i < nallowed; i++)
		if (memchr(g->methods, allowed[i], g->nmethods) != NULL)
			return allowed[i];
	return SOCKS5_METHOD_NO_ACCEPTABLE;
}

size_t socks5_build_method(uint8_t *out, uint8_t method)
{
	out[0] = SOCKS5_VERSION;
	out[1] = method;
	return 2;
}

size_t socks5_build_userpass_reply(uint8_t *out, uint8_t status)
{
	out[0] = SOCKS5_USERPASS_VERSION;
	out[1] = status;
	return 2;
}

size_t socks5_build_reply(uint8_t *out, uint8_t rep, const struct sockaddr *bnd)
{
	size_t n;

	out[0] = SOCKS5_VERSION;
	out[1] = rep;
	out[2] = 0x00;
	if (bnd != NULL && bnd->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)bnd;
		out[3] = SOCKS5_ATYP_IPV6;
		memcpy(out + 4, &s6->sin6_addr, 16);
		memcpy(out + 20, &s6->sin6_port, 2);
		n = 22;
	} else {
		out[3] = SOCKS5_ATYP_IPV4;
		if (bnd != NULL && bnd->sa_family == AF_INET) {
			const struct sockaddr_in *s4 = (const struct sockaddr_in *)bnd;
			memcpy(out + 4, &s4->sin_addr, 4);
			memcpy(out + 8, &s4->sin_port, 2);
		} else {
			memset(out + 4, 0, 6);
		}
		n = 10;
	}
	return n;
}

size_t socks5_build_udp_header(uint8_t *out, size_t outlen, const struct sockaddr *src)
{
	size_t need;

	if (src == NULL || (src->sa_family != AF_INET && src->sa_family != AF_INET6))
		return 0;
	need = src->sa_family == AF_INET ? 10 : 22;
	if (outlen < need)
		return 0;
	/* The same layout as a reply with RSV RSV FRAG in place of VER REP RSV. */
	socks5_build_reply(out, 0, src);
	out[0] = 0x00;
	out[1] = 0x00;
	out[2] = 0x00;
	return need;
}

uint8_t socks5_rep_from_errno(int err)
{
	switch (err) {
	case 0:
		return SOCKS5_REP_SUCCEEDED;
	case ECONNREFUSED:
		return SOCKS5_REP_CONN_REFUSED;
	case ENETUNREACH:
	case ENETDOWN:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return SOCKS5_REP_NET_UNREACHABLE;
	case EHOSTUNREACH:
	case EHOSTDOWN:
		return SOCKS5_REP_HOST_UNREACHABLE;
	case ETIMEDOUT:
		return SOCKS5_REP_TTL_EXPIRED;
	case EACCES:
	case EPERM:
		return SOCKS5_REP_NOT_ALLOWED;
	default:
		return SOCKS5_REP_GENERAL_FAILURE;
	}
}

uint8_t socks5_rep_from_gai(int gai_err, int err)
{
	switch (gai_err) {
	case 0:
		return SOCKS5_REP_SUCCEEDED;
	case EAI_NONAME:
	case EAI_NODATA:
	case EAI_ADDRFAMILY:
	case EAI_AGAIN:
	case EAI_FAIL:
		return SOCKS5_REP_HOST_UNREACHABLE;
	case EAI_FAMILY:
		return SOCKS5_REP_ATYP_NOT_SUPPORTED;
	case EAI_SYSTEM:
		return socks5_rep_from_errno(err);
	default:
		return SOCKS5_REP_GENERAL_FAILURE;
	}
}

const char *socks5_rep_str(uint8_t rep)
{
	static const char *const names[SOCKS5_REP_MAX] = {
		[SOCKS5_REP_SUCCEEDED] = "succeeded",
		[SOCKS5_REP_GENERAL_FAILURE] = "general failure",
		[SOCKS5_REP_NOT_ALLOWED] = "not allowed by rules",
		[SOCKS5_REP_NET_UNREACHABLE] = "network unreachable",
		[SOCKS5_REP_HOST_UNREACHABLE] = "host unreachable",
		[SOCKS5_REP_CONN_REFUSED] = "connection refused",
		[SOCKS5_REP_TTL_EXPIRED] = "timed out",
		[SOCKS5_REP_CMD_NOT_SUPPORTED] = "command not supported",
		[SOCKS5_REP_ATYP_NOT_SUPPORTED] = "address type not supported",
	};
	return rep < SOCKS5_REP_MAX ? names[rep] : "unassigned";
}

const char *socks5_cmd_str(uint8_t cmd)
{
	switch (cmd) {
	case SOCKS5_CMD_CONNECT:
		return "connect";
	case SOCKS5_CMD_BIND:
		return "bind";
	case SOCKS5_CMD_UDP_ASSOCIATE:
		return "udp";
	default:
		return "unknown";
	}
}

char *socks5_addr_str(const struct socks5_addr *addr, char *out, size_t outlen)
{
	char host[SOCKS5_ADDR_STRLEN];
	switch (addr->atyp) {
	case SOCKS5_ATYP_IPV4:
		inet_ntop(AF_INET, addr->u.ipv4, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, addr->port);
		break;
	case SOCKS5_ATYP_IPV6:
		inet_ntop(AF_INET6, addr->u.ipv6, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, addr->port);
		break;
	case SOCKS5_ATYP_DOMAIN:
		/* The name is client input: escape anything that could forge a log line. */
		text_escape(addr->u.domain, addr->domain_len, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, addr->port);
		break;
	default:
		snprintf(out, outlen, "?:%u", addr->port);
		break;
	}
	return out;
}
