/* Rule parser and matcher. A rule is a list of conditions, each a comma list
 * whose entries are alternatives; a rule matches when every condition does.
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

/* ---- parsing ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Grows *v by one element of size sz; returns the new element or NULL. */
static void *grow(void *v, size_t *n, size_t sz)
{
	void **pv = v;
	void *nv = realloc(*pv, (*n + 1) * sz);
	if (nv == NULL)
		return NULL;
	*pv = nv;
	return (char *)nv + (*n)++ * sz;
}

static bool valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* Does the word look like an address rather than a name (so a bad one is an
 * address error, not a strange host name)? */
static bool looks_numeric(const char *s)
{
	return strchr(s, ':') != NULL || strchr(s, '/') != NULL ||
	       strspn(s, "0123456789.") == strlen(s);
}

static bool valid_account_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 255)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == ',' || *p == '#' || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

enum keyword { KW_FROM, KW_USER, KW_GROUP, KW_COMMAND, KW_TO, KW_PORT, KW_MAX };
static const char *const keywords[KW_MAX] = { "from", "user", "group", "command", "to", "port" };

/* Adds one entry of a comma list to the rule. */
static int add_entry(struct rule *r, enum keyword kw, const char *v, char *err, size_t errlen)
{
	struct addr_net net;
	void *e;

	switch (kw) {
	case KW_FROM:
		if (strcmp(v, "any") == 0)
			return 0;	/* the caller notes it */
		if (addr_net_parse(v, &net) < 0) {
			set_err(err, errlen, "from: '%s' is not an address or network (like "
					     "192.0.2.0/24 or 2001:db8::/32) or any", v);
			return -EINVAL;
		}
		if ((e = grow(&r->from, &r->nfrom, sizeof(net))) == NULL)
			return -ENOMEM;
		memcpy(e, &net, sizeof(net));
		return 0;
	case KW_USER:
	case KW_GROUP:
		if (!valid_account_name(v)) {
			set_err(err, errlen, "%s: '%s' is not a name", keywords[kw], v);
			return -EINVAL;
		}
		char ***list = kw == KW_USER ? &r->users : &r->groups;
		size_t *n = kw == KW_USER ? &r->nusers : &r->ngroups;
		char *copy = strdup(v);
		if (copy == NULL || (e = grow(list, n, sizeof(char *))) == NULL) {
			free(copy);
			return -ENOMEM;
		}
		*(char **)e = copy;
		return 0;
	case KW_COMMAND:
		if (strcmp(v, "connect") == 0)
			r->cmds |= RULE_CMD_CONNECT;
		else if (strcmp(v, "bind") == 0)
			r->cmds |= RULE_CMD_BIND;
		else if (strcmp(v, "udp") == 0)
			r->cmds |= RULE_CMD_UDP;
		else {
			set_err(err, errlen, "command: '%s' is not one of connect, bind, udp", v);
			return -EINVAL;
		}
		return 0;
	case KW_TO:
		if (strcmp(v, "any") == 0) {
			r->to_any = true;
			return 0;
		}
		if (looks_numeric(v)) {
			if (addr_net_parse(v, &net) < 0) {
				set_err(err, errlen,
					"to: '%s' is not an address or network (like 10.0.0.0/8 or "
					"2001:db8::/32; host bits must be zero)", v);
				return -EINVAL;
			}
			if ((e = grow(&r->to_nets, &r->nto_nets, sizeof(net))) == NULL)
				return -ENOMEM;
			memcpy(e, &net, sizeof(net));
			return 0;
		}
		struct rule_host h = { .suffix = v[0] == '.' };
		const char *name = v + (h.suffix ? 1 : 0);
		size_t len = strlen(name);
		if (len > 0 && name[len - 1] == '.')
			len--;	/* a trailing dot is the same name */
		h.name = strndup(name, len);
		if (h.name == NULL)
			return -ENOMEM;
		if (!valid_hostname(h.name)) {
			free(h.name);
			set_err(err, errlen, "to: '%s' is not a host name, .domain suffix, network "
					     "or any", v);
			return -EINVAL;
		}
		for (char *p = h.name; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if ((e = grow(&r->to_hosts, &r->nto_hosts, sizeof(h))) == NULL) {
			free(h.name);
			return -ENOMEM;
		}
		memcpy(e, &h, sizeof(h));
		return 0;
	case KW_PORT: {
		struct rule_ports p;
		char buf[16];
		const char *dash = strchr(v, '-');
		if (strlen(v) >= sizeof(buf))
			goto bad_port;
		strcpy(buf, v);
		if (dash != NULL) {
			buf[dash - v] = '\0';
			if (addr_parse_port(buf, &p.lo) < 0 || addr_parse_port(buf + (dash - v) + 1, &p.hi) < 0)
				goto bad_port;
			if (p.lo > p.hi) {
				set_err(err, errlen, "port: the range '%s' is backwards", v);
				return -EINVAL;
			}
		} else {
			if (addr_parse_port(buf, &p.lo) < 0)
				goto bad_port;
			p.hi = p.lo;
		}
		if ((e = grow(&r->ports, &r->nports, sizeof(p))) == NULL)
			return -ENOMEM;
		memcpy(e, &p, sizeof(p));
		return 0;
bad_port:
		set_err(err, errlen, "port: '%s' is not a port (0-65535) or a range N-M", v);
		return -EINVAL;
	}
	case KW_MAX:
		break;
	}
	return -EINVAL;
}

int rule_parse(const char *text, const char *file, unsigned line, struct rule *ret, char *err,
	       size_t errlen)
{
	struct rule r;
	bool seen[KW_MAX] = { false }, from_any = false;
	char *copy = strdup(text), *save = NULL, *tok;
	int res = -EINVAL;

	memset(&r, 0, sizeof(r));
	if (copy == NULL)
		return -ENOMEM;
	r.line = line;
	tok = strtok_r(copy, " \t\r\n", &save);
	if (tok != NULL && strcmp(tok, "allow") == 0)
		r.action = RULE_ALLOW;
	else if (tok != NULL && strcmp(tok, "deny") == 0)
		r.action = RULE_DENY;
	else {
		set_err(err, errlen, "a rule starts with allow or deny");
		goto out;
	}
	while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		enum keyword kw = KW_MAX;
		for (int i = 0; i < KW_MAX; i++)
			if (strcmp(tok, keywords[i]) == 0)
				kw = (enum keyword)i;
		if (kw == KW_MAX) {
			set_err(err, errlen, "unexpected '%s'; expected from, user, group, command, "
					     "to or port", tok);
			goto out;
		}
		if (seen[kw]) {
			set_err(err, errlen, "'%s' given twice; list the values with commas",
				keywords[kw]);
			goto out;
		}
		seen[kw] = true;
		/* The value: one word, or a comma list that may have spaces after commas. */
		char value[1024] = "";
		for (;;) {
			char *w = strtok_r(NULL, " \t\r\n", &save);
			if (w == NULL)
				break;
			if (strlen(value) + strlen(w) >= sizeof(value)) {
				set_err(err, errlen, "%s: the list is too long", keywords[kw]);
				goto out;
			}
			strcat(value, w);
			size_t vl = strlen(value);
			if (value[vl - 1] != ',')
				break;
			/* The list goes on; a lone "," between words also works. */
		}
		if (value[0] == '\0') {
			set_err(err, errlen, "'%s' needs a value", keywords[kw]);
			goto out;
		}
		if (kw == KW_FROM)
			r.has_from = true;
		if (kw == KW_TO)
			r.has_to = true;
		char *vsave = NULL, *item;
		if (value[0] == ',' || value[strlen(value) - 1] == ',' || strstr(value, ",,")) {
			set_err(err, errlen, "%s: empty entry in the list '%s'", keywords[kw], value);
			goto out;
		}
		for (item = strtok_r(value, ",", &vsave); item != NULL;
		     item = strtok_r(NULL, ",", &vsave)) {
			if (kw == KW_FROM && strcmp(item, "any") == 0)
				from_any = true;
			res = add_entry(&r, kw, item, err, errlen);
			if (res < 0)
				goto out;
		}
		res = -EINVAL;
	}
	/* "any" among other networks means any. */
	if (from_any) {
		free(r.from);
		r.from = NULL;
		r.nfrom = 0;
	}
	r.file = strdup(file);
	if (r.file == NULL) {
		res = -ENOMEM;
		goto out;
	}
	res = 0;
out:
	free(copy);
	if (res < 0) {
		rule_free(&r);
		return res;
	}
	*ret = r;
	return 0;
}

void rule_free(struct rule *r)
{
	if (r == NULL)
		return;
	free(r->file);
	free(r->from);
	for (size_t i = 0; i < r->nusers; i++)
		free(r->users[i]);
	free(r->users);
	for (size_t i = 0; i < r->ngroups; i++)
		free(r->groups[i]);
	free(r->groups);
	free(r->to_nets);
	for (size_t i = 0; i < r->nto_hosts; i++)
		free(r->to_hosts[i].name);
	free(r->to_hosts);
	free(r->ports);
	memset(r, 0, sizeof(*r));
}

bool rule_is_client_rule(const struct rule *r)
{
	return r->has_from && r->nusers == 0 && r->ngroups == 0 && r->cmds == 0 && !r->has_to &&
	       r->nports == 0;
}

/* ---- formatting ---- */

struct out {
	char *buf;
	size_t len, pos;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->pos >= o->len)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

char *rule_format(const struct rule *r, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	char a[INET6_ADDRSTRLEN + 8];
	static const char *const cmds[] = { "connect", "bind", "udp" };

	if (len == 0)
		return buf;
	buf[0] = '\0';
	put(&o, "%s", r->action == RULE_ALLOW ? "allow" : "deny");
	if (r->has_from) {
		put(&o, " from ");
		if (r->nfrom == 0)
			put(&o, "any");
		for (size_t i = 0; i < r->nfrom; i++)
			put(&o, "%s%s", i ? "," : "", addr_net_format(&r->from[i], a, sizeof(a)));
	}
	for (size_t i = 0; i < r->nusers; i++)
		put(&o, "%s%s", i ? "," : " user ", r->users[i]);
	for (size_t i = 0; i < r->ngroups; i++)
		put(&o, "%s%s", i ? "," : " group ", r->groups[i]);
	if (r->cmds != 0) {
		const char *sep = " command ";
		for (unsigned i = 0; i < 3; i++) {
			if (r->cmds & (1u << i)) {
				put(&o, "%s%s", sep, cmds[i]);
				sep = ",";
			}
		}
	}
	if (r->has_to) {
		const char *sep = " to ";
		if (r->to_any) {
			put(&o, "%sany", sep);
			sep = ",";
		}
		for (size_t i = 0; i < r->nto_nets; i++, sep = ",")
			put(&o, "%s%s", sep, addr_net_format(&r->to_nets[i], a, sizeof(a)));
		for (size_t i = 0; i < r->nto_hosts; i++, sep = ",")
			put(&o, "%s%s%s", sep, r->to_hosts[i].suffix ? "." : "", r->to_hosts[i].name);
	}
	for (size_t i = 0; i < r->nports; i++) {
		if (r->ports[i].lo == r->ports[i].hi)
			put(&o, "%s%u", i ? "," : " port ", r->ports[i].lo);
		else
			put(&o, "%s%u-%u", i ? "," : " port ", r->ports[i].lo, r->ports[i].hi);
	}
	return buf;
}

/* ---- matching ---- */

const char *rules_protected(const struct sockaddr *sa, const struct addr_net *self, size_t nself)
{
	struct addr_net a;

	if (!addr_net_from_sockaddr(sa, &a))
		return NULL;
	for (size_t i = 0; i < NPROTECTED; i++)
		if (addr_net_within(&a, &protected_ranges[i].net))
			return protected_ranges[i].why;
	for (size_t i = 0; i < nself; i++)
		if (addr_net_within(&a, &self[i]))
			return SELF_WHY;
	return NULL;
}

const struct addr_net *rules_default_range(size_t i, const char **ret_why)
{
	if (i >= NPROTECTED)
		return NULL;
	*ret_why = protected_ranges[i].why;
	return &protected_ranges[i].net;
}

/* Does the rule's "to" network n open the protected address a? Only when n lies
 * inside a protected range that contains a: "to 127.0.0.0/8" opens loopback,
 * "to 0.0.0.0/0" does not. */
static bool opens_protected(const struct addr_net *n, const struct addr_net *a,
			    const struct addr_net *self, size_t nself)
{
	for (size_t i = 0; i < NPROTECTED; i++) {
		const struct addr_net *p = &protected_ranges[i].net;
		if (addr_net_within(a, p) && addr_net_within(n, p))
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
	const char *prot = rules_protected(q->dest, q->self, q->nself);
	bool have_a = addr_net_from_sockaddr(q->dest, &a);

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
				      opens_protected(&r->to_nets[j], &a, q->self, q->nself);
		}
		if (hit) {
			*ret = (struct rules_verdict){ r->action == RULE_ALLOW, r, NULL };
			return;
		}
	}
	*ret = (struct rules_verdict){ prot == NULL, NULL, prot };
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
			*ret = (struct rules_verdict){ false, r, NULL };
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
			*ret = (struct rules_verdict){ false, r, NULL };
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
			*ret = (struct rules_verdict){ r->action == RULE_ALLOW, r, NULL };
			return;
		}
	}
	*ret = (struct rules_verdict){ true, NULL, NULL };
}
