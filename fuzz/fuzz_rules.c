/* libFuzzer target for the access-rule text parser (src/rule_syntax.c) and
 * the decisions over what it parsed: the input is up to RULES_MAX lines, one
 * rule each, as the config file holds them. Besides "no crash": a failure
 * says why and leaves *ret alone; parse -> format -> parse gives the same
 * rule (and the same text), a cut format is a prefix of the whole; networks
 * round-trip through addr_net_format(); and over queries made of the rules'
 * own values, the early answers agree with the full check: a name that
 * rules_refuse_name() refuses is refused by the same rule at every address,
 * a command rules_refuse_command() refuses at every address and port, and
 * every verdict is its rule's action (or the built-in default's).
 * Run: fuzz/run.sh, or fuzz_rules -max_len=4096 WORKDIR fuzz/corpus-rules */
#include "autoconf.h"

#include "fuzz.h"
#include "fuzz_rule_eq.h"

#include "addr.h"
#include "rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#define RULES_MAX 8
#define CAND_MAX 6

/* Parses one line; on success checks the round trip through the formatter. */
static bool parse_one(const char *text, unsigned line, struct rule *r)
{
	char err[256], buf[8192], again_buf[sizeof(buf)], small[24];
	struct rule again;

	memset(r, FUZZ_POISON, sizeof(*r));
	memset(err, 0, sizeof(err));
	int res = rule_parse(text, "fuzz.conf", line, r, err, sizeof(err));
	CHECK(res == 0 || res == -EINVAL || res == -ENOMEM);
	if (res < 0) {
		CHECK(fuzz_all_bytes(r, FUZZ_POISON, sizeof(*r)));
		CHECK(res == -ENOMEM || (err[0] != '\0' && strlen(err) < sizeof(err)));
		return false;
	}
	CHECK(r->line == line && strcmp(r->file, "fuzz.conf") == 0);
	rule_format(r, buf, sizeof(buf));
	CHECK(strlen(buf) < sizeof(buf) - 1);	/* a line of the file formats within 8 KiB */
	rule_format(r, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small) && strncmp(small, buf, strlen(small)) == 0);
	res = rule_parse(buf, "fuzz.conf", line, &again, err, sizeof(err));
	if (res != 0)
		fprintf(stderr, "'%s' formats as '%s', which does not parse: %s\n", text, buf, err);
	CHECK(res == 0);
	CHECK(fuzz_same_rule(r, &again) && again.line == line);
	rule_format(&again, again_buf, sizeof(again_buf));
	CHECK(strcmp(buf, again_buf) == 0);
	rule_free(&again);
	return true;
}

/* Each whitespace- or comma-separated word that is a network reads back the
 * same from its canonical text. */
static void check_nets(const char *text)
{
	char *copy = strdup(text), *save = NULL, buf[64];
	struct addr_net n, again;

	CHECK(copy != NULL);
	for (char *w = strtok_r(copy, " \t\r,", &save); w != NULL; w = strtok_r(NULL, " \t\r,", &save)) {
		memset(&n, FUZZ_POISON, sizeof(n));
		if (addr_net_parse(w, &n) < 0) {
			CHECK(fuzz_all_bytes(&n, FUZZ_POISON, sizeof(n)));
			continue;
		}
		CHECK(n.family == AF_INET || n.family == AF_INET6);
		CHECK(n.prefix <= (n.family == AF_INET ? 32u : 128u));
		addr_net_format(&n, buf, sizeof(buf));
		CHECK(strlen(buf) < sizeof(buf) - 1);
		CHECK(addr_net_parse(buf, &again) == 0 && addr_net_equal(&n, &again) &&
		      n.prefix == again.prefix);
	}
	free(copy);
}

/* Query values taken from the rules themselves, so that queries match. */
struct cand {
	struct sockaddr_in6 dest[CAND_MAX + 3];
	size_t ndest;
	const char *user[3], *name[CAND_MAX + 1];
	size_t nuser, nname;
	uint16_t port[CAND_MAX + 2];
	size_t nport;
};

static void add_dest(struct cand *c, const struct addr_net *n, bool last)
{
	struct sockaddr_in6 *d = &c->dest[c->ndest++];
	memset(d, 0, sizeof(*d));
	d->sin6_family = AF_INET6;
	if (n->family == AF_INET) {
		d->sin6_addr.s6_addr[10] = d->sin6_addr.s6_addr[11] = 0xff;	/* mapped */
		memcpy(&d->sin6_addr.s6_addr[12], n->addr, 4);
		if (last && n->prefix < 32)
			d->sin6_addr.s6_addr[15] |= 1;
	} else {
		memcpy(&d->sin6_addr, n->addr, 16);
		if (last && n->prefix < 128)
			d->sin6_addr.s6_addr[15] |= 1;
	}
}

static void collect(const struct rule *rules, size_t n, struct cand *c)
{
	static struct addr_net fixed[2];
	memset(c, 0, sizeof(*c));
	(void)addr_net_parse("127.0.0.1", &fixed[0]);
	(void)addr_net_parse("2001:db8::1", &fixed[1]);
	add_dest(c, &fixed[0], false);
	add_dest(c, &fixed[1], false);
	c->user[c->nuser++] = NULL;
	c->user[c->nuser++] = "alice";
	c->name[c->nname++] = NULL;
	c->port[c->nport++] = 443;
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &rules[i];
		for (size_t j = 0; j < r->nto_nets && c->ndest < CAND_MAX; j++)
			add_dest(c, &r->to_nets[j], j % 2 == 1);
		if (r->nfrom > 0 && c->ndest < CAND_MAX)
			add_dest(c, &r->from[0], false);
		if (r->nusers > 0 && c->nuser < 3)
			c->user[c->nuser++] = r->users[0];
		for (size_t j = 0; j < r->nto_hosts && c->nname < CAND_MAX; j++)
			c->name[c->nname++] = r->to_hosts[j].name;
		for (size_t j = 0; j < r->nports && c->nport < CAND_MAX; j++)
			c->port[c->nport++] = r->ports[j].hi;
	}
}

static bool groups_by_initial(const char *user, const char *group, void *ctx)
{
	(void)ctx;
	CHECK(user != NULL && group != NULL);
	return user[0] == group[0];
}

static void check_verdict(const struct rule *rules, size_t n, const struct rules_verdict *v,
			  const struct sockaddr *dest)
{
	if (v->rule != NULL) {
		CHECK(v->rule >= rules && v->rule < rules + n && !rule_is_client_rule(v->rule));
		CHECK(v->allow == (v->rule->action == RULE_ALLOW) && v->why == NULL);
	} else {
		const char *prot = rules_protected(dest, NULL, 0);
		CHECK(v->allow == (prot == NULL) && v->why == prot);
	}
}

/* Every address (and, for a refused command, every port) gets the early
 * answer's verdict from rules_check(). */
static void check_queries(const struct rule *rules, size_t n, const struct cand *c,
			  struct rules_query *q)
{
	struct rules_verdict early, v;

	bool by_name = q->name != NULL && rules_refuse_name(rules, n, q, &early);
	if (by_name)
		CHECK(!early.allow && early.rule != NULL && early.rule->action == RULE_DENY);
	bool by_cmd = q->cmd != RULE_CMD_CONNECT && rules_refuse_command(rules, n, q, &early);
	if (by_cmd)
		CHECK(!early.allow && early.rule != NULL && early.rule->action == RULE_DENY);
	uint16_t port = q->port;
	for (size_t p = 0; p < (by_cmd ? c->nport : 1); p++) {
		q->port = by_cmd ? c->port[p] : port;
		for (size_t d = 0; d < c->ndest; d++) {
			q->dest = (const struct sockaddr *)&c->dest[d];
			rules_check(rules, n, q, &v);
			check_verdict(rules, n, &v, q->dest);
			if (by_name || by_cmd)
				CHECK(!v.allow && v.rule == early.rule);
		}
	}
	q->port = port;
	q->dest = NULL;
}

static void check_decisions(const struct rule *rules, size_t n)
{
	struct cand c;
	struct sockaddr_in cli = { .sin_family = AF_INET };
	struct rules_verdict v;

	collect(rules, n, &c);
	for (size_t d = 0; d < c.ndest; d++) {
		rules_check_client(rules, n, (const struct sockaddr *)&c.dest[d], &v);
		if (v.rule == NULL)
			CHECK(v.allow);
		else
			CHECK(rule_is_client_rule(v.rule) && v.allow == (v.rule->action == RULE_ALLOW));
	}
	cli.sin_addr.s_addr = htonl(0x0a000001);
	for (size_t u = 0; u < c.nuser; u++)
		for (size_t k = 0; k < c.nname; k++)
			for (unsigned cmd = RULE_CMD_CONNECT; cmd <= RULE_CMD_UDP; cmd <<= 1)
				for (size_t p = 0; p < c.nport && p < 3; p++) {
					struct rules_query q = {
						.client = (k + p) % 2 ? (const struct sockaddr *)&cli
							: (const struct sockaddr *)&c.dest[(u + k) % c.ndest],
						.user = c.user[u],
						.cmd = cmd,
						.name = c.name[k],
						.port = c.port[p],
						.group_member = groups_by_initial,
					};
					check_queries(rules, n, &c, &q);
				}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *save = NULL;
	struct rule rules[RULES_MAX];
	size_t n = 0;
	unsigned line = 0;

	for (char *s = strtok_r(text, "\n", &save); s != NULL && line < RULES_MAX;
	     s = strtok_r(NULL, "\n", &save)) {
		line++;
		check_nets(s);
		if (parse_one(s, line, &rules[n]))
			n++;
	}
	check_decisions(rules, n);
	for (size_t i = 0; i < n; i++)
		rule_free(&rules[i]);
	free(text);
	return 0;
}
