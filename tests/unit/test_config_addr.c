/* Unit tests for the address settings: the comma-separated lists of listen
 * (with "proxy"), proxy_from, proxy_listen and external_address, their
 * errors, the questions asked at accept time and in replies, and the -t
 * lines. On config_new() objects: no files (test_config covers the file
 * side: line numbers, the proxy_from requirement). */
#include "autoconf.h"

#include "config.h"
#include "config_addr.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct addr ip(const char *host, uint16_t port)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		CU_ASSERT_FATAL(inet_pton(AF_INET6, host, &s6->sin6_addr) == 1);
		a.len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		CU_ASSERT_FATAL(inet_pton(AF_INET, host, &s4->sin_addr) == 1);
		a.len = sizeof(*s4);
	}
	return a;
}

#define SA(a) ((const struct sockaddr *)&(a).ss)

/* Sets key = value on c; returns the result, err gets the message. */
static int set(struct config *c, const char *key, const char *value, char *err)
{
	err[0] = '\0';
	return config_addr_set(c, key, value, err, 256);
}

static void test_listen(void)
{
	struct config *c = config_new();
	char err[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	c->nlisten = 0;
	CHECK_INT(set(c, "listen", "10.0.0.5:1080 proxy, 127.0.0.1:1081", err), 0);
	CHECK_INT(set(c, "listen", " [::1]:1082\tproxy ,[::]:1083 ", err), 0);
	CHECK_INT(c->nlisten, 4);
	CHECK(c->listen_proxy[0] && !c->listen_proxy[1] && c->listen_proxy[2] &&
		      !c->listen_proxy[3], "proxy flags %d %d %d %d", c->listen_proxy[0],
	      c->listen_proxy[1], c->listen_proxy[2], c->listen_proxy[3]);
	CHECK(config_addr_proxy_listener(c), "no proxy listener seen");
	struct addr a = ip("10.0.0.5", 1080), b = ip("127.0.0.1", 1081), v6 = ip("::1", 1082);
	CHECK(config_addr_proxy_socket(c, SA(a), false), "10.0.0.5:1080 proxy");
	CHECK(!config_addr_proxy_socket(c, SA(b), false), "127.0.0.1:1081 plain");
	CHECK(config_addr_proxy_socket(c, SA(v6), false), "[::1]:1082 proxy");
	struct addr other_port = ip("10.0.0.5", 1081);
	CHECK(!config_addr_proxy_socket(c, SA(other_port), false), "the port counts");
	/* Passed sockets go by proxy_listen alone. */
	CHECK(!config_addr_proxy_socket(c, SA(a), true), "passed: listen's proxy applied");

	static const struct {
		const char *value, *needle;
	} bad[] = {
		{ "127.0.0.1:1 proxi", "'proxi' after 127.0.0.1:1 is not 'proxy'" },
		{ "127.0.0.1:1 proxy proxy", "is not 'proxy'" },
		{ "127.0.0.1:2,,127.0.0.1:3", "empty item" },
		{ "127.0.0.1:4,", "empty item" },
		{ "proxy", "'proxy' is not ADDR:PORT" },
		{ "10.0.0.5:1080", "already listed" },
		{ "[::1]:1082 proxy", "already listed" },
		{ "localhost:80", "localhost:80" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(set(c, "listen", bad[i].value, err), -EINVAL);
		CHECK(strstr(err, bad[i].needle) != NULL, "'%s': message \"%s\"", bad[i].value, err);
	}
	config_unref(c);

	/* No more than CONFIG_LISTEN_MAX in all. */
	c = config_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	c->nlisten = 0;
	char list[CONFIG_LISTEN_MAX * 24 + 32] = "";
	for (int i = 0; i < CONFIG_LISTEN_MAX; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s127.0.0.1:%d proxy",
			 i > 0 ? ", " : "", 3000 + i);
	CHECK_INT(set(c, "listen", list, err), 0);
	CHECK_INT(c->nlisten, CONFIG_LISTEN_MAX);
	CHECK_INT(set(c, "listen", "127.0.0.1:4000", err), -EINVAL);
	CHECK(strstr(err, "too many") != NULL, "message \"%s\"", err);
	config_unref(c);
}

static void test_proxy_from(void)
{
	struct config *c = config_new();
	char err[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(set(c, "proxy_from", "10.0.0.0/24, 192.0.2.7", err), 0);
	CHECK_INT(set(c, "proxy_from", "2001:db8::/64", err), 0);	/* adds */
	CHECK_INT(c->nproxy_from, 3);
	static const struct {
		const char *host;
		bool trusted;
	} peers[] = {
		{ "10.0.0.1", true },	  { "10.0.0.255", true },   { "10.0.1.1", false },
		{ "192.0.2.7", true },	  { "192.0.2.8", false },   { "2001:db8::9", true },
		{ "2001:db9::1", false }, { "::ffff:10.0.0.3", true }, { "127.0.0.1", false },
	};
	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		struct addr a = ip(peers[i].host, 40000);
		CHECK(config_addr_proxy_trusted(c, SA(a)) == peers[i].trusted, "%s trusted: %d",
		      peers[i].host, !peers[i].trusted);
	}
	static const char *const bad[] = { "10.0.0.1/8", "example.com", "10.0.0.0/33",
					   "10.0.0.0/24 proxy", "10.0.0.0/-1", ", 10.0.0.0/8" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(set(c, "proxy_from", bad[i], err), -EINVAL);
		CHECK(strstr(err, "proxy_from") != NULL, "'%s': message \"%s\"", bad[i], err);
	}
	config_unref(c);

	c = config_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < CONFIG_PROXY_FROM_MAX; i++) {
		char net[32];
		snprintf(net, sizeof(net), "10.%d.0.0/16", i);
		CHECK_INT(set(c, "proxy_from", net, err), 0);
	}
	CHECK_INT(set(c, "proxy_from", "192.0.2.1", err), -EINVAL);
	CHECK(strstr(err, "more than") != NULL, "message \"%s\"", err);
	config_unref(c);
}

static void test_proxy_listen(void)
{
	struct config *c = config_new();
	char err[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(set(c, "proxy_listen", "[::]:1080, 0.0.0.0:1090", err), 0);
	CHECK_INT(c->nproxy_listen, 2);
	CHECK(!config_addr_proxy_listener(c), "proxy_listen is not a listen entry");
	struct addr any6 = ip("::", 1080), any4 = ip("0.0.0.0", 1090), v4 = ip("0.0.0.0", 1080);
	CHECK(config_addr_proxy_socket(c, SA(any6), true), "[::]:1080 passed");
	CHECK(config_addr_proxy_socket(c, SA(any4), true), "0.0.0.0:1090 passed");
	CHECK(!config_addr_proxy_socket(c, SA(v4), true), "0.0.0.0:1080 is another socket");
	CHECK(!config_addr_proxy_socket(c, SA(any6), false), "bound sockets ignore proxy_listen");
	CHECK_INT(set(c, "proxy_listen", "0.0.0.0:1090", err), -EINVAL);
	CHECK(strstr(err, "already listed") != NULL, "message \"%s\"", err);
	CHECK_INT(set(c, "proxy_listen", "1080", err), -EINVAL);
	CHECK(strstr(err, "'1080' is not ADDR:PORT") != NULL, "message \"%s\"", err);
	config_unref(c);
}

static void test_external(void)
{
	struct config *c = config_new();
	char err[256];
	struct addr v4 = ip("10.1.2.3", 5000), v6 = ip("fd00::3", 5000);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK(config_addr_external(c, SA(v4)) == NULL, "set by default");
	CHECK_INT(set(c, "external_address", "2001:db8::5, 203.0.113.5", err), 0);
	const struct addr *e4 = config_addr_external(c, SA(v4));
	const struct addr *e6 = config_addr_external(c, SA(v6));
	struct addr want4 = ip("203.0.113.5", 0), want6 = ip("2001:db8::5", 0);
	CHECK(e4 != NULL && e4->len == want4.len && memcmp(&e4->ss, &want4.ss, want4.len) == 0,
	      "the IPv4 external address");
	CHECK(e6 != NULL && e6->len == want6.len && memcmp(&e6->ss, &want6.ss, want6.len) == 0,
	      "the IPv6 external address");

	/* A later line replaces the whole setting; one family alone leaves the
	 * other to the relay's own address. */
	CHECK_INT(set(c, "external_address", "::ffff:198.51.100.9", err), 0);
	e4 = config_addr_external(c, SA(v4));
	want4 = ip("198.51.100.9", 0);
	CHECK(e4 != NULL && memcmp(&e4->ss, &want4.ss, want4.len) == 0, "mapped: plain IPv4");
	CHECK(config_addr_external(c, SA(v6)) == NULL, "the IPv6 one outlived the new line");

	static const struct {
		const char *value, *needle;
	} bad[] = {
		{ "192.0.2.1, 192.0.2.2", "more than one IPv4" },
		{ "2001:db8::1,2001:db8::2", "more than one IPv6" },
		{ "192.0.2.1:80", "'192.0.2.1:80' is not an IPv4 or IPv6 address" },
		{ "[2001:db8::1]", "is not an IPv4 or IPv6 address" },
		{ "0.0.0.0", "any address" },
		{ "::", "any address" },
		{ "gateway.example.com", "gateway.example.com" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(set(c, "external_address", bad[i].value, err), -EINVAL);
		CHECK(strstr(err, bad[i].needle) != NULL, "'%s': message \"%s\"", bad[i].value, err);
	}
	struct sockaddr un = { .sa_family = AF_UNIX };
	CHECK(config_addr_external(c, &un) == NULL, "AF_UNIX has an external address");
	config_unref(c);
}

/* Writes the dump of c into buf. */
static void dump(const struct config *c, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	config_addr_dump(c, f);
	fclose(f);
}

static void test_dump(void)
{
	struct config *c = config_new();
	char err[256], buf[2048];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	dump(c, buf, sizeof(buf));
	CHECK_STR(buf, "listen = 127.0.0.1:1080\n"
		       "# proxy_from: not set (no load balancer may send a PROXY header)\n"
		       "# proxy_listen: not set (no socket from systemd expects a PROXY header)\n"
		       "# external_address: not set (replies name the relay's own address)\n"
		       "# outgoing_address: not set (the kernel picks the source address)\n");
	c->nlisten = 0;
	CHECK_INT(set(c, "listen", "10.0.0.5:1080 proxy, [::1]:1081", err), 0);
	CHECK_INT(set(c, "proxy_from", "10.0.0.0/24, 2001:db8::7", err), 0);
	CHECK_INT(set(c, "proxy_listen", "[::]:1080", err), 0);
	CHECK_INT(set(c, "external_address", "2001:db8::5, 203.0.113.5", err), 0);
	CHECK_INT(set(c, "outgoing_address", "192.0.2.9", err), 0);
	dump(c, buf, sizeof(buf));
	CHECK_STR(buf, "listen = 10.0.0.5:1080 proxy\n"
		       "listen = [::1]:1081\n"
		       "proxy_from = 10.0.0.0/24, 2001:db8::7\n"
		       "proxy_listen = [::]:1080\n"
		       "external_address = 203.0.113.5, 2001:db8::5\n"
		       "outgoing_address = 192.0.2.9\n");
	config_unref(c);
}

static void test_outgoing(void)
{
	struct config *c = config_new();
	char err[256], h[ADDR_HOSTLEN];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(c->outgoing[0].len + c->outgoing[1].len, 0);
	CHECK_INT(set(c, "outgoing_address", "2001:db8::9, 192.0.2.9", err), 0);
	CHECK_STR(addr_host((struct sockaddr *)&c->outgoing[0].ss, h, sizeof(h)), "192.0.2.9");
	CHECK_STR(addr_host((struct sockaddr *)&c->outgoing[1].ss, h, sizeof(h)), "2001:db8::9");
	CHECK_INT(addr_port((struct sockaddr *)&c->outgoing[0].ss), 0);
	/* A later line replaces the earlier one; a mapped address is IPv4. */
	CHECK_INT(set(c, "outgoing_address", "::ffff:198.51.100.1", err), 0);
	CHECK_STR(addr_host((struct sockaddr *)&c->outgoing[0].ss, h, sizeof(h)), "198.51.100.1");
	CHECK_INT(c->outgoing[1].len, 0);
	static const struct {
		const char *value, *needle;
	} bad[] = {
		{ "192.0.2.1, 192.0.2.2", "more than one IPv4" },
		{ "192.0.2.1:80", "not an IPv4 or IPv6 address" },
		{ "0.0.0.0", "the any address" },
		{ "gateway.example", "not an IPv4 or IPv6 address" },
		{ "192.0.2.1,", "empty item" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(set(c, "outgoing_address", bad[i].value, err), -EINVAL);
		CHECK(strstr(err, bad[i].needle) != NULL, "'%s': message \"%s\"", bad[i].value, err);
		CHECK(strncmp(err, "outgoing_address: ", 18) == 0, "message \"%s\"", err);
	}
	config_unref(c);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "listen lists and the proxy word", test_listen },
		{ "proxy_from networks", test_proxy_from },
		{ "proxy_listen for passed sockets", test_proxy_listen },
		{ "external_address by family", test_external },
		{ "outgoing_address by family", test_outgoing },
		{ "the -t lines", test_dump },
	};
	return UNIT_RUN("config_addr", tests);
}
