/* Log output: plain lines on stderr, "LEVEL: message". The session record is
 * formatted here and nowhere else, so every backend gets the same fields. */
#include "autoconf.h"

#include "log.h"

#include "addr.h"
#include "socks5.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

static void log_write(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void log_write(int prio, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s: ", level_names[prio]);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	line[len] = '\0';
	/* One stdio call per line: stdio locks the stream, so lines never interleave. */
	fputs(line, stderr);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	log_write(prio, fmt, ap);
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

void log_session_end(const struct log_session *s)
{
	char client[ADDR_STRLEN], dest[ADDR_STRLEN], rep[40], dgrams[96] = "";

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
	log_msg(LOG_INFO,
		"session %llu client=%s user=%s cmd=%s dest=%s addr=%s reply=%s up=%llu down=%llu%s "
		"duration=%llu.%03llus%s%s",
		(unsigned long long)s->id, addr_str(s->client, client, sizeof(client)),
		s->user != NULL ? s->user : "-", s->command != NULL ? s->command : "-",
		s->dest_asked != NULL ? s->dest_asked : "-", dest, rep,
		(unsigned long long)s->bytes_up, (unsigned long long)s->bytes_down, dgrams,
		(unsigned long long)(s->duration_ms / 1000),
		(unsigned long long)(s->duration_ms % 1000), s->reason != NULL ? " reason=" : "",
		s->reason != NULL ? s->reason : "");
}
