/* Log output: plain lines on stderr ("LEVEL: message"), or journal entries
 * with structured fields through sd_journal_sendv(). Knows nothing of the
 * daemon: callers bring the message and the fields. */
#include "autoconf.h"

/* Every entry would otherwise say CODE_FILE=log.c: noise, not information. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include "log.h"

#include "timeutil.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
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

bool log_enabled(int prio)
{
	return prio <= log_level;
}

void log_field(struct log_fields *f, const char *fmt, ...)
{
	va_list ap;

	if (f->n == LOG_FIELDS_MAX || f->used >= sizeof(f->buf))
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

/* The fields log_set_default_fields() gave, under their lock; have_defaults
 * spares the lock while there are none. */
static pthread_mutex_t defaults_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_fields defaults;
static atomic_bool have_defaults;

/* Copies src into dst, pointing dst's iovecs into dst's own buffer. */
static void fields_copy(struct log_fields *dst, const struct log_fields *src)
{
	memcpy(dst->buf, src->buf, src->used);
	for (size_t i = 0; i < src->n; i++)
		dst->iov[i] = (struct iovec){
			.iov_base = dst->buf + ((const char *)src->iov[i].iov_base - src->buf),
			.iov_len = src->iov[i].iov_len,
		};
	dst->n = src->n;
	dst->used = src->used;
}

void log_set_default_fields(const struct log_fields *f)
{
	pthread_mutex_lock(&defaults_lock);
	if (f != NULL)
		fields_copy(&defaults, f);
	else
		log_fields_init(&defaults);
	atomic_store(&have_defaults, defaults.n > 0);
	pthread_mutex_unlock(&defaults_lock);
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
static void emit(int prio, const char *message_id, const struct log_fields *extra,
		 const char *msg)
{
	if (atomic_load(&journal)) {
		struct iovec iov[2 * LOG_FIELDS_MAX + 4];
		struct log_fields d;
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
		/* A copy, so the lock is not held while the journal takes the entry. */
		log_fields_init(&d);
		if (atomic_load(&have_defaults)) {
			pthread_mutex_lock(&defaults_lock);
			fields_copy(&d, &defaults);
			pthread_mutex_unlock(&defaults_lock);
		}
		for (size_t i = 0; i < d.n; i++)
			iov[n++] = d.iov[i];
		if (sd_journal_sendv(iov, (int)n) >= 0)
			return;
	}
	write_stderr(prio, msg);
}

static void log_vemit(int prio, const char *message_id, const struct log_fields *extra,
		      const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void log_vemit(int prio, const char *message_id, const struct log_fields *extra,
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

void log_fields_send(int prio, const char *message_id, const struct log_fields *f,
		     const char *fmt, ...)
{
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	log_vemit(prio, message_id, f, fmt, ap);
	va_end(ap);
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
