/* libFuzzer target for the config file parser, fed from memory through
 * config_load_stream() (fmemopen), so it does no I/O beyond that stream. The
 * input is the file; after a line "--", the rest are command-line overrides,
 * one KEY=VALUE a line. Besides "no crash": the result is 0 exactly when
 * nothing was reported, *ret is written only then; every report names the
 * file (at one of its lines, or 0) or the command line; and a loaded config
 * dumps (-t) to text that loads back to a config that dumps the same, with
 * the same rules, as config_dump() promises.
 * Run: fuzz/run.sh, or fuzz_config -max_len=4096 WORKDIR fuzz/corpus-config */
#include "autoconf.h"

#include "fuzz.h"
#include "fuzz_rule_eq.h"

#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define OVERRIDES_MAX 8
#define NAME "fuzz.conf"

struct reports {
	unsigned n, lines;
	bool echo;	/* print them (the dump's reload, which must not fail) */
};

static void on_report(const char *file, unsigned line, const char *msg, void *ctx)
{
	struct reports *r = ctx;

	CHECK(file != NULL && msg != NULL && msg[0] != '\0');
	CHECK(strcmp(file, NAME) == 0 || (strcmp(file, "command line") == 0 && line == 0));
	CHECK(line <= r->lines);
	if (r->echo)
		fprintf(stderr, "%s:%u: %s\n", file, line, msg);
	r->n++;
}

/* Loads buf[0..len) as the file; returns config_load_stream()'s result. */
static int load(const char *buf, size_t len, const struct config_override *ov, size_t nov,
		struct reports *rep, struct config **ret)
{
	static char empty[1];
	FILE *f = fmemopen(len > 0 ? (void *)buf : empty, len > 0 ? len : 1, "r");

	CHECK(f != NULL);
	if (len == 0)
		CHECK(fgetc(f) != EOF);	/* skip the placeholder byte: an empty file */
	rep->lines = 1;
	for (size_t i = 0; i < len; i++)
		rep->lines += buf[i] == '\n';
	*ret = (struct config *)(uintptr_t)0xa5a5a5a5;
	int r = config_load_stream(f, NAME, ov, nov, on_report, rep, ret);
	fclose(f);
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	CHECK((r == 0) == (rep->n == 0) || r == -ENOMEM);
	if (r != 0)
		CHECK(*ret == (struct config *)(uintptr_t)0xa5a5a5a5);
	else
		CHECK(*ret != NULL);
	return r;
}

/* config_dump() into a heap string, with each rule's "\t# FILE:LINE" tail
 * cut (a reload places the rules on other lines). */
static char *dump(const struct config *c, size_t *ret_len)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CHECK(f != NULL);
	config_dump(c, f);
	CHECK(fclose(f) == 0);
	char *w = text;
	for (char *p = text; *p != '\0';) {
		char *nl = strchr(p, '\n'), *end = nl != NULL ? nl : p + strlen(p);
		char *tab = memchr(p, '\t', (size_t)(end - p));
		size_t keep = (size_t)((tab != NULL && tab[1] == '#' && p[0] != '#' ? tab : end) - p);
		memmove(w, p, keep);
		w += keep;
		if (nl != NULL)
			*w++ = '\n';
		p = nl != NULL ? nl + 1 : end;
	}
	*w = '\0';
	*ret_len = (size_t)(w - text);
	return text;
}

static void check_round_trip(const struct config *c)
{
	struct reports rep = { 0, 0, true };
	struct config *again;
	size_t len, len2;
	char *text = dump(c, &len);

	/* A full dump, uncut: it is the -t output, which loads back. */
	char *full = NULL;
	size_t full_len = 0;
	FILE *f = open_memstream(&full, &full_len);
	CHECK(f != NULL);
	config_dump(c, f);
	CHECK(fclose(f) == 0);
	if (load(full, full_len, NULL, 0, &rep, &again) != 0) {
		fprintf(stderr, "the dump does not load back:\n%s", full);
		CHECK(0);
	}
	char *text2 = dump(again, &len2);
	if (strcmp(text, text2) != 0)
		fprintf(stderr, "dump:\n%s\nits reload dumps:\n%s", text, text2);
	CHECK(strcmp(text, text2) == 0);
	CHECK(again->nrules == c->nrules);
	for (size_t i = 0; i < c->nrules; i++)
		CHECK(fuzz_same_rule(&again->rules[i], &c->rules[i]));
	config_unref(again);
	free(text2);
	free(full);
	free(text);
}

/* A duration that parses is stated exactly in ms, which parses back; a
 * failure leaves *ret_ms alone. */
static void check_duration(const char *s)
{
	unsigned ms = 0xa5a5a5a5, back;
	char buf[32];

	int r = config_parse_duration(s, &ms);
	CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r < 0) {
		CHECK(ms == 0xa5a5a5a5);
		return;
	}
	snprintf(buf, sizeof(buf), "%ums", ms);
	CHECK(config_parse_duration(buf, &back) == 0 && back == ms);
}

/* Splits "KEY=VALUE" lines at text (NUL-terminated, modified) into ov. */
static size_t split_overrides(char *text, struct config_override *ov)
{
	size_t n = 0;
	char *save = NULL;

	for (char *s = strtok_r(text, "\n", &save); s != NULL && n < OVERRIDES_MAX;
	     s = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(s, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		ov[n++] = (struct config_override){ s, eq + 1 };
		check_duration(eq + 1);
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	struct config_override ov[OVERRIDES_MAX];
	struct reports rep = { 0, 0, false };
	struct config *c;
	size_t flen = size, nov = 0;

	char *sep = strstr(text, "\n--\n");
	if (sep != NULL && (size_t)(sep - text) < size) {
		flen = (size_t)(sep - text) + 1;
		nov = split_overrides(sep + 4, ov);
	}
	if (load((const char *)data, flen, ov, nov, &rep, &c) == 0) {
		check_round_trip(c);
		config_unref(c);
	}
	free(text);
	return 0;
}
