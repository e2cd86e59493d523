/* Logging facade: every message goes through here, plain or with structured
 * journal fields. Knows nothing of the daemon. Thread-safe; each call writes
 * one whole line (stderr) or one journal entry. Priorities are syslog's. */
#ifndef SOCKSGATE_LOG_H
#define SOCKSGATE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <syslog.h>

/* Journal MESSAGE_IDs, one per kind of event, each sent by the module that
 * owns the event (lifecycle: main; session end and rule refusals: session;
 * login failures: handshake); systemd/socksgate.catalog explains each. Fixed
 * forever: operators filter on them. */
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

/* Messages above this priority (numerically) are dropped. Default LOG_INFO. */
void log_set_level(int prio);
/* Parses "error", "warning", "notice", "info", "debug"; returns the priority or -1. */
int log_level_parse(const char *s);
const char *log_level_name(int prio);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Daemon lifecycle events: a message carrying one of the LOG_ID_* above. */
void log_event(const char *message_id, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* At most one message per interval; a later one reports how many were held back.
 * Zero-initialise (static storage) and share between threads freely. */
struct log_ratelimit {
	_Atomic int64_t next_ms;
	atomic_uint suppressed;
};
void log_ratelimited(struct log_ratelimit *rl, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Journal fields of one entry, each "NAME=value", formatted into one buffer.
 * log_fields_init(), add with log_field(), send with log_fields_send(). On
 * stderr only the message is written, so it must say what matters itself. */
#define LOG_FIELDS_MAX 32
struct log_fields {
	struct iovec iov[LOG_FIELDS_MAX];
	size_t n, used;
	char buf[4096];
};
static inline void log_fields_init(struct log_fields *f)
{
	f->n = f->used = 0;
}
/* Adds one "NAME=value" field; a field that does not fit is cut or dropped. */
void log_field(struct log_fields *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One message with the fields (f may be NULL) and message_id (may be NULL). */
void log_fields_send(int prio, const char *message_id, const struct log_fields *f,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* True when a message of prio would be written: skip building one otherwise. */
bool log_enabled(int prio);

/* Fields every journal entry carries from now on, after its own (a tag for
 * the whole process, such as which of several programs on one host wrote
 * it); replaces the previous set, and NULL or an empty set clears it. f is
 * copied. Thread-safe: an entry being sent meanwhile carries the old set or
 * the new one, never a mix. Not written on stderr. */
void log_set_default_fields(const struct log_fields *f);

#endif
