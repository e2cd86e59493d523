/* The daemon's command line: options into config overrides, -t, -V, -h.
 * Main thread only. */
#ifndef SOCKSGATE_CMDLINE_H
#define SOCKSGATE_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define OVERRIDES_MAX 64

/* What the command line asked for. */
struct args {
	struct config_override ov[OVERRIDES_MAX];
	size_t nov;
	const char *path;
	bool check_only;
};

/* Parses argv into *a (zero-initialised by the caller). Returns -1 to exit 0
 * (help or version printed), 1 to exit 1 (the error printed), or 0 to go on. */
int cmdline_parse(int argc, char **argv, struct args *a);

/* The --help text. */
void cmdline_usage(FILE *out);

#endif
