/* Unit tests for the systemd-facing pure helpers: the STATUS= text, byte
 * units, the watchdog's health decision, and JOURNAL_STREAM parsing. */
#include "autoconf.h"

#include "log.h"
#include "notify.h"
#include "session.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <stdint.h>
#include <string.h>

static void check_bytes(uint64_t n, const char *want)
{
	char buf[32];

	notify_format_bytes(buf, sizeof(buf), n);
	CU_ASSERT_STRING_EQUAL(buf, want);
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "\n  %llu bytes: got '%s', want '%s'\n", (unsigned long long)n, buf,
			want);
}

static void test_bytes(void)
{
	check_bytes(0, "0 B");
	check_bytes(1023, "1023 B");
	check_bytes(1024, "1.0 KiB");
	check_bytes(1536, "1.5 KiB");
	check_bytes(1024 * 1024 - 1, "1023.9 KiB");
	check_bytes(1024 * 1024, "1.0 MiB");
	check_bytes(5ull * 1024 * 1024 * 1024 + 512ull * 1024 * 1024, "5.5 GiB");
	check_bytes(UINT64_MAX, "15.9 EiB");
	/* A short buffer is cut, never overrun. */
	char tiny[4];
	notify_format_bytes(tiny, sizeof(tiny), 123456);
	CU_ASSERT_EQUAL(strlen(tiny), 3);
}

static void test_status(void)
{
	char buf[256];
	struct session_stats st = { .active = 2, .total = 17, .auth_failures = 1,
				    .bytes_up = 3 * 1024 * 1024 + 512 * 1024, .bytes_down = 120 };

	notify_format_status(buf, sizeof(buf), &st);
	CU_ASSERT_STRING_EQUAL(buf, "2 active sessions, 17 since start, 1 authentication failure, "
				    "3.5 MiB up, 120 B down");
	st = (struct session_stats){ .active = 1, .total = 1, .auth_failures = 0 };
	notify_format_status(buf, sizeof(buf), &st);
	CU_ASSERT_STRING_EQUAL(buf, "1 active session, 1 since start, 0 authentication failures, "
				    "0 B up, 0 B down");
	st = (struct session_stats){ .active = 3, .total = 9, .auth_cache_hits = 1, .bytes_up = 5 };
	notify_format_status(buf, sizeof(buf), &st);
	CU_ASSERT_STRING_EQUAL(buf, "3 active sessions, 9 since start, 0 authentication failures, "
				    "1 login from the credential cache, 5 B up, 0 B down");
	st.auth_cache_hits = 40;
	notify_format_status(buf, sizeof(buf), &st);
	CU_ASSERT_STRING_EQUAL(buf, "3 active sessions, 9 since start, 0 authentication failures, "
				    "40 logins from the credential cache, 5 B up, 0 B down");
	st = (struct session_stats){ .active = UINT64_MAX, .total = UINT64_MAX,
				     .auth_failures = UINT64_MAX, .auth_cache_hits = UINT64_MAX,
				     .bytes_up = UINT64_MAX,
				     .bytes_down = UINT64_MAX };
	char small[40];
	notify_format_status(small, sizeof(small), &st);
	CU_ASSERT_EQUAL(strlen(small), sizeof(small) - 1);
}

/* After a refused reload STATUS= leads with its first error until a good one. */
static void test_reload_failed(void)
{
	char buf[256], small[24];

	notify_format_reload_failed(buf, sizeof(buf), "/etc/s.conf:3: unknown key 'x'", 1,
				    "0 active sessions");
	CHECK_STR(buf, "last reload failed: /etc/s.conf:3: unknown key 'x'; 0 active sessions");
	notify_format_reload_failed(buf, sizeof(buf), "/etc/s.conf:3: unknown key 'x'", 3, "idle");
	CHECK_STR(buf, "last reload failed: /etc/s.conf:3: unknown key 'x' (and 2 more); idle");
	notify_format_reload_failed(buf, sizeof(buf), "", 0, "idle");
	CHECK_STR(buf, "last reload failed; idle");
	notify_format_reload_failed(buf, sizeof(buf), NULL, 0, "idle");
	CHECK_STR(buf, "last reload failed; idle");
	notify_format_reload_failed(small, sizeof(small), "a long error text", 2, "status");
	CHECK_INT(strlen(small), sizeof(small) - 1);
}

static void test_alive(void)
{
	/* Fresh heartbeat and a pool that answered. */
	CU_ASSERT_TRUE(notify_alive(10000, 9000, 5000, true));
	CU_ASSERT_TRUE(notify_alive(10000, 5000, 5000, true));	/* exactly at the limit */
	/* The acceptor stopped turning. */
	CU_ASSERT_FALSE(notify_alive(10000, 4999, 5000, true));
	CU_ASSERT_FALSE(notify_alive(100000, 0, 5000, true));
	/* The pool's lock is stuck, whatever the acceptor does. */
	CU_ASSERT_FALSE(notify_alive(10000, 10000, 5000, false));
	/* A heartbeat read after "now" was taken is fresh, not stale. */
	CU_ASSERT_TRUE(notify_alive(10000, 10003, 5000, true));
}

static void test_journal_stream(void)
{
	CU_ASSERT_TRUE(log_journal_stream_matches("8:12345", 8, 12345));
	CU_ASSERT_TRUE(log_journal_stream_matches("0:1", 0, 1));
	CU_ASSERT_TRUE(log_journal_stream_matches("18446744073709551615:7",
						  (dev_t)18446744073709551615ull, 7));
	CU_ASSERT_FALSE(log_journal_stream_matches("8:12345", 8, 12346));
	CU_ASSERT_FALSE(log_journal_stream_matches("9:12345", 8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches(NULL, 8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches("", 8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches("8", 8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches("8:", 8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches(":12345", 8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches("8:12345x", 8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches("8:12345 ", 8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches(" 8:12345", 8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches("-8:12345", (dev_t)-8, 12345));
	CU_ASSERT_FALSE(log_journal_stream_matches("8:-12345", 8, (ino_t)-12345));
}

static void test_target_names(void)
{
	CU_ASSERT_EQUAL(log_target_parse("auto"), LOG_TARGET_AUTO);
	CU_ASSERT_EQUAL(log_target_parse("stderr"), LOG_TARGET_STDERR);
	CU_ASSERT_EQUAL(log_target_parse("journal"), LOG_TARGET_JOURNAL);
	CU_ASSERT_EQUAL(log_target_parse("syslog"), -1);
	CU_ASSERT_EQUAL(log_target_parse(""), -1);
	for (int t = LOG_TARGET_AUTO; t <= LOG_TARGET_JOURNAL; t++)
		CU_ASSERT_EQUAL(log_target_parse(log_target_name((enum log_target)t)), t);
}

static void test_message_ids(void)
{
	static const char *const ids[] = { LOG_ID_START, LOG_ID_STOP, LOG_ID_RELOAD,
					   LOG_ID_RELOAD_FAILED, LOG_ID_SESSION_END,
					   LOG_ID_AUTH_FAILURE, LOG_ID_RULE_REFUSAL };
	const size_t n = sizeof(ids) / sizeof(ids[0]);

	/* 128-bit IDs in journalctl's form: 32 lower-case hex digits, all distinct. */
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(strlen(ids[i]), 32);
		CU_ASSERT_EQUAL(strspn(ids[i], "0123456789abcdef"), 32);
		for (size_t j = i + 1; j < n; j++)
			CU_ASSERT_STRING_NOT_EQUAL(ids[i], ids[j]);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "byte counts with units", test_bytes },
		{ "STATUS= text", test_status },
		{ "STATUS= after a refused reload", test_reload_failed },
		{ "watchdog liveness decision", test_alive },
		{ "JOURNAL_STREAM matching", test_journal_stream },
		{ "log target names", test_target_names },
		{ "journal MESSAGE_IDs", test_message_ids },
	};
	return UNIT_RUN("notify", tests);
}
