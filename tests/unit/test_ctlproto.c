/* Unit tests for the control protocol codec: every valid request split at
 * every byte offset (need more, nothing written, then the exact consumed
 * length whatever follows), the line-length bound at its edges, control
 * bytes decided at once, unknown commands and versions, each argument's
 * limits, the formatter's round trip, the filters' matching, and seeded
 * garbage checked for answers that more bytes never change. Pure: no I/O. */
#include "autoconf.h"

#include "ctlproto.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* Parses buf[0..len) from an exact heap copy (a read past the end is a
 * sanitizer report); checks that *ret and *consumed are written only on OK
 * and that a failure says why. */
static enum ctlproto_status parse(const void *buf, size_t len, struct ctlproto_request *ret,
				  size_t *consumed)
{
	struct ctlproto_request got;
	size_t used;
	char why[160];
	uint8_t *p = unit_dup_exact(buf, len);

	memset(&got, 0xa5, sizeof(got));
	memset(&used, 0xa5, sizeof(used));
	enum ctlproto_status st = ctlproto_parse_request(p, len, &got, &used, why, sizeof(why));
	free(p);
	if (st != CTLPROTO_OK) {
		CHECK(unit_all_bytes(&got, 0xa5, sizeof(got)) && unit_all_bytes(&used, 0xa5, sizeof(used)),
		      "%zu bytes: output written with status %d", len, (int)st);
		CHECK(st == CTLPROTO_NEED_MORE || why[0] != '\0', "status %s without a reason",
		      ctlproto_status_code(st));
		return st;
	}
	if (ret != NULL)
		*ret = got;
	if (consumed != NULL)
		*consumed = used;
	return st;
}

static enum ctlproto_status parse_str(const char *s)
{
	return parse(s, strlen(s), NULL, NULL);
}

/* Requests the parser takes, each with what it must find. */
static const struct {
	const char *line;
	enum ctlproto_cmd cmd;
	bool has_id, has_user, has_client, all;
	uint64_t id;
	const char *user;
} valid[] = {
	{ .line = "v1 status\n", .cmd = CTLPROTO_CMD_STATUS },
	{ .line = "v1 status\r\n", .cmd = CTLPROTO_CMD_STATUS },
	{ .line = "  v1   status  \n", .cmd = CTLPROTO_CMD_STATUS },
	{ .line = "v1 sessions\n", .cmd = CTLPROTO_CMD_SESSIONS },
	{ .line = "v1 sessions user=alice\n", .cmd = CTLPROTO_CMD_SESSIONS, .has_user = true,
	  .user = "alice" },
	{ .line = "v1 sessions client=10.0.0.0/8 user=a=b\n", .cmd = CTLPROTO_CMD_SESSIONS,
	  .has_user = true, .has_client = true, .user = "a=b" },
	{ .line = "v1 kill id=42\n", .cmd = CTLPROTO_CMD_KILL, .has_id = true, .id = 42 },
	{ .line = "v1 kill id=18446744073709551615\n", .cmd = CTLPROTO_CMD_KILL, .has_id = true,
	  .id = UINT64_MAX },
	{ .line = "v1 kill user=b\\x20c client=[::1]:1080\n", .cmd = CTLPROTO_CMD_KILL,
	  .has_user = true, .has_client = true, .user = "b\\x20c" },
	{ .line = "v1 kill client=192.0.2.7:40000 id=7 user=u\n", .cmd = CTLPROTO_CMD_KILL,
	  .has_id = true, .has_user = true, .has_client = true, .id = 7, .user = "u" },
	{ .line = "v1 blocked\n", .cmd = CTLPROTO_CMD_BLOCKED },
	{ .line = "v1 unblock all\n", .cmd = CTLPROTO_CMD_UNBLOCK, .all = true },
	{ .line = "v1 unblock client=2001:db8::/32\n", .cmd = CTLPROTO_CMD_UNBLOCK,
	  .has_client = true },
	{ .line = "v1 cache flush\n", .cmd = CTLPROTO_CMD_CACHE_FLUSH },
	{ .line = "v1 reload\n", .cmd = CTLPROTO_CMD_RELOAD },
};

static void check_valid(size_t i, const struct ctlproto_request *r)
{
	CHECK_INT(r->cmd, valid[i].cmd);
	CHECK(r->has_id == valid[i].has_id && r->has_user == valid[i].has_user &&
		      r->has_client == valid[i].has_client && r->all == valid[i].all,
	      "%s: wrong arguments", valid[i].line);
	if (valid[i].has_id)
		CHECK(r->id == valid[i].id, "%s: id %llu", valid[i].line,
		      (unsigned long long)r->id);
	if (valid[i].has_user)
		CHECK_STR(r->user, valid[i].user);
}

/* Every prefix needs more; the whole line, alone or with bytes behind it,
 * parses to the same request with the line's exact length. */
static void test_valid_split(void)
{
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		const char *line = valid[i].line;
		size_t len = strlen(line), used = 0;
		struct ctlproto_request r;
		char buf[256];

		for (size_t k = 0; k < len; k++)
			CHECK(parse(line, k, NULL, NULL) == CTLPROTO_NEED_MORE,
			      "%s: %zu bytes are not \"need more\"", line, k);
		CU_ASSERT_FATAL(parse(line, len, &r, &used) == CTLPROTO_OK);
		CHECK_INT(used, len);
		check_valid(i, &r);
		snprintf(buf, sizeof(buf), "%s\x01garbage v1 status\n", line);
		CU_ASSERT_FATAL(parse(buf, strlen(buf), &r, &used) == CTLPROTO_OK);
		CHECK_INT(used, len);
		check_valid(i, &r);
	}
}

/* The bound: CTLPROTO_LINE_MAX bytes with the LF, not one more. */
static void test_line_length(void)
{
	char buf[CTLPROTO_LINE_MAX + 8];
	size_t used;

	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "v1 status", 9);
	buf[CTLPROTO_LINE_MAX - 1] = '\n';	/* exactly the bound */
	CHECK_INT(parse(buf, CTLPROTO_LINE_MAX, NULL, &used), CTLPROTO_OK);
	CHECK_INT(used, CTLPROTO_LINE_MAX);
	CHECK_INT(parse(buf, CTLPROTO_LINE_MAX - 1, NULL, NULL), CTLPROTO_NEED_MORE);
	buf[CTLPROTO_LINE_MAX - 2] = '\r';	/* CRLF at the bound */
	CHECK_INT(parse(buf, CTLPROTO_LINE_MAX, NULL, &used), CTLPROTO_OK);
	CHECK_INT(parse(buf, CTLPROTO_LINE_MAX - 1, NULL, NULL), CTLPROTO_NEED_MORE);

	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "v1 status", 9);
	buf[CTLPROTO_LINE_MAX] = '\n';		/* one byte too long */
	CHECK_INT(parse(buf, CTLPROTO_LINE_MAX - 1, NULL, NULL), CTLPROTO_NEED_MORE);
	CHECK_INT(parse(buf, CTLPROTO_LINE_MAX, NULL, NULL), CTLPROTO_TOO_LONG);
	CHECK_INT(parse(buf, sizeof(buf), NULL, NULL), CTLPROTO_TOO_LONG);
	buf[CTLPROTO_LINE_MAX - 1] = '\r';	/* CRLF one past: decided at the CR */
	CHECK_INT(parse(buf, CTLPROTO_LINE_MAX, NULL, NULL), CTLPROTO_TOO_LONG);
	/* Far too long with a control byte past the bound: still too long. */
	buf[CTLPROTO_LINE_MAX + 2] = 0;
	CHECK_INT(parse(buf, sizeof(buf), NULL, NULL), CTLPROTO_TOO_LONG);
}

/* A byte that cannot be in a request line decides at once, before any LF. */
static void test_control_bytes(void)
{
	static const uint8_t bad[] = { 0x00, 0x01, '\t', 0x1b, 0x7f, 0x80, 0xff };

	for (size_t i = 0; i < sizeof(bad); i++) {
		uint8_t buf[16] = "v1 sta";
		buf[6] = bad[i];
		CHECK(parse(buf, 7, NULL, NULL) == CTLPROTO_BAD, "byte 0x%02x not refused at once",
		      bad[i]);
		memcpy(buf + 7, "tus\n", 4);
		CHECK(parse(buf, 11, NULL, NULL) == CTLPROTO_BAD, "byte 0x%02x in a line", bad[i]);
	}
	CHECK_INT(parse_str("v1 status\r"), CTLPROTO_NEED_MORE);	/* CR, then? */
	CHECK_INT(parse_str("v1 status\rx"), CTLPROTO_BAD);		/* a lone CR */
	CHECK_INT(parse_str("v1 status\r\r\n"), CTLPROTO_BAD);
	CHECK_INT(parse_str("\n"), CTLPROTO_BAD);			/* empty */
	CHECK_INT(parse_str("   \r\n"), CTLPROTO_BAD);
	CHECK_INT(parse(NULL, 0, NULL, NULL), CTLPROTO_NEED_MORE);
}

static void test_versions_and_commands(void)
{
	static const char *const bad_version[] = {
		"v2 status\n", "status\n", "V1 status\n", "v10 status\n", "v1status\n",
		"GET / HTTP/1.1\r\n", "SSH-2.0-OpenSSH_9.2\r\n",
	};
	static const char *const unknown[] = {
		"v1\n",
		"v1 stat\n",
		"v1 STATUS\n",
		"v1 statuses\n",
		"v1 cache\n",
		"v1 cache clear\n",
		"v1 flush cache\n",
		"v1 reload-now\n",
		"v1 kill-all\n",
		"v1 user=alice\n",
	};

	for (size_t i = 0; i < sizeof(bad_version) / sizeof(bad_version[0]); i++)
		CHECK(parse_str(bad_version[i]) == CTLPROTO_BAD_VERSION, "%s", bad_version[i]);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		CHECK(parse_str(unknown[i]) == CTLPROTO_UNKNOWN_COMMAND, "%s", unknown[i]);
}

static void test_bad_arguments(void)
{
	static const char *const bad[] = {
		"v1 status user=a\n",
		"v1 reload all\n",
		"v1 blocked client=::1\n",
		"v1 cache flush all\n",
		"v1 sessions id=1\n",
		"v1 kill\n",
		"v1 kill all\n",
		"v1 kill id=0\n",
		"v1 kill id=01\n",
		"v1 kill id=-1\n",
		"v1 kill id=1x\n",
		"v1 kill id=\n",
		"v1 kill id\n",
		"v1 kill =1\n",
		"v1 kill ID=1\n",
		"v1 kill id=18446744073709551616\n",
		"v1 kill id=99999999999999999999\n",
		"v1 kill user=\n",
		"v1 kill user=a user=b\n",
		"v1 kill id=1 id=1\n",
		"v1 kill client=10.0.0.1/8\n",
		"v1 kill client=10.0.0.0/33\n",
		"v1 kill client=1.2.3.4:99999\n",
		"v1 kill client=gateway.example\n",
		"v1 kill client=[::1]\n",
		"v1 kill client=1.2.3\n",
		"v1 unblock\n",
		"v1 unblock all all\n",
		"v1 unblock all client=10.0.0.1\n",
		"v1 unblock client=10.0.0.1:80\n",
		"v1 unblock all=yes\n",
		"v1 sessions user=a client=::1 user=b\n",
		"v1 kill id=1 user=a client=::1 id=2 user=b client=::2 id=3\n",
	};
	char line[400];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse_str(bad[i]) == CTLPROTO_BAD_ARGUMENT, "%s: %s", bad[i],
		      ctlproto_status_code(parse_str(bad[i])));
	/* The value bound: 255 bytes are a user, 256 are not. */
	memset(line, 'u', sizeof(line));
	memcpy(line, "v1 kill user=", 13);
	memcpy(line + 13 + CTLPROTO_VALUE_MAX, "\n", 2);
	CHECK_INT(parse_str(line), CTLPROTO_OK);
	memcpy(line + 13 + CTLPROTO_VALUE_MAX, "u\n", 3);
	CHECK_INT(parse_str(line), CTLPROTO_BAD_ARGUMENT);
}

static void test_clients(void)
{
	struct ctlproto_client c;
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(5555) };

	CU_ASSERT_FATAL(ctlproto_parse_client("192.0.2.1", &c));
	CHECK(!c.has_port && c.net.family == AF_INET && c.net.prefix == 32, "192.0.2.1");
	CU_ASSERT_FATAL(ctlproto_parse_client("192.0.2.1:5555", &c));
	CHECK(c.has_port && c.port == 5555 && c.net.prefix == 32, "192.0.2.1:5555");
	CU_ASSERT_FATAL(ctlproto_parse_client("[::ffff:192.0.2.1]:80", &c));
	CHECK(c.has_port && c.port == 80 && c.net.family == AF_INET, "mapped: held as IPv4");
	CU_ASSERT_FATAL(ctlproto_parse_client("2001:db8::/32", &c));
	CHECK(!c.has_port && c.net.family == AF_INET6 && c.net.prefix == 32, "2001:db8::/32");
	CHECK(!ctlproto_parse_client("", &c), "empty");
	CHECK(!ctlproto_parse_client("[2001:db8::1]", &c), "brackets without a port");

	struct ctlproto_request rq = { .cmd = CTLPROTO_CMD_KILL, .has_client = true };
	inet_pton(AF_INET, "192.0.2.1", &s4.sin_addr);
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr);
	CU_ASSERT_FATAL(ctlproto_parse_client("192.0.2.0/24", &rq.client));
	CHECK(ctlproto_request_matches(&rq, 1, "", (struct sockaddr *)&s4), "IPv4 in its /24");
	CHECK(ctlproto_request_matches(&rq, 1, "", (struct sockaddr *)&s6), "mapped in the /24");
	CU_ASSERT_FATAL(ctlproto_parse_client("192.0.2.1:5555", &rq.client));
	CHECK(ctlproto_request_matches(&rq, 1, "", (struct sockaddr *)&s4), "the same port");
	CHECK(!ctlproto_request_matches(&rq, 1, "", (struct sockaddr *)&s6), "another port");
	rq.has_user = true;
	snprintf(rq.user, sizeof(rq.user), "alice");
	CHECK(ctlproto_request_matches(&rq, 9, "alice", (struct sockaddr *)&s4), "user and client");
	CHECK(!ctlproto_request_matches(&rq, 9, "alice2", (struct sockaddr *)&s4), "user prefix");
	CHECK(!ctlproto_request_matches(&rq, 9, "", (struct sockaddr *)&s4), "before the login");
	rq.has_id = true;
	rq.id = 9;
	CHECK(ctlproto_request_matches(&rq, 9, "alice", (struct sockaddr *)&s4), "all three");
	CHECK(!ctlproto_request_matches(&rq, 8, "alice", (struct sockaddr *)&s4), "another id");
}

/* What the formatter writes parses back to the same request; it refuses
 * what the parser would, and a buffer too small. */
static void test_format(void)
{
	char line[CTLPROTO_LINE_MAX + 1];
	struct ctlproto_request a, b;
	size_t len, used;

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		CU_ASSERT_FATAL(parse_str(valid[i].line) == CTLPROTO_OK);
		(void)parse(valid[i].line, strlen(valid[i].line), &a, NULL);
		CU_ASSERT_FATAL(ctlproto_format_request(&a, line, sizeof(line), &len) ==
				CTLPROTO_OK);
		CHECK_INT(strlen(line), len);
		CU_ASSERT_FATAL(parse(line, len, &b, &used) == CTLPROTO_OK);
		CHECK_INT(used, len);
		CHECK(memcmp(&a, &b, sizeof(a)) == 0 || (strcmp(a.user, b.user) == 0 &&
							 a.cmd == b.cmd && a.id == b.id),
		      "%s came back as %s", valid[i].line, line);
		CHECK(ctlproto_format_request(&a, line, len, &used) == CTLPROTO_TOO_LONG,
		      "%s fits in its own length (no room for the NUL)", valid[i].line);
	}
	CHECK_STR(ctlproto_cmd_name(CTLPROTO_CMD_CACHE_FLUSH), "cache flush");
	memset(&a, 0, sizeof(a));
	a.cmd = CTLPROTO_CMD_KILL;	/* no filter */
	CHECK_INT(ctlproto_format_request(&a, line, sizeof(line), &len), CTLPROTO_BAD_ARGUMENT);
	a.has_user = true;
	snprintf(a.user, sizeof(a.user), "two words");
	CHECK_INT(ctlproto_format_request(&a, line, sizeof(line), &len), CTLPROTO_BAD_ARGUMENT);
	snprintf(a.user, sizeof(a.user), "two\\x20words");
	CHECK_INT(ctlproto_format_request(&a, line, sizeof(line), &len), CTLPROTO_OK);
	CHECK_STR(line, "v1 kill user=two\\x20words\n");
	a.cmd = (enum ctlproto_cmd)99;
	CHECK_INT(ctlproto_format_request(&a, line, sizeof(line), &len), CTLPROTO_BAD_ARGUMENT);
	CHECK_STR(ctlproto_cmd_name((enum ctlproto_cmd)99), "unknown");
	CHECK_STR(ctlproto_status_code((enum ctlproto_status)99), "unknown");
}

/* Seeded lines from the request alphabet with damage: whatever a prefix
 * decides (anything but "need more"), every longer prefix decides the same,
 * and everything is decided within CTLPROTO_LINE_MAX bytes. */
static void test_random_prefixes(void)
{
	static const char *const pieces[] = {
		"v1", " ", "status", "kill", "id=", "7", "user=", "bob", "client=", "10.0.0.0/8",
		"[::1]:80", "unblock", "all", "cache", "flush", "\r", "\n", "\x01", "=",
	};
	unsigned seed = unit_seed();
	char buf[CTLPROTO_LINE_MAX + 64];

	for (unsigned round = 0; round < 3000; round++) {
		size_t len = 0;
		unsigned n = unit_below(&seed, 12);
		for (unsigned i = 0; i < n; i++) {
			unsigned pick = unit_below(&seed, sizeof(pieces) / sizeof(pieces[0]));
			const char *p = pieces[pick];
			if (len + strlen(p) < sizeof(buf))
				len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", p);
		}
		if (unit_below(&seed, 8) == 0)
			while (len < sizeof(buf) - 1)
				buf[len++] = ' ';
		enum ctlproto_status first = CTLPROTO_NEED_MORE;
		size_t first_used = 0, used = 0;
		for (size_t k = 0; k <= len; k++) {
			enum ctlproto_status st = parse(buf, k, NULL, &used);
			if (first == CTLPROTO_NEED_MORE) {
				first = st;
				first_used = used;
				continue;
			}
			CU_ASSERT_FATAL(st == first);
			if (st == CTLPROTO_OK)
				CU_ASSERT_FATAL(used == first_used);
		}
		if (len >= CTLPROTO_LINE_MAX)
			CU_ASSERT_FATAL(first != CTLPROTO_NEED_MORE);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "valid requests split at every offset", test_valid_split },
		{ "the line length bound", test_line_length },
		{ "control bytes and empty lines", test_control_bytes },
		{ "versions and unknown commands", test_versions_and_commands },
		{ "bad arguments", test_bad_arguments },
		{ "client filters and matching", test_clients },
		{ "formatting round trip", test_format },
		{ "seeded prefixes decide for good", test_random_prefixes },
	};
	return UNIT_RUN("ctlproto", tests);
}
