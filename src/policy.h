/* What a client may do: admission at accept time (client rules, connection
 * rate, sessions per address), the limits a request counts against, and the
 * rules seam that every destination address is checked through. The glue
 * between a session and the pure rules matcher and the quota counters. */
#ifndef SOCKSGATE_POLICY_H
#define SOCKSGATE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct addr;
struct config;
struct sockaddr;

/* At accept time, before any byte is read (behind a load balancer: as soon
 * as the PROXY header named the client): may this client address open a
 * session (client rules, max_connection_rate, max_sessions_per_client)?
 * True takes one of the address's session slots, which policy_unadmit()
 * gives back. False: close it at once; the refusal is logged here
 * (rate-limited). Cheap, no I/O: fit for the acceptor thread. Thread-safe. */
bool policy_admit(const struct addr *peer, const struct config *cfg);
void policy_unadmit(const struct addr *peer);

/* For -t: calls report (a config_report_fn: file, line, message, ctx) for
 * every user and group that c's rules name and NSS does not know (a typo,
 * or an account not made yet: such a name never matches). Blocking (NSS).
 * Returns how many. */
unsigned policy_check_rule_names(const struct config *c,
				 void (*report)(const char *file, unsigned line, const char *msg,
						void *ctx),
				 void *ctx);
/* At start, for -t and at a reload: calls report for outgoing_address (as
 * path's, line 0) and each rule's "via" address that the machine does not
 * have (a connection could not leave from it). Returns how many. Makes a
 * socket per address and closes it. */
unsigned policy_check_sources(const struct config *c, const char *path,
			      void (*report)(const char *file, unsigned line, const char *msg,
					     void *ctx),
			      void *ctx);
/* At accept time on a socket that expects a PROXY protocol header: is peer
 * one of the trusted load balancers (proxy_from)? Such a connection is
 * admitted with policy_admit() only once its header names the client. False:
 * close it at once; the refusal is logged here (rate-limited), and nothing
 * the peer would send is ever read. Cheap, no I/O. Thread-safe. */
bool policy_balancer_trusted(const struct addr *peer, const struct config *cfg);

/* One request as the rules and limits see it. Fill it with policy_init(),
 * then set dest_name when the client named its destination. */
struct policy {
	const struct config *cfg;
	const struct sockaddr *client;
	const char *login;		/* the name as authenticated, or NULL */
	const char *user;		/* the name escaped for logs, or NULL */
	unsigned cmd;			/* one RULE_CMD_* bit */
	const char *dest_name;		/* the name that name rules see, or NULL */
	char refusal[200];		/* why the last check said no */
	bool refused_by_default;	/* ... and it was the built-in default, not a rule */
	bool held_user, held_session;	/* limits taken by policy_take_limits() */
};

/* cmd is the SOCKS5 command byte; login and user may be NULL or "". */
void policy_init(struct policy *p, const struct config *cfg, const struct sockaddr *client,
		 const char *login, const char *user, uint8_t cmd);

/* The limits a request counts against: per user, then gateway-wide. True
 * when the request may go on; otherwise why says which limit (and a
 * rate-limited warning was logged). policy_release() gives them back. */
bool policy_take_limits(struct policy *p, char *why, size_t whylen);
void policy_release(struct policy *p);

/* The rules seam for destinations (a connector_check_fn; ctx is the struct
 * policy): may this request reach sa (address and port)? Asked for every
 * address a CONNECT tries, every BIND peer and every UDP datagram
 * destination, so the check holds on the address really used. On false,
 * p->refusal names the rule (or the default).
 * Cheap (group answers are cached); called on the session's own thread. */
bool policy_dest_allowed(const struct sockaddr *sa, void *ctx);

/* The same for an address a CONNECT is about to try (a connector_check_fn):
 * when the allow rule that decided names a source address of sa's family
 * ("via"), *ret_source is set to it. */
bool policy_connect_allowed(const struct sockaddr *sa, void *ctx, struct addr *ret_source);

/* The same for one UDP datagram, whose destination name (NULL for an
 * address) the name rules see too (a udprelay_check_fn). */
bool policy_udp_allowed(const struct sockaddr *sa, const char *name, void *ctx);

/* Before resolving p->dest_name: true (refusal set) when a rule refuses the
 * name whatever it resolves to, which costs no DNS query. */
bool policy_name_refused(struct policy *p, uint16_t port);

/* After a refusal: STATS_REFUSED_POLICY when the built-in default refused,
 * else STATS_REFUSED_RULE (an enum stats_outcome). */
int policy_refusal_outcome(const struct policy *p);

/* BIND and UDP ASSOCIATE learn their destinations later: true (refusal set)
 * when a deny rule refuses every destination of the command outright. */
bool policy_command_refused(struct policy *p);

#endif
