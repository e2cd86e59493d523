/* Shared CUnit runner for the unit tests: each test program lists its tests
 * in a table and hands it to unit_run(). Exit status: 0 all passed, 1 some
 * assertion failed, 2 CUnit itself failed. */
#ifndef SOCKSGATE_TESTS_UNIT_H
#define SOCKSGATE_TESTS_UNIT_H

#include <CUnit/Basic.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* An assertion with a formatted message, printed only when it fails. */
static inline void unit_check_at(bool ok, unsigned line, const char *file, const char *func,
				 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline void unit_check_at(bool ok, unsigned line, const char *file, const char *func,
				 const char *fmt, ...)
{
	char msg[768] = "";

	if (!ok) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, file, func, CU_FALSE);
}
#define CHECK(ok, ...) unit_check_at((ok), __LINE__, __FILE__, __func__, __VA_ARGS__)
#define CHECK_INT(got, want)                                                                    \
	do {                                                                                    \
		long long got_ = (long long)(got), want_ = (long long)(want);                   \
		CHECK(got_ == want_, "%s is %lld, expected %lld", #got, got_, want_);           \
	} while (0)
#define CHECK_STR(got, want)                                                                    \
	do {                                                                                    \
		const char *got_ = (got), *want_ = (want);                                      \
		CHECK(got_ != NULL && strcmp(got_, want_) == 0, "%s is \"%s\", expected \"%s\"", \
		      #got, got_ != NULL ? got_ : "(null)", want_);                             \
	} while (0)

/* A heap copy of exactly len bytes, so a sanitizer sees any read past the end
 * of what a parser was given. */
static inline uint8_t *unit_dup_exact(const void *buf, size_t len)
{
	uint8_t *p = malloc(len > 0 ? len : 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	if (len > 0)
		memcpy(p, buf, len);
	return p;
}

/* True when all n bytes at p are v (nothing was written over a fill). */
static inline bool unit_all_bytes(const void *p, uint8_t v, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

struct unit_test {
	const char *name;
	CU_TestFunc fn;
};

#define UNIT_RUN(suite, tests) unit_run((suite), (tests), sizeof(tests) / sizeof((tests)[0]))

static inline int unit_run(const char *name, const struct unit_test *tests, size_t n)
{
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite suite = CU_add_suite(name, NULL, NULL);
	if (suite == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures > 0 ? 1 : 0;
fail:
	fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
	CU_cleanup_registry();
	return 2;
}

/* ---- seeded random-operation tests (as chrony's test/unit does) ---- */

/* The seed of a random-operation test: $UNIT_SEED when set, else from the
 * clock and pid. Printed, so that a failing run repeats with UNIT_SEED=N. */
static inline unsigned unit_seed(void)
{
	const char *env = getenv("UNIT_SEED");
	unsigned seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);

	if (env != NULL && *env != '\0')
		seed = (unsigned)strtoul(env, NULL, 0);
	printf("random seed %u (repeat with UNIT_SEED=%u)\n", seed, seed);
	fflush(stdout);
	return seed;
}

/* A number below n (n > 0) from the sequence of *state. */
static inline unsigned unit_below(unsigned *state, unsigned n)
{
	return (unsigned)rand_r(state) % n;
}

/* Client number id (< 2^24) as a socket address in *ss: an even id is the
 * IPv4 address 10.x.y.z, written as IPv4-mapped IPv6 (::ffff:10.x.y.z) when
 * mapped is set; an odd id is the IPv6 address 2001:db8::x:y. Address-keyed
 * tables must see one client either way, whatever the port. */
static inline const struct sockaddr *unit_client(struct sockaddr_storage *ss, unsigned id,
						 bool mapped, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (id % 2 == 0 && !mapped) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(0x0a000000u | (id / 2));
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		uint8_t *a = s6->sin6_addr.s6_addr;
		uint32_t low = htonl(id % 2 == 0 ? 0x0a000000u | (id / 2) : id);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		static const uint8_t mapped_prefix[4] = { 0, 0, 0xff, 0xff };
		static const uint8_t doc_prefix[4] = { 0x20, 0x01, 0x0d, 0xb8 };
		memcpy(id % 2 == 0 ? a + 8 : a, id % 2 == 0 ? mapped_prefix : doc_prefix, 4);
		memcpy(a + 12, &low, 4);
	}
	return (const struct sockaddr *)ss;
}

#endif
