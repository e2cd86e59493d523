/* Shared CUnit runner for the unit tests: each test program lists its tests
 * in a table and hands it to unit_run(). Exit status: 0 all passed, 1 some
 * assertion failed, 2 CUnit itself failed. */
#ifndef SOCKSGATE_TESTS_UNIT_H
#define SOCKSGATE_TESTS_UNIT_H

#include <CUnit/Basic.h>
#include <stddef.h>
#include <stdio.h>

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
