/* Shared by fuzz_rules and fuzz_config: are two parsed rules the same rule
 * (action and every condition; not where they were written)? */
#ifndef SOCKSGATE_FUZZ_RULE_EQ_H
#define SOCKSGATE_FUZZ_RULE_EQ_H

#include "addr.h"
#include "rules.h"

#include <stdbool.h>
#include <string.h>

static inline bool fuzz_same_nets(const struct addr_net *a, const struct addr_net *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!addr_net_equal(&a[i], &b[i]) || a[i].prefix != b[i].prefix)
			return false;
	return true;
}

static inline bool fuzz_same_words(char *const *a, char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static inline bool fuzz_same_rule(const struct rule *a, const struct rule *b)
{
	if (a->action != b->action || a->has_from != b->has_from || a->nfrom != b->nfrom ||
	    a->nusers != b->nusers || a->ngroups != b->ngroups || a->cmds != b->cmds ||
	    a->has_to != b->has_to || a->to_any != b->to_any || a->nto_nets != b->nto_nets ||
	    a->nto_hosts != b->nto_hosts || a->nports != b->nports)
		return false;
	for (size_t i = 0; i < a->nto_hosts; i++)
		if (a->to_hosts[i].suffix != b->to_hosts[i].suffix ||
		    strcmp(a->to_hosts[i].name, b->to_hosts[i].name) != 0)
			return false;
	for (size_t i = 0; i < a->nports; i++)
		if (a->ports[i].lo != b->ports[i].lo || a->ports[i].hi != b->ports[i].hi)
			return false;
	return fuzz_same_nets(a->from, b->from, a->nfrom) &&
	       fuzz_same_nets(a->to_nets, b->to_nets, a->nto_nets) &&
	       fuzz_same_words(a->users, b->users, a->nusers) &&
	       fuzz_same_words(a->groups, b->groups, a->ngroups);
}

#endif
