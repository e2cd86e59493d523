/* Log output: plain lines on stderr ("LEVEL: message"), or journal entries
 * with structured fields through sd_journal_sendv(). The session record is
 * formatted here and nowhere else, so every backend gets the same fields. */
#include "autoconf.h"

/* Every entry would otherwise say CODE_FILE=log.c: noise, not information. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include "log.h"

#include "addr.h"
#include "socks5.h"
#include "timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg",	 [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error",	 [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",	 [LOG_DEBUG] = "debug",
};

void log_set_level(int prio)
{
	log_level = prio;
}

int log_level_parse(const char *s)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(int prio)
{
	return prio >= 0 && prio <= LOG_DEBUG ? level_names[prio] : "?";
}

static _Atomic bool journal;

/* Parses a decimal number made of digits only (strtoull alone would take a
 * sign and leading blanks); returns the character after it, or NULL. */
static const char *parse_decimal(const char *s, unsigned long long *ret)
{
	char *end;

	if (*s < '0' || *s > '9')
		return NULL;
	errno = 0;
	*ret = strtoull(s, &end, 10);
	return errno == 0 ? end : NULL;
}

bool log_journal_stream_matches(const char *env, dev_t dev, ino_t ino)
{
	unsigned long long d, i;

	if (env == NULL || (env = parse_decimal(env, &d)) == NULL || *env != ':' ||
	    (env = parse_decimal(env + 1, &i)) == NULL || *env != '\0')
		return false;
	return d == (unsigned long long)dev && i == (unsigned long long)ino;
}

static const char *const target_names[] = {
	[LOG_TARGET_AUTO] = "auto",
	[LOG_TARGET_STDERR] = "stderr",
	[LOG_TARGET_JOURNAL] = "journal",
};

int log_target_parse(const char *s)
{
	for (int i = 0; i < (int)(sizeof(target_names) / sizeof(target_names[0])); i++)
		if (strcmp(s, target_names[i]) == 0)
			return i;
	return -1;
}

const char *log_target_name(enum log_target t)
{
	return (unsigned)t < sizeof(target_names) / sizeof(target_names[0]) ? target_names[t]
									      : "?";
}

/* Where sd_journal_sendv() sends (systemd's fixed path). */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

void log_set_target(enum log_target t)
{
	struct stat st;
	bool j = t == LOG_TARGET_JOURNAL;

	/* systemd sets JOURNAL_STREAM for the stream it connects; a child that
	 * inherited the variable but not the stream must not believe it. */
	if (t == LOG_TARGET_AUTO && fstat(STDERR_FILENO, &st) == 0)
		j = log_journal_stream_matches(getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
	/* sd_journal_sendv() reports success when the journal's socket is
	 * absent (journald not running) and drops the message: look once here,
	 * at start and at each reload, rather than for every message. */
	bool absent = j && access(JOURNAL_SOCKET, F_OK) < 0;
	atomic_store(&journal, j && !absent);
	if (absent)
		log_msg(LOG_WARNING, "log = journal, but %s is missing (journald not running): "
			"logging to standard error until a reload finds it", JOURNAL_SOCKET);
}

bool log_to_journal(void)
{
	return atomic_load(&journal);
}

/* Journal fields of one entry, each "NAME=value", formatted into one buffer. */
#define FIELDS_MAX 24
struct fields {
	struct iovec iov[FIELDS_MAX];
	size_t n, used;
	char buf[4096];
};

static void field_add(struct fields *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void field_add(struct fields *f, const char *fmt, ...)
{
	va_list ap;

	if (f->n == FIELDS_MAX || f->used >= sizeof(f->buf))
		return;
	va_start(ap, fmt);
	int m = vsnprintf(f->buf + f->used, sizeof(f->buf) - f->used, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = (size_t)m;
	if (len >= sizeof(f->buf) - f->used)	/* cut: keep what fitted */
		len = sizeof(f->buf) - f->used - 1;
	f->iov[f->n++] = (struct iovec){ .iov_base = f->buf + f->used, .iov_len = len };
	f->used += len + 1;
}

static void write_stderr(int prio, const char *msg)
{
	char line[2200];
	int n = snprintf(line, sizeof(line), "%s: %s\n", level_names[prio], msg);
	if (n >= (int)sizeof(line)) {
		line[sizeof(line) - 2] = '\n';
		line[sizeof(line) - 1] = '\0';
	}
	/* One stdio call per line: stdio locks the stream, so lines never interleave. */
	fputs(line, stderr);
}

/* Sends msg (with extra fields, may be NULL) to the chosen output. A journal
 * that cannot be reached must not swallow messages: they go to stderr. */
static void emit(int prio, const char *message_id, const struct fields *extra, const char *msg)
{
	if (atomic_load(&journal)) {
		struct iovec iov[FIELDS_MAX + 4];
		char p[16];
		size_t n = 0;

		iov[n++] = (struct iovec){ .iov_base = (void *)"SYSLOG_IDENTIFIER=socksgate",
					   .iov_len = strlen("SYSLOG_IDENTIFIER=socksgate") };
		snprintf(p, sizeof(p), "PRIORITY=%d", prio);
		iov[n++] = (struct iovec){ .iov_base = p, .iov_len = strlen(p) };
		char m[2100];
		snprintf(m, sizeof(m), "MESSAGE=%s", msg);
		iov[n++] = (struct iovec){ .iov_base = m, .iov_len = strlen(m) };
		char id[64];
		if (message_id != NULL) {
			snprintf(id, sizeof(id), "MESSAGE_ID=%s", message_id);
			iov[n++] = (struct iovec){ .iov_base = id, .iov_len = strlen(id) };
		}
		for (size_t i = 0; extra != NULL && i < extra->n; i++)
			iov[n++] = extra->iov[i];
		if (sd_journal_sendv(iov, (int)n) >= 0)
			return;
	}
	write_stderr(prio, msg);
}

static void log_vemit(int prio, const char *message_id, const struct fields *extra,
		      const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void log_vemit(int prio, const char *message_id, const struct fields *extra,
		      const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	emit(prio, message_id, extra, msg);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	log_vemit(prio, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_event(const char *message_id, int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	log_vemit(prio, message_id, NULL, fmt, ap);
	va_end(ap);
}

void log_auth_failure(const char *user, const struct sockaddr *client)
{
	char host[ADDR_HOSTLEN], msg[ADDR_HOSTLEN + 320];
	struct fields f;

	if (LOG_WARNING > log_level)
		return;
	f.n = f.used = 0;
	addr_host(client, host, sizeof(host));
	field_add(&f, "SOCKS_USER=%s", user);
	field_add(&f, "SOCKS_CLIENT_ADDR=%s", host);
	field_add(&f, "SOCKS_CLIENT_PORT=%u", (unsigned)addr_port(client));
	/* An empty name still leaves a word for a "for \S+ from" pattern. */
	snprintf(msg, sizeof(msg), "authentication failure for %s from %s",
		 user[0] != '\0' ? user : "\"\"", host);
	emit(LOG_WARNING, LOG_ID_AUTH_FAILURE, &f, msg);
}

#define RATELIMIT_INTERVAL_MS 5000

void log_ratelimited(struct log_ratelimit *rl, int prio, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int64_t now = monotonic_ms();
	int64_t next = atomic_load(&rl->next_ms);

	if (now < next || !atomic_compare_exchange_strong(&rl->next_ms, &next,
							   now + RATELIMIT_INTERVAL_MS)) {
		atomic_fetch_add(&rl->suppressed, 1);
		return;
	}
	unsigned held = atomic_exchange(&rl->suppressed, 0);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (held > 0)
		log_msg(prio, "%s (%u similar messages suppressed)", msg, held);
	else
		log_msg(prio, "%s", msg);
}

/* Splits "host:port" / "[v6]:port" as socks5_addr_str() writes it. */
static void split_hostport(const char *s, char *host, size_t hostlen, const char **port)
{
	const char *colon = strrchr(s, ':');
	size_t n = colon != NULL ? (size_t)(colon - s) : strlen(s);

	*port = colon != NULL ? colon + 1 : NULL;
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n >= hostlen)
		n = hostlen - 1;
	memcpy(host, s, n);
	host[n] = '\0';
}

void log_session_end(const struct log_session *s)
{
	char client[ADDR_STRLEN], dest[ADDR_STRLEN], rep[40], msg[2048], dgrams[96] = "";

	if (LOG_INFO > log_level)
		return;
	if (s->dest != NULL)
		addr_str(s->dest, dest, sizeof(dest));
	else
		snprintf(dest, sizeof(dest), "-");
	if (s->reply >= 0)
		snprintf(rep, sizeof(rep), "0x%02x(%s)", (unsigned)s->reply,
			 socks5_rep_str((uint8_t)s->reply));
	else
		snprintf(rep, sizeof(rep), "-");
	if (s->udp)
		snprintf(dgrams, sizeof(dgrams), " dgrams_up=%llu dgrams_down=%llu dgrams_dropped=%llu",
			 (unsigned long long)s->dgrams_up, (unsigned long long)s->dgrams_down,
			 (unsigned long long)s->dgrams_dropped);
	snprintf(msg, sizeof(msg),
		 "session %llu client=%s user=%s cmd=%s dest=%s addr=%s reply=%s up=%llu down=%llu%s "
		 "duration=%llu.%03llus%s%s",
		 (unsigned long long)s->id, addr_str(s->client, client, sizeof(client)),
		 s->user != NULL ? s->user : "-", s->command != NULL ? s->command : "-",
		 s->dest_asked != NULL ? s->dest_asked : "-", dest, rep,
		 (unsigned long long)s->bytes_up, (unsigned long long)s->bytes_down, dgrams,
		 (unsigned long long)(s->duration_ms / 1000),
		 (unsigned long long)(s->duration_ms % 1000), s->reason != NULL ? " reason=" : "",
		 s->reason != NULL ? s->reason : "");
	if (!atomic_load(&journal)) {
		emit(LOG_INFO, NULL, NULL, msg);
		return;
	}

	struct fields f;
	char host[ADDR_STRLEN];
	f.n = f.used = 0;
	field_add(&f, "SOCKS_SESSION_ID=%llu", (unsigned long long)s->id);
	field_add(&f, "SOCKS_CLIENT_ADDR=%s", addr_host(s->client, host, sizeof(host)));
	field_add(&f, "SOCKS_CLIENT_PORT=%u", (unsigned)addr_port(s->client));
	if (s->user != NULL)
		field_add(&f, "SOCKS_USER=%s", s->user);
	if (s->command != NULL)
		field_add(&f, "SOCKS_COMMAND=%s", s->command);
	if (s->dest_asked != NULL) {
		const char *port;
		split_hostport(s->dest_asked, host, sizeof(host), &port);
		field_add(&f, "SOCKS_DEST_HOST=%s", host);
		if (port != NULL)
			field_add(&f, "SOCKS_DEST_PORT=%s", port);
	}
	if (s->dest != NULL)
		field_add(&f, "SOCKS_DEST_ADDR=%s", addr_host(s->dest, host, sizeof(host)));
	if (s->reply >= 0)
		field_add(&f, "SOCKS_REPLY=0x%02x", (unsigned)s->reply);
	field_add(&f, "SOCKS_BYTES_UP=%llu", (unsigned long long)s->bytes_up);
	field_add(&f, "SOCKS_BYTES_DOWN=%llu", (unsigned long long)s->bytes_down);
	field_add(&f, "SOCKS_DURATION_MS=%llu", (unsigned long long)s->duration_ms);
	if (s->udp) {
		field_add(&f, "SOCKS_DGRAMS_UP=%llu", (unsigned long long)s->dgrams_up);
		field_add(&f, "SOCKS_DGRAMS_DOWN=%llu", (unsigned long long)s->dgrams_down);
		field_add(&f, "SOCKS_DGRAMS_DROPPED=%llu", (unsigned long long)s->dgrams_dropped);
	}
	if (s->reason != NULL)
		field_add(&f, "SOCKS_REASON=%s", s->reason);
	/* Only a rule's refusal has its own ID; a session limit, a BIND peer
	 * from the wrong address and the like end as any session does. */
	emit(LOG_INFO, s->refused_by_rule ? LOG_ID_RULE_REFUSAL : LOG_ID_SESSION_END, &f, msg);
}
