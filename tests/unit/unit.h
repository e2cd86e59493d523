/* Shared CUnit runner for the unit tests: each test program lists its tests
 * in a table and hands it to unit_run(). Exit status: 0 all passed, 1 some
 * assertion failed, 2 CUnit itself failed. */
#ifndef SOCKSGATE_TESTS_UNIT_H
#define SOCKSGATE_TESTS_UNIT_H

#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

#endif
