/* Shared by the SOCKS5 codec targets (fuzz_greeting, fuzz_userpass,
 * fuzz_request, fuzz_udp_header): what every socks5.h parser promises about
 * statuses, out-parameters and streaming, and a reference encoder of the
 * address block (ATYP ADDR PORT) to compare parses against their input. */
#ifndef SOCKSGATE_FUZZ_SOCKS5_H
#define SOCKSGATE_FUZZ_SOCKS5_H

#include "fuzz.h"

#include "socks5.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef enum socks5_status (*fuzz_parse_fn)(const uint8_t *buf, size_t len, void *ret,
					    size_t *ret_len);
/* Compares the meaningful fields of two parse results (not padding, not the
 * unused tail of a name buffer). */
typedef bool (*fuzz_same_fn)(const void *a, const void *b);

static inline bool fuzz_socks5_status_valid(enum socks5_status st)
{
	return st == SOCKS5_OK || st == SOCKS5_NEED_MORE || st == SOCKS5_BAD_VERSION ||
	       st == SOCKS5_BAD_MESSAGE || st == SOCKS5_BAD_ATYP;
}

static inline bool fuzz_socks5_same_addr(const struct socks5_addr *a, const struct socks5_addr *b)
{
	if (a->atyp != b->atyp || a->port != b->port)
		return false;
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		return memcmp(a->u.ipv4, b->u.ipv4, 4) == 0;
	case SOCKS5_ATYP_IPV6:
		return memcmp(a->u.ipv6, b->u.ipv6, 16) == 0;
	default:
		return a->domain_len == b->domain_len &&
		       memcmp(a->u.domain, b->u.domain, a->domain_len + 1u) == 0;
	}
}

/* Writes a as the wire's ATYP ADDR PORT into out (at least 1 + 1 + 255 + 2
 * bytes); returns the length. */
static inline size_t fuzz_socks5_encode_addr(const struct socks5_addr *a, uint8_t *out)
{
	size_t n = 1;

	out[0] = a->atyp;
	if (a->atyp == SOCKS5_ATYP_IPV4) {
		memcpy(out + 1, a->u.ipv4, 4);
		n += 4;
	} else if (a->atyp == SOCKS5_ATYP_IPV6) {
		memcpy(out + 1, a->u.ipv6, 16);
		n += 16;
	} else {
		out[1] = a->domain_len;
		memcpy(out + 2, a->u.domain, a->domain_len);
		n += 1 + a->domain_len;
	}
	out[n] = (uint8_t)(a->port >> 8);
	out[n + 1] = (uint8_t)a->port;
	return n + 2;
}

/* What a parsed address promises, and that its log text is safe: printable
 * ASCII only (a name is escaped), ending in ":PORT", cut but terminated in a
 * small buffer. */
static inline void fuzz_socks5_check_addr(const struct socks5_addr *a)
{
	char out[SOCKS5_ADDR_STRLEN], small[8], port[8];

	CHECK(a->atyp == SOCKS5_ATYP_IPV4 || a->atyp == SOCKS5_ATYP_IPV6 ||
	      a->atyp == SOCKS5_ATYP_DOMAIN);
	if (a->atyp == SOCKS5_ATYP_DOMAIN) {
		/* The header promises a NUL-free, NUL-terminated, non-empty name. */
		CHECK(a->domain_len > 0);
		CHECK(strlen(a->u.domain) == a->domain_len);
	}
	socks5_addr_str(a, out, sizeof(out));
	size_t n = strlen(out);
	CHECK(n < sizeof(out));
	for (size_t i = 0; i < n; i++)
		CHECK(out[i] >= 0x20 && out[i] < 0x7f);
	int pn = snprintf(port, sizeof(port), ":%u", a->port);
	CHECK(pn > 0 && (size_t)pn < n && strcmp(out + n - (size_t)pn, port) == 0);
	socks5_addr_str(a, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small) && strncmp(small, out, strlen(small)) == 0);
}

/* One parse of an exact heap copy of buf[0..len), out-parameters poisoned
 * first: the status is in range, and they are written only on SOCKS5_OK,
 * then with 0 < *used <= len. */
static inline enum socks5_status fuzz_socks5_parse(fuzz_parse_fn parse, const uint8_t *buf,
						   size_t len, void *obj, size_t objsize,
						   size_t *used)
{
	uint8_t *copy = fuzz_dup(buf, len);

	memset(obj, FUZZ_POISON, objsize);
	memset(used, FUZZ_POISON, sizeof(*used));
	enum socks5_status st = parse(copy, len, obj, used);
	free(copy);
	CHECK(fuzz_socks5_status_valid(st));
	CHECK(strcmp(socks5_status_str(st), "") != 0);
	if (st == SOCKS5_OK)
		CHECK(*used > 0 && *used <= len);
	else
		CHECK(fuzz_all_bytes(obj, FUZZ_POISON, objsize) &&
		      fuzz_all_bytes(used, FUZZ_POISON, sizeof(*used)));
	return st;
}

/* Parses data whole into *whole (objsize bytes) and returns the status,
 * then every prefix up to max (the longest message): a prefix says "need
 * more" until the answer is decided and from there on gives that same
 * answer, with the same message and length, so a message split anywhere by
 * recv() parses as when it comes whole, and every proper prefix of a valid
 * message is "need more". max bytes always decide. */
static inline enum socks5_status fuzz_socks5_stream(fuzz_parse_fn parse, fuzz_same_fn same,
						    const uint8_t *data, size_t size, void *whole,
						    size_t objsize, size_t *used, size_t max)
{
	void *part = malloc(objsize);
	size_t part_used;
	bool decided = false;

	CHECK(part != NULL);
	enum socks5_status st = fuzz_socks5_parse(parse, data, size, whole, objsize, used);
	if (size >= max)
		CHECK(st != SOCKS5_NEED_MORE);
	if (st == SOCKS5_OK)
		CHECK(*used <= max);
	size_t last = size < max ? size : max;
	for (size_t k = 0; k <= last; k++) {
		enum socks5_status sk = fuzz_socks5_parse(parse, data, k, part, objsize, &part_used);
		if (sk == SOCKS5_NEED_MORE) {
			CHECK(!decided);
			continue;
		}
		decided = true;
		CHECK(sk == st);
		if (sk == SOCKS5_OK)
			CHECK(part_used == *used && same(part, whole));
	}
	CHECK(decided || st == SOCKS5_NEED_MORE);
	free(part);
	return st;
}

#endif
