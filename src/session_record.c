/* The session record: the one line or journal entry each session ends with,
 * the only place a session's failure is logged. Its own file so the 4 KiB of
 * journal fields is on the stack only while the record is written. */
#include "autoconf.h"

#include "session_int.h"

#include "config.h"
#include "gssproto.h"
#include "log.h"
#include "timeutil.h"

#include <stdio.h>
#include <string.h>

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

/* How the login was checked: "pam", "cache" or "gssapi". */
static const char *auth_word(const struct handshake *h)
{
	if (h->method == SOCKS5_METHOD_GSSAPI)
		return "gssapi";
	return h->cached ? "cache" : "pam";
}

static const char *protection_word(uint8_t level)
{
	return level == GSSPROTO_LEVEL_CONFIDENTIALITY ? "confidentiality"
	       : level == GSSPROTO_LEVEL_INTEGRITY	? "integrity"
							: "none";
}

/* The journal fields of the record; the stderr line carries the same facts. */
static void record_fields(const struct session *s, uint64_t duration_ms, struct log_fields *f)
{
	const struct sockaddr *client = (const struct sockaddr *)&s->h.peer.ss;
	char host[ADDR_STRLEN];
	const char *port;

	log_fields_init(f);
	log_field(f, "SOCKS_SESSION_ID=%llu", (unsigned long long)s->id);
	log_field(f, "SOCKS_CLIENT_ADDR=%s", addr_host(client, host, sizeof(host)));
	log_field(f, "SOCKS_CLIENT_PORT=%u", (unsigned)addr_port(client));
	if (s->h.via.len > 0) {
		const struct sockaddr *via = (const struct sockaddr *)&s->h.via.ss;
		log_field(f, "SOCKS_VIA_ADDR=%s", addr_host(via, host, sizeof(host)));
		log_field(f, "SOCKS_VIA_PORT=%u", (unsigned)addr_port(via));
	}
	if (s->h.user[0] != '\0')
		log_field(f, "SOCKS_USER=%s", s->h.user);
	if (s->h.login[0] != '\0')
		log_field(f, "SOCKS_AUTH=%s", auth_word(&s->h));
	if (s->h.principal[0] != '\0')
		log_field(f, "SOCKS_PRINCIPAL=%s", s->h.principal);
	if (s->h.login[0] != '\0' && s->h.method == SOCKS5_METHOD_GSSAPI)
		log_field(f, "SOCKS_PROTECTION=%s", protection_word(s->h.gss_level));
	if (s->have_req) {
		log_field(f, "SOCKS_COMMAND=%s", socks5_cmd_str(s->cmd));
		split_hostport(s->dest_asked, host, sizeof(host), &port);
		log_field(f, "SOCKS_DEST_HOST=%s", host);
		if (port != NULL)
			log_field(f, "SOCKS_DEST_PORT=%s", port);
	}
	if (s->have_dest)
		log_field(f, "SOCKS_DEST_ADDR=%s",
			  addr_host((const struct sockaddr *)&s->dest_addr.ss, host, sizeof(host)));
	if (s->h.reply >= 0)
		log_field(f, "SOCKS_REPLY=0x%02x", (unsigned)s->h.reply);
	log_field(f, "SOCKS_BYTES_UP=%llu", (unsigned long long)s->stats.up);
	log_field(f, "SOCKS_BYTES_DOWN=%llu", (unsigned long long)s->stats.down);
	log_field(f, "SOCKS_DURATION_MS=%llu", (unsigned long long)duration_ms);
	if (s->udp) {
		log_field(f, "SOCKS_DGRAMS_UP=%llu", (unsigned long long)s->dgrams.up);
		log_field(f, "SOCKS_DGRAMS_DOWN=%llu", (unsigned long long)s->dgrams.down);
		log_field(f, "SOCKS_DGRAMS_DROPPED=%llu", (unsigned long long)s->dgrams.dropped);
	}
	if (s->h.reason[0] != '\0')
		log_field(f, "SOCKS_REASON=%s", s->h.reason);
}

/* The session record, once per session: a "session N key=value..." line on
 * stderr, or a journal entry with the SOCKS_* fields (SOCKS_INSTANCE is on
 * every entry: runtime_log_setup()). Only a rule's refusal
 * has its own MESSAGE_ID; a limit, a BIND peer from the wrong address and the
 * like end as any session does. */
/* Not inlined: its 4 KiB of journal fields would otherwise sit in
 * session_run()'s frame for the whole session and push the relay's frames a
 * page deeper, a page of RSS per idle session. */
__attribute__((noinline)) void session_record_log(const struct session *s)
{
	char client[ADDR_STRLEN], dest[ADDR_STRLEN] = "-", rep[40] = "-", dgrams[96] = "";
	char via[ADDR_STRLEN + 8] = "", auth[40] = "", gss[320] = "";
	struct log_fields f;

	if (!log_enabled(LOG_INFO))
		return;
	uint64_t ms = (uint64_t)(monotonic_ms() - s->start_ms);
	if (s->have_dest)
		addr_str((const struct sockaddr *)&s->dest_addr.ss, dest, sizeof(dest));
	if (s->h.via.len > 0) {
		memcpy(via, " via=", 5);
		addr_str((const struct sockaddr *)&s->h.via.ss, via + 5, sizeof(via) - 5);
	}
	if (s->h.reply >= 0)
		snprintf(rep, sizeof(rep), "0x%02x(%s)", (unsigned)s->h.reply,
			 socks5_rep_str((uint8_t)s->h.reply));
	if (s->udp)
		snprintf(dgrams, sizeof(dgrams), " dgrams_up=%llu dgrams_down=%llu dgrams_dropped=%llu",
			 (unsigned long long)s->dgrams.up, (unsigned long long)s->dgrams.down,
			 (unsigned long long)s->dgrams.dropped);
	if (s->h.login[0] != '\0')
		snprintf(auth, sizeof(auth), " auth=%s", auth_word(&s->h));
	if (s->h.principal[0] != '\0')
		snprintf(gss, sizeof(gss), " principal=%s%s%s", s->h.principal,
			 s->h.login[0] != '\0' ? " protection=" : "",
			 s->h.login[0] != '\0' ? protection_word(s->h.gss_level) : "");
	record_fields(s, ms, &f);
	log_fields_send(LOG_INFO, s->refused_by_rule ? LOG_ID_RULE_REFUSAL : LOG_ID_SESSION_END, &f,
			"session %llu%s%s client=%s%s user=%s%s%s cmd=%s dest=%s addr=%s reply=%s "
			"up=%llu down=%llu%s duration=%llu.%03llus%s%s",
			(unsigned long long)s->id,
			s->cfg->instance_name[0] != '\0' ? " instance=" : "", s->cfg->instance_name,
			addr_str((const struct sockaddr *)&s->h.peer.ss, client, sizeof(client)), via,
			s->h.user[0] != '\0' ? s->h.user : "-",
			auth, gss,
			s->have_req ? socks5_cmd_str(s->cmd) : "-",
			s->have_req ? s->dest_asked : "-", dest, rep,
			(unsigned long long)s->stats.up, (unsigned long long)s->stats.down, dgrams,
			(unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000),
			s->h.reason[0] != '\0' ? " reason=" : "", s->h.reason);
}

