/* Unit tests for the Happy Eyeballs schedule: the address order, the start
 * times of the attempts over a fake clock (stagger, early start after a
 * failure, one deadline for the whole request) and the ranking of failures. */
#include "autoconf.h"

#include "eyeballs.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static struct addr ip(const char *s)
{
	struct addr a;
	char buf[64];

	snprintf(buf, sizeof(buf), strchr(s, ':') ? "[%s]:1" : "%s:1", s);
	CU_ASSERT_FATAL(addr_parse(buf, &a) == 0);
	return a;
}

/* The order as "4646..." (one digit per address's family). */
static const char *families(const struct addr *a, size_t n, char *buf)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = a[i].ss.ss_family == AF_INET6 ? '6' : '4';
	buf[n] = '\0';
	return buf;
}

static void test_order(void)
{
	struct addr a[7] = { ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1"),
			     ip("192.0.2.3"), ip("2001:db8::2"), ip("2001:db8::3"),
			     ip("2001:db8::4") };
	struct addr b[7];
	char f[8], h[ADDR_HOSTLEN];

	memcpy(b, a, sizeof(a));
	eyeballs_order(b, 7, AF_INET6);
	CHECK_STR(families(b, 7, f), "6464646");
	/* Each family keeps the resolver's order. */
	CHECK_STR(addr_host((struct sockaddr *)&b[0].ss, h, sizeof(h)), "2001:db8::1");
	CHECK_STR(addr_host((struct sockaddr *)&b[1].ss, h, sizeof(h)), "192.0.2.1");
	CHECK_STR(addr_host((struct sockaddr *)&b[3].ss, h, sizeof(h)), "192.0.2.2");
	CHECK_STR(addr_host((struct sockaddr *)&b[6].ss, h, sizeof(h)), "2001:db8::4");

	memcpy(b, a, sizeof(a));
	eyeballs_order(b, 7, AF_INET);
	CHECK_STR(families(b, 7, f), "4646466");
	CHECK_STR(addr_host((struct sockaddr *)&b[0].ss, h, sizeof(h)), "192.0.2.1");

	/* One family only, or one address: unchanged. */
	struct addr c[3] = { ip("192.0.2.9"), ip("192.0.2.8"), ip("192.0.2.7") };
	eyeballs_order(c, 3, AF_INET6);
	CHECK_STR(addr_host((struct sockaddr *)&c[0].ss, h, sizeof(h)), "192.0.2.9");
	CHECK_STR(addr_host((struct sockaddr *)&c[2].ss, h, sizeof(h)), "192.0.2.7");
	eyeballs_order(c, 0, AF_INET6);
}

/* Six addresses whose first five never answer: the attempts start one
 * stagger apart and the last one wins about 5 staggers in. */
static void test_stagger(void)
{
	struct eyeballs e;
	int64_t now = 1000, starts[6];
	int wait = -1;

	eyeballs_init(&e, 6, 250, now, now + 3000);
	for (size_t i = 0; i < 6; i++) {
		enum eyeballs_step st = eyeballs_step(&e, now, &wait);
		CHECK_INT(st, EYEBALLS_START);
		CHECK_INT(e.next, i);
		starts[i] = now;
		eyeballs_started(&e, now);
		if (i < 5) {
			CHECK_INT(eyeballs_step(&e, now, &wait), EYEBALLS_WAIT);
			CHECK_INT(wait, 250);
			now += 100;	/* nothing happened in between */
			CHECK_INT(eyeballs_step(&e, now, &wait), EYEBALLS_WAIT);
			CHECK_INT(wait, 150);
			now += 150;
		}
	}
	for (size_t i = 0; i < 6; i++)
		CHECK_INT(starts[i], 1000 + 250 * (int64_t)i);
	/* All started: the wait runs to the deadline. */
	CHECK_INT(eyeballs_step(&e, now, &wait), EYEBALLS_WAIT);
	CHECK_INT(wait, 4000 - now);
	CHECK_INT(eyeballs_step(&e, 4000, &wait), EYEBALLS_TIMEOUT);
}

static void test_failure_starts_next(void)
{
	struct eyeballs e;
	int wait = -1;

	eyeballs_init(&e, 3, 250, 0, 10000);
	CHECK_INT(eyeballs_step(&e, 0, &wait), EYEBALLS_START);
	eyeballs_started(&e, 0);
	/* Refused after 10 ms: the second starts at once, not at 250. */
	eyeballs_failed(&e, 10);
	CHECK_INT(eyeballs_step(&e, 10, &wait), EYEBALLS_START);
	eyeballs_started(&e, 10);
	CHECK_INT(eyeballs_step(&e, 11, &wait), EYEBALLS_WAIT);
	CHECK_INT(wait, 249);
	/* The rules refuse the third: passed over, nothing left to start. */
	CHECK_INT(eyeballs_step(&e, 260, &wait), EYEBALLS_START);
	eyeballs_skipped(&e, 260);
	CHECK_INT(e.next, 3);
	CHECK_INT(eyeballs_step(&e, 260, &wait), EYEBALLS_WAIT);
	CHECK_INT(wait, 10000 - 260);
	eyeballs_failed(&e, 300);
	CHECK_INT(eyeballs_step(&e, 300, &wait), EYEBALLS_EXHAUSTED);
	/* An older attempt failing while a newer one runs still starts the next. */
	eyeballs_init(&e, 3, 250, 0, 10000);
	eyeballs_started(&e, 0);
	eyeballs_started(&e, 250);
	CHECK_INT(eyeballs_step(&e, 300, &wait), EYEBALLS_WAIT);
	CHECK_INT(wait, 200);
	eyeballs_failed(&e, 300);
	CHECK_INT(eyeballs_step(&e, 300, &wait), EYEBALLS_START);
	/* No addresses at all. */
	eyeballs_init(&e, 0, 250, 0, 10000);
	CHECK_INT(eyeballs_step(&e, 0, &wait), EYEBALLS_EXHAUSTED);
}

/* A random sequence of starts, failures and clock steps against a model:
 * no start before its time unless nothing runs or one failed since, never
 * a start past the deadline, the wait never beyond the next event. */
static void test_random_schedule(void)
{
	unsigned seed = unit_seed();

	for (int round = 0; round < 2000; round++) {
		struct eyeballs e;
		size_t n = unit_below(&seed, 8), running = 0;
		unsigned stagger = 1 + unit_below(&seed, 400);
		int64_t now = unit_below(&seed, 100000), deadline = now + 1 + unit_below(&seed, 4000);
		int64_t last_start = -1;
		bool failed_since = false;
		int wait;

		eyeballs_init(&e, n, stagger, now, deadline);
		for (int steps = 0; steps < 64; steps++) {
			enum eyeballs_step st = eyeballs_step(&e, now, &wait);
			if (st == EYEBALLS_TIMEOUT) {
				CHECK(now >= deadline, "timeout at %lld before %lld", (long long)now,
				      (long long)deadline);
				break;
			}
			CHECK(now < deadline, "no timeout at %lld", (long long)now);
			if (st == EYEBALLS_EXHAUSTED) {
				CHECK(e.next == n && running == 0, "exhausted too early");
				break;
			}
			if (st == EYEBALLS_START) {
				CHECK(running == 0 || failed_since || last_start < 0 ||
				      now >= last_start + stagger, "started early");
				if (unit_below(&seed, 5) == 0) {
					eyeballs_skipped(&e, now);
					failed_since = true;
				} else {
					eyeballs_started(&e, now);
					running++;
					last_start = now;
					failed_since = false;
				}
				continue;
			}
			CHECK(wait > 0 && now + wait <= deadline, "wait %d at %lld", wait,
			      (long long)now);
			if (running > 0 && unit_below(&seed, 3) == 0) {
				eyeballs_failed(&e, now);
				running--;
				failed_since = true;
			} else {
				now += 1 + unit_below(&seed, (unsigned)wait);
			}
		}
	}
}

static void test_telling(void)
{
	CHECK_INT(eyeballs_telling(0, ETIMEDOUT), ETIMEDOUT);
	CHECK_INT(eyeballs_telling(ETIMEDOUT, EHOSTUNREACH), EHOSTUNREACH);
	CHECK_INT(eyeballs_telling(EHOSTUNREACH, ETIMEDOUT), EHOSTUNREACH);
	CHECK_INT(eyeballs_telling(ENETUNREACH, ECONNREFUSED), ECONNREFUSED);
	CHECK_INT(eyeballs_telling(ECONNREFUSED, ENETUNREACH), ECONNREFUSED);
	CHECK_INT(eyeballs_telling(ECONNREFUSED, ETIMEDOUT), ECONNREFUSED);
	CHECK_INT(eyeballs_telling(EMFILE, ETIMEDOUT), EMFILE);
	CHECK_INT(eyeballs_telling(EMFILE, ENETUNREACH), ENETUNREACH);
	CHECK_INT(eyeballs_telling(EHOSTUNREACH, ENETUNREACH), EHOSTUNREACH);	/* first kept */
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "families alternate, preferred first", test_order },
		{ "attempts start one stagger apart", test_stagger },
		{ "a failure starts the next at once", test_failure_starts_next },
		{ "random schedule against a model", test_random_schedule },
		{ "the most telling failure", test_telling },
	};
	return UNIT_RUN("eyeballs", tests);
}
