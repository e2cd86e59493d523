/* Unit tests for the config parser: every key and unit, every error with its
 * line number, the default versus a named file, command-line overrides,
 * durations and reference counting. Files are temporary ones under /tmp. */
#include "autoconf.h"

#include "config.h"
#include "gssproto.h"
#include "log.h"
#include "socks5.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>


/* ---- helpers ---- */

#define REPORTS_MAX 40

struct reports {
	unsigned n;
	struct {
		char file[256];
		unsigned line;
		char msg[512];
	} r[REPORTS_MAX];
};

static void collect(const char *file, unsigned line, const char *msg, void *ctx)
{
	struct reports *rs = ctx;

	if (rs->n < REPORTS_MAX) {
		snprintf(rs->r[rs->n].file, sizeof(rs->r[rs->n].file), "%s", file);
		rs->r[rs->n].line = line;
		snprintf(rs->r[rs->n].msg, sizeof(rs->r[rs->n].msg), "%s", msg);
	}
	rs->n++;
}

/* Writes text to a new temporary file; path must hold 64 bytes. */
static void write_temp(const char *text, char *path)
{
	snprintf(path, 64, "/tmp/socksgate-test-config.XXXXXX");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	size_t len = strlen(text);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	close(fd);
}

#define POISON ((struct config *)(uintptr_t)0x5a5a5a5a)

/* Loads text as a config file; *path_out (64 bytes, may be NULL) gets the name. */
static int load_text(const char *text, const struct config_override *ov, size_t nov,
		     struct reports *rs, struct config **ret, char *path_out)
{
	char path[64];

	write_temp(text, path);
	memset(rs, 0, sizeof(*rs));
	*ret = POISON;
	int r = config_load(path, ov, nov, collect, rs, ret);
	unlink(path);
	if (path_out != NULL)
		memcpy(path_out, path, sizeof(path));
	/* The result goes out only on success; failures are always reported. */
	if (r == 0)
		CHECK(*ret != POISON && *ret != NULL, "no config returned on success");
	else
		CHECK(*ret == POISON, "*ret written on failure (%d)", r);
	if (r < 0)
		CHECK(rs->n > 0, "load failed with %d but reported nothing", r);
	return r;
}

static uint16_t port_of(const struct addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

static bool is_addr(const struct addr *a, int family, const char *host, uint16_t port)
{
	uint8_t want[16];

	if (a->ss.ss_family != family || port_of(a) != port || inet_pton(family, host, want) != 1)
		return false;
	if (family == AF_INET)
		return a->len == sizeof(struct sockaddr_in) &&
		       memcmp(&((const struct sockaddr_in *)&a->ss)->sin_addr, want, 4) == 0;
	return a->len == sizeof(struct sockaddr_in6) &&
	       memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr, want, 16) == 0;
}

/* Is method the only one c lists? */
static bool only_method(const struct config *c, uint8_t method)
{
	return c->nmethods == 1 && c->methods[0] == method;
}

static bool same_methods(const struct config *a, const struct config *b)
{
	return a->nmethods == b->nmethods && memcmp(a->methods, b->methods, a->nmethods) == 0;
}

static void dump_reports(const struct reports *rs)
{
	for (unsigned i = 0; i < rs->n && i < REPORTS_MAX; i++)
		fprintf(stderr, "    report %u: %s:%u: %s\n", i, rs->r[i].file, rs->r[i].line,
			rs->r[i].msg);
}

/* ---- valid files ---- */

static void test_every_key(void)
{
	static const char text[] =
		"# socksgate test configuration\n"
		"\n"
		"   \t\n"
		"listen = 127.0.0.1:1081\n"
		"listen = [::1]:1082   # trailing comment\n"
		"  auth = pam\n"
		"workers_min = 2\n"
		"workers_max = 50\n"
		"queue_length = 7\n"
		"handshake_timeout = 250ms\n"
		"connect_timeout = 3s\n"
		"idle_timeout = 2m\n"
		"drain_timeout = 1h\n"
		"bind_timeout = 30s\n"
		"udp_idle_timeout = 0\n"
		"log_level = debug\n"
		"log = journal\n"
		"user = socksgate\n";
	struct reports rs;
	struct config *c;

	CHECK_INT(load_text(text, NULL, 0, &rs, &c, NULL), 0);
	CHECK_INT(rs.n, 0);
	if (c == POISON)
		return;
	CHECK_INT(c->nlisten, 2);
	CHECK(is_addr(&c->listen[0], AF_INET, "127.0.0.1", 1081), "listen[0]");
	CHECK(is_addr(&c->listen[1], AF_INET6, "::1", 1082), "listen[1]");
	CHECK(only_method(c, SOCKS5_METHOD_USERPASS), "methods: not userpass alone");
	CHECK_INT(c->workers_min, 2);
	CHECK_INT(c->workers_max, 50);
	CHECK_INT(c->queue_length, 7);
	CHECK_INT(c->handshake_timeout_ms, 250);
	CHECK_INT(c->connect_timeout_ms, 3000);
	CHECK_INT(c->idle_timeout_ms, 120000);
	CHECK_INT(c->drain_timeout_ms, 3600000);
	CHECK_INT(c->bind_timeout_ms, 30000);
	CHECK_INT(c->udp_idle_timeout_ms, 0);
	CHECK_INT(c->log_level, LOG_DEBUG);
	CHECK_INT(c->log_target, LOG_TARGET_JOURNAL);
	CHECK(strcmp(c->user, "socksgate") == 0, "user is '%s'", c->user);
	CHECK_INT(atomic_load(&c->refs), 1);
	config_unref(c);
}

static void test_layout_variants(void)
{
	/* No spaces, tabs, CRLF line ends, a comment right after the value, a
	 * last line without a newline. */
	static const char text[] = "auth=none\r\n"
				   "\tworkers_min\t=\t3\t\r\n"
				   "queue_length =9# nine\n"
				   "# listen = 10.0.0.1:1\n"
				   "log_level = warning";
	struct reports rs;
	struct config *c;

	CHECK_INT(load_text(text, NULL, 0, &rs, &c, NULL), 0);
	dump_reports(&rs);
	if (c == POISON)
		return;
	CHECK(only_method(c, SOCKS5_METHOD_NONE), "methods: not none alone");
	CHECK_INT(c->workers_min, 3);
	CHECK_INT(c->queue_length, 9);
	CHECK_INT(c->log_level, LOG_WARNING);
	/* No listen line: the built-in default stays. */
	CHECK_INT(c->nlisten, 1);
	CHECK(is_addr(&c->listen[0], AF_INET, "127.0.0.1", 1080), "default listen");
	config_unref(c);
}

static void test_auth_values(void)
{
	struct reports rs;
	struct config *c;

	CHECK_INT(load_text("auth = none\n", NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK(only_method(c, SOCKS5_METHOD_NONE), "auth = none: %zu methods",
		      c->nmethods);
		config_unref(c);
	}
	CHECK_INT(load_text("auth = pam\n", NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK(only_method(c, SOCKS5_METHOD_USERPASS), "auth = pam: %zu methods",
		      c->nmethods);
		config_unref(c);
	}
	/* A second line is an error on that line, not "the later line wins". */
	CHECK_INT(load_text("auth = pam\nauth = none\n", NULL, 0, &rs, &c, NULL), -EINVAL);
	CHECK(rs.n == 1 && rs.r[0].line == 2, "auth twice: %u reports, line %u", rs.n,
	      rs.r[0].line);
}

/* methods: order kept, auth and methods one setting (a second line is an
 * error, the command line replaces), bad lists refused with the word that
 * is wrong; gssapi_protection likewise. */
static void test_methods(void)
{
	static const struct {
		const char *text;
		size_t n;
		uint8_t m[3];
	} ok[] = {
		{ "methods = userpass gssapi\n", 2, { 2, 1 } },
		{ "methods = gssapi, userpass\n", 2, { 1, 2 } },
		{ "methods = gssapi\n", 1, { 1 } },
		{ "methods = none\n", 1, { 0 } },
		{ "methods =  none ,gssapi\tuserpass \n", 3, { 0, 1, 2 } },
		{ "auth = none\n", 1, { 0 } },
		{ "auth = pam\n", 1, { 2 } },
	};
	static const struct {
		const char *text, *word;
	} bad[] = {
		{ "methods = kerberos\n", "kerberos" },
		{ "methods = userpass userpass\n", "twice" },
		{ "methods = ,\n", "no method" },
		{ "methods = pam\n", "pam" },
		{ "gssapi_protection = none, secret\n", "secret" },
		{ "gssapi_protection = none none\n", "twice" },
		{ "gssapi_protection = ,\n", "no level" },
		{ "gssapi_service = rc/md\n", "gssapi_service" },
		{ "gssapi_keytab = krb5.keytab\n", "gssapi_keytab" },
	};
	/* auth and methods are one setting: the second line is the error. */
	static const char *const both[] = {
		"auth = none\nmethods = gssapi userpass\n",
		"methods = gssapi userpass\nauth = pam\n",
		"methods = gssapi\nmethods = none\n",
	};
	struct reports rs;
	struct config *c;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_INT(load_text(ok[i].text, NULL, 0, &rs, &c, NULL), 0);
		if (c == POISON)
			continue;
		CHECK(c->nmethods == ok[i].n && memcmp(c->methods, ok[i].m, ok[i].n) == 0,
		      "%s: %zu methods, first 0x%02x", ok[i].text, c->nmethods, c->methods[0]);
		config_unref(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(load_text(bad[i].text, NULL, 0, &rs, &c, NULL), -EINVAL);
		CHECK(rs.n == 1 && rs.r[0].line == 1 && strstr(rs.r[0].msg, bad[i].word) != NULL,
		      "%s: %u reports, first '%s'", bad[i].text, rs.n, rs.r[0].msg);
	}
	for (size_t i = 0; i < sizeof(both) / sizeof(both[0]); i++) {
		CHECK_INT(load_text(both[i], NULL, 0, &rs, &c, NULL), -EINVAL);
		CHECK(rs.n == 1 && rs.r[0].line == 2 && strstr(rs.r[0].msg, "line 1") != NULL,
		      "%s: %u reports, first line %u '%s'", both[i], rs.n, rs.r[0].line,
		      rs.r[0].msg);
	}
	/* The command line's auth (-a) replaces the file's methods. */
	static const struct config_override none[] = { { "auth", "none" } };
	CHECK_INT(load_text("methods = gssapi userpass\n", none, 1, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK(only_method(c, SOCKS5_METHOD_NONE), "-a none: %zu methods", c->nmethods);
		config_unref(c);
	}
	/* The defaults: userpass alone; GSSAPI as RFC 1961 and curl expect. */
	CHECK_INT(load_text("workers_min = 1\n", NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK(only_method(c, SOCKS5_METHOD_USERPASS), "default methods");
		CHECK_STR(c->gssapi_service, "rcmd");
		CHECK_STR(c->gssapi_keytab, "");
		CHECK_STR(c->gssapi_hostname, "");
		CHECK_INT(c->gssapi_protection, CONFIG_PROTECTION(GSSPROTO_LEVEL_NONE));
		config_unref(c);
	}
	CHECK_INT(load_text("gssapi_protection = confidentiality integrity\n"
			    "gssapi_keytab = /etc/socksgate/krb5.keytab\n"
			    "gssapi_hostname = gateway.corp.example\ngssapi_realm = CORP.EXAMPLE\n",
			    NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(c->gssapi_protection,
			  CONFIG_PROTECTION(GSSPROTO_LEVEL_INTEGRITY) |
				  CONFIG_PROTECTION(GSSPROTO_LEVEL_CONFIDENTIALITY));
		CHECK_STR(c->gssapi_keytab, "/etc/socksgate/krb5.keytab");
		CHECK_STR(c->gssapi_hostname, "gateway.corp.example");
		CHECK_STR(c->gssapi_realm, "CORP.EXAMPLE");
		config_unref(c);
	}
	/* Method none, wherever it is in the list, needs allow_unauthenticated
	 * on a listener others can reach. */
	CHECK_INT(load_text("listen = 0.0.0.0:1080\nmethods = gssapi none\n", NULL, 0, &rs, &c,
			    NULL), -EINVAL);
	CHECK(rs.n == 1 && strstr(rs.r[0].msg, "allow_unauthenticated") != NULL, "no report of "
	      "method none on 0.0.0.0: %s", rs.r[0].msg);
}

static void test_duration_units(void)
{
	static const struct {
		const char *value;
		unsigned ms;
	} cases[] = {
		{ "250ms", 250 }, { "3s", 3000 },     { "2m", 120000 }, { "1h", 3600000 },
		{ "1d", 86400000 }, { "45", 45000 }, { "0", 0 },       { "7d", 7 * 86400000u },
	};
	struct reports rs;
	struct config *c;
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "idle_timeout = %s\n", cases[i].value);
		int r = load_text(text, NULL, 0, &rs, &c, NULL);
		CHECK(r == 0, "idle_timeout = %s: %d", cases[i].value, r);
		if (c == POISON)
			continue;
		CHECK(c->idle_timeout_ms == cases[i].ms, "idle_timeout = %s gave %u ms",
		      cases[i].value, c->idle_timeout_ms);
		config_unref(c);
	}
	/* Each duration key takes the units. */
	CHECK_INT(load_text("handshake_timeout = 1ms\nconnect_timeout = 2m\n"
			    "drain_timeout = 0\n",
			    NULL, 0, &rs, &c, NULL),
		  0);
	if (c != POISON) {
		CHECK_INT(c->handshake_timeout_ms, 1);
		CHECK_INT(c->connect_timeout_ms, 120000);
		CHECK_INT(c->drain_timeout_ms, 0);
		config_unref(c);
	}
}

static void test_log_levels(void)
{
	static const struct {
		const char *name;
		int level;
	} cases[] = {
		{ "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};
	struct reports rs;
	struct config *c;
	char text[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "log_level = %s\n", cases[i].name);
		CHECK_INT(load_text(text, NULL, 0, &rs, &c, NULL), 0);
		if (c == POISON)
			continue;
		CHECK(c->log_level == cases[i].level, "log_level = %s gave %d", cases[i].name,
		      c->log_level);
		config_unref(c);
	}
}

static void test_listen_repeat(void)
{
	char text[2048] = "";
	struct reports rs;
	struct config *c;

	/* Up to CONFIG_LISTEN_MAX addresses, mixed families. */
	for (int i = 0; i < CONFIG_LISTEN_MAX; i++) {
		char line[64];
		if (i % 2 == 0)
			snprintf(line, sizeof(line), "listen = 127.0.0.%d:%d\n", i + 1, 2000 + i);
		else
			snprintf(line, sizeof(line), "listen = [::1]:%d\n", 2000 + i);
		strcat(text, line);
	}
	CHECK_INT(load_text(text, NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(c->nlisten, CONFIG_LISTEN_MAX);
		for (int i = 0; i < CONFIG_LISTEN_MAX && (size_t)i < c->nlisten; i++) {
			CHECK(c->listen[i].ss.ss_family == (i % 2 == 0 ? AF_INET : AF_INET6),
			      "listen[%d] family", i);
			CHECK_INT(port_of(&c->listen[i]), 2000 + i);
		}
		config_unref(c);
	}

	/* One more is an error on that line. */
	strcat(text, "listen = 127.0.0.1:3000\n");
	CHECK_INT(load_text(text, NULL, 0, &rs, &c, NULL), -EINVAL);
	CHECK_INT(rs.n, 1);
	CHECK_INT(rs.r[0].line, CONFIG_LISTEN_MAX + 1);
	CHECK(strstr(rs.r[0].msg, "listen") != NULL, "message: %s", rs.r[0].msg);
}

/* ---- errors ---- */

static void test_each_error(void)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *needle;	/* the message names the key or the bad value */
	} cases[] = {
		{ "bogus = 1\n", 1, "bogus" },
		{ "listen = 127.0.0.1:1080\nno equals sign here\n", 2, "no equals sign here" },
		{ "workers_min =\n", 1, "workers_min" },
		{ "workers_min =    # just a comment\n", 1, "workers_min" },
		{ "workers_max = ten\n", 1, "ten" },
		{ "workers_max = 5x\n", 1, "5x" },
		{ "workers_max = -1\n", 1, "-1" },
		{ "workers_max = 1.5\n", 1, "1.5" },
		{ "workers_min = 0\n", 1, "workers_min" },
		{ "workers_max = 1000001\n", 1, "workers_max" },
		{ "queue_length = 0\n", 1, "queue_length" },
		{ "queue_length = 99999999999999999999999\n", 1, "queue_length" },
		{ "\n\nhandshake_timeout = 5 parsecs\n", 3, "parsecs" },
		{ "handshake_timeout = 0\n", 1, "handshake_timeout" },
		{ "connect_timeout = 1.5s\n", 1, "1.5s" },
		{ "connect_timeout = s\n", 1, "connect_timeout" },
		{ "connect_timeout = -5s\n", 1, "connect_timeout" },
		{ "idle_timeout = 8d\n", 1, "idle_timeout" },
		{ "idle_timeout = 99999999999d\n", 1, "idle_timeout" },
		{ "drain_timeout = 2d\n", 1, "drain_timeout" },
		{ "bind_timeout = 0\n", 1, "bind_timeout" },
		{ "bind_timeout = 2d\n", 1, "bind_timeout" },
		{ "udp_idle_timeout = 8d\n", 1, "udp_idle_timeout" },
		{ "udp_idle_timeout = soon\n", 1, "udp_idle_timeout" },
		{ "listen = localhost:1080\n", 1, "localhost:1080" },
		{ "listen = 127.0.0.1\n", 1, "listen" },
		{ "listen = [::1]:1080\nlisten = [0:0::1]:1080\n", 2, "already listed" },
		{ "listen = [::1]\n", 1, "listen" },
		{ "listen = ::1:1080\n", 1, "listen" },
		{ "listen = 127.0.0.1:65536\n", 1, "listen" },
		{ "auth = kerberos\n", 1, "kerberos" },
		{ "auth =\n", 1, "auth" },
		{ "# comment\n\n   \nlog = auto\nlog_level = verbose\n", 5, "verbose" },
		{ "= 5\n", 1, "" },
		{ "listen = 127.0.0.1:1 proxi\n", 1, "proxi" },
		{ "proxy_from =\n", 1, "proxy_from" },
		{ "proxy_from = 10.0.0.1/8\n", 1, "10.0.0.1/8" },
		{ "\nexternal_address = 192.0.2.1, 192.0.2.2\n", 2, "more than one IPv4" },
		/* A listener that expects the header needs proxy_from: blamed on
		 * the first line that asked for one. */
		{ "auth = pam\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2 proxy\n"
		  "listen = 127.0.0.1:3 proxy\n", 3, "proxy_from is not set" },
		{ "auth = pam\n\nproxy_listen = [::]:1080\n", 3, "proxy_from is not set" },
	};
	struct reports rs;
	struct config *c;
	char path[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = load_text(cases[i].text, NULL, 0, &rs, &c, path);
		CHECK(r == -EINVAL, "case %zu (%s): returned %d", i, cases[i].text, r);
		if (c != POISON)
			config_unref(c);
		CHECK(rs.n == 1, "case %zu (%s): %u reports", i, cases[i].text, rs.n);
		if (rs.n != 1) {
			dump_reports(&rs);
			continue;
		}
		CHECK(rs.r[0].line == cases[i].line, "case %zu (%s): line %u, expected %u", i,
		      cases[i].text, rs.r[0].line, cases[i].line);
		CHECK(strcmp(rs.r[0].file, path) == 0, "case %zu: file %s, expected %s", i,
		      rs.r[0].file, path);
		CHECK(strstr(rs.r[0].msg, cases[i].needle) != NULL,
		      "case %zu: message \"%s\" does not mention \"%s\"", i, rs.r[0].msg,
		      cases[i].needle);
	}
}

static void test_many_errors(void)
{
	static const char text[] = "# header\n"			/* 1 */
				   "listen = 127.0.0.1:1080\n"	/* 2 */
				   "bogus = 1\n"			/* 3 unknown key */
				   "just some words\n"		/* 4 missing '=' */
				   "workers_min =\n"		/* 5 empty value */
				   "workers_max = ten\n"		/* 6 bad number */
				   "queue_length = 0\n"		/* 7 out of range */
				   "handshake_timeout = 5 parsecs\n" /* 8 bad duration */
				   "\n"				/* 9 */
				   "listen = localhost:80\n"	/* 10 bad listen */
				   "auth = kerberos\n"		/* 11 bad auth */
				   "log_level = loud\n"		/* 12 bad level */
				   "connect_timeout = 10s\n"	/* 13 fine */
				   "drain_timeout = forever\n";	/* 14 bad duration */
	static const unsigned lines[] = { 3, 4, 5, 6, 7, 8, 10, 11, 12, 14 };
	struct reports rs;
	struct config *c;
	char path[64];

	CHECK_INT(load_text(text, NULL, 0, &rs, &c, path), -EINVAL);
	if (c != POISON)
		config_unref(c);
	CHECK_INT(rs.n, sizeof(lines) / sizeof(lines[0]));
	for (size_t i = 0; i < rs.n && i < sizeof(lines) / sizeof(lines[0]); i++) {
		CHECK(rs.r[i].line == lines[i], "report %zu at line %u, expected %u: %s", i,
		      rs.r[i].line, lines[i], rs.r[i].msg);
		CHECK(strcmp(rs.r[i].file, path) == 0, "report %zu names %s", i, rs.r[i].file);
	}
	if (rs.n != sizeof(lines) / sizeof(lines[0]))
		dump_reports(&rs);
}

static void test_workers_consistency(void)
{
	struct reports rs;
	struct config *c;
	char path[64];

	CHECK_INT(load_text("workers_min = 8\nworkers_max = 4\n", NULL, 0, &rs, &c, path),
		  -EINVAL);
	CHECK_INT(rs.n, 1);
	CHECK(strstr(rs.r[0].msg, "workers_min") != NULL, "message: %s", rs.r[0].msg);
	CHECK(strcmp(rs.r[0].file, path) == 0, "file: %s", rs.r[0].file);

	CHECK_INT(load_text("workers_min = 4\nworkers_max = 4\n", NULL, 0, &rs, &c, NULL), 0);
	config_unref(c != POISON ? c : NULL);
	/* No workers_max: derived later from the descriptor limit, never "below min". */
	CHECK_INT(load_text("workers_min = 500\n", NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(c->workers_max, 0);
		config_unref(c);
	}
	/* An override can break the pair too. */
	static const struct config_override ov[] = { { "workers_max", "2" } };
	CHECK_INT(load_text("workers_min = 3\n", ov, 1, &rs, &c, NULL), -EINVAL);
	CHECK_INT(rs.n, 1);
	/* Every such problem is reported, not only the first. */
	CHECK_INT(load_text("workers_min = 8\nworkers_max = 4\nauth = none\n"
			    "listen = 192.0.2.1:1080\n", NULL, 0, &rs, &c, NULL), -EINVAL);
	CHECK_INT(rs.n, 2);
}

/* ---- files ---- */

static bool default_file_present(void)
{
	static const char *const paths[] = { CONFIG_DEFAULT_PATH, "/etc/socksgate/socksgate.conf",
					     "/usr/local/etc/socksgate/socksgate.conf" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], F_OK) == 0)
			return true;
	return false;
}

static void test_missing_files(void)
{
	struct reports rs;
	struct config *c = POISON;

	/* The default file may be absent: built-in defaults. */
	if (default_file_present()) {
		fprintf(stderr, "\n    (a default config file exists: absent-default case skipped)");
	} else {
		memset(&rs, 0, sizeof(rs));
		CHECK_INT(config_load(NULL, NULL, 0, collect, &rs, &c), 0);
		CHECK_INT(rs.n, 0);
		if (c != POISON) {
			struct config *d = config_new();
			CU_ASSERT_PTR_NOT_NULL_FATAL(d);
			CHECK_INT(c->nlisten, 1);
			CHECK(is_addr(&c->listen[0], AF_INET, "127.0.0.1", 1080), "default listen");
			CHECK(same_methods(c, d), "methods differ from the defaults");
			CHECK_INT(c->workers_min, d->workers_min);
			CHECK_INT(c->queue_length, d->queue_length);
			CHECK_INT(c->idle_timeout_ms, d->idle_timeout_ms);
			config_unref(d);
			config_unref(c);
		}
		/* Overrides still apply on top of the defaults. */
		static const struct config_override ov[] = { { "listen", "127.0.0.1:4444" } };
		c = POISON;
		memset(&rs, 0, sizeof(rs));
		CHECK_INT(config_load(NULL, ov, 1, collect, &rs, &c), 0);
		if (c != POISON) {
			CHECK_INT(c->nlisten, 1);
			CHECK_INT(port_of(&c->listen[0]), 4444);
			config_unref(c);
		}
	}

	/* A file named explicitly must exist. */
	static const char *const missing[] = { "/nonexistent-socksgate-dir/socksgate.conf",
					       "/tmp/socksgate-test-config-does-not-exist.conf" };
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		memset(&rs, 0, sizeof(rs));
		c = POISON;
		int r = config_load(missing[i], NULL, 0, collect, &rs, &c);
		CHECK(r == -ENOENT, "%s: returned %d", missing[i], r);
		CHECK(c == POISON, "%s: *ret written", missing[i]);
		CHECK_INT(rs.n, 1);
		CHECK(strcmp(rs.r[0].file, missing[i]) == 0, "file %s", rs.r[0].file);
		CHECK_INT(rs.r[0].line, 0);
	}
}

/* A path that opens but cannot be read as a file (a directory) must not pass
 * for an empty configuration. */
static void test_unreadable_file(void)
{
	struct reports rs;
	struct config *c = POISON;
	char dir[] = "/tmp/socksgate-test-config-dir.XXXXXX";

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	memset(&rs, 0, sizeof(rs));
	int r = config_load(dir, NULL, 0, collect, &rs, &c);
	CHECK(r < 0, "a directory as config file loaded (returned %d)", r);
	CHECK(rs.n >= 1, "a directory as config file: no report");
	if (r == 0 && c != POISON)
		config_unref(c);
	rmdir(dir);
}

/* ---- overrides ---- */

static void test_overrides(void)
{
	static const char text[] = "listen = 127.0.0.1:1081\n"
				   "listen = [::1]:1082\n"
				   "auth = none\n"
				   "workers_min = 2\n";
	struct reports rs;
	struct config *c;

	/* A listen override replaces the file's whole list. */
	static const struct config_override one[] = { { "listen", "127.0.0.1:2000" } };
	CHECK_INT(load_text(text, one, 1, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(c->nlisten, 1);
		CHECK(is_addr(&c->listen[0], AF_INET, "127.0.0.1", 2000), "override listen");
		CHECK_INT(c->workers_min, 2);
		config_unref(c);
	}

	/* Several listen overrides: the first replaces, the rest add, in order. */
	static const struct config_override two[] = { { "listen", "[::1]:2001" },
						      { "listen", "127.0.0.1:2002" } };
	CHECK_INT(load_text(text, two, 2, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(c->nlisten, 2);
		CHECK(is_addr(&c->listen[0], AF_INET6, "::1", 2001), "override listen[0]");
		CHECK(is_addr(&c->listen[1], AF_INET, "127.0.0.1", 2002), "override listen[1]");
		config_unref(c);
	}

	/* Other overrides leave the file's listen list alone. */
	static const struct config_override auth_pam[] = { { "auth", "pam" } };
	CHECK_INT(load_text(text, auth_pam, 1, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(c->nlisten, 2);
		CHECK(only_method(c, SOCKS5_METHOD_USERPASS), "methods: not userpass alone");
		config_unref(c);
	}
	static const struct config_override auth_none[] = { { "auth", "none" } };
	CHECK_INT(load_text("auth = pam\n", auth_none, 1, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK(only_method(c, SOCKS5_METHOD_NONE), "auth override none: %zu methods",
		      c->nmethods);
		config_unref(c);
	}

	/* Bad overrides are reported against the command line, with no line. */
	static const struct config_override bad[] = { { "listen", "nonsense" } };
	CHECK_INT(load_text(text, bad, 1, &rs, &c, NULL), -EINVAL);
	CHECK_INT(rs.n, 1);
	CHECK(strcmp(rs.r[0].file, "command line") == 0, "file: %s", rs.r[0].file);
	CHECK_INT(rs.r[0].line, 0);
	CHECK(strstr(rs.r[0].msg, "nonsense") != NULL, "message: %s", rs.r[0].msg);

	static const struct config_override bad_auth[] = { { "auth", "radius" } };
	CHECK_INT(load_text(text, bad_auth, 1, &rs, &c, NULL), -EINVAL);
	CHECK_INT(rs.n, 1);
	CHECK(strstr(rs.r[0].msg, "radius") != NULL, "message: %s", rs.r[0].msg);

	static const struct config_override unknown[] = { { "frobnicate", "1" } };
	CHECK_INT(load_text(text, unknown, 1, &rs, &c, NULL), -EINVAL);
	CHECK_INT(rs.n, 1);

	/* A "proxy" listener from the command line is blamed on it; one that
	 * the command line replaced needs no proxy_from. */
	static const struct config_override proxied[] = { { "listen", "127.0.0.1:2003 proxy" } };
	CHECK_INT(load_text("auth = pam\n", proxied, 1, &rs, &c, NULL), -EINVAL);
	CHECK_INT(rs.n, 1);
	CHECK(strcmp(rs.r[0].file, "command line") == 0 && rs.r[0].line == 0, "blamed %s:%u",
	      rs.r[0].file, rs.r[0].line);
	CHECK(strstr(rs.r[0].msg, "proxy_from") != NULL, "message: %s", rs.r[0].msg);
	CHECK_INT(load_text("auth = pam\nlisten = 127.0.0.1:1 proxy\n", one, 1, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK(c->nlisten == 1 && !c->listen_proxy[0], "the file's proxy listener stayed");
		config_unref(c);
	}
	/* auth = none behind a balancer serves its clients, loopback or not. */
	CHECK_INT(load_text("listen = 127.0.0.1:1 proxy\nproxy_from = 127.0.0.1\nauth = none\n", NULL,
			    0, &rs, &c, NULL), -EINVAL);
	CHECK_INT(rs.n, 1);
	CHECK(strstr(rs.r[0].msg, "allow_unauthenticated") != NULL, "message: %s", rs.r[0].msg);
	CHECK_INT(load_text("listen = 127.0.0.1:1 proxy\nproxy_from = 127.0.0.1\nauth = none\n"
			    "allow_unauthenticated = yes\n", NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON)
		config_unref(c);

	/* File errors and override errors are all reported. */
	CHECK_INT(load_text("bogus = 1\n", bad, 1, &rs, &c, NULL), -EINVAL);
	CHECK_INT(rs.n, 2);
	CHECK_INT(rs.r[0].line, 1);
	CHECK(strcmp(rs.r[1].file, "command line") == 0, "file: %s", rs.r[1].file);
}

/* ---- durations ---- */

static void test_parse_duration(void)
{
	static const struct {
		const char *s;
		int r;
		unsigned ms;
	} cases[] = {
		{ "0", 0, 0 },
		{ "1", 0, 1000 },
		{ "0ms", 0, 0 },
		{ "1ms", 0, 1 },
		{ "1s", 0, 1000 },
		{ "1m", 0, 60000 },
		{ "1h", 0, 3600000 },
		{ "1d", 0, 86400000 },
		{ "007s", 0, 7000 },
		{ "4294967295ms", 0, UINT_MAX },
		{ "4294967s", 0, 4294967000u },
		{ "4294967", 0, 4294967000u },
		{ "71582m", 0, 71582u * 60000u },
		{ "1193h", 0, 1193u * 3600000u },
		{ "49d", 0, 49u * 86400000u },
		/* Overflow of the unsigned result or of the number itself. */
		{ "4294967296ms", -ERANGE, 0 },
		{ "4294968s", -ERANGE, 0 },
		{ "4294968", -ERANGE, 0 },
		{ "71583m", -ERANGE, 0 },
		{ "1194h", -ERANGE, 0 },
		{ "50d", -ERANGE, 0 },
		{ "18446744073709551615d", -ERANGE, 0 },
		{ "99999999999999999999999999", -ERANGE, 0 },
		/* Not durations. */
		{ "", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "ms", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "+1s", -EINVAL, 0 },
		{ " 1s", -EINVAL, 0 },
		{ "1 s", -EINVAL, 0 },
		{ "1s ", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 },
		{ "1sec", -EINVAL, 0 },
		{ "1w", -EINVAL, 0 },
		{ "1ms5", -EINVAL, 0 },
		{ "1s1", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "ten", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned ms = 0xdeadbeef;
		int r = config_parse_duration(cases[i].s, &ms);
		CHECK(r == cases[i].r, "\"%s\": returned %d, expected %d", cases[i].s, r, cases[i].r);
		if (cases[i].r == 0)
			CHECK(ms == cases[i].ms, "\"%s\": %u ms, expected %u", cases[i].s, ms,
			      cases[i].ms);
		else
			CHECK(ms == 0xdeadbeef, "\"%s\": *ret_ms written on error", cases[i].s);
	}
}

/* ---- objects ---- */

static void test_new_ref_unref(void)
{
	struct config *c = config_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CHECK_INT(atomic_load(&c->refs), 1);
	CHECK_INT(c->nlisten, 1);
	CHECK(is_addr(&c->listen[0], AF_INET, "127.0.0.1", 1080), "default listen");
	CHECK_INT(c->workers_min, 4);
	CHECK_INT(c->workers_max, 0);
	CHECK_INT(c->queue_length, 1024);
	CHECK_INT(c->handshake_timeout_ms, 10000);
	CHECK_INT(c->connect_timeout_ms, 10000);
	CHECK_INT(c->idle_timeout_ms, 3600000);
	CHECK_INT(c->drain_timeout_ms, 10000);
	CHECK_INT(c->bind_timeout_ms, 120000);
	CHECK_INT(c->udp_idle_timeout_ms, 300000);
	CHECK_INT(c->log_level, LOG_INFO);
	CHECK_INT(c->log_target, LOG_TARGET_AUTO);
	CHECK(c->user[0] == '\0', "default user is '%s'", c->user);

	CHECK(config_ref(c) == c, "config_ref returns another pointer");
	CHECK_INT(atomic_load(&c->refs), 2);
	CHECK(config_ref(c) == c, "config_ref returns another pointer");
	CHECK_INT(atomic_load(&c->refs), 3);
	config_unref(c);
	CHECK_INT(atomic_load(&c->refs), 2);
	config_unref(c);
	CHECK_INT(atomic_load(&c->refs), 1);
	config_unref(c);	/* freed: a sanitizer build reports a leak or a double free */
	config_unref(NULL);
}

/* config_dump writes file syntax: loading its output gives the same settings. */
static void check_dump_round_trip(const char *text)
{
	struct reports rs;
	struct config *a, *b;
	char path[64];

	CHECK_INT(load_text(text, NULL, 0, &rs, &a, NULL), 0);
	if (a == POISON)
		return;
	snprintf(path, sizeof(path), "/tmp/socksgate-test-dump.XXXXXX");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	FILE *f = fdopen(fd, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	config_dump(a, f);
	fclose(f);

	memset(&rs, 0, sizeof(rs));
	b = POISON;
	CHECK_INT(config_load(path, NULL, 0, collect, &rs, &b), 0);
	dump_reports(&rs);
	unlink(path);
	if (b != POISON) {
		CHECK_INT(b->nlisten, a->nlisten);
		for (size_t i = 0; i < a->nlisten && i < b->nlisten; i++)
			CHECK(b->listen[i].len == a->listen[i].len &&
				      memcmp(&b->listen[i].ss, &a->listen[i].ss, a->listen[i].len) == 0,
			      "listen[%zu] differs after the round trip", i);
		CHECK(same_methods(b, a), "methods differ after the round trip");
		CHECK_INT(b->workers_min, a->workers_min);
		CHECK_INT(b->workers_max, a->workers_max);
		CHECK_INT(b->queue_length, a->queue_length);
		CHECK_INT(b->handshake_timeout_ms, a->handshake_timeout_ms);
		CHECK_INT(b->connect_timeout_ms, a->connect_timeout_ms);
		CHECK_INT(b->idle_timeout_ms, a->idle_timeout_ms);
		CHECK_INT(b->drain_timeout_ms, a->drain_timeout_ms);
		CHECK_INT(b->bind_timeout_ms, a->bind_timeout_ms);
		CHECK_INT(b->udp_idle_timeout_ms, a->udp_idle_timeout_ms);
		CHECK_INT(b->log_level, a->log_level);
		CHECK_INT(b->log_target, a->log_target);
		CHECK(strcmp(b->user, a->user) == 0, "user '%s' became '%s'", a->user, b->user);
		CHECK_STR(b->gssapi_keytab, a->gssapi_keytab);
		CHECK_STR(b->gssapi_service, a->gssapi_service);
		CHECK_STR(b->gssapi_hostname, a->gssapi_hostname);
		CHECK_STR(b->gssapi_realm, a->gssapi_realm);
		CHECK_INT(b->gssapi_protection, a->gssapi_protection);
		CHECK(strcmp(b->instance_name, a->instance_name) == 0,
		      "instance_name '%s' became '%s'", a->instance_name, b->instance_name);
		CHECK(b->metrics_listen.len == a->metrics_listen.len &&
			      memcmp(&b->metrics_listen.ss, &a->metrics_listen.ss,
				     a->metrics_listen.len) == 0, "metrics_listen differs");
		CHECK_INT(b->metrics_per_user, a->metrics_per_user);
		CHECK_INT(b->metrics_max_users, a->metrics_max_users);
		CHECK_INT(b->nauth_block_exempt, a->nauth_block_exempt);
		CHECK(memcmp(b->auth_block_exempt, a->auth_block_exempt,
			     a->nauth_block_exempt * sizeof(a->auth_block_exempt[0])) == 0,
		      "auth_block_exempt differs");
		CHECK(memcmp(b->listen_proxy, a->listen_proxy, sizeof(a->listen_proxy)) == 0,
		      "listen's proxy words differ after the round trip");
		CHECK(b->nproxy_from == a->nproxy_from &&
			      memcmp(b->proxy_from, a->proxy_from,
				     a->nproxy_from * sizeof(a->proxy_from[0])) == 0,
		      "proxy_from differs after the round trip");
		CHECK(b->nproxy_listen == a->nproxy_listen, "proxy_listen differs");
		for (size_t i = 0; i < 2; i++)
			CHECK(b->external[i].len == a->external[i].len &&
				      memcmp(&b->external[i].ss, &a->external[i].ss,
					     a->external[i].len) == 0,
			      "external_address[%zu] differs after the round trip", i);
		config_unref(b);
	}
	config_unref(a);
}

static void test_dump_round_trip(void)
{
	check_dump_round_trip("listen = 127.0.0.1:1081\nlisten = [::1]:1082\nauth = pam\n"
			      "workers_min = 2\nworkers_max = 50\nqueue_length = 7\n"
			      "handshake_timeout = 250ms\nconnect_timeout = 3s\n"
			      "idle_timeout = 0\ndrain_timeout = 1h\nlog_level = notice\n"
			      "log = stderr\nuser = nobody\n"
			      "bind_timeout = 45s\nudp_idle_timeout = 90s\n"
			      "instance_name = gw-2.site_a\n");
	check_dump_round_trip("methods = gssapi none userpass\ngssapi_keytab = /k/rb5.keytab\n"
			      "gssapi_service = socks\ngssapi_hostname = gw.corp.example\n"
			      "gssapi_realm = CORP.EXAMPLE\ngssapi_protection = integrity\n");
	check_dump_round_trip("listen = 10.0.0.5:1080 proxy, 127.0.0.1:1081\nauth = pam\n"
			      "proxy_from = 10.0.0.0/24, 2001:db8::/64\nproxy_listen = [::]:1080\n"
			      "external_address = 203.0.113.5, 2001:db8::5\n");
	/* workers_max (and instance_name) left to their defaults. */
	check_dump_round_trip("auth = pam\nworkers_min = 1\n");
}

/* log = auto|stderr|journal; user = a name. Bad values are errors with their line. */
static void test_log_and_user(void)
{
	static const struct {
		const char *text;
		int target;
	} ok[] = { { "log = auto\n", LOG_TARGET_AUTO },
		   { "log = stderr\n", LOG_TARGET_STDERR },
		   { "log = journal\n", LOG_TARGET_JOURNAL } };
	static const char *const bad[] = { "log = syslog\n", "log = Journal\n",
					   "user = ../root\n", "user = a b\n", "user = .hidden\n" };
	struct reports rs;
	struct config *c;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_INT(load_text(ok[i].text, NULL, 0, &rs, &c, NULL), 0);
		if (c == POISON)
			continue;
		CHECK(c->log_target == ok[i].target, "%s gave %d", ok[i].text, c->log_target);
		config_unref(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(load_text(bad[i], NULL, 0, &rs, &c, NULL), -EINVAL);
		CHECK(rs.n == 1, "%s: %u reports", bad[i], rs.n);
		CHECK(c == POISON, "%s: config returned", bad[i]);
	}
	/* The command line's -u is the "user" override. */
	struct config_override ov[] = { { "user", "proxy" } };
	CHECK_INT(load_text("user = nobody\n", ov, 1, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK(strcmp(c->user, "proxy") == 0, "user is '%s'", c->user);
		config_unref(c);
	}
}

/* instance_name: unset by default (an empty value is an error, as for every
 * key); a name of letters,
 * digits, '.', '-', '_' (journal field values go anywhere, but a name that
 * is also safe in a file name or a shell word is easier to query by). */
static void test_instance_name(void)
{
	static const struct {
		const char *text, *name;
	} ok[] = { { "", "" },
		   { "instance_name = a\n", "a" },
		   { "instance_name = gw-2.site_A\n", "gw-2.site_A" },
		   { "instance_name = gw-b\n", "gw-b" } };
	static const char *const bad[] = {
		"instance_name =\n", "instance_name = a b\n", "instance_name = ../x\n", "instance_name = .a\n",
		"instance_name = a=b\n", "instance_name = \xc3\xa9\n",
		"instance_name = 0123456789012345678901234567890123456789012345678901234567890123\n",
	};
	struct reports rs;
	struct config *c;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_INT(load_text(ok[i].text, NULL, 0, &rs, &c, NULL), 0);
		if (c == POISON)
			continue;
		CHECK(strcmp(c->instance_name, ok[i].name) == 0, "'%s' gave '%s'", ok[i].text,
		      c->instance_name);
		config_unref(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(load_text(bad[i], NULL, 0, &rs, &c, NULL), -EINVAL);
		CHECK(rs.n == 1 && rs.r[0].line == 1, "%s: %u reports", bad[i], rs.n);
		CHECK(rs.n == 0 || strstr(rs.r[0].msg, "instance_name") != NULL, "%s: '%s'",
		      bad[i], rs.r[0].msg);
		CHECK(c == POISON, "%s: config returned", bad[i]);
	}
	/* 63 characters is the most. */
	CHECK_INT(load_text("instance_name = "
			    "012345678901234567890123456789012345678901234567890123456789012\n",
			    NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(strlen(c->instance_name), 63);
		config_unref(c);
	}
}

/* metrics_listen, metrics_per_user, metrics_max_users, auth_block_exempt:
 * values, repeats, errors with their line, and -t's dump loading back. */
static void test_ops_keys(void)
{
	static const char *const bad[] = {
		"metrics_listen = 127.0.0.1\n", "metrics_listen = localhost:9108\n",
		"metrics_per_user = maybe\n", "metrics_max_users = 100001\n",
		"auth_block_exempt = 10.0.0.1/8\n", "auth_block_exempt = 10.0.0.0/8,, ::1\n",
		"auth_block_exempt = nowhere\n",
	};
	struct reports rs;
	struct config *c;
	char buf[2048], net[64];

	CHECK_INT(load_text("", NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(c->metrics_listen.len, 0);
		CHECK(!c->metrics_per_user, "metrics_per_user on by default");
		CHECK_INT(c->metrics_max_users, 100);
		CHECK_INT(c->nauth_block_exempt, 0);
		config_unref(c);
	}
	CHECK_INT(load_text("metrics_listen = [::1]:9108\nmetrics_per_user = yes\n"
			    "metrics_max_users = 0\nauth_block_exempt = 10.0.0.0/8, 192.0.2.7\n"
			    "auth_block_exempt = 2001:db8::/32\n", NULL, 0, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK(is_addr(&c->metrics_listen, AF_INET6, "::1", 9108), "metrics_listen");
		CHECK(c->metrics_per_user, "metrics_per_user");
		CHECK_INT(c->metrics_max_users, 0);
		CHECK_INT(c->nauth_block_exempt, 3);
		CHECK_STR(addr_net_format(&c->auth_block_exempt[1], net, sizeof(net)), "192.0.2.7");
		CHECK_STR(addr_net_format(&c->auth_block_exempt[2], net, sizeof(net)),
			  "2001:db8::/32");
		config_unref(c);
	}
	/* "off" turns the endpoint off; "none" takes back what an earlier
	 * auth_block_exempt line (a list key, repeatable) set. */
	CHECK_INT(load_text("metrics_listen = off\n"
			    "auth_block_exempt = 10.0.0.0/8\nauth_block_exempt = none\n", NULL, 0,
			    &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(c->metrics_listen.len, 0);
		CHECK_INT(c->nauth_block_exempt, 0);
		config_unref(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "auth = pam\n%s", bad[i]);
		CHECK_INT(load_text(buf, NULL, 0, &rs, &c, NULL), -EINVAL);
		CHECK(rs.n == 1 && rs.r[0].line == 2, "'%s': %u reports, line %u", bad[i], rs.n,
		      rs.r[0].line);
	}
	/* More than CONFIG_EXEMPT_MAX networks. */
	size_t len = (size_t)snprintf(buf, sizeof(buf), "auth_block_exempt = 10.0.0.0");
	for (int i = 1; i <= CONFIG_EXEMPT_MAX; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, ",10.0.%d.0", i);
	snprintf(buf + len, sizeof(buf) - len, "\n");
	CHECK_INT(load_text(buf, NULL, 0, &rs, &c, NULL), -EINVAL);
	CHECK(rs.n == 1 && strstr(rs.r[0].msg, "more than") != NULL, "%s", rs.r[0].msg);
	check_dump_round_trip("metrics_listen = 127.0.0.1:9108\nmetrics_per_user = yes\n"
			      "auth_block_exempt = 10.0.0.0/8, ::1\n");
}

/* ---- files that cannot lie: read errors, limits, NUL bytes, repeated keys ---- */

/* A stream that serves text, then fails every read with err_no (0: EOF
 * after the text); endless serves NUL bytes forever after the text. */
struct cookie_src {
	const char *text;
	size_t len, pos;
	int err_no;
	bool endless;
	size_t served;		/* bytes handed out in all */
};

static ssize_t cookie_read(void *p, char *buf, size_t size)
{
	struct cookie_src *src = p;
	size_t n = src->len - src->pos;

	if (n == 0 && src->endless) {
		memset(buf, 0, size);
		src->served += size;
		return (ssize_t)size;
	}
	if (n == 0 && src->err_no != 0) {
		errno = src->err_no;
		return -1;
	}
	/* Small pieces, so a failure can land in the middle of a line. */
	n = n < size ? n : size;
	n = n < 7 ? n : 7;
	memcpy(buf, src->text + src->pos, n);
	src->pos += n;
	src->served += n;
	return (ssize_t)n;
}

static int load_cookie(struct cookie_src *src, const struct config_override *ov, size_t nov,
		       struct reports *rs, struct config **ret)
{
	static const cookie_io_functions_t io = { .read = cookie_read };
	FILE *f = fopencookie(src, "r", io);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	memset(rs, 0, sizeof(*rs));
	*ret = POISON;
	int r = config_load_stream(f, "cookie.conf", ov, nov, collect, rs, ret);
	fclose(f);
	if (r != 0)
		CHECK(*ret == POISON, "*ret written on failure (%d)", r);
	return r;
}

static int load_bytes(const char *text, size_t len, struct reports *rs, struct config **ret)
{
	struct cookie_src src = { text, len, 0, 0, false, 0 };
	return load_cookie(&src, NULL, 0, rs, ret);
}

/* ENOMEM or EIO from a read, even mid-line and after good lines holding rules,
 * is a FILE:LINE error on the line being read, never the end of the file. */
static void test_read_error(void)
{
	static const char text[] = "auth = none\nallow to 10.0.0.0/8\ndeny to 192.16";
	static const int errs[] = { ENOMEM, EIO };
	struct reports rs;
	struct config *c;

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		struct cookie_src src = { text, strlen(text), 0, errs[i], false, 0 };
		CHECK_INT(load_cookie(&src, NULL, 0, &rs, &c), -EINVAL);
		CHECK_INT(rs.n, 1);
		CHECK_STR(rs.r[0].file, "cookie.conf");
		CHECK_INT(rs.r[0].line, 3);
		CHECK(strstr(rs.r[0].msg, "cannot read") != NULL &&
		      strstr(rs.r[0].msg, strerror(errs[i])) != NULL, "message: %s", rs.r[0].msg);
		/* The same at a line boundary. */
		struct cookie_src at_end = { text, 32, 0, errs[i], false, 0 };
		CHECK_INT(load_cookie(&at_end, NULL, 0, &rs, &c), -EINVAL);
		CHECK(rs.n == 1 && rs.r[0].line == 3, "%u reports, line %u", rs.n, rs.r[0].line);
	}
	/* The control: the same stream ending cleanly loads. */
	struct cookie_src ok = { text, 32, 0, 0, false, 0 };
	CHECK_INT(load_cookie(&ok, NULL, 0, &rs, &c), 0);
	if (c != POISON) {
		CHECK_INT(c->nrules, 1);
		config_unref(c);
	}
}

/* A line of CONFIG_LINE_MAX bytes loads, one byte more is an error on that
 * line, and the lines after it are still checked. */
static void test_line_limit(void)
{
	size_t cap = 2 * CONFIG_LINE_MAX + 100;
	char *buf = malloc(cap);
	struct reports rs;
	struct config *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = 0;
		n += (size_t)snprintf(buf, cap, "auth = pam\n#");
		memset(buf + n, 'x', CONFIG_LINE_MAX - 1 + extra);
		n += CONFIG_LINE_MAX - 1 + extra;
		n += (size_t)snprintf(buf + n, cap - n, "\nworkers_min = x\nworkers_max = 9\n");
		CHECK_INT(load_bytes(buf, n, &rs, &c), -EINVAL);
		CHECK_INT(rs.n, 1 + extra);
		CHECK(strstr(rs.r[rs.n - 1].msg, "workers_min") != NULL && rs.r[rs.n - 1].line == 3,
		      "last report line %u: %s", rs.r[rs.n - 1].line, rs.r[rs.n - 1].msg);
		if (extra)
			CHECK(rs.r[0].line == 2 && strstr(rs.r[0].msg, "longer than 4096") != NULL,
			      "line %u: %s", rs.r[0].line, rs.r[0].msg);
	}
	free(buf);
}

/* A NUL byte is an error, not the end of the line: the deny rule must not
 * silently lose its second network. */
static void test_nul_byte(void)
{
	static const char text[] = "auth = pam\ndeny to 10.0.0.0/8\0,192.168.0.0/16\n";
	static const char end[] = "auth = pam\n\0\n";
	struct reports rs;
	struct config *c;

	CHECK_INT(load_bytes(text, sizeof(text) - 1, &rs, &c), -EINVAL);
	CHECK(rs.n == 1 && rs.r[0].line == 2 && strstr(rs.r[0].msg, "NUL") != NULL,
	      "%u reports, line %u: %s", rs.n, rs.r[0].line, rs.r[0].msg);
	CHECK_INT(load_bytes(end, sizeof(end) - 1, &rs, &c), -EINVAL);
	CHECK(rs.n == 1 && rs.r[0].line == 2, "%u reports, line %u", rs.n, rs.r[0].line);
	/* Also through a file on disk. */
	char path[64];
	snprintf(path, sizeof(path), "/tmp/socksgate-test-config.XXXXXX");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1);
	close(fd);
	memset(&rs, 0, sizeof(rs));
	c = POISON;
	CHECK_INT(config_load(path, NULL, 0, collect, &rs, &c), -EINVAL);
	CHECK(rs.n == 1 && rs.r[0].line == 2, "%u reports, line %u", rs.n, rs.r[0].line);
	unlink(path);
}

/* CONFIG_FILE_MAX bytes load (a key, then newlines to the limit); one byte
 * more, or an endless stream (/dev/zero), is an error after reading at most a
 * little past the limit. */
static void test_file_limit(void)
{
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	struct reports rs;
	struct config *c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memset(buf, '\n', CONFIG_FILE_MAX + 1);
	memcpy(buf, "auth = pam", 10);
	CHECK_INT(load_bytes(buf, CONFIG_FILE_MAX, &rs, &c), 0);
	if (c != POISON)
		config_unref(c);
	CHECK_INT(load_bytes(buf, CONFIG_FILE_MAX + 1, &rs, &c), -EINVAL);
	CHECK(rs.n == 1 && strstr(rs.r[0].msg, "larger than") != NULL &&
	      rs.r[0].line == CONFIG_FILE_MAX - 9, "%u reports, line %u: %s", rs.n, rs.r[0].line,
	      rs.r[0].msg);
	free(buf);

	struct cookie_src zero = { "", 0, 0, 0, true, 0 };
	CHECK_INT(load_cookie(&zero, NULL, 0, &rs, &c), -EINVAL);
	CHECK(rs.n == 1 && rs.r[0].line == 1 && strstr(rs.r[0].msg, "larger than") != NULL,
	      "%u reports, line %u: %s", rs.n, rs.r[0].line, rs.r[0].msg);
	CHECK(zero.served <= CONFIG_FILE_MAX + 65536, "read %zu bytes of an endless stream",
	      zero.served);
}

/* A single-valued key given twice is an error on the second line naming the
 * first; list keys and rules repeat; an override is not a repetition. */
static void test_repeated_keys(void)
{
	static const char *const single[] = {
		"auth = pam", "workers_min = 2", "workers_max = 9", "queue_length = 7",
		"handshake_timeout = 1s", "idle_timeout = 0", "log_level = info", "log = auto",
		"user = nobody", "pam_service = other", "instance_name = a",
		"allow_unauthenticated = no", "auth_fail_limit = 3", "auth_cache_ttl = 0",
		"max_sessions = 5", "metrics_listen = off", "metrics_per_user = no",
		"control_socket = none", "control_group = adm", "external_address = 192.0.2.1",
	};
	static const char lists[] =
		"listen = 127.0.0.1:1081\nlisten = 127.0.0.1:1082 proxy\n"
		"proxy_from = 10.0.0.0/8\nproxy_from = 192.0.2.0/24\n"
		"proxy_listen = 127.0.0.1:1083\nproxy_listen = 127.0.0.1:1084\n"
		"auth_block_exempt = 10.0.0.0/8\nauth_block_exempt = ::1\n"
		"allow to 10.0.0.0/8\nallow to 192.0.2.0/24\ndeny to 0.0.0.0/0\ndeny to ::/0\n";
	struct reports rs;
	struct config *c;
	char text[256];

	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		snprintf(text, sizeof(text), "%s\n# between\n %s \n", single[i], single[i]);
		CHECK_INT(load_text(text, NULL, 0, &rs, &c, NULL), -EINVAL);
		CHECK(rs.n == 1 && rs.r[0].line == 3 && strstr(rs.r[0].msg, "line 1") != NULL,
		      "'%s' twice: %u reports, line %u: %s", single[i], rs.n, rs.r[0].line,
		      rs.r[0].msg);
		/* Once is fine (the control). */
		snprintf(text, sizeof(text), "%s\n", single[i]);
		CHECK_INT(load_text(text, NULL, 0, &rs, &c, NULL), 0);
		if (c != POISON)
			config_unref(c);
	}
	CHECK_INT(load_text(lists, NULL, 0, &rs, &c, NULL), 0);
	dump_reports(&rs);
	if (c != POISON) {
		CHECK_INT(c->nlisten, 2);
		CHECK_INT(c->nproxy_from, 2);
		CHECK_INT(c->nproxy_listen, 2);
		CHECK_INT(c->nauth_block_exempt, 2);
		CHECK_INT(c->nrules, 4);
		config_unref(c);
	}
	/* The command line overrides the file's single value, even twice. */
	static const struct config_override ov[] = { { "workers_min", "3" },
						     { "workers_min", "5" } };
	CHECK_INT(load_text("workers_min = 2\n", ov, 2, &rs, &c, NULL), 0);
	if (c != POISON) {
		CHECK_INT(c->workers_min, 5);
		config_unref(c);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "metrics and auth_block_exempt keys", test_ops_keys },
		{ "every key", test_every_key },
		{ "layout: spaces, tabs, CRLF, comments", test_layout_variants },
		{ "auth values", test_auth_values },
		{ "methods and gssapi_protection", test_methods },
		{ "duration units", test_duration_units },
		{ "log levels", test_log_levels },
		{ "listen repeated, and one too many", test_listen_repeat },
		{ "each error with its line", test_each_error },
		{ "several errors in one file", test_many_errors },
		{ "workers_min above workers_max", test_workers_consistency },
		{ "absent default file vs absent named file", test_missing_files },
		{ "a directory is not a config file", test_unreadable_file },
		{ "command-line overrides", test_overrides },
		{ "config_parse_duration", test_parse_duration },
		{ "config_new, config_ref, config_unref", test_new_ref_unref },
		{ "config_dump output loads back", test_dump_round_trip },
		{ "log and user", test_log_and_user },
		{ "instance_name", test_instance_name },
		{ "a read error is an error at its line", test_read_error },
		{ "line length limit", test_line_limit },
		{ "NUL byte in a line", test_nul_byte },
		{ "file size limit and an endless stream", test_file_limit },
		{ "repeated single-valued keys", test_repeated_keys },
	};
	return UNIT_RUN("config", tests);
}
