/* Config file parser. One table describes every key: its type, where it lives
 * in struct config and its bounds, so the file, the command line and -t all
 * agree. Parsing collects every error before giving up. */
#include "autoconf.h"

#include "config.h"

#include "config_addr.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum opt_type {
	OPT_ADDRS,	/* listen, proxy_from, proxy_listen, external_address: config_addr.c */
	OPT_AUTH,
	OPT_UINT,
	OPT_DURATION,
	OPT_LOGLEVEL,
	OPT_LOGTARGET,
	OPT_BOOL,
	OPT_NAME,	/* a file-name-safe word, stored in a char array */
	OPT_ADDR,	/* one ADDR:PORT in a struct addr, or "off" (len 0) */
	OPT_NETS,	/* a comma list of networks, added to auth_block_exempt */
	OPT_SOCKPATH,	/* an absolute AF_UNIX socket path; "none" or empty: off */
};

struct option_def {
	const char *name;
	enum opt_type type;
	size_t offset;
	unsigned min, max;
};

#define OFF(f) offsetof(struct config, f)
static const struct option_def options[] = {
	{ "listen", OPT_ADDRS, 0, 0, 0 },
	{ "proxy_from", OPT_ADDRS, 0, 0, 0 },
	{ "proxy_listen", OPT_ADDRS, 0, 0, 0 },
	{ "external_address", OPT_ADDRS, 0, 0, 0 },
	{ "auth", OPT_AUTH, OFF(auth), 0, 0 },
	{ "workers_min", OPT_UINT, OFF(workers_min), 1, 100000 },
	{ "workers_max", OPT_UINT, OFF(workers_max), 1, 1000000 },
	{ "queue_length", OPT_UINT, OFF(queue_length), 1, 1000000 },
	{ "handshake_timeout", OPT_DURATION, OFF(handshake_timeout_ms), 1, 3600000 },
	{ "connect_timeout", OPT_DURATION, OFF(connect_timeout_ms), 1, 3600000 },
	{ "idle_timeout", OPT_DURATION, OFF(idle_timeout_ms), 0, 7 * 86400000u },
	{ "drain_timeout", OPT_DURATION, OFF(drain_timeout_ms), 0, 86400000 },
	{ "bind_timeout", OPT_DURATION, OFF(bind_timeout_ms), 1, 86400000 },
	{ "udp_idle_timeout", OPT_DURATION, OFF(udp_idle_timeout_ms), 0, 7 * 86400000u },
	{ "log_level", OPT_LOGLEVEL, OFF(log_level), 0, 0 },
	{ "log", OPT_LOGTARGET, OFF(log_target), 0, 0 },
	{ "user", OPT_NAME, OFF(user), 1, CONFIG_NAME_MAX },
	{ "pam_service", OPT_NAME, OFF(pam_service), 1, CONFIG_NAME_MAX },
	{ "instance_name", OPT_NAME, OFF(instance_name), 1, CONFIG_NAME_MAX },
	{ "allow_unauthenticated", OPT_BOOL, OFF(allow_unauthenticated), 0, 0 },
	{ "auth_fail_delay", OPT_DURATION, OFF(auth_fail_delay_ms), 0, 60000 },
	{ "auth_fail_limit", OPT_UINT, OFF(auth_fail_limit), 0, 1000000 },
	{ "auth_fail_window", OPT_DURATION, OFF(auth_fail_window_ms), 1000, 86400000 },
	{ "auth_block_time", OPT_DURATION, OFF(auth_block_time_ms), 1000, 7 * 86400000u },
	{ "auth_max_parallel", OPT_UINT, OFF(auth_max_parallel), 0, 4096 },
	{ "auth_cache_ttl", OPT_DURATION, OFF(auth_cache_ttl_ms), 0, 86400000 },
	{ "auth_cache_size", OPT_UINT, OFF(auth_cache_size), 0, 1000000 },
	{ "max_sessions", OPT_UINT, OFF(max_sessions), 0, 10000000 },
	{ "max_sessions_per_user", OPT_UINT, OFF(max_sessions_per_user), 0, 10000000 },
	{ "max_sessions_per_client", OPT_UINT, OFF(max_sessions_per_client), 0, 10000000 },
	{ "max_connection_rate", OPT_UINT, OFF(max_connection_rate), 0, 1000000 },
	{ "metrics_listen", OPT_ADDR, OFF(metrics_listen), 0, 0 },
	{ "metrics_per_user", OPT_BOOL, OFF(metrics_per_user), 0, 0 },
	{ "metrics_max_users", OPT_UINT, OFF(metrics_max_users), 0, 100000 },
	{ "auth_block_exempt", OPT_NETS, 0, 0, CONFIG_EXEMPT_MAX },
	{ "control_socket", OPT_SOCKPATH, OFF(control_socket), 0, CONFIG_SOCKPATH_MAX },
	{ "control_group", OPT_NAME, OFF(control_group), 1, CONFIG_NAME_MAX },
};

struct config *config_new(void)
{
	struct config *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	atomic_init(&c->refs, 1);
	(void)addr_parse("127.0.0.1:1080", &c->listen[0]);
	c->nlisten = 1;
	c->auth = CONFIG_AUTH_PAM;
	c->workers_min = 4;
	c->workers_max = 0;
	c->queue_length = 1024;
	c->handshake_timeout_ms = 10000;
	c->connect_timeout_ms = 10000;
	c->idle_timeout_ms = 3600000;
	c->drain_timeout_ms = 10000;
	c->bind_timeout_ms = 120000;
	c->udp_idle_timeout_ms = 300000;
	c->log_level = LOG_INFO;
	c->log_target = LOG_TARGET_AUTO;
	snprintf(c->pam_service, sizeof(c->pam_service), "socksgate");
	c->auth_fail_delay_ms = 1000;
	c->auth_fail_limit = 10;
	c->auth_fail_window_ms = 300000;
	c->auth_block_time_ms = 900000;
	c->auth_max_parallel = 0;
	c->auth_cache_ttl_ms = 300000;
	c->auth_cache_size = 4096;
	c->metrics_max_users = 100;
	snprintf(c->control_socket, sizeof(c->control_socket), "%s", CONFIG_CONTROL_SOCKET_DEFAULT);
	return c;
}

struct config *config_ref(struct config *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void config_unref(struct config *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	for (size_t i = 0; i < c->nrules; i++)
		rule_free(&c->rules[i]);
	free(c->rules);
	free(c->self);
	free(c);
}

void config_set_self(struct config *c, struct addr_net *self, size_t nself)
{
	free(c->self);
	c->self = self;
	c->nself = nself;
}

/* Is the line a rule ("allow ..." or "deny ...") rather than "key = value"? */
static bool is_rule(const char *s)
{
	size_t n = strcspn(s, " \t");
	return (n == 5 && strncmp(s, "allow", 5) == 0) || (n == 4 && strncmp(s, "deny", 4) == 0);
}

static int add_rule(struct config *c, const char *text, const char *path, unsigned lineno,
		    char *err, size_t errlen)
{
	struct rule r;
	int res = rule_parse(text, path, lineno, &r, err, errlen);
	if (res == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (res < 0)
		return res;
	struct rule *v = realloc(c->rules, (c->nrules + 1) * sizeof(*v));
	if (v == NULL) {
		rule_free(&r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->rules = v;
	c->rules[c->nrules++] = r;
	return 0;
}

int config_parse_duration(const char *s, unsigned *ret_ms)
{
	static const struct {
		const char *suffix;
		unsigned long long mult;
	} units[] = { { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		      { "d", 86400000 } };
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT_MAX / units[i].mult)
			return -ERANGE;
		*ret_ms = (unsigned)(v * units[i].mult);
		return 0;
	}
	return -EINVAL;
}

/* OPT_ADDR: "ADDR:PORT" or "off". */
static int set_addr(struct addr *a, const char *key, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "off") == 0) {
		memset(a, 0, sizeof(*a));
		return 0;
	}
	if (addr_parse(value, a) == 0)
		return 0;
	snprintf(err, errlen, "%s: '%s' is not ADDR:PORT (a.b.c.d:PORT or [IPv6]:PORT) or off",
		 key, value);
	return -EINVAL;
}

/* OPT_NETS: "CIDR, CIDR..." added to auth_block_exempt ("none" clears it). */
static int set_nets(struct config *c, const char *key, const char *value, char *err,
		    size_t errlen)
{
	char bad[64];

	if (strcmp(value, "none") == 0) {
		c->nauth_block_exempt = 0;
		return 0;
	}
	int r = addr_net_parse_list(value, c->auth_block_exempt, CONFIG_EXEMPT_MAX,
				    &c->nauth_block_exempt, bad, sizeof(bad));
	if (r == -E2BIG)
		snprintf(err, errlen, "%s: more than %d networks", key, CONFIG_EXEMPT_MAX);
	else if (r < 0)
		snprintf(err, errlen,
			 "%s: '%s' is not an address or network (CIDR, host bits zero)", key, bad);
	return r < 0 ? -EINVAL : 0;
}

static const struct option_def *option_find(const char *name)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

/* OPT_SOCKPATH: an absolute path of printable characters that fits sun_path,
 * or "none" / empty for off. */
static int set_sockpath(char *dst, const struct option_def *o, const char *value, char *err,
			size_t errlen)
{
	size_t n = strlen(value);
	bool printable = true;

	for (size_t i = 0; i < n; i++)
		printable = printable && (unsigned char)value[i] > 0x20 && value[i] != 0x7f;
	if (n == 0 || strcmp(value, "none") == 0) {
		dst[0] = '\0';
		return 0;
	}
	if (value[0] != '/' || n > o->max || !printable) {
		snprintf(err, errlen, "%s: '%s' is not an absolute path of up to %u bytes without "
			 "spaces (or none)", o->name, value, o->max);
		return -EINVAL;
	}
	memcpy(dst, value, n + 1);
	return 0;
}

/* Applies one setting; on error writes a message to err and returns -EINVAL. */
/* OPT_UINT and OPT_DURATION: a number, or a duration in ms, within o's bounds. */
static int set_number(struct config *c, const struct option_def *o, const char *key,
		      const char *value, char *err, size_t errlen)
{
	unsigned *u = (unsigned *)((char *)c + o->offset);
	char *end;

	if (o->type == OPT_DURATION) {
		unsigned ms;
		if (config_parse_duration(value, &ms) < 0 || ms < o->min || ms > o->max) {
			snprintf(err, errlen,
				 "%s: '%s' is not a duration from %ums to %us (like 10s, 5m, 1h)",
				 key, value, o->min, o->max / 1000);
			return -EINVAL;
		}
		*u = ms;
		return 0;
	}
	errno = 0;
	unsigned long v = isdigit((unsigned char)*value) ? strtoul(value, &end, 10) : 0;
	if (!isdigit((unsigned char)*value) || errno != 0 || *end != '\0' || v < o->min ||
	    v > o->max) {
		snprintf(err, errlen, "%s: '%s' is not a number from %u to %u", key, value, o->min,
			 o->max);
		return -EINVAL;
	}
	*u = (unsigned)v;
	return 0;
}

static int set_bool(bool *b, const char *key, const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "on") == 0) {
		*b = true;
		return 0;
	}
	if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "off") == 0) {
		*b = false;
		return 0;
	}
	snprintf(err, errlen, "%s: '%s' is not yes or no", key, value);
	return -EINVAL;
}

static int set_name(char *dst, const struct option_def *o, const char *key, const char *value,
		    char *err, size_t errlen)
{
	if (strlen(value) > o->max || value[0] == '.' ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		    strlen(value)) {
		snprintf(err, errlen, "%s: '%s' is not a name of up to %u letters, digits, '.', '_', '-'",
			 key, value, o->max);
		return -EINVAL;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* The enumerated keys: auth, log_level, log. */
static int set_word(struct config *c, const struct option_def *o, const char *value, char *err,
		    size_t errlen)
{
	int r;

	switch (o->type) {
	case OPT_AUTH:
		if (strcmp(value, "none") == 0 || strcmp(value, "pam") == 0) {
			c->auth = value[0] == 'n' ? CONFIG_AUTH_NONE : CONFIG_AUTH_PAM;
			return 0;
		}
		snprintf(err, errlen, "auth: '%s' is not one of none, pam", value);
		return -EINVAL;
	case OPT_LOGLEVEL:
		if ((r = log_level_parse(value)) >= 0) {
			c->log_level = r;
			return 0;
		}
		snprintf(err, errlen,
			 "log_level: '%s' is not one of error, warning, notice, info, debug", value);
		return -EINVAL;
	default:
		if ((r = log_target_parse(value)) >= 0) {
			c->log_target = r;
			return 0;
		}
		snprintf(err, errlen, "log: '%s' is not one of auto, stderr, journal", value);
		return -EINVAL;
	}
}

static int option_set(struct config *c, const char *key, const char *value, char *err,
		      size_t errlen)
{
	const struct option_def *o = option_find(key);

	if (o == NULL) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -EINVAL;
	}
	if (*value == '\0' && o->type != OPT_SOCKPATH) {
		snprintf(err, errlen, "'%s' needs a value", key);
		return -EINVAL;
	}
	switch (o->type) {
	case OPT_ADDRS:
		return config_addr_set(c, key, value, err, errlen);
	case OPT_AUTH:
	case OPT_LOGLEVEL:
	case OPT_LOGTARGET:
		return set_word(c, o, value, err, errlen);
	case OPT_UINT:
	case OPT_DURATION:
		return set_number(c, o, key, value, err, errlen);
	case OPT_BOOL:
		return set_bool((bool *)((char *)c + o->offset), key, value, err, errlen);
	case OPT_NAME:
		return set_name((char *)c + o->offset, o, key, value, err, errlen);
	case OPT_ADDR:
		return set_addr((struct addr *)((char *)c + o->offset), key, value, err, errlen);
	case OPT_NETS:
		return set_nets(c, key, value, err, errlen);
	case OPT_SOCKPATH:
		return set_sockpath((char *)c + o->offset, o, value, err, errlen);
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Where the settings that need proxy_from were made, for its error. */
struct proxy_origin {
	unsigned listen_line;		/* the file's first "listen ... proxy" line */
	unsigned proxy_listen_line;	/* the file's first proxy_listen line */
	bool listen_cmdline;		/* the command line replaced the file's listen list */
};

/* Notes in o the line that set a listener expecting the PROXY protocol. */
static void note_proxy_origin(const struct config *c, const char *key, unsigned lineno,
			      struct proxy_origin *o)
{
	if (strcmp(key, "listen") == 0 && o->listen_line == 0 && config_addr_proxy_listener(c))
		o->listen_line = lineno;
	if (strcmp(key, "proxy_listen") == 0 && o->proxy_listen_line == 0)
		o->proxy_listen_line = lineno;
}

/* Parses the open file; returns the number of errors found. */
static unsigned parse_stream(struct config *c, FILE *f, const char *path, config_report_fn report,
			     void *ctx, struct proxy_origin *origin)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0, errors = 0;
	bool listen_seen = false;
	char err[512];

	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		char *s = trim(line);
		if (*s == '\0')
			continue;
		if (is_rule(s)) {
			if (add_rule(c, s, path, lineno, err, sizeof(err)) < 0) {
				report(path, lineno, err, ctx);
				errors++;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(err, sizeof(err), "expected 'key = value', got '%s'", s);
			report(path, lineno, err, ctx);
			errors++;
			continue;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		/* The file's first listen replaces the built-in default. */
		if (strcmp(key, "listen") == 0 && !listen_seen) {
			listen_seen = true;
			c->nlisten = 0;
		}
		if (option_set(c, key, value, err, sizeof(err)) < 0) {
			report(path, lineno, err, ctx);
			errors++;
		} else {
			note_proxy_origin(c, key, lineno, origin);
		}
	}
	if (ferror(f)) {
		snprintf(err, sizeof(err), "cannot read: %s", strerror(errno));
		report(path, lineno, err, ctx);
		errors++;
	}
	free(line);
	return errors;
}

/* A listener that expects the PROXY protocol header needs the balancers
 * it may come from (without proxy_from every connection would be refused),
 * and serves their clients, so auth = none needs allow_unauthenticated. */
static unsigned check_proxy_from(const struct config *c, const char *path,
				 const struct proxy_origin *o, config_report_fn report, void *ctx)
{
	static const char why[] = "but proxy_from is not set: name the networks of the load "
				  "balancers that may send the PROXY protocol header";
	bool by_listen = config_addr_proxy_listener(c);
	unsigned errors = 0;
	char err[200];

	if (!by_listen && c->nproxy_listen == 0)
		return 0;
	if (c->auth == CONFIG_AUTH_NONE && !c->allow_unauthenticated) {
		/* Loopback or not, such a listener serves the balancer's clients. */
		report(path, 0, "auth = none on a listener behind a load balancer (PROXY protocol) "
		       "lets the balancer's clients use the gateway; set allow_unauthenticated = "
		       "yes if that is intended", ctx);
		errors++;
	}
	if (c->nproxy_from == 0) {
		snprintf(err, sizeof(err), "%s %s", by_listen ? "listen: a listener says 'proxy'"
							       : "proxy_listen is set", why);
		if (by_listen && o->listen_cmdline)
			report("command line", 0, err, ctx);
		else
			report(path, by_listen ? o->listen_line : o->proxy_listen_line, err, ctx);
		errors++;
	}
	return errors;
}

static unsigned check_consistency(const struct config *c, const char *path,
				  config_report_fn report, void *ctx)
{
	char err[320];
	unsigned errors = 0;

	if (c->workers_max != 0 && c->workers_min > c->workers_max) {
		snprintf(err, sizeof(err), "workers_min (%u) is above workers_max (%u)",
			 c->workers_min, c->workers_max);
		report(path, 0, err, ctx);
		errors++;
	}
	if (config_unauth_exposed(c, c->listen, c->nlisten, err, sizeof(err))) {
		report(path, 0, err, ctx);
		errors++;
	}
	return errors;
}

bool config_unauth_exposed(const struct config *c, const struct addr *a, size_t n, char *msg,
			   size_t msglen)
{
	char s[ADDR_STRLEN];

	if (c->auth != CONFIG_AUTH_NONE || c->allow_unauthenticated)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&a[i].ss;
		if (addr_is_loopback(sa))
			continue;
		snprintf(msg, msglen,
			 "auth = none on the non-loopback listener %s lets anyone who can reach it "
			 "use the gateway; set allow_unauthenticated = yes if that is intended",
			 addr_str(sa, s, sizeof(s)));
		return true;
	}
	return false;
}

int config_load(const char *path, const struct config_override *ov, size_t nov,
		config_report_fn report, void *ctx, struct config **ret)
{
	const char *file = path != NULL ? path : CONFIG_DEFAULT_PATH;
	char err[512];

	FILE *f = fopen(file, "re");
	if (f == NULL) {
		int r = -errno;
		/* Only an absent default file means "use the built-in defaults". */
		if (path != NULL || r != -ENOENT) {
			snprintf(err, sizeof(err), "cannot open: %s", strerror(-r));
			report(file, 0, err, ctx);
			return r;
		}
		return config_load_stream(NULL, "command line", ov, nov, report, ctx, ret);
	}
	int r = config_load_stream(f, file, ov, nov, report, ctx, ret);
	fclose(f);
	return r;
}

int config_load_stream(FILE *f, const char *name, const struct config_override *ov, size_t nov,
		       config_report_fn report, void *ctx, struct config **ret)
{
	unsigned errors = 0;
	char err[512];
	struct proxy_origin origin = { 0, 0, false };

	struct config *c = config_new();
	if (c == NULL)
		return -ENOMEM;
	/* Settings that span several lines are blamed on name: the file, or
	 * the command line when no file was read. */
	if (f != NULL)
		errors += parse_stream(c, f, name, report, ctx, &origin);

	bool listen_reset = false;
	for (size_t i = 0; i < nov; i++) {
		if (strcmp(ov[i].key, "listen") == 0 && !listen_reset) {
			listen_reset = true;
			c->nlisten = 0;
		}
		if (option_set(c, ov[i].key, ov[i].value, err, sizeof(err)) < 0) {
			report("command line", 0, err, ctx);
			errors++;
		}
	}
	origin.listen_cmdline = listen_reset;
	errors += check_consistency(c, name, report, ctx);
	errors += check_proxy_from(c, name, &origin, report, ctx);
	if (errors > 0) {
		config_unref(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}
