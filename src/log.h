/* Logging facade: every message and every session record goes through here.
 * Thread-safe; each call writes one whole line. Priorities are syslog's. */
#ifndef SOCKSGATE_LOG_H
#define SOCKSGATE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

struct sockaddr;

/* Messages above this priority (numerically) are dropped. Default LOG_INFO. */
void log_set_level(int prio);
/* Parses "error", "warning", "notice", "info", "debug"; returns the priority or -1. */
int log_level_parse(const char *s);
const char *log_level_name(int prio);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* At most one message per interval; a later one reports how many were held back.
 * Zero-initialise (static storage) and share between threads freely. */
struct log_ratelimit {
	_Atomic int64_t next_ms;
	atomic_uint suppressed;
};
void log_ratelimited(struct log_ratelimit *rl, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One finished session. Strings may be NULL ("-" is logged). */
struct log_session {
	uint64_t id;
	const struct sockaddr *client;
	const char *user;
	const char *command;
	const char *dest_asked;		/* as the client named it */
	const struct sockaddr *dest;	/* as connected, or NULL */
	int reply;			/* SOCKS reply code, or -1 if none was sent */
	const char *reason;		/* why it ended early, or NULL */
	uint64_t bytes_up;		/* client -> destination */
	uint64_t bytes_down;		/* destination -> client */
	uint64_t duration_ms;
	/* UDP ASSOCIATE only (udp set): datagrams relayed each way and dropped. */
	bool udp;
	uint64_t dgrams_up;
	uint64_t dgrams_down;
	uint64_t dgrams_dropped;
};
void log_session_end(const struct log_session *s);

#endif
