/* libFuzzer target for the control protocol's request parser, what any local
 * user allowed on the control socket can send. Besides "no crash", it checks
 * what ctlproto.h promises: answers other than "need more" are final at every
 * prefix and come within CTLPROTO_LINE_MAX bytes, *ret is written only on OK,
 * the consumed length is the line's, a failure says why, and an accepted
 * request formats to a line that parses back to the same request.
 *
 * Build (BUILDDIR is a configured build tree, for autoconf.h):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *     -I src -I BUILDDIR fuzz/fuzz_ctlproto.c src/ctlproto.c src/addr.c -o fuzz_ctlproto
 * Run: ./fuzz_ctlproto -max_total_time=30 -max_len=1100 fuzz/corpus-ctlproto */
#include "autoconf.h"

#include "fuzz.h"

#include "ctlproto.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Parses an exact heap copy of buf[0..len), so ASan sees a read past the end. */
static enum ctlproto_status parse(const uint8_t *buf, size_t len, struct ctlproto_request *r,
				  size_t *used)
{
	uint8_t *copy = malloc(len ? len : 1);
	char why[160];

	CHECK(copy != NULL);
	if (len > 0)
		memcpy(copy, buf, len);
	memset(r, 0xa5, sizeof(*r));
	memset(used, 0xa5, sizeof(*used));
	enum ctlproto_status st = ctlproto_parse_request(copy, len, r, used, why, sizeof(why));
	free(copy);
	CHECK(st >= CTLPROTO_OK && st <= CTLPROTO_BAD_ARGUMENT);
	CHECK(strcmp(ctlproto_status_code(st), "unknown") != 0);
	if (st != CTLPROTO_OK)
		CHECK(fuzz_all_bytes(r, 0xa5, sizeof(*r)) && fuzz_all_bytes(used, 0xa5, sizeof(*used)));
	if (st != CTLPROTO_OK && st != CTLPROTO_NEED_MORE)
		CHECK(why[0] != '\0' && strlen(why) < sizeof(why));
	return st;
}

static bool same(const struct ctlproto_request *a, const struct ctlproto_request *b)
{
	return a->cmd == b->cmd && a->has_id == b->has_id && a->has_user == b->has_user &&
	       a->has_client == b->has_client && a->all == b->all &&
	       (!a->has_id || a->id == b->id) && (!a->has_user || strcmp(a->user, b->user) == 0) &&
	       (!a->has_client || memcmp(&a->client, &b->client, sizeof(a->client)) == 0);
}

/* What an OK request promises about itself. */
static void check_request(const struct ctlproto_request *r, const uint8_t *buf, size_t used)
{
	char line[CTLPROTO_LINE_MAX + 1];
	struct ctlproto_request back;
	size_t len, back_used;

	CHECK(used > 0 && used <= CTLPROTO_LINE_MAX && buf[used - 1] == '\n');
	CHECK(memchr(buf, '\n', used - 1) == NULL);
	CHECK(strcmp(ctlproto_cmd_name(r->cmd), "unknown") != 0);
	if (r->has_user)
		CHECK(ctlproto_user_valid(r->user));
	if (r->has_id)
		CHECK(r->id > 0);
	if (r->cmd == CTLPROTO_CMD_KILL)
		CHECK(r->has_id || r->has_user || r->has_client);
	if (r->cmd == CTLPROTO_CMD_UNBLOCK)
		CHECK(r->has_client != r->all && !(r->has_client && r->client.has_port));
	CHECK(ctlproto_format_request(r, line, sizeof(line), &len) == CTLPROTO_OK);
	CHECK(len == strlen(line) && len <= CTLPROTO_LINE_MAX);
	CHECK(parse((const uint8_t *)line, len, &back, &back_used) == CTLPROTO_OK);
	CHECK(back_used == len && same(r, &back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctlproto_request whole, part;
	size_t used, part_used;
	enum ctlproto_status st = parse(data, size, &whole, &used);

	if (st == CTLPROTO_OK)
		check_request(&whole, data, used);
	if (size >= CTLPROTO_LINE_MAX)
		CHECK(st != CTLPROTO_NEED_MORE);
	size_t last = size < CTLPROTO_LINE_MAX ? size : CTLPROTO_LINE_MAX;
	bool decided = false;
	for (size_t k = 0; k <= last; k++) {
		enum ctlproto_status sk = parse(data, k, &part, &part_used);
		if (sk == CTLPROTO_NEED_MORE) {
			CHECK(!decided);
			continue;
		}
		decided = true;
		CHECK(sk == st);
		if (sk == CTLPROTO_OK)
			CHECK(part_used == used && same(&part, &whole));
	}
	CHECK(decided || st == CTLPROTO_NEED_MORE);
	return 0;
}
