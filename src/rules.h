/* Access rules: parses "allow|deny [from ...] [user ...] [group ...] [command ...]
 * [to ...] [port ...]" lines (an allow may end "via ADDR[,ADDR]") and decides requests against an ordered list of
 * them, first match wins, with a built-in default behind the last rule.
 * Pure: no I/O, no logging, no global state; group membership is asked through
 * a callback, and the gateway's own addresses are passed in. Every function is
 * safe to call from any thread on rules that are not being changed. */
#ifndef SOCKSGATE_RULES_H
#define SOCKSGATE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum rule_action {
	RULE_ALLOW,
	RULE_DENY,
};

/* Command bits; a rule without "command" matches every command. */
enum {
	RULE_CMD_CONNECT = 1,
	RULE_CMD_BIND = 2,
	RULE_CMD_UDP = 4,
};

/* A destination name: "host.example" exactly, or with suffix set, ".example"
 * meaning example and every name under it. Lower case, no trailing dot. */
struct rule_host {
	char *name;
	bool suffix;
};

struct rule_ports {
	uint16_t lo, hi;
};

struct rule {
	enum rule_action action;
	char *file;		/* where the rule was written, for logs and -t */
	unsigned line;
	bool has_from;		/* "from" given; nfrom == 0 then means "from any" */
	struct addr_net *from;
	size_t nfrom;
	char **users;
	size_t nusers;
	char **groups;
	size_t ngroups;
	unsigned cmds;		/* RULE_CMD_* bits; 0: any command */
	bool has_to;		/* "to" given */
	bool to_any;		/* "to any" */
	struct addr_net *to_nets;
	size_t nto_nets;
	struct rule_host *to_hosts;
	size_t nto_hosts;
	struct rule_ports *ports;	/* nports == 0: any port */
	size_t nports;
	struct addr via[2];	/* allow ... via: the source address of a CONNECT it
				 * allows, [0] IPv4, [1] IPv6; len 0: not given */
};

/* Parses one rule line (comments already stripped). Returns 0 and fills *ret
 * (free it with rule_free()), -EINVAL with a message in err, or -ENOMEM.
 * file is copied. */
int rule_parse(const char *text, const char *file, unsigned line, struct rule *ret, char *err,
	       size_t errlen);
/* Frees what rule_parse() allocated; the struct itself is the caller's. */
void rule_free(struct rule *r);
/* Writes the rule in canonical file syntax (without its FILE:LINE). Returns buf;
 * the text is cut to fit. */
char *rule_format(const struct rule *r, char *buf, size_t len);
/* True for a client rule: its only condition is "from". Client rules are
 * decided when a connection is accepted and are skipped for requests. */
bool rule_is_client_rule(const struct rule *r);

/* Is user a member of group (primary or supplementary)? ctx is the query's. */
typedef bool (*rules_group_fn)(const char *user, const char *group, void *ctx);

/* What is being asked. */
struct rules_query {
	const struct sockaddr *client;
	const char *user;		/* NULL: not authenticated; user/group rules never match */
	unsigned cmd;			/* one RULE_CMD_* bit */
	const char *name;		/* destination name as the client gave it, or NULL */
	const struct sockaddr *dest;	/* the address about to be used; NULL before resolution */
	uint16_t port;			/* destination port */
	rules_group_fn group_member;	/* NULL: group rules never match */
	void *group_ctx;
	const struct addr_net *self;	/* the gateway's own addresses (protected) */
	size_t nself;
};

struct rules_verdict {
	bool allow;
	const struct rule *rule;	/* the rule that decided; NULL: the built-in default */
	const char *why;		/* for the default: "loopback destination", ... or NULL */
	const char *embedded;		/* the default refused the IPv4 address inside this
					 * IPv6 form ("NAT64 64:ff9b::/96", ...), or NULL */
};

/* Decides a request for the address q->dest (which must be set), together with
 * q->name when the client asked for a name: first matching request rule wins;
 * when none matches, protected destinations (loopback, link-local, multicast,
 * unspecified, broadcast, the gateway's own addresses; and the IPv6 forms
 * that embed such an IPv4 address, see addr_embedded_ipv4()) are refused and
 * everything else is allowed. An allow rule reaches a protected address only
 * through a "to" network that lies inside a protected range containing it
 * (for an embedded address: an IPv6 network long enough to fix the IPv4
 * address inside the protected range, as addr_embedded_bits() says). */
void rules_check(const struct rule *rules, size_t n, const struct rules_query *q,
		 struct rules_verdict *ret);

/* Before resolving q->name (q->dest NULL): returns true and fills *ret when the
 * name is refused whatever it resolves to (a deny rule decides it before any
 * rule that depends on the address could). Otherwise returns false: resolve,
 * then rules_check() each address. */
bool rules_refuse_name(const struct rule *rules, size_t n, const struct rules_query *q,
		       struct rules_verdict *ret);

/* For a BIND or UDP ASSOCIATE request, whose destinations are not known yet:
 * returns true and fills *ret when a deny rule refuses every destination of
 * the command for this client and user (it matches them and has no "to" but
 * "to any", and no "port") before any rule that could allow one. Otherwise
 * false: each destination is checked as it comes. */
bool rules_refuse_command(const struct rule *rules, size_t n, const struct rules_query *q,
			  struct rules_verdict *ret);

/* At accept time: the first client rule matching client decides; none: admit. */
void rules_check_client(const struct rule *rules, size_t n, const struct sockaddr *client,
			struct rules_verdict *ret);

/* Which protected range sa, or the IPv4 address its IPv6 form carries, falls
 * in ("loopback destination", ...), or NULL. */
const char *rules_protected(const struct sockaddr *sa, const struct addr_net *self,
			    size_t nself);

/* The protected ranges of the built-in default, for -t: returns the i-th range
 * and its description, or NULL past the end. */
const struct addr_net *rules_default_range(size_t i, const char **ret_why);

#endif
