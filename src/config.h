/* Configuration: a file of "key = value" lines plus command-line overrides,
 * turned into one immutable, reference-counted struct config. A reload builds a
 * new one and swaps it in; sessions keep the one they started with. */
#ifndef SOCKSGATE_CONFIG_H
#define SOCKSGATE_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "rules.h"

#define CONFIG_LISTEN_MAX 16
#define CONFIG_PROXY_FROM_MAX 64
#define CONFIG_NAME_MAX 63
#define CONFIG_EXEMPT_MAX 64
/* The file's limits (socksgate.conf(5)): a longer line, a larger file, a NUL
 * byte or a read error is an error, never a shorter file. */
#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1024 * 1024)
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define CONFIG_DEFAULT_PATH SYSCONFDIR "/socksgate/socksgate.conf"
/* An AF_UNIX socket path: sun_path's 108 bytes with the NUL. */
#define CONFIG_SOCKPATH_MAX 107
/* Where systemd's RuntimeDirectory=socksgate puts it; socksgatectl's default. */
#define CONFIG_CONTROL_SOCKET_DEFAULT "/run/socksgate/control"

/* methods: at most the three the gateway speaks (none, gssapi, userpass). */
#define CONFIG_METHODS_MAX 3
/* gssapi_keytab: an absolute path of at most this many bytes. */
#define CONFIG_PATH_MAX 255
/* gssapi_hostname and gssapi_realm: a DNS name's 253 bytes. */
#define CONFIG_HOST_MAX 253
/* gssapi_protection: one bit per RFC 1961 level (enum gssproto_level). */
#define CONFIG_PROTECTION(level) (1u << (level))

struct config {
	atomic_int refs;
	struct addr listen[CONFIG_LISTEN_MAX];
	bool listen_proxy[CONFIG_LISTEN_MAX];	/* listen[i] said "proxy": PROXY protocol */
	size_t nlisten;
	/* Sockets passed by systemd that expect the PROXY protocol header. */
	struct addr proxy_listen[CONFIG_LISTEN_MAX];
	size_t nproxy_listen;
	/* The load balancers that may send the header (proxy_from). */
	struct addr_net proxy_from[CONFIG_PROXY_FROM_MAX];
	size_t nproxy_from;
	/* external_address: BND.ADDR of UDP ASSOCIATE and BIND's first reply;
	 * [0] IPv4, [1] IPv6, each with len 0 when not set (port 0). */
	struct addr external[2];
	/* methods: SOCKS5 method codes (SOCKS5_METHOD_*) in the gateway's order
	 * of preference; "auth = pam" is methods = userpass, "auth = none" is
	 * methods = none. */
	uint8_t methods[CONFIG_METHODS_MAX];
	size_t nmethods;
	/* GSSAPI (RFC 1961): acceptor credentials for gssapi_service@gssapi_hostname
	 * from gssapi_keytab ("" for each: the default keytab, any host name in
	 * it); gssapi_realm "" maps principals with krb5_aname_to_localname, else
	 * by stripping "@realm"; gssapi_protection the levels accepted. */
	char gssapi_keytab[CONFIG_PATH_MAX + 1];
	char gssapi_service[CONFIG_NAME_MAX + 1];
	char gssapi_hostname[CONFIG_HOST_MAX + 1];
	char gssapi_realm[CONFIG_HOST_MAX + 1];
	unsigned gssapi_protection;	/* CONFIG_PROTECTION() bits */
	unsigned workers_min;
	unsigned workers_max;		/* 0: derived from the descriptor limit */
	unsigned queue_length;
	unsigned handshake_timeout_ms;
	unsigned connect_timeout_ms;
	unsigned idle_timeout_ms;	/* 0: never */
	unsigned drain_timeout_ms;
	unsigned bind_timeout_ms;	/* BIND: wait for the inbound connection */
	unsigned udp_idle_timeout_ms;	/* UDP ASSOCIATE: no datagram either way; 0: never */
	int log_level;			/* syslog priority */
	int log_target;			/* enum log_target */
	char user[CONFIG_NAME_MAX + 1];	/* drop to this user after binding; "" keeps the uid */
	char pam_service[CONFIG_NAME_MAX + 1];
	char instance_name[CONFIG_NAME_MAX + 1];	/* SOCKS_INSTANCE on journal entries */
	bool allow_unauthenticated;	/* method none on a non-loopback listener */
	unsigned auth_fail_delay_ms;	/* minimum time a failed login takes */
	unsigned auth_fail_limit;	/* failures per address per window; 0: no blocking */
	unsigned auth_fail_window_ms;
	unsigned auth_block_time_ms;
	unsigned auth_max_parallel;	/* PAM conversations at once; 0: online CPUs, >= 2 */
	unsigned auth_cache_ttl_ms;	/* credential cache; 0: off */
	unsigned auth_cache_size;	/* cached credentials at most */
	unsigned max_sessions;		/* sessions past their request, gateway-wide; 0: no limit */
	unsigned max_sessions_per_user;	/* 0: no limit */
	unsigned max_sessions_per_client;	/* per client address; 0: no limit */
	unsigned max_connection_rate;	/* new connections per second per client address; 0: off */
	struct addr metrics_listen;	/* the Prometheus endpoint; len 0: off */
	bool metrics_per_user;		/* per-user series */
	unsigned metrics_max_users;	/* users with series of their own; the rest: "other" */
	struct addr_net auth_block_exempt[CONFIG_EXEMPT_MAX];	/* never blocked */
	size_t nauth_block_exempt;
	char control_socket[CONFIG_SOCKPATH_MAX + 1];	/* "": no control socket */
	char control_group[CONFIG_NAME_MAX + 1];	/* may use it too; "": nobody else */
	/* The way out (connector): Happy Eyeballs, keepalive, the egress address. */
	unsigned connect_stagger_ms;	/* the next address is tried this long after the last */
	bool prefer_ipv4;		/* prefer_family = ipv4; default: IPv6 first */
	unsigned tcp_keepalive_ms;	/* idle before keepalive probes, both legs; 0: off */
	struct addr outgoing[2];	/* outgoing_address: [0] IPv4, [1] IPv6; len 0: unset */
	struct rule *rules;		/* "allow"/"deny" lines in file order */
	size_t nrules;
	struct addr_net *self;		/* the gateway's own addresses (config_set_self) */
	size_t nself;
};

/* One "key = value" given on the command line. */
struct config_override {
	const char *key;
	const char *value;
};

/* Called once per problem found; file is the config path or "command line",
 * line is 0 when the problem is not tied to one line. */
typedef void (*config_report_fn)(const char *file, unsigned line, const char *msg, void *ctx);

/* Reads path (when path is NULL, the default path, which may be absent), then
 * applies the overrides in order; a "listen" override replaces the file's list.
 * Reports every problem through report and returns 0 with *ret holding one
 * reference, or -EINVAL (bad content) / -errno (file unreadable). */
int config_load(const char *path, const struct config_override *ov, size_t nov,
		config_report_fn report, void *ctx, struct config **ret);

/* config_load() on an open stream: reads the settings from f (the caller's;
 * read to its end, not closed) and blames what it finds on name, then applies
 * the overrides. f NULL: only the defaults and the overrides, with name the
 * place that problems spanning settings are blamed on ("command line"). Does
 * no I/O but reading f. Returns 0 with *ret holding one reference, -EINVAL
 * (bad content; a read error on f counts as one) or -ENOMEM. */
int config_load_stream(FILE *f, const char *name, const struct config_override *ov, size_t nov,
		       config_report_fn report, void *ctx, struct config **ret);

/* A config holding only the built-in defaults; NULL on OOM. */
struct config *config_new(void);
struct config *config_ref(struct config *c);
/* Drops a reference; frees on the last one. NULL is a no-op. */
void config_unref(struct config *c);

/* Parses "10s", "5m", "1h", "250ms" or a bare number of seconds into ms.
 * Returns 0 or -EINVAL / -ERANGE. */
int config_parse_duration(const char *s, unsigned *ret_ms);

/* Gives c the gateway's own addresses (protected by the default policy); takes
 * ownership of the malloc'd array. Only before c is shared with other threads. */
void config_set_self(struct config *c, struct addr_net *self, size_t nself);

/* True when c->methods lists method (a SOCKS5_METHOD_* code). */
bool config_has_method(const struct config *c, uint8_t method);

/* The configuration name of a method ("none", "gssapi", "userpass"), or "?". */
const char *config_method_name(uint8_t method);

/* True when method none (without allow_unauthenticated) would let another
 * host use the gateway through one of the n addresses; msg then says so. */
bool config_unauth_exposed(const struct config *c, const struct addr *a, size_t n, char *msg,
			   size_t msglen);

/* Writes the settings in file syntax to the stream (for -t and docs): the keys,
 * the rules each with its FILE:LINE, then the built-in default as comments. */
void config_dump(const struct config *c, FILE *out);

#endif
