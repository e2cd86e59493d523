/* config_dump(): the settings in file syntax for -t (every key, the rules
 * with their FILE:LINE, the built-in default policy as comments), so an
 * operator sees what the daemon will do and can load it back. */
#include "autoconf.h"

#include "config.h"

#include "config_addr.h"
#include "config_auth.h"
#include "log.h"
#include "rules.h"
#include "socks5.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Writes a duration in the largest unit that states it exactly ("1h", "250ms"). */
static void dump_duration(FILE *out, const char *key, unsigned ms)
{
	static const struct {
		const char *unit;
		unsigned ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };

	for (size_t i = 0; ms != 0 && i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms % units[i].ms == 0) {
			fprintf(out, "%s = %u%s\n", key, ms / units[i].ms, units[i].unit);
			return;
		}
	}
	fprintf(out, "%s = %ums\n", key, ms);
}

/* The metrics and auth_block_exempt settings. */
static void dump_ops(const struct config *c, FILE *out)
{
	char a[ADDR_STRLEN];

	if (c->metrics_listen.len > 0)
		fprintf(out, "metrics_listen = %s\n",
			addr_str((const struct sockaddr *)&c->metrics_listen.ss, a, sizeof(a)));
	else
		fprintf(out, "# metrics_listen: off (no Prometheus endpoint)\n");
	fprintf(out, "metrics_per_user = %s\n", c->metrics_per_user ? "yes" : "no");
	fprintf(out, "metrics_max_users = %u\n", c->metrics_max_users);
	if (c->nauth_block_exempt == 0)
		fprintf(out, "# auth_block_exempt: none (every address can be blocked)\n");
	for (size_t i = 0; i < c->nauth_block_exempt; i++)
		fprintf(out, "%s%s", i == 0 ? "auth_block_exempt = " : ", ",
			addr_net_format(&c->auth_block_exempt[i], a, sizeof(a)));
	if (c->nauth_block_exempt > 0)
		fputc('\n', out);
}

/* The method list (the effective one, whichever of auth and methods set
 * it) and the GSSAPI settings. */
static void dump_methods(const struct config *c, FILE *out)
{
	char levels[64];

	fprintf(out, "# methods: the server picks the first of these the client offers\n");
	fprintf(out, "methods =");
	for (size_t i = 0; i < c->nmethods; i++)
		fprintf(out, " %s", config_method_name(c->methods[i]));
	fputc('\n', out);
	/* The older key is the same setting, so only a comment: a file may
	 * give one of the two. */
	if (c->nmethods == 1 && c->methods[0] != SOCKS5_METHOD_GSSAPI)
		fprintf(out, "# auth: the older spelling of methods (here: auth = %s)\n",
			c->methods[0] == SOCKS5_METHOD_NONE ? "none" : "pam");
	else
		fprintf(out, "# auth: the older spelling of methods (it can say only none or "
			     "pam alone)\n");
	if (c->gssapi_keytab[0] != '\0')
		fprintf(out, "gssapi_keytab = %s\n", c->gssapi_keytab);
	else
		fprintf(out, "# gssapi_keytab: not set (KRB5_KTNAME, else /etc/krb5.keytab)\n");
	fprintf(out, "gssapi_service = %s\n", c->gssapi_service);
	if (c->gssapi_hostname[0] != '\0')
		fprintf(out, "gssapi_hostname = %s\n", c->gssapi_hostname);
	else
		fprintf(out, "# gssapi_hostname: not set (any host name the keytab has for the "
			     "service)\n");
	if (c->gssapi_realm[0] != '\0')
		fprintf(out, "gssapi_realm = %s\n", c->gssapi_realm);
	else
		fprintf(out, "# gssapi_realm: not set (principals mapped by "
			     "krb5_aname_to_localname)\n");
	fprintf(out, "gssapi_protection = %s\n",
		config_auth_protection_str(c->gssapi_protection, levels, sizeof(levels)));
}

void config_dump(const struct config *c, FILE *out)
{
	config_addr_dump(c, out);
	dump_methods(c, out);
	fprintf(out, "workers_min = %u\n", c->workers_min);
	if (c->workers_max != 0)
		fprintf(out, "workers_max = %u\n", c->workers_max);
	else
		fprintf(out, "# workers_max: derived from the descriptor limit\n");
	fprintf(out, "queue_length = %u\n", c->queue_length);
	dump_duration(out, "handshake_timeout", c->handshake_timeout_ms);
	dump_duration(out, "connect_timeout", c->connect_timeout_ms);
	dump_duration(out, "connect_stagger", c->connect_stagger_ms);
	fprintf(out, "prefer_family = %s\n", c->prefer_ipv4 ? "ipv4" : "ipv6");
	if (c->tcp_keepalive_ms != 0)
		dump_duration(out, "tcp_keepalive", c->tcp_keepalive_ms);
	else
		fprintf(out, "tcp_keepalive = 0\n");
	dump_duration(out, "idle_timeout", c->idle_timeout_ms);
	dump_duration(out, "drain_timeout", c->drain_timeout_ms);
	dump_duration(out, "bind_timeout", c->bind_timeout_ms);
	dump_duration(out, "udp_idle_timeout", c->udp_idle_timeout_ms);
	fprintf(out, "log_level = %s\n", log_level_name(c->log_level));
	fprintf(out, "log = %s\n", log_target_name((enum log_target)c->log_target));
	if (c->user[0] != '\0')
		fprintf(out, "user = %s\n", c->user);
	else
		fprintf(out, "# user: not set (keeps the user it was started as)\n");
	fprintf(out, "pam_service = %s\n", c->pam_service);
	if (c->instance_name[0] != '\0')
		fprintf(out, "instance_name = %s\n", c->instance_name);
	else
		fprintf(out, "# instance_name: not set (no SOCKS_INSTANCE field)\n");
	fprintf(out, "allow_unauthenticated = %s\n", c->allow_unauthenticated ? "yes" : "no");
	dump_duration(out, "auth_fail_delay", c->auth_fail_delay_ms);
	fprintf(out, "auth_fail_limit = %u\n", c->auth_fail_limit);
	dump_duration(out, "auth_fail_window", c->auth_fail_window_ms);
	dump_duration(out, "auth_block_time", c->auth_block_time_ms);
	if (c->auth_max_parallel != 0)
		fprintf(out, "auth_max_parallel = %u\n", c->auth_max_parallel);
	else
		fprintf(out, "# auth_max_parallel: the number of online CPUs, at least 2\n");
	dump_duration(out, "auth_cache_ttl", c->auth_cache_ttl_ms);
	fprintf(out, "auth_cache_size = %u\n", c->auth_cache_size);
	fprintf(out, "max_sessions = %u\n", c->max_sessions);
	fprintf(out, "max_sessions_per_user = %u\n", c->max_sessions_per_user);
	fprintf(out, "max_sessions_per_client = %u\n", c->max_sessions_per_client);
	fprintf(out, "max_connection_rate = %u\n", c->max_connection_rate);
	dump_ops(c, out);
	fprintf(out, "control_socket = %s\n",
		c->control_socket[0] != '\0' ? c->control_socket : "none");
	if (c->control_group[0] != '\0')
		fprintf(out, "control_group = %s\n", c->control_group);
	else
		fprintf(out, "# control_group: not set (only root and the daemon's own user may "
			     "use the control socket)\n");

	/* A rule line holds up to six lists of up to 1 KiB each (rule_syntax.c);
	 * a shorter buffer would cut a rule in the -t output. */
	char text[8192], net[INET6_ADDRSTRLEN + 8];
	const char *why;
	const struct addr_net *n;
	fprintf(out, "\n# Access rules, first match wins (client rules, with only \"from\", are\n"
		     "# checked when a connection is accepted; the others for each request):\n");
	for (size_t i = 0; i < c->nrules; i++)
		fprintf(out, "%s\t# %s%s:%u\n", rule_format(&c->rules[i], text, sizeof(text)),
			rule_is_client_rule(&c->rules[i]) ? "client rule, " : "", c->rules[i].file,
			c->rules[i].line);
	if (c->nrules == 0)
		fprintf(out, "# (none)\n");
	fprintf(out, "# Built-in default when no rule matches: refuse protected destinations,\n"
		     "# allow the rest. An allow rule opens a protected address only through\n"
		     "# a \"to\" network inside its range (like \"allow to 127.0.0.0/8\").\n");
	for (size_t i = 0; (n = rules_default_range(i, &why)) != NULL; i++)
		fprintf(out, "#   deny to %s\t(%s)\n", addr_net_format(n, net, sizeof(net)), why);
	for (size_t i = 0; i < c->nself; i++)
		fprintf(out, "#   deny to %s\t(the gateway's own address)\n",
			addr_net_format(&c->self[i], net, sizeof(net)));
	fprintf(out, "#   allow\n");
}
