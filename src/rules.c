/* The rules matcher: decides a request, a name before resolution, a command
 * before its destinations are known, and a client at accept time, from the
 * parsed rules (rule_syntax.c reads and writes their text) and the built-in
 * default that protects loopback, link-local and the gateway's own addresses,
 * also inside the IPv6 forms that carry an IPv4 address (NAT64, 6to4, ...).
 * Names and addresses are matched separately (see rules_check()) so a name can
 * never open an address the operator did not name. */
#include "autoconf.h"

#include "rules.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The built-in default refuses these when no rule names them. */
static const struct {
	struct addr_net net;
	const char *why;
} protected_ranges[] = {
	{ { AF_INET, 8, { 127 } }, "loopback destination" },
	{ { AF_INET6, 128, { [15] = 1 } }, "loopback destination" },
	{ { AF_INET, 16, { 169, 254 } }, "link-local destination" },
	{ { AF_INET6, 10, { 0xfe, 0x80 } }, "link-local destination" },
	{ { AF_INET, 4, { 224 } }, "multicast destination" },
	{ { AF_INET6, 8, { 0xff } }, "multicast destination" },
	{ { AF_INET, 8, { 0 } }, "unspecified destination" },
	{ { AF_INET6, 128, { 0 } }, "unspecified destination" },
	{ { AF_INET, 32, { 255, 255, 255, 255 } }, "broadcast destination" },
};
#define NPROTECTED (sizeof(protected_ranges) / sizeof(protected_ranges[0]))
#define SELF_WHY "the gateway's own address"

/* ---- matching ---- */

/* Is the plain address a in a protected range? Returns the range (the
 * gateway's own address: its entry in self) with its why, or NULL. */
static const struct addr_net *plain_protected(const struct addr_net *a, const struct addr_net *self,
					      size_t nself, const char **ret_why)
{
	for (size_t i = 0; i < NPROTECTED; i++) {
		if (addr_net_within(a, &protected_ranges[i].net)) {
			*ret_why = protected_ranges[i].why;
			return &protected_ranges[i].net;
		}
	}
	for (size_t i = 0; i < nself; i++) {
		if (addr_net_within(a, &self[i])) {
			*ret_why = SELF_WHY;
			return &self[i];
		}
	}
	return NULL;
}

/* What the built-in default says of one destination: protected or not, and
 * for an IPv6 form that carries a protected IPv4 address, which form. */
struct protection {
	const char *why;		/* NULL: not protected */
	const char *form;		/* set when an embedded IPv4 address is why */
	struct addr_embedded emb[ADDR_EMBEDDED_MAX];
	size_t nemb;
};

/* The protected range that the IPv4 address of reading e lies in, or NULL.
 * 0.0.0.0/8 does not count for a reading of 64:ff9b:1::/48: some reading of
 * every address there is zero padding. */
static const struct addr_net *embedded_protected(const struct addr_embedded *e,
						 const struct addr_net *self, size_t nself,
						 const char **ret_why)
{
	struct addr v4;
	struct addr_net a;
	const char *why;

	addr_embedded_sockaddr(e, 0, &v4);
	if (!addr_net_from_sockaddr((const struct sockaddr *)&v4.ss, &a))
		return NULL;
	const struct addr_net *r = plain_protected(&a, self, nself, &why);
	if (r == NULL || (e->one_of_several && r->family == AF_INET && r->prefix == 8 &&
			  r->addr[0] == 0))
		return NULL;
	*ret_why = why;
	return r;
}

static void protection_of(const struct sockaddr *sa, const struct addr_net *self, size_t nself,
			  struct protection *ret)
{
	struct addr_net a;
	const char *why;

	memset(ret, 0, sizeof(*ret));
	if (!addr_net_from_sockaddr(sa, &a))
		return;
	if (plain_protected(&a, self, nself, &ret->why) != NULL)
		return;
	/* NAT64, 6to4, Teredo...: on a network that routes the form, the IPv4
	 * address inside is where the connection ends up. */
	ret->nemb = addr_embedded_ipv4(sa, ret->emb, ADDR_EMBEDDED_MAX);
	for (size_t i = 0; i < ret->nemb && ret->why == NULL; i++) {
		if (embedded_protected(&ret->emb[i], self, nself, &why) != NULL) {
			ret->why = why;
			ret->form = ret->emb[i].form;
		}
	}
}

const char *rules_protected(const struct sockaddr *sa, const struct addr_net *self, size_t nself)
{
	struct protection p;

	protection_of(sa, self, nself, &p);
	return p.why;
}

const struct addr_net *rules_default_range(size_t i, const char **ret_why)
{
	if (i >= NPROTECTED)
		return NULL;
	*ret_why = protected_ranges[i].why;
	return &protected_ranges[i].net;
}

/* Does an IPv6 "to" network n (which contains the destination) open every
 * protected IPv4 address the destination embeds? Only when n is long enough
 * to fix that address inside a protected range in each reading: "to
 * 64:ff9b::7f00:0/104" opens NAT64 loopback, "to 64:ff9b::/96" does not. */
static bool opens_embedded(const struct addr_net *n, const struct protection *p,
			   const struct addr_net *self, size_t nself)
{
	const char *why;

	for (size_t i = 0; i < p->nemb; i++) {
		const struct addr_net *r = embedded_protected(&p->emb[i], self, nself, &why);
		if (r != NULL && n->prefix < addr_embedded_bits(&p->emb[i], r->prefix))
			return false;
	}
	return true;
}

/* Does the rule's "to" network n open the protected address a? Only when n lies
 * inside a protected range that contains a: "to 127.0.0.0/8" opens loopback,
 * "to 0.0.0.0/0" does not. */
static bool opens_protected(const struct addr_net *n, const struct addr_net *a,
			    const struct protection *p, const struct addr_net *self, size_t nself)
{
	if (p->form != NULL)
		return opens_embedded(n, p, self, nself);
	for (size_t i = 0; i < NPROTECTED; i++) {
		const struct addr_net *r = &protected_ranges[i].net;
		if (addr_net_within(a, r) && addr_net_within(n, r))
			return true;
	}
	for (size_t i = 0; i < nself; i++)
		if (addr_net_within(a, &self[i]) && addr_net_within(n, &self[i]))
			return true;
	return false;
}

static bool host_matches(const struct rule_host *h, const char *name)
{
	size_t hl = strlen(h->name), nl = strlen(name);

	if (nl > 0 && name[nl - 1] == '.')
		nl--;
	if (nl == hl && strncasecmp(name, h->name, hl) == 0)
		return true;
	return h->suffix && nl > hl && name[nl - hl - 1] == '.' &&
	       strncasecmp(name + nl - hl, h->name, hl) == 0;
}

static bool name_matches(const struct rule *r, const char *name)
{
	if (name == NULL)
		return false;
	for (size_t i = 0; i < r->nto_hosts; i++)
		if (host_matches(&r->to_hosts[i], name))
			return true;
	return false;
}

/* Every condition except "to". */
static bool match_but_dest(const struct rule *r, const struct rules_query *q)
{
	if (r->nfrom > 0) {
		struct addr_net c;
		bool hit = false;
		if (q->client == NULL || !addr_net_from_sockaddr(q->client, &c))
			return false;
		for (size_t i = 0; i < r->nfrom && !hit; i++)
			hit = addr_net_within(&c, &r->from[i]);
		if (!hit)
			return false;
	}
	if (r->cmds != 0 && (r->cmds & q->cmd) == 0)
		return false;
	if (r->nports > 0) {
		bool hit = false;
		for (size_t i = 0; i < r->nports && !hit; i++)
			hit = q->port >= r->ports[i].lo && q->port <= r->ports[i].hi;
		if (!hit)
			return false;
	}
	if (r->nusers > 0) {
		bool hit = false;
		for (size_t i = 0; i < r->nusers && !hit && q->user != NULL; i++)
			hit = strcmp(r->users[i], q->user) == 0;
		if (!hit)
			return false;
	}
	if (r->ngroups > 0) {
		bool hit = false;
		for (size_t i = 0; i < r->ngroups && !hit && q->user != NULL &&
				   q->group_member != NULL; i++)
			hit = q->group_member(q->user, r->groups[i], q->group_ctx);
		if (!hit)
			return false;
	}
	return true;
}

void rules_check(const struct rule *rules, size_t n, const struct rules_query *q,
		 struct rules_verdict *ret)
{
	struct addr_net a;
	struct protection p;
	bool have_a = addr_net_from_sockaddr(q->dest, &a);

	protection_of(q->dest, q->self, q->nself, &p);
	const char *prot = p.why;

	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &rules[i];
		if (rule_is_client_rule(r) || !match_but_dest(r, q))
			continue;
		bool hit = false;
		if (r->action == RULE_DENY || prot == NULL) {
			/* A deny, or an ordinary address: any way of naming it counts. */
			hit = !r->has_to || r->to_any || name_matches(r, q->name);
			for (size_t j = 0; j < r->nto_nets && !hit && have_a; j++)
				hit = addr_net_within(&a, &r->to_nets[j]);
		} else {
			/* Allowing a protected address takes a network that names it. */
			for (size_t j = 0; j < r->nto_nets && !hit && have_a; j++)
				hit = addr_net_within(&a, &r->to_nets[j]) &&
				      opens_protected(&r->to_nets[j], &a, &p, q->self, q->nself);
		}
		if (hit) {
			*ret = (struct rules_verdict){ r->action == RULE_ALLOW, r, NULL, NULL };
			return;
		}
	}
	*ret = (struct rules_verdict){ prot == NULL, NULL, prot, p.form };
}

bool rules_refuse_name(const struct rule *rules, size_t n, const struct rules_query *q,
		       struct rules_verdict *ret)
{
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &rules[i];
		if (rule_is_client_rule(r) || !match_but_dest(r, q))
			continue;
		bool sure = !r->has_to || r->to_any || name_matches(r, q->name);
		if (r->nto_nets == 0 && !sure)
			continue;	/* cannot match, whatever the address */
		/* It matches for every address (sure) or depends on the address. An
		 * allow may still not cover a protected address: only a deny that is
		 * sure decides here. */
		if (sure && r->action == RULE_DENY) {
			*ret = (struct rules_verdict){ false, r, NULL, NULL };
			return true;
		}
		return false;
	}
	return false;
}

bool rules_refuse_command(const struct rule *rules, size_t n, const struct rules_query *q,
			  struct rules_verdict *ret)
{
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &rules[i];
		if (rule_is_client_rule(r))
			continue;
		struct rules_query any = *q;
		if (r->nports > 0)
			any.port = r->ports[0].lo;	/* some port it covers */
		if (!match_but_dest(r, &any))
			continue;
		bool every_dest = (!r->has_to || r->to_any) && r->nports == 0;
		if (!every_dest)
			return false;	/* allows or refuses some destinations only */
		if (r->action == RULE_DENY) {
			*ret = (struct rules_verdict){ false, r, NULL, NULL };
			return true;
		}
		return false;
	}
	return false;
}

void rules_check_client(const struct rule *rules, size_t n, const struct sockaddr *client,
			struct rules_verdict *ret)
{
	struct addr_net c;
	bool have_c = addr_net_from_sockaddr(client, &c);

	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &rules[i];
		if (!rule_is_client_rule(r))
			continue;
		bool hit = r->nfrom == 0;
		for (size_t j = 0; j < r->nfrom && !hit && have_c; j++)
			hit = addr_net_within(&c, &r->from[j]);
		if (hit) {
			*ret = (struct rules_verdict){ r->action == RULE_ALLOW, r, NULL, NULL };
			return;
		}
	}
	*ret = (struct rules_verdict){ true, NULL, NULL, NULL };
}
