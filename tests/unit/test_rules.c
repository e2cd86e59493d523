/* Unit tests for the rules module: every rule form and every syntax error,
 * CIDR and suffix matching for IPv4 and IPv6, comma lists and port ranges,
 * first-match order, name-versus-address evaluation, the built-in default
 * policy, client rules, and group rules through a stub group lookup. */
#include "autoconf.h"

#include "config.h"
#include "rules.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

#define RULES_MAX 16

struct set {
	struct rule r[RULES_MAX];
	size_t n;
};

/* Parses each line into s; fails the test on a parse error. */
static void load(struct set *s, const char *const *lines)
{
	char err[256];

	s->n = 0;
	for (size_t i = 0; lines[i] != NULL; i++) {
		int r = rule_parse(lines[i], "test.conf", (unsigned)i + 1, &s->r[s->n], err,
				   sizeof(err));
		if (r < 0)
			fprintf(stderr, "'%s': %s\n", lines[i], err);
		CU_ASSERT_FATAL(r == 0);
		s->n++;
	}
}

static void unload(struct set *s)
{
	for (size_t i = 0; i < s->n; i++)
		rule_free(&s->r[i]);
	s->n = 0;
}

static struct sockaddr_storage sa_buf[8];
static unsigned sa_next;

/* A sockaddr for a numeric address (IPv4 or IPv6) and port; valid for a while. */
static const struct sockaddr *sa(const char *host, uint16_t port)
{
	struct sockaddr_storage *ss = &sa_buf[sa_next++ % 8];
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else {
		CU_ASSERT_FATAL(inet_pton(AF_INET6, host, &s6->sin6_addr) == 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
	}
	return (const struct sockaddr *)ss;
}

/* The stub group database: alice is in staff, bob in staff and admin. */
static unsigned group_calls;
static bool stub_group(const char *user, const char *group, void *ctx)
{
	(void)ctx;
	group_calls++;
	if (strcmp(group, "staff") == 0)
		return strcmp(user, "alice") == 0 || strcmp(user, "bob") == 0;
	if (strcmp(group, "admin") == 0)
		return strcmp(user, "bob") == 0;
	return false;
}

static struct addr_net self_nets[1];

static struct rules_query query(const char *user, unsigned cmd, const char *name,
				const char *dest, uint16_t port)
{
	struct rules_query q = {
		.client = sa("192.0.2.10", 40000),
		.user = user,
		.cmd = cmd,
		.name = name,
		.dest = dest != NULL ? sa(dest, port) : NULL,
		.port = port,
		.group_member = stub_group,
		.self = self_nets,
		.nself = 1,
	};
	return q;
}

/* Decision for dest; *line gets the deciding rule's line (0: default). */
static bool decide(const struct set *s, const struct rules_query *q, unsigned *line)
{
	struct rules_verdict v;
	rules_check(s->r, s->n, q, &v);
	*line = v.rule != NULL ? v.rule->line : 0;
	CU_ASSERT(v.rule != NULL || v.allow || v.why != NULL);
	return v.allow;
}

static bool allowed(const struct set *s, const char *user, const char *name, const char *dest,
		    uint16_t port, unsigned *line)
{
	struct rules_query q = query(user, RULE_CMD_CONNECT, name, dest, port);
	return decide(s, &q, line);
}

static char *fmt(const char *line, char *buf, size_t len)
{
	struct rule r;
	char err[256];
	CU_ASSERT_FATAL(rule_parse(line, "f", 1, &r, err, sizeof(err)) == 0);
	rule_format(&r, buf, len);
	rule_free(&r);
	return buf;
}

/* ---- parsing ---- */

static void test_parse_forms(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "allow", "allow" },
		{ "deny", "deny" },
		{ "allow from 10.0.0.0/8", "allow from 10.0.0.0/8" },
		{ "deny from any", "deny from any" },
		{ "deny from 10.0.0.0/8,any", "deny from any" },
		{ "allow from 2001:db8::/32", "allow from 2001:db8::/32" },
		{ "allow from 192.0.2.7/32", "allow from 192.0.2.7" },
		{ "allow from ::ffff:10.0.0.0/104", "allow from 10.0.0.0/8" },
		{ "allow user alice", "allow user alice" },
		{ "allow user alice,bob", "allow user alice,bob" },
		{ "allow user alice, bob", "allow user alice,bob" },
		{ "allow group staff", "allow group staff" },
		{ "allow user alice group staff", "allow user alice group staff" },
		{ "allow command connect", "allow command connect" },
		{ "allow command udp,bind,connect", "allow command connect,bind,udp" },
		{ "allow to any", "allow to any" },
		{ "allow to 10.0.0.0/8,192.168.0.0/16", "allow to 10.0.0.0/8,192.168.0.0/16" },
		{ "allow to Intranet.Corp.Example.", "allow to intranet.corp.example" },
		{ "deny to .corp.example", "deny to .corp.example" },
		{ "allow to ::1", "allow to ::1" },
		{ "allow port 443", "allow port 443" },
		{ "allow port 80,443,8000-8080", "allow port 80,443,8000-8080" },
		{ "allow port 0-65535", "allow port 0-65535" },
		{ "  allow\tfrom 10.0.0.0/8  user alice command connect to .example.org port 443  ",
		  "allow from 10.0.0.0/8 user alice command connect to .example.org port 443" },
		{ "deny port 25 to any from any", "deny from any to any port 25" },
		{ "allow group lab via 192.0.2.7", "allow group lab via 192.0.2.7" },
		{ "allow via 2001:db8::7, 192.0.2.7 to any", "allow to any via 192.0.2.7,2001:db8::7" },
		{ "allow from 10.0.0.0/8 via ::ffff:192.0.2.7", "allow from 10.0.0.0/8 via 192.0.2.7" },
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fmt(cases[i].in, buf, sizeof(buf));
		if (strcmp(buf, cases[i].out) != 0)
			fprintf(stderr, "'%s' -> '%s', expected '%s'\n", cases[i].in, buf,
				cases[i].out);
		CU_ASSERT_STRING_EQUAL(buf, cases[i].out);
		/* The canonical form parses to itself. */
		char again[512];
		fmt(buf, again, sizeof(again));
		CU_ASSERT_STRING_EQUAL(again, buf);
	}
}

static void test_via(void)
{
	struct rule r;
	char err[128], h[ADDR_HOSTLEN];

	CU_ASSERT_FATAL(rule_parse("allow from 10.0.0.0/8 via 192.0.2.7", "f", 1, &r, err,
				   sizeof(err)) == 0);
	/* With "via" it is a request rule, not one decided at accept time. */
	CHECK(!rule_is_client_rule(&r), "a via rule taken for a client rule");
	CHECK_STR(addr_host((struct sockaddr *)&r.via[0].ss, h, sizeof(h)), "192.0.2.7");
	CHECK_INT(r.via[1].len, 0);
	rule_free(&r);
}

static void test_parse_keeps_file_line(void)
{
	struct rule r;
	char err[128];

	CU_ASSERT_FATAL(rule_parse("deny to any", "/etc/x.conf", 42, &r, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(r.file, "/etc/x.conf");
	CU_ASSERT_EQUAL(r.line, 42);
	CU_ASSERT_EQUAL(r.action, RULE_DENY);
	rule_free(&r);
}

static void test_parse_errors(void)
{
	static const struct {
		const char *in, *word;
	} cases[] = {
		{ "permit to any", "allow or deny" },
		{ "allow sideways", "sideways" },
		{ "allow to", "'to' needs a value" },
		{ "allow port 80 port 443", "twice" },
		{ "allow port 65536", "65536" },
		{ "allow port 80-", "80-" },
		{ "allow port -80", "-80" },
		{ "allow port 90-80", "backwards" },
		{ "allow port http", "http" },
		{ "allow port 80,,443", "empty entry" },
		{ "allow port 80,", "empty entry" },
		{ "allow to 10.0.0.0/33", "10.0.0.0/33" },
		{ "allow to 10.0.0.1/8", "host bits" },
		{ "allow to 300.1.2.3", "300.1.2.3" },
		{ "allow to 2001:db8::/129", "2001:db8::/129" },
		{ "allow to bad_host!", "bad_host!" },
		{ "allow to a..b", "a..b" },
		{ "allow to .", "'.'" },
		/* Found by fuzz_rules: -t wrote these back as "to any". */
		{ "deny to anY", "'anY'" },
		{ "deny to any.", "'any.'" },
		{ "allow from example.com", "example.com" },
		{ "allow from 10.0.0.0/8/8", "10.0.0.0/8/8" },
		{ "allow command shell", "shell" },
		{ "allow user", "'user' needs a value" },
		{ "allow group", "'group' needs a value" },
		{ "deny user bob via 192.0.2.7", "only an allow rule" },
		{ "allow via 192.0.2.7,192.0.2.8", "more than one IPv4" },
		{ "allow via 192.0.2.7:80", "192.0.2.7:80" },
		{ "allow via 0.0.0.0", "0.0.0.0" },
		{ "allow via gw.example", "gw.example" },
	};
	char err[256];
	struct rule r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		int res = rule_parse(cases[i].in, "f", 1, &r, err, sizeof(err));
		if (res != -EINVAL || strstr(err, cases[i].word) == NULL)
			fprintf(stderr, "'%s': %d '%s', expected '%s'\n", cases[i].in, res, err,
				cases[i].word);
		CU_ASSERT_EQUAL(res, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].word));
	}
}

/* ---- matching ---- */

static void test_suffix_and_host_match(void)
{
	static const char *const lines[] = { "deny to .corp.example", "deny to exact.example.org",
					     NULL };
	struct set s;
	unsigned line;

	load(&s, lines);
	CU_ASSERT(!allowed(&s, NULL, "corp.example", "198.51.100.1", 80, &line));
	CU_ASSERT_EQUAL(line, 1);
	CU_ASSERT(!allowed(&s, NULL, "a.b.CORP.example.", "198.51.100.1", 80, &line));
	CU_ASSERT_EQUAL(line, 1);
	CU_ASSERT(allowed(&s, NULL, "notcorp.example", "198.51.100.1", 80, &line));
	CU_ASSERT_EQUAL(line, 0);
	CU_ASSERT(allowed(&s, NULL, "corp.example.net", "198.51.100.1", 80, &line));
	CU_ASSERT(!allowed(&s, NULL, "Exact.Example.Org", "198.51.100.1", 80, &line));
	CU_ASSERT_EQUAL(line, 2);
	CU_ASSERT(allowed(&s, NULL, "sub.exact.example.org", "198.51.100.1", 80, &line));
	/* A request by address never matches a name rule. */
	CU_ASSERT(allowed(&s, NULL, NULL, "198.51.100.1", 80, &line));
	unload(&s);
}

static void test_first_match_and_lists(void)
{
	static const char *const lines[] = {
		"deny to 10.1.0.0/16",				/* 1 */
		"allow to 10.0.0.0/8,192.168.0.0/16 port 22,80,8000-8080", /* 2 */
		"deny to 10.0.0.0/8",				/* 3 */
		"allow user alice,carol to 2001:db8::/32",	/* 4 */
		"deny",						/* 5 */
		NULL,
	};
	struct set s;
	unsigned line;

	load(&s, lines);
	CU_ASSERT(!allowed(&s, NULL, NULL, "10.1.2.3", 80, &line));
	CU_ASSERT_EQUAL(line, 1);
	CU_ASSERT(allowed(&s, NULL, NULL, "10.2.2.3", 80, &line));
	CU_ASSERT_EQUAL(line, 2);
	CU_ASSERT(allowed(&s, NULL, NULL, "192.168.9.9", 8000, &line));
	CU_ASSERT(allowed(&s, NULL, NULL, "192.168.9.9", 8080, &line));
	CU_ASSERT(!allowed(&s, NULL, NULL, "192.168.9.9", 8081, &line));
	CU_ASSERT_EQUAL(line, 5);
	CU_ASSERT(!allowed(&s, NULL, NULL, "10.2.2.3", 443, &line));
	CU_ASSERT_EQUAL(line, 3);
	CU_ASSERT(allowed(&s, "carol", NULL, "2001:db8::5", 443, &line));
	CU_ASSERT_EQUAL(line, 4);
	CU_ASSERT(!allowed(&s, "dave", NULL, "2001:db8::5", 443, &line));
	CU_ASSERT_EQUAL(line, 5);
	/* Unauthenticated: user rules never match. */
	CU_ASSERT(!allowed(&s, NULL, NULL, "2001:db8::5", 443, &line));
	CU_ASSERT_EQUAL(line, 5);
	unload(&s);
}

static void test_commands_and_from(void)
{
	static const char *const lines[] = {
		"deny command bind,udp",
		"allow from 192.0.2.0/24 to 198.51.100.0/24",
		"deny to 198.51.100.0/24",
		NULL,
	};
	struct set s;
	unsigned line;

	load(&s, lines);
	struct rules_query q = query(NULL, RULE_CMD_UDP, NULL, "203.0.113.1", 53);
	CU_ASSERT(!decide(&s, &q, &line));
	CU_ASSERT_EQUAL(line, 1);
	q = query(NULL, RULE_CMD_BIND, NULL, "203.0.113.1", 53);
	CU_ASSERT(!decide(&s, &q, &line));
	q = query(NULL, RULE_CMD_CONNECT, NULL, "198.51.100.1", 53);
	CU_ASSERT(decide(&s, &q, &line));
	CU_ASSERT_EQUAL(line, 2);
	q.client = sa("192.0.3.1", 5);
	CU_ASSERT(!decide(&s, &q, &line));
	CU_ASSERT_EQUAL(line, 3);
	q.client = sa("::ffff:192.0.2.200", 5);	/* a mapped client is its IPv4 self */
	CU_ASSERT(decide(&s, &q, &line));
	CU_ASSERT_EQUAL(line, 2);
	unload(&s);
}

static void test_groups(void)
{
	static const char *const lines[] = {
		"allow group admin to 10.0.0.0/8",
		"allow group staff,nosuch port 80,443",
		"deny",
		NULL,
	};
	struct set s;
	unsigned line;

	load(&s, lines);
	CU_ASSERT(allowed(&s, "bob", NULL, "10.9.9.9", 22, &line));
	CU_ASSERT_EQUAL(line, 1);
	CU_ASSERT(!allowed(&s, "alice", NULL, "10.9.9.9", 22, &line));
	CU_ASSERT_EQUAL(line, 3);
	CU_ASSERT(allowed(&s, "alice", NULL, "203.0.113.5", 443, &line));
	CU_ASSERT_EQUAL(line, 2);
	CU_ASSERT(!allowed(&s, "alice", NULL, "203.0.113.5", 22, &line));
	CU_ASSERT(!allowed(&s, "mallory", NULL, "203.0.113.5", 443, &line));
	CU_ASSERT_EQUAL(line, 3);
	/* No user, no lookup. */
	group_calls = 0;
	CU_ASSERT(!allowed(&s, NULL, NULL, "203.0.113.5", 443, &line));
	CU_ASSERT_EQUAL(group_calls, 0);
	/* No lookup function: group rules never match. */
	struct rules_query q = query("bob", RULE_CMD_CONNECT, NULL, "10.9.9.9", 22);
	q.group_member = NULL;
	CU_ASSERT(!decide(&s, &q, &line));
	CU_ASSERT_EQUAL(line, 3);
	unload(&s);
}

static void test_default_policy(void)
{
	static const char *const refused[] = {
		"127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1", "169.254.169.254",
		"169.254.0.1", "fe80::1", "febf::1", "224.0.0.1", "239.255.255.250", "ff02::1",
		"0.0.0.0", "0.1.2.3", "::", "255.255.255.255", "::ffff:169.254.169.254",
		"198.51.100.77" /* the gateway's own address in these tests */,
		/* IPv4 inside IPv6 forms (a NAT64 or 6to4 route would reach it) */
		"::127.0.0.1", "::2", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::7f00:1",
		"64:ff9b:1:7f00:0:100::", "2002:7f00:1::", "2002:a9fe:a9fe::1", "2001:0:7f00:1::",
		"2001:0:a9fe:a9fe::", "64:ff9b::198.51.100.77", "2002:c633:644d::",
	};
	static const char *const allowed_ok[] = {
		"10.0.0.1", "192.168.1.1", "8.8.8.8", "2001:db8::1", "fec0::1", "223.255.255.255",
		"240.0.0.1", "255.255.255.254", "::1.2.3.4", "128.0.0.1", "169.253.0.1",
		"64:ff9b::808:808", "2002:808:808::1", "2001:0:808:808::", "64:ff9b:1::808:808",
	};
	struct set s = { .n = 0 };
	unsigned line;
	struct rules_verdict v;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct rules_query q = query("alice", RULE_CMD_CONNECT, NULL, refused[i], 80);
		rules_check(s.r, 0, &q, &v);
		if (v.allow)
			fprintf(stderr, "%s allowed by default\n", refused[i]);
		CU_ASSERT(!v.allow);
		CU_ASSERT_PTR_NULL(v.rule);
		CU_ASSERT_PTR_NOT_NULL(v.why);
	}
	for (size_t i = 0; i < sizeof(allowed_ok) / sizeof(allowed_ok[0]); i++) {
		if (!allowed(&s, "alice", NULL, allowed_ok[i], 80, &line))
			fprintf(stderr, "%s refused by default\n", allowed_ok[i]);
		CU_ASSERT(allowed(&s, "alice", NULL, allowed_ok[i], 80, &line));
	}
	struct rules_query q = query(NULL, RULE_CMD_CONNECT, NULL, "169.254.169.254", 80);
	rules_check(s.r, 0, &q, &v);
	CU_ASSERT_STRING_EQUAL(v.why, "link-local destination");
	q = query(NULL, RULE_CMD_CONNECT, NULL, "198.51.100.77", 80);
	rules_check(s.r, 0, &q, &v);
	CU_ASSERT_STRING_EQUAL(v.why, "the gateway's own address");
	CU_ASSERT_STRING_EQUAL(rules_protected(sa("::1", 0), NULL, 0), "loopback destination");
	CU_ASSERT_PTR_NULL(rules_protected(sa("198.51.100.77", 0), NULL, 0));
}

static void test_protected_needs_named_network(void)
{
	static const char *const lines[] = {
		"allow group staff port 80,443",	/* 1: broad: never opens protected */
		"allow to any port 8080",		/* 2 */
		"allow to 0.0.0.0/0 port 8081",		/* 3: wider than loopback */
		"allow to localhost,.rebind.example port 8082", /* 4: a name */
		"allow to 127.0.0.0/8 port 9000",	/* 5: opens loopback */
		"allow to 169.254.169.254 port 9001",	/* 6: opens one address */
		"allow to 198.51.100.0/24 port 9002",	/* 7: covers own address, does not open */
		"allow to 198.51.100.77 port 9003",	/* 8: opens own address */
		NULL,
	};
	struct set s;
	unsigned line;

	load(&s, lines);
	CU_ASSERT(!allowed(&s, "alice", NULL, "127.0.0.1", 80, &line));
	CU_ASSERT_EQUAL(line, 0);
	CU_ASSERT(!allowed(&s, "alice", NULL, "169.254.169.254", 443, &line));
	CU_ASSERT(allowed(&s, "alice", NULL, "203.0.113.1", 443, &line));
	CU_ASSERT_EQUAL(line, 1);
	CU_ASSERT(!allowed(&s, NULL, NULL, "127.0.0.1", 8080, &line));
	CU_ASSERT(!allowed(&s, NULL, NULL, "127.0.0.1", 8081, &line));
	CU_ASSERT(allowed(&s, NULL, NULL, "203.0.113.1", 8081, &line));
	CU_ASSERT_EQUAL(line, 3);
	/* DNS rebinding: a name rule never opens what the name resolves to. */
	CU_ASSERT(!allowed(&s, NULL, "localhost", "127.0.0.1", 8082, &line));
	CU_ASSERT(!allowed(&s, NULL, "x.rebind.example", "::1", 8082, &line));
	CU_ASSERT(allowed(&s, NULL, "x.rebind.example", "203.0.113.1", 8082, &line));
	CU_ASSERT_EQUAL(line, 4);
	CU_ASSERT(allowed(&s, NULL, "localhost", "127.0.0.1", 9000, &line));
	CU_ASSERT_EQUAL(line, 5);
	CU_ASSERT(allowed(&s, NULL, NULL, "::ffff:127.0.0.1", 9000, &line));
	CU_ASSERT(!allowed(&s, NULL, NULL, "::1", 9000, &line));
	CU_ASSERT(allowed(&s, NULL, NULL, "169.254.169.254", 9001, &line));
	CU_ASSERT_EQUAL(line, 6);
	CU_ASSERT(!allowed(&s, NULL, NULL, "169.254.169.253", 9001, &line));
	CU_ASSERT(!allowed(&s, NULL, NULL, "198.51.100.77", 9002, &line));
	CU_ASSERT(allowed(&s, NULL, NULL, "198.51.100.78", 9002, &line));
	CU_ASSERT(allowed(&s, NULL, NULL, "198.51.100.77", 9003, &line));
	CU_ASSERT_EQUAL(line, 8);
	unload(&s);

	/* A deny matches protected addresses like any other. */
	static const char *const deny[] = { "deny to any port 1", "allow to 127.0.0.0/8", NULL };
	load(&s, deny);
	CU_ASSERT(!allowed(&s, NULL, NULL, "127.0.0.1", 1, &line));
	CU_ASSERT_EQUAL(line, 1);
	CU_ASSERT(allowed(&s, NULL, NULL, "127.0.0.1", 2, &line));
	CU_ASSERT_EQUAL(line, 2);
	unload(&s);
}

static void test_embedded_default(void)
{
	static const char *const lines[] = {
		"allow to 64:ff9b::/96 port 80",		/* 1: the whole prefix: not enough */
		"allow to 64:ff9b::7f00:0/104 port 80",		/* 2: NAT64 loopback, named */
		"allow to 127.0.0.0/8 port 81",			/* 3: IPv4 only: not the forms */
		"allow to 2002:a9fe:a9fe::/48 port 82",		/* 4: one 6to4 /48 */
		"allow to any port 83",				/* 5 */
		NULL,
	};
	struct set s;
	unsigned line;
	struct rules_verdict v;

	load(&s, lines);
	CU_ASSERT(!allowed(&s, NULL, NULL, "64:ff9b::a9fe:a9fe", 80, &line));
	CU_ASSERT_EQUAL(line, 0);
	CU_ASSERT(allowed(&s, NULL, NULL, "64:ff9b::808:808", 80, &line));
	CU_ASSERT_EQUAL(line, 1);
	CU_ASSERT(allowed(&s, NULL, NULL, "64:ff9b::7f00:1", 80, &line));
	CU_ASSERT_EQUAL(line, 2);
	CU_ASSERT(!allowed(&s, NULL, NULL, "64:ff9b::7f00:1", 81, &line));
	CU_ASSERT(allowed(&s, NULL, NULL, "127.0.0.1", 81, &line));
	CU_ASSERT(allowed(&s, NULL, NULL, "2002:a9fe:a9fe:1::", 82, &line));
	CU_ASSERT_EQUAL(line, 4);
	CU_ASSERT(!allowed(&s, NULL, NULL, "2002:a9fe:a9fd::", 82, &line));
	CU_ASSERT(!allowed(&s, NULL, NULL, "2002:7f00:1::", 83, &line));
	CU_ASSERT(allowed(&s, NULL, NULL, "2002:808:808::", 83, &line));
	unload(&s);

	struct rules_query q = query(NULL, RULE_CMD_CONNECT, NULL, "64:ff9b::7f00:1", 80);
	rules_check(NULL, 0, &q, &v);
	CU_ASSERT(!v.allow);
	CU_ASSERT_STRING_EQUAL(v.why, "loopback destination");
	CU_ASSERT_STRING_EQUAL(v.embedded, "NAT64 64:ff9b::/96");
	q = query(NULL, RULE_CMD_CONNECT, NULL, "2001:0:a9fe:a9fe::", 80);
	rules_check(NULL, 0, &q, &v);
	CU_ASSERT_STRING_EQUAL(v.why, "link-local destination");
	CU_ASSERT_STRING_EQUAL(v.embedded, "Teredo 2001::/32 (server)");
	q = query(NULL, RULE_CMD_CONNECT, NULL, "::1", 80);
	rules_check(NULL, 0, &q, &v);
	CU_ASSERT_PTR_NULL(v.embedded);
	CU_ASSERT_STRING_EQUAL(rules_protected(sa("::127.0.0.1", 0), NULL, 0),
			       "loopback destination");
}

static void test_refuse_command(void)
{
	static const char *const lines[] = {
		"deny user bob command udp",		/* 1 */
		"allow user carol command bind to 10.0.0.0/8",	/* 2 */
		"deny command bind",			/* 3 */
		"deny command udp port 53",		/* 4 */
		NULL,
	};
	struct set s;
	struct rules_verdict v;

	load(&s, lines);
	struct rules_query q = query("bob", RULE_CMD_UDP, NULL, NULL, 0);
	CU_ASSERT(rules_refuse_command(s.r, s.n, &q, &v));
	CU_ASSERT(!v.allow && v.rule == &s.r[0]);
	q = query("alice", RULE_CMD_UDP, NULL, NULL, 0);	/* only port 53 is refused */
	CU_ASSERT(!rules_refuse_command(s.r, s.n, &q, &v));
	q = query("alice", RULE_CMD_BIND, NULL, NULL, 0);
	CU_ASSERT(rules_refuse_command(s.r, s.n, &q, &v));
	CU_ASSERT(v.rule == &s.r[2]);
	q = query("carol", RULE_CMD_BIND, NULL, NULL, 0);	/* rule 2 may allow a peer */
	CU_ASSERT(!rules_refuse_command(s.r, s.n, &q, &v));
	q = query("bob", RULE_CMD_CONNECT, NULL, NULL, 0);
	CU_ASSERT(!rules_refuse_command(s.r, s.n, &q, &v));
	unload(&s);
}

static void test_refuse_name(void)
{
	static const char *const lines[] = {
		"deny user bob to .blocked.example",	/* 1 */
		"allow to 10.0.0.0/8 port 22",		/* 2 */
		"deny to .evil.example",		/* 3 */
		"deny port 25",				/* 4 */
		NULL,
	};
	struct set s;
	struct rules_verdict v;

	load(&s, lines);
	struct rules_query q = query("bob", RULE_CMD_CONNECT, "www.blocked.example", NULL, 80);
	CU_ASSERT(rules_refuse_name(s.r, s.n, &q, &v));
	CU_ASSERT(!v.allow && v.rule == &s.r[0]);
	q = query("alice", RULE_CMD_CONNECT, "www.blocked.example", NULL, 80);
	CU_ASSERT(!rules_refuse_name(s.r, s.n, &q, &v));
	q = query("alice", RULE_CMD_CONNECT, "a.evil.example", NULL, 80);
	CU_ASSERT(rules_refuse_name(s.r, s.n, &q, &v));
	CU_ASSERT(v.rule == &s.r[2]);
	/* Port 22: rule 2 depends on the address, so the name cannot be decided. */
	q = query("alice", RULE_CMD_CONNECT, "a.evil.example", NULL, 22);
	CU_ASSERT(!rules_refuse_name(s.r, s.n, &q, &v));
	q = query("alice", RULE_CMD_CONNECT, "mail.example", NULL, 25);
	CU_ASSERT(rules_refuse_name(s.r, s.n, &q, &v));
	CU_ASSERT(v.rule == &s.r[3]);
	q = query("alice", RULE_CMD_CONNECT, "www.example", NULL, 80);
	CU_ASSERT(!rules_refuse_name(s.r, s.n, &q, &v));
	/* Whatever the name check says, the address check agrees with it. */
	q = query("alice", RULE_CMD_CONNECT, "a.evil.example", "203.0.113.1", 80);
	rules_check(s.r, s.n, &q, &v);
	CU_ASSERT(!v.allow && v.rule == &s.r[2]);
	unload(&s);
}

static void test_client_rules(void)
{
	static const char *const lines[] = {
		"deny from 192.0.2.66",			/* 1 client rule */
		"allow from 192.0.2.0/24",		/* 2 client rule */
		"deny from 192.0.2.0/24 to any",	/* 3 request rule */
		"deny from any",			/* 4 client rule */
		"deny",					/* 5 request rule, not a client rule */
		NULL,
	};
	struct set s;
	struct rules_verdict v;
	unsigned line;

	load(&s, lines);
	CU_ASSERT(rule_is_client_rule(&s.r[0]));
	CU_ASSERT(!rule_is_client_rule(&s.r[2]));
	CU_ASSERT(!rule_is_client_rule(&s.r[4]));
	rules_check_client(s.r, s.n, sa("192.0.2.66", 1), &v);
	CU_ASSERT(!v.allow && v.rule == &s.r[0]);
	rules_check_client(s.r, s.n, sa("192.0.2.7", 1), &v);
	CU_ASSERT(v.allow && v.rule == &s.r[1]);
	rules_check_client(s.r, s.n, sa("2001:db8::1", 1), &v);
	CU_ASSERT(!v.allow && v.rule == &s.r[3]);
	unload(&s);

	/* No client rules: everyone is admitted, even with a final deny. */
	static const char *const none[] = { "allow to 10.0.0.0/8", "deny", NULL };
	load(&s, none);
	rules_check_client(s.r, s.n, sa("203.0.113.1", 1), &v);
	CU_ASSERT(v.allow && v.rule == NULL);
	unload(&s);

	/* Requests skip client rules: an admitted client meets the request rules. */
	static const char *const skip[] = { "allow from 192.0.2.0/24", "deny to 203.0.113.0/24",
					    NULL };
	load(&s, skip);
	CU_ASSERT(!allowed(&s, NULL, NULL, "203.0.113.1", 80, &line));
	CU_ASSERT_EQUAL(line, 2);
	unload(&s);
}

/* ---- through the config file ---- */

struct reports {
	unsigned n, lines[8];
	char msgs[8][256];
};

static void collect(const char *file, unsigned line, const char *msg, void *ctx)
{
	struct reports *r = ctx;
	(void)file;
	if (r->n < 8) {
		r->lines[r->n] = line;
		snprintf(r->msgs[r->n], sizeof(r->msgs[r->n]), "%s", msg);
	}
	r->n++;
}

static void test_config_rules(void)
{
	char path[] = "/tmp/socksgate-test-rules.XXXXXX";
	const char *text = "listen = 127.0.0.1:1080\n"		/* 1 */
			   "allow to 127.0.0.0/8 # tests\n"	/* 2 */
			   "max_sessions = 100\n"		/* 3 */
			   "allowed = yes\n"			/* 4: a key, unknown */
			   "deny port 99999\n"			/* 5: bad rule */
			   "deny to .corp.example\n"		/* 6 */
			   "allow frm 10.0.0.0/8\n"		/* 7: bad rule */
			   "max_connection_rate = 20\n"		/* 8 */
			   "max_sessions_per_user = 4\n"	/* 9 */
			   "max_sessions_per_client = 8\n";	/* 10 */
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);

	struct reports rep = { 0 };
	struct config *c = NULL;
	CU_ASSERT_EQUAL(config_load(path, NULL, 0, collect, &rep, &c), -EINVAL);
	CU_ASSERT_EQUAL(rep.n, 3);
	CU_ASSERT_EQUAL(rep.lines[0], 4);
	CU_ASSERT_EQUAL(rep.lines[1], 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep.msgs[1], "99999"));
	CU_ASSERT_EQUAL(rep.lines[2], 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep.msgs[2], "frm"));

	/* Without the bad lines it loads, rules in order with their lines. */
	const char *good = "allow to 127.0.0.0/8\nmax_sessions = 100\n\n"
			   "deny to .corp.example\nmax_connection_rate = 20\n"
			   "max_sessions_per_user = 4\nmax_sessions_per_client = 8\n";
	fd = open(path, O_WRONLY | O_TRUNC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, good, strlen(good)) == (ssize_t)strlen(good));
	close(fd);
	rep.n = 0;
	CU_ASSERT_EQUAL_FATAL(config_load(path, NULL, 0, collect, &rep, &c), 0);
	CU_ASSERT_EQUAL(c->nrules, 2);
	CU_ASSERT_EQUAL(c->rules[0].line, 1);
	CU_ASSERT_EQUAL(c->rules[1].line, 4);
	CU_ASSERT_STRING_EQUAL(c->rules[1].file, path);
	CU_ASSERT_EQUAL(c->max_sessions, 100);
	CU_ASSERT_EQUAL(c->max_connection_rate, 20);
	CU_ASSERT_EQUAL(c->max_sessions_per_user, 4);
	CU_ASSERT_EQUAL(c->max_sessions_per_client, 8);

	/* -t prints each rule with its FILE:LINE and the default after them. */
	char *dump = NULL;
	size_t dlen = 0;
	FILE *f = open_memstream(&dump, &dlen);
	CU_ASSERT_FATAL(f != NULL);
	config_dump(c, f);
	fclose(f);
	char want[256];
	snprintf(want, sizeof(want), "deny to .corp.example\t# %s:4\n", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(dump, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(dump, "#   deny to 169.254.0.0/16\t(link-local"));
	CU_ASSERT(strstr(dump, want) < strstr(dump, "#   allow\n"));
	free(dump);
	config_unref(c);

	/* Defaults: no limits, no rules. */
	c = config_new();
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_EQUAL(c->max_sessions + c->max_sessions_per_user +
				c->max_sessions_per_client + c->max_connection_rate, 0);
	CU_ASSERT_EQUAL(c->nrules, 0);
	config_unref(c);
	unlink(path);
}

/* Found by fuzz_config: -t cut a rule longer than 2 KiB (the dump then
 * loaded back as a narrower rule). */
static void test_dump_long_rule(void)
{
	char text[4096], err[256], *dump = NULL;
	size_t n = 0, dlen = 0;
	struct config *c = config_new();

	CU_ASSERT_FATAL(c != NULL);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "deny user ");
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%su%03d", i ? "," : "", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, " group ");
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%sg%03d", i ? "," : "", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, " to ");
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%sh%02d.example", i ? "," : "", i);
	CU_ASSERT_FATAL(n > 2048 && n < sizeof(text) - 1);
	c->rules = calloc(1, sizeof(*c->rules));
	CU_ASSERT_FATAL(c->rules != NULL);
	CU_ASSERT_EQUAL_FATAL(rule_parse(text, "x.conf", 1, &c->rules[0], err, sizeof(err)), 0);
	c->nrules = 1;
	FILE *f = open_memstream(&dump, &dlen);
	CU_ASSERT_FATAL(f != NULL);
	config_dump(c, f);
	fclose(f);
	strcat(text, "\t# x.conf:1\n");
	CU_ASSERT_PTR_NOT_NULL(strstr(dump, text));
	free(dump);
	config_unref(c);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "every rule form parses and prints back", test_parse_forms },
		{ "a rule keeps its file and line", test_parse_keeps_file_line },
		{ "every syntax error is refused with a message", test_parse_errors },
		{ "host and .suffix matching", test_suffix_and_host_match },
		{ "first match wins; comma lists; port ranges", test_first_match_and_lists },
		{ "command and from conditions", test_commands_and_from },
		{ "group rules through the lookup function", test_groups },
		{ "the built-in default policy", test_default_policy },
		{ "protected addresses need a named network", test_protected_needs_named_network },
		{ "IPv4 inside IPv6 under the default policy", test_embedded_default },
		{ "via: the source address of what a rule allows", test_via },
		{ "a whole command refused", test_refuse_command },
		{ "names refused before resolution", test_refuse_name },
		{ "client rules at accept time", test_client_rules },
		{ "rules and limits in the config file", test_config_rules },
		{ "-t prints a long rule whole", test_dump_long_rule },
	};
	/* The gateway's own address in these tests. */
	if (addr_net_parse("198.51.100.77", &self_nets[0]) < 0)
		return 2;
	return UNIT_RUN("rules", tests);
}
