/* Policy: turns a session's facts into rules queries and quota counts, and
 * logs (rate-limited) what an operator must hear of refusals at accept time
 * and of limits; a refusal of a request is left for the session record. */
#include "autoconf.h"

#include "policy.h"

#include "addr.h"
#include "config.h"
#include "config_addr.h"
#include "connector.h"
#include "groups.h"
#include "log.h"
#include "quota.h"
#include "rules.h"
#include "socks5.h"
#include "stats.h"
#include "timeutil.h"

#include <stdio.h>
#include <string.h>

static struct log_ratelimit client_rule_rl, rate_rl, client_limit_rl, user_limit_rl,
	sessions_limit_rl, balancer_rl;

bool policy_balancer_trusted(const struct addr *peer, const struct config *cfg)
{
	const struct sockaddr *sa = (const struct sockaddr *)&peer->ss;
	char host[ADDR_HOSTLEN];

	if (config_addr_proxy_trusted(cfg, sa))
		return true;
	log_ratelimited(&balancer_rl, LOG_WARNING,
			"closing connection from %s: a listener that expects a PROXY protocol "
			"header takes connections only from proxy_from",
			addr_host(sa, host, sizeof(host)));
	return false;
}

bool policy_admit(const struct addr *peer, const struct config *cfg)
{
	const struct sockaddr *sa = (const struct sockaddr *)&peer->ss;
	struct rules_verdict v;
	char host[ADDR_HOSTLEN];

	rules_check_client(cfg->rules, cfg->nrules, sa, &v);
	if (!v.allow) {
		stats_refusal(STATS_REFUSAL_RULE);
		log_ratelimited(&client_rule_rl, LOG_NOTICE,
				"closing connection from %s: refused by client rule %s:%u",
				addr_host(sa, host, sizeof(host)), v.rule->file, v.rule->line);
		return false;
	}
	if (!quota_rate(sa, cfg->max_connection_rate, monotonic_ms())) {
		stats_refusal(STATS_REFUSAL_LIMIT);
		log_ratelimited(&rate_rl, LOG_WARNING,
				"closing connection from %s: more than %u new connections per "
				"second from that address (max_connection_rate)",
				addr_host(sa, host, sizeof(host)), cfg->max_connection_rate);
		return false;
	}
	/* Counted from accept, not from when a worker takes it: connections
	 * waiting in the queue count too, so one address cannot fill it. */
	if (!quota_client_acquire(sa, cfg->max_sessions_per_client)) {
		/* Without a limit only memory for the count can be missing. */
		unsigned max = cfg->max_sessions_per_client;
		stats_refusal(STATS_REFUSAL_LIMIT);
		log_ratelimited(&client_limit_rl, LOG_WARNING, max == 0 ?
				"closing connection from %s: out of memory for its session count" :
				"closing connection from %s: that address is at "
				"max_sessions_per_client (%u)", addr_host(sa, host, sizeof(host)), max);
		return false;
	}
	return true;
}

void policy_unadmit(const struct addr *peer)
{
	quota_client_release((const struct sockaddr *)&peer->ss);
}

static unsigned rule_cmd(uint8_t cmd)
{
	switch (cmd) {
	case SOCKS5_CMD_CONNECT:
		return RULE_CMD_CONNECT;
	case SOCKS5_CMD_BIND:
		return RULE_CMD_BIND;
	case SOCKS5_CMD_UDP_ASSOCIATE:
		return RULE_CMD_UDP;
	}
	return 0;
}

void policy_init(struct policy *p, const struct config *cfg, const struct sockaddr *client,
		 const char *login, const char *user, uint8_t cmd)
{
	*p = (struct policy){
		.cfg = cfg,
		.client = client,
		.login = login != NULL && login[0] != '\0' ? login : NULL,
		.user = user != NULL && user[0] != '\0' ? user : NULL,
		.cmd = rule_cmd(cmd),
	};
}

bool policy_take_limits(struct policy *p, char *why, size_t whylen)
{
	char host[ADDR_HOSTLEN];
	unsigned max;

	if (p->login != NULL) {
		max = p->cfg->max_sessions_per_user;
		if (!quota_user_acquire(p->login, max)) {
			/* Without a limit only memory for the count can be missing. */
			snprintf(why, whylen, max == 0 ? "out of memory" :
				 "over max_sessions_per_user (%u)", max);
			log_ratelimited(&user_limit_rl, LOG_WARNING, max == 0 ?
					"refusing a request of %s from %s: out of memory for the "
					"user's session count" :
					"refusing a request of %s from %s: that user is at "
					"max_sessions_per_user (%u)", p->user,
					addr_host(p->client, host, sizeof(host)), max);
			return false;
		}
		p->held_user = true;
	}
	max = p->cfg->max_sessions;
	if (!quota_session_acquire(max)) {
		snprintf(why, whylen, "over max_sessions (%u)", max);
		log_ratelimited(&sessions_limit_rl, LOG_WARNING,
				"refusing a request from %s: the gateway is at max_sessions (%u)",
				addr_host(p->client, host, sizeof(host)), max);
		return false;
	}
	p->held_session = true;
	return true;
}

void policy_release(struct policy *p)
{
	if (p->held_session)
		quota_session_release();
	if (p->held_user)
		quota_user_release(p->login);
	p->held_session = p->held_user = false;
}

/* The request as the rules see it; dest NULL before resolution. */
static void query_for(const struct policy *p, const struct sockaddr *dest, uint16_t port,
		      struct rules_query *q)
{
	*q = (struct rules_query){
		.client = p->client,
		.user = p->login,
		.cmd = p->cmd,
		.name = p->dest_name,
		.dest = dest,
		.port = port,
		.group_member = groups_member,
		.self = p->cfg->self,
		.nself = p->cfg->nself,
	};
}

static void note_refusal(struct policy *p, const struct rules_verdict *v)
{
	p->refused_by_default = v->rule == NULL;
	if (v->rule != NULL)
		snprintf(p->refusal, sizeof(p->refusal), "refused by rule %s:%u", v->rule->file,
			 v->rule->line);
	else if (v->embedded != NULL)
		snprintf(p->refusal, sizeof(p->refusal),
			 "refused by the built-in default policy (%s, inside the %s address)",
			 v->why, v->embedded);
	else
		snprintf(p->refusal, sizeof(p->refusal),
			 "refused by the built-in default policy (%s)", v->why);
}

int policy_refusal_outcome(const struct policy *p)
{
	return p->refused_by_default ? STATS_REFUSED_POLICY : STATS_REFUSED_RULE;
}

/* The verdict for sa; notes a refusal. */
static bool dest_verdict(struct policy *p, const struct sockaddr *sa, struct rules_verdict *v)
{
	struct rules_query q;

	query_for(p, sa, addr_port(sa), &q);
	rules_check(p->cfg->rules, p->cfg->nrules, &q, v);
	if (!v->allow)
		note_refusal(p, v);
	return v->allow;
}

bool policy_dest_allowed(const struct sockaddr *sa, void *ctx)
{
	struct rules_verdict v;

	return dest_verdict(ctx, sa, &v);
}

bool policy_connect_allowed(const struct sockaddr *sa, void *ctx, struct addr *ret_source)
{
	struct rules_verdict v;

	if (!dest_verdict(ctx, sa, &v))
		return false;
	if (v.rule != NULL && v.rule->via[sa->sa_family == AF_INET6].len != 0)
		*ret_source = v.rule->via[sa->sa_family == AF_INET6];
	return true;
}

bool policy_udp_allowed(const struct sockaddr *sa, const char *name, void *ctx)
{
	struct policy *p = ctx;

	p->dest_name = name;
	bool ok = policy_dest_allowed(sa, ctx);
	p->dest_name = NULL;
	return ok;
}

bool policy_name_refused(struct policy *p, uint16_t port)
{
	struct rules_query q;
	struct rules_verdict v;

	query_for(p, NULL, port, &q);
	if (!rules_refuse_name(p->cfg->rules, p->cfg->nrules, &q, &v))
		return false;
	note_refusal(p, &v);
	return true;
}

bool policy_command_refused(struct policy *p)
{
	struct rules_query q;
	struct rules_verdict v;

	query_for(p, NULL, 0, &q);
	if (!rules_refuse_command(p->cfg->rules, p->cfg->nrules, &q, &v))
		return false;
	note_refusal(p, &v);
	return true;
}

/* Reports each name of one rule's list that NSS does not know. */
static unsigned check_names(const struct rule *r, char *const *names, size_t n, bool group,
			    void (*report)(const char *, unsigned, const char *, void *), void *ctx)
{
	char msg[320];
	unsigned unknown = 0;

	for (size_t i = 0; i < n; i++) {
		if (groups_name_exists(names[i], group))
			continue;
		snprintf(msg, sizeof(msg),
			 "warning: %s '%s' does not exist (the rule never matches %s)",
			 group ? "group" : "user", names[i], group ? "through it" : "it");
		report(r->file, r->line, msg, ctx);
		unknown++;
	}
	return unknown;
}

unsigned policy_check_rule_names(const struct config *c,
				 void (*report)(const char *file, unsigned line, const char *msg,
						void *ctx),
				 void *ctx)
{
	unsigned unknown = 0;

	for (size_t i = 0; i < c->nrules; i++) {
		const struct rule *r = &c->rules[i];
		unknown += check_names(r, r->users, r->nusers, false, report, ctx);
		unknown += check_names(r, r->groups, r->ngroups, true, report, ctx);
	}
	return unknown;
}

/* Reports a when the machine cannot send from it; returns 1 then, else 0. */
static unsigned check_source(const struct addr *a, const char *what, const char *file,
			     unsigned line, void (*report)(const char *, unsigned, const char *, void *),
			     void *ctx)
{
	char host[ADDR_HOSTLEN], msg[200];

	if (a->len == 0)
		return 0;
	int r = connector_source_check(a);
	if (r == 0)
		return 0;
	snprintf(msg, sizeof(msg), "%s: %s is not an address of this machine (%s)", what,
		 addr_host((const struct sockaddr *)&a->ss, host, sizeof(host)), strerror(-r));
	report(file, line, msg, ctx);
	return 1;
}

unsigned policy_check_sources(const struct config *c, const char *path,
			      void (*report)(const char *file, unsigned line, const char *msg,
					     void *ctx),
			      void *ctx)
{
	unsigned bad = 0;

	for (size_t f = 0; f < 2; f++)
		bad += check_source(&c->outgoing[f], "outgoing_address", path, 0, report, ctx);
	for (size_t i = 0; i < c->nrules; i++)
		for (size_t f = 0; f < 2; f++)
			bad += check_source(&c->rules[i].via[f], "via", c->rules[i].file,
					    c->rules[i].line, report, ctx);
	return bad;
}
