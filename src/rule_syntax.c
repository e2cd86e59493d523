/* Rule text: parses one "allow"/"deny" line into a struct rule and writes a
 * rule back in canonical syntax (for -t). Part of the rules module (rules.h);
 * pure, no logging: errors come back as text for the config's FILE:LINE. */
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

enum keyword { KW_FROM, KW_USER, KW_GROUP, KW_COMMAND, KW_TO, KW_PORT, KW_VIA, KW_MAX };
static const char *const keywords[KW_MAX] = { "from", "user", "group", "command", "to", "port",
					      "via" };

/* "to NAME" / "to .SUFFIX": kept lower-case without a trailing dot. */
static int add_to_host(struct rule *r, const char *v, char *err, size_t errlen)
{
	struct rule_host h = { .suffix = v[0] == '.' };
	const char *name = v + (h.suffix ? 1 : 0);
	size_t len = strlen(name);
	void *e;

	if (len > 0 && name[len - 1] == '.')
		len--;	/* a trailing dot is the same name */
	h.name = strndup(name, len);
	if (h.name == NULL)
		return -ENOMEM;
	if (!valid_hostname(h.name)) {
		free(h.name);
		set_err(err, errlen, "to: '%s' is not a host name, .domain suffix, network or any",
			v);
		return -EINVAL;
	}
	/* "ANY" or "any." would be written back (-t) as the keyword any. */
	if (!h.suffix && strcasecmp(h.name, "any") == 0) {
		free(h.name);
		set_err(err, errlen, "to: '%s' reads as the host 'any'; write any for every "
				     "destination", v);
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
}

/* Appends a network to *list (from or to). */
static int add_net(void *list, size_t *n, const char *v, const char *what, char *err,
		   size_t errlen)
{
	struct addr_net net;
	void *e;

	if (addr_net_parse(v, &net) < 0) {
		set_err(err, errlen, "%s: '%s' is not an address or network (like 192.0.2.0/24 or "
				     "2001:db8::/32; host bits must be zero) or any", what, v);
		return -EINVAL;
	}
	if ((e = grow(list, n, sizeof(net))) == NULL)
		return -ENOMEM;
	memcpy(e, &net, sizeof(net));
	return 0;
}

static int add_name(struct rule *r, enum keyword kw, const char *v, char *err, size_t errlen)
{
	char ***list = kw == KW_USER ? &r->users : &r->groups;
	size_t *n = kw == KW_USER ? &r->nusers : &r->ngroups;
	void *e;

	if (!valid_account_name(v)) {
		set_err(err, errlen, "%s: '%s' is not a name", keywords[kw], v);
		return -EINVAL;
	}
	char *copy = strdup(v);
	if (copy == NULL || (e = grow(list, n, sizeof(char *))) == NULL) {
		free(copy);
		return -ENOMEM;
	}
	*(char **)e = copy;
	return 0;
}

static int add_command(struct rule *r, const char *v, char *err, size_t errlen)
{
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
}

/* "port N" or "port N-M". */
static int add_port(struct rule *r, const char *v, char *err, size_t errlen)
{
	struct rule_ports p;
	char buf[16];
	const char *dash = strchr(v, '-');
	void *e;

	if (strlen(v) >= sizeof(buf))
		goto bad;
	strcpy(buf, v);
	if (dash != NULL)
		buf[dash - v] = '\0';
	if (addr_parse_port(buf, &p.lo) < 0 ||
	    addr_parse_port(dash != NULL ? buf + (dash - v) + 1 : buf, &p.hi) < 0)
		goto bad;
	if (p.lo > p.hi) {
		set_err(err, errlen, "port: the range '%s' is backwards", v);
		return -EINVAL;
	}
	if ((e = grow(&r->ports, &r->nports, sizeof(p))) == NULL)
		return -ENOMEM;
	memcpy(e, &p, sizeof(p));
	return 0;
bad:
	set_err(err, errlen, "port: '%s' is not a port (0-65535) or a range N-M", v);
	return -EINVAL;
}

/* "via ADDR": the source address of the connections the rule allows, at most
 * one per family. */
static int add_via(struct rule *r, const char *v, char *err, size_t errlen)
{
	struct addr a;

	if (r->action != RULE_ALLOW) {
		set_err(err, errlen, "via: only an allow rule says where its connections leave from");
		return -EINVAL;
	}
	if (addr_parse_host(v, &a) < 0 || addr_is_any((const struct sockaddr *)&a.ss)) {
		set_err(err, errlen, "via: '%s' is not an IPv4 or IPv6 address of this machine "
				     "(without a port)", v);
		return -EINVAL;
	}
	struct addr *slot = &r->via[a.ss.ss_family == AF_INET6];
	if (slot->len != 0) {
		set_err(err, errlen, "via: more than one %s address",
			a.ss.ss_family == AF_INET6 ? "IPv6" : "IPv4");
		return -EINVAL;
	}
	*slot = a;
	return 0;
}

/* Adds one entry of a comma list to the rule. */
static int add_entry(struct rule *r, enum keyword kw, const char *v, char *err, size_t errlen)
{
	switch (kw) {
	case KW_FROM:
		if (strcmp(v, "any") == 0)
			return 0;	/* the caller notes it */
		return add_net(&r->from, &r->nfrom, v, "from", err, errlen);
	case KW_USER:
	case KW_GROUP:
		return add_name(r, kw, v, err, errlen);
	case KW_COMMAND:
		return add_command(r, v, err, errlen);
	case KW_TO:
		if (strcmp(v, "any") == 0) {
			r->to_any = true;
			return 0;
		}
		if (looks_numeric(v))
			return add_net(&r->to_nets, &r->nto_nets, v, "to", err, errlen);
		return add_to_host(r, v, err, errlen);
	case KW_PORT:
		return add_port(r, v, err, errlen);
	case KW_VIA:
		return add_via(r, v, err, errlen);
	case KW_MAX:
		break;
	}
	return -EINVAL;
}

/* Reads the value of keyword kw from the tokens after it (one word, or a
 * comma list that may have spaces after the commas) and adds each entry. */
static int read_list(struct rule *r, enum keyword kw, char **save, bool *from_any, char *err,
		     size_t errlen)
{
	char value[1024] = "", *vsave = NULL, *item;

	for (;;) {
		char *w = strtok_r(NULL, " \t\r\n", save);
		if (w == NULL)
			break;
		if (strlen(value) + strlen(w) >= sizeof(value)) {
			set_err(err, errlen, "%s: the list is too long", keywords[kw]);
			return -EINVAL;
		}
		strcat(value, w);
		if (value[strlen(value) - 1] != ',')
			break;
		/* The list goes on; a lone "," between words also works. */
	}
	if (value[0] == '\0') {
		set_err(err, errlen, "'%s' needs a value", keywords[kw]);
		return -EINVAL;
	}
	if (kw == KW_FROM)
		r->has_from = true;
	if (kw == KW_TO)
		r->has_to = true;
	if (value[0] == ',' || value[strlen(value) - 1] == ',' || strstr(value, ",,")) {
		set_err(err, errlen, "%s: empty entry in the list '%s'", keywords[kw], value);
		return -EINVAL;
	}
	for (item = strtok_r(value, ",", &vsave); item != NULL; item = strtok_r(NULL, ",", &vsave)) {
		if (kw == KW_FROM && strcmp(item, "any") == 0)
			*from_any = true;
		int res = add_entry(r, kw, item, err, errlen);
		if (res < 0)
			return res;
	}
	return 0;
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
					     "to, port or via", tok);
			goto out;
		}
		if (seen[kw]) {
			set_err(err, errlen, "'%s' given twice; list the values with commas",
				keywords[kw]);
			goto out;
		}
		seen[kw] = true;
		res = read_list(&r, kw, &save, &from_any, err, errlen);
		if (res < 0)
			goto out;
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
	       r->nports == 0 && r->via[0].len == 0 && r->via[1].len == 0;
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
	for (size_t i = 0, n = 0; i < 2; i++)
		if (r->via[i].len != 0)
			put(&o, "%s%s", n++ ? "," : " via ",
			    addr_host((const struct sockaddr *)&r->via[i].ss, a, sizeof(a)));
	return buf;
}

