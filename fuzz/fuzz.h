/* Shared by the libFuzzer targets: a check that aborts (libFuzzer reports
 * it with the input that broke it). */
#ifndef SOCKSGATE_FUZZ_H
#define SOCKSGATE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
			abort();                                                      \
		}                                                                     \
	} while (0)

#endif
