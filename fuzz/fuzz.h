/* Shared by the libFuzzer targets: a check that aborts (libFuzzer reports
 * it with the input that broke it) and small helpers for the properties the
 * targets assert. Header-only, so each target stays one .c file. */
#ifndef SOCKSGATE_FUZZ_H
#define SOCKSGATE_FUZZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
			abort();                                                      \
		}                                                                     \
	} while (0)

/* The byte every out-parameter is filled with before a call, so a target can
 * tell that a parser left it untouched. */
#define FUZZ_POISON 0xa5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when all n bytes at p are v. */
static inline bool fuzz_all_bytes(const void *p, uint8_t v, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* A heap copy of exactly len bytes (ASan then sees a read one past the end);
 * free() it. Never NULL. */
static inline uint8_t *fuzz_dup(const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	CHECK(copy != NULL);
	if (len > 0)
		memcpy(copy, data, len);
	return copy;
}

/* The input as a C string: a heap copy with a NUL after it (the text
 * parsers then stop at the input's first NUL, as they would in a line). */
static inline char *fuzz_text(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1);
	CHECK(text != NULL);
	if (len > 0)
		memcpy(text, data, len);
	text[len] = '\0';
	return text;
}

#endif
