/* libFuzzer target for everything that parses bytes a client or an operator
 * wrote: the SOCKS5 codec (greeting, username/password, request, UDP header),
 * the access-rule parser and the config file parser. Besides "no crash", it
 * checks that a message split at any offset parses the same as when it arrives
 * whole (the session feeds the codec whatever recv() returned).
 *
 * Build: configure CC=clang --enable-fuzz && make (fuzz/Makefile.am, which
 * links it against src/libsocksgate.a).
 * Run (as .ci/run does): fuzz/fuzz_socks5 -max_total_time=30 WORKDIR SRCDIR/fuzz/corpus */
#include "autoconf.h"

#include "fuzz.h"

#include "config.h"
#include "rules.h"
#include "socks5.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>


typedef enum socks5_status (*parse_fn)(const uint8_t *buf, size_t len, void *ret, size_t *n);
/* Compares the meaningful fields of two parse results (not padding, not the
 * unused tail of a name buffer). */
typedef bool (*same_fn)(const void *a, const void *b);

static bool same_addr(const struct socks5_addr *a, const struct socks5_addr *b)
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

static bool same_greeting(const void *x, const void *y)
{
	const struct socks5_greeting *a = x, *b = y;
	return a->nmethods == b->nmethods && memcmp(a->methods, b->methods, a->nmethods) == 0;
}

static bool same_userpass(const void *x, const void *y)
{
	const struct socks5_userpass *a = x, *b = y;
	return a->ulen == b->ulen && a->plen == b->plen &&
	       memcmp(a->user, b->user, a->ulen + 1u) == 0 &&
	       memcmp(a->pass, b->pass, a->plen + 1u) == 0;
}

static bool same_request(const void *x, const void *y)
{
	const struct socks5_request *a = x, *b = y;
	return a->cmd == b->cmd && same_addr(&a->dst, &b->dst);
}

static enum socks5_status p_greeting(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_greeting(b, l, r, n);
}

static enum socks5_status p_userpass(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_userpass(b, l, r, n);
}

static enum socks5_status p_request(const uint8_t *b, size_t l, void *r, size_t *n)
{
	return socks5_parse_request(b, l, r, n);
}

static void check_addr(const struct socks5_addr *a)
{
	char out[SOCKS5_ADDR_STRLEN], small[8];

	CHECK(a->atyp == SOCKS5_ATYP_IPV4 || a->atyp == SOCKS5_ATYP_IPV6 ||
	      a->atyp == SOCKS5_ATYP_DOMAIN);
	if (a->atyp == SOCKS5_ATYP_DOMAIN) {
		/* The header promises a NUL-free, NUL-terminated, non-empty name. */
		CHECK(a->domain_len > 0);
		CHECK(strlen(a->u.domain) == a->domain_len);
	}
	socks5_addr_str(a, out, sizeof(out));
	CHECK(strlen(out) < sizeof(out));
	socks5_addr_str(a, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small));
}

/* Parses buf whole, then every prefix of it: a prefix must say "need more"
 * until the parse is decided, and from there on give the same answer. The
 * buffer is copied to a heap block of exactly len bytes so ASan sees any
 * read past the end. */
static void split_check(parse_fn parse, same_fn same, const uint8_t *data, size_t len,
			size_t objsize)
{
	uint8_t *whole = malloc(objsize), *part = malloc(objsize);
	CHECK(whole != NULL && part != NULL);
	memset(whole, 0xa5, objsize);
	size_t used = 0, usedk;
	enum socks5_status r = parse(data, len, whole, &used);
	CHECK(r == SOCKS5_NEED_MORE || r == SOCKS5_BAD_VERSION || r == SOCKS5_BAD_MESSAGE ||
	      r == SOCKS5_BAD_ATYP || (r == SOCKS5_OK && used > 0 && used <= len));

	bool decided = false;
	for (size_t k = 0; k <= len; k++) {
		uint8_t *copy = malloc(k ? k : 1);
		CHECK(copy != NULL);
		memcpy(copy, data, k);
		memset(part, 0xa5, objsize);
		usedk = 0;
		enum socks5_status rk = parse(copy, k, part, &usedk);
		free(copy);
		if (rk == SOCKS5_NEED_MORE) {
			CHECK(!decided);
			continue;
		}
		decided = true;
		CHECK(rk == r);
		if (rk == SOCKS5_OK) {
			CHECK(usedk == used && usedk <= k);
			CHECK(same(part, whole));
		}
	}
	free(whole);
	free(part);
}

static void fuzz_codec(const uint8_t *data, size_t size)
{
	struct socks5_greeting g;
	struct socks5_userpass up;
	struct socks5_request req;
	struct socks5_udp_header uh;
	uint8_t out[SOCKS5_REPLY_MAX];

	/* Whole-message parses, with the checks on what they return. */
	size_t n;
	if (socks5_parse_greeting(data, size, &g, &n) == SOCKS5_OK) {
		static const uint8_t allowed[] = { SOCKS5_METHOD_USERPASS, SOCKS5_METHOD_NONE };
		uint8_t m = socks5_select_method(&g, allowed, sizeof(allowed));
		CHECK(m == SOCKS5_METHOD_USERPASS || m == SOCKS5_METHOD_NONE ||
		      m == SOCKS5_METHOD_NO_ACCEPTABLE);
		CHECK(socks5_build_method(out, m) == 2);
	}
	if (socks5_parse_userpass(data, size, &up, &n) == SOCKS5_OK) {
		CHECK(up.user[up.ulen] == '\0' && up.pass[up.plen] == '\0');
	}
	if (socks5_parse_request(data, size, &req, &n) == SOCKS5_OK) {
		check_addr(&req.dst);
		(void)socks5_cmd_str(req.cmd);
	}
	enum socks5_status h = socks5_parse_udp_header(data, size, &uh, &n);
	CHECK(h == SOCKS5_BAD_MESSAGE || h == SOCKS5_BAD_ATYP ||
	      (h == SOCKS5_OK && n > 0 && n <= size));
	if (h == SOCKS5_OK)
		check_addr(&uh.dst);

	/* Streaming consistency; quadratic, so only for message-sized inputs. */
	if (size <= 600) {
		split_check(p_greeting, same_greeting, data, size, sizeof(g));
		split_check(p_userpass, same_userpass, data, size, sizeof(up));
		split_check(p_request, same_request, data, size, sizeof(req));
	}

	/* Builders with addresses taken from the input. */
	if (size >= 18) {
		struct sockaddr_in s4 = { .sin_family = AF_INET };
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
		uint8_t hdr[SOCKS5_UDP_HEADER_MAX];
		memcpy(&s4.sin_addr, data, 4);
		memcpy(&s4.sin_port, data + 4, 2);
		memcpy(&s6.sin6_addr, data + 2, 16);
		CHECK(socks5_build_reply(out, data[0], (struct sockaddr *)&s4) == 10);
		CHECK(socks5_build_reply(out, data[0], (struct sockaddr *)&s6) == 22);
		CHECK(socks5_build_udp_header(hdr, data[1] % (sizeof(hdr) + 1),
					      (struct sockaddr *)&s6) <= sizeof(hdr));
		CHECK(socks5_parse_udp_header(hdr, socks5_build_udp_header(hdr, sizeof(hdr),
						(struct sockaddr *)&s4), &uh, &n) == SOCKS5_OK &&
		      n == 10);
	}
	for (size_t i = 0; i < size && i < 4; i++)
		(void)socks5_rep_str(data[i]);
}

static bool no_groups(const char *user, const char *group, void *ctx)
{
	(void)ctx;
	return user != NULL && group != NULL && user[0] == group[0];
}

static void fuzz_rule(const char *text, const uint8_t *data, size_t size)
{
	struct rule r;
	char err[256], buf[4096];

	if (rule_parse(text, "fuzz", 1, &r, err, sizeof(err)) < 0) {
		CHECK(strlen(err) < sizeof(err));
		return;
	}
	rule_format(&r, buf, sizeof(buf));
	/* What rule_format() writes, rule_parse() reads back to the same text. */
	if (strlen(buf) < sizeof(buf) - 1) {
		struct rule again;
		char buf2[sizeof(buf)];
		CHECK(rule_parse(buf, "fuzz", 1, &again, err, sizeof(err)) == 0);
		rule_format(&again, buf2, sizeof(buf2));
		CHECK(strcmp(buf, buf2) == 0);
		rule_free(&again);
	}
	(void)rule_is_client_rule(&r);

	/* Decide a query made of input bytes against it. */
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6 };
	struct sockaddr_in cli = { .sin_family = AF_INET };
	if (size >= 20) {
		memcpy(&dst.sin6_addr, data, 16);
		memcpy(&cli.sin_addr, data + 16, 4);
	}
	struct rules_query q = {
		.client = (struct sockaddr *)&cli,
		.user = size > 0 && (data[0] & 1) ? "alice" : NULL,
		.cmd = RULE_CMD_CONNECT << (size > 1 ? data[1] % 3 : 0),
		.name = size > 2 && (data[2] & 1) ? "host.example" : NULL,
		.port = size > 3 ? data[3] : 0,
		.group_member = no_groups,
	};
	struct rules_verdict v;
	(void)rules_refuse_name(&r, 1, &q, &v);
	q.dest = (struct sockaddr *)&dst;
	rules_check(&r, 1, &q, &v);
	rules_check_client(&r, 1, (struct sockaddr *)&cli, &v);
	rule_free(&r);
}

static void ignore_report(const char *file, unsigned line, const char *msg, void *ctx)
{
	(void)file;
	(void)line;
	(void)ctx;
	CHECK(msg != NULL);
}

/* The config parser reads a file: give it the input through a memfd. */
static void fuzz_config(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct config *c = NULL;

	if (fd < 0) {
		fd = memfd_create("fuzz-config", MFD_CLOEXEC);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	if (config_load(path, NULL, 0, ignore_report, NULL, &c) == 0) {
		FILE *null = fopen("/dev/null", "w");
		if (null != NULL) {
			config_dump(c, null);
			fclose(null);
		}
		config_unref(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_codec(data, size);

	/* The text parsers take a C string: the input up to its first NUL. */
	char *text = malloc(size + 1);
	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_rule(text, data, size);
	struct addr_net n;
	if (addr_net_parse(text, &n) == 0) {
		char buf[64];
		addr_net_format(&n, buf, sizeof(buf));
		struct addr_net again;
		CHECK(addr_net_parse(buf, &again) == 0);
		CHECK(memcmp(&n, &again, sizeof(n)) == 0);
	}
	unsigned ms;
	(void)config_parse_duration(text, &ms);
	free(text);

	fuzz_config(data, size);
	return 0;
}
