/* Logging facade: every message and every session record goes through here.
 * Thread-safe; each call writes one whole line (stderr) or one journal entry.
 * Priorities are syslog's. */
#ifndef SOCKSGATE_LOG_H
#define SOCKSGATE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

struct sockaddr;

/* Journal MESSAGE_IDs, one per kind of event; systemd/socksgate.catalog
 * explains each. Fixed forever: operators filter on them. */
#define LOG_ID_START		"4190f567791840f3a2fbe03407fdacfd"
#define LOG_ID_STOP		"cefecdcd843a44bb8f694ef1e247c94c"
#define LOG_ID_RELOAD		"97ee0cf342f541faa1db5bb9355db392"
#define LOG_ID_RELOAD_FAILED	"e74092cdd4364029919cf0665cf505d5"
#define LOG_ID_SESSION_END	"7bab9c6e362a4c19841a7af637dc3bf8"
#define LOG_ID_AUTH_FAILURE	"0d6dd34ecff84cc19b4e3bb3a106afd9"
#define LOG_ID_RULE_REFUSAL	"c3c10078547a4becb44cdbbaca814840"

/* Where messages go. AUTO: the journal when stderr is connected to it
 * (JOURNAL_STREAM names fd 2's device and inode), else stderr. */
enum log_target {
	LOG_TARGET_AUTO,
	LOG_TARGET_STDERR,
	LOG_TARGET_JOURNAL,
};

/* Chooses the output; AUTO is resolved here, once per call. Thread-safe. */
void log_set_target(enum log_target t);
/* Parses "auto", "stderr", "journal"; returns the target or -1. */
int log_target_parse(const char *s);
const char *log_target_name(enum log_target t);
/* True when JOURNAL_STREAM's value ("DEV:INODE", decimal) names dev and ino.
 * NULL or malformed values are false. Pure. */
bool log_journal_stream_matches(const char *env, dev_t dev, ino_t ino);
/* True while messages go to the journal. */
bool log_to_journal(void);

/* Messages above this priority (numerically) are dropped. Default LOG_INFO. */
void log_set_level(int prio);
/* Parses "error", "warning", "notice", "info", "debug"; returns the priority or -1. */
int log_level_parse(const char *s);
const char *log_level_name(int prio);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Daemon lifecycle events: a message carrying one of the LOG_ID_* above. */
void log_event(const char *message_id, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A failed login: "authentication failure for USER from HOST" with
 * SOCKS_USER and SOCKS_CLIENT_ADDR/PORT fields. user is already escaped. */
void log_auth_failure(const char *user, const struct sockaddr *client);

/* At most one message per interval; a later one reports how many were held back.
 * Zero-initialise (static storage) and share between threads freely. */
struct log_ratelimit {
	_Atomic int64_t next_ms;
	atomic_uint suppressed;
};
void log_ratelimited(struct log_ratelimit *rl, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One finished session. Strings may be NULL ("-" is logged). Zero-initialise
 * (designated initialisers) so fields added later default to "absent". */
struct log_session {
	uint64_t id;
	const struct sockaddr *client;
	const char *user;
	const char *command;
	const char *dest_asked;		/* as the client named it */
	const struct sockaddr *dest;	/* as connected, or NULL */
	int reply;			/* SOCKS reply code, or -1 if none was sent */
	const char *reason;		/* why it ended early, or NULL */
	bool refused_by_rule;		/* refused by an access rule or the default policy
					 * (reason names which): its own journal MESSAGE_ID,
					 * as is any reply 0x02 (a limit) */
	uint64_t bytes_up;		/* client -> destination */
	uint64_t bytes_down;		/* destination -> client */
	uint64_t duration_ms;
	/* UDP ASSOCIATE only (udp set): datagrams relayed each way and dropped. */
	bool udp;
	uint64_t dgrams_up;
	uint64_t dgrams_down;
	uint64_t dgrams_dropped;
};
/* Logs the session record, once per session: a "session N key=value..." line
 * on stderr, or a journal entry with the SOCKS_* fields. */
void log_session_end(const struct log_session *s);

#endif
