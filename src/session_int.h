/* Private to the session module (session.c, session_registry.c,
 * session_record.c): the state of one session, which lives on its worker's
 * stack, and the calls between the module's files. Nothing else includes
 * this. */
/* What only the handshake and the command's setup need (the input buffer,
 * the names as they are written, the request, the address the client
 * reached) is not in struct session but in struct session_setup, on
 * session_open()'s frame, which is gone before the relay runs: an idle
 * relayed session's whole stack then fits in the page below glibc's thread
 * descriptor. */
#ifndef SOCKSGATE_SESSION_INT_H
#define SOCKSGATE_SESSION_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "handshake.h"
#include "policy.h"
#include "relay.h"
#include "socks5.h"
#include "udprelay.h"

struct config;

struct session_setup {
	struct socks5_request req;
	struct addr local;			/* where the client reached us */
	uint8_t in[HANDSHAKE_INBUF];		/* the handshake's input (h.in) */
	char user[HANDSHAKE_NAME], login[HANDSHAKE_NAME], principal[HANDSHAKE_NAME];
	char dest[SOCKS5_ADDR_STRLEN];		/* the request's destination, in words */
};

struct session {
	/* who and when */
	uint64_t id;
	int64_t start_ms;
	struct config *cfg;		/* the session's reference */
	bool admitted;			/* policy_admit() took a slot for h.peer */
	bool quiet;			/* no record: a health check, or refused at admission */
	/* greeting to request: the client socket, the login, the reason. From
	 * the end of the handshake on, h.user, h.login and h.principal point
	 * into names (or at ""), never into the setup frame. */
	struct handshake h;
	char *names;			/* owned: user, login, principal and dest_asked, each
					 * to size, in one allocation; NULL: none */
	/* the request and what the rules and limits say of it */
	uint8_t cmd;			/* the request's command, once have_req */
	bool have_req;
	const char *dest_asked;		/* as the client asked: into names, or "-" */
	struct policy pol;
	bool refused_by_rule;		/* the record gets the refusal's MESSAGE_ID */
	/* the other side */
	int dest;			/* set under the registry lock (set_dest) */
	struct addr dest_addr;
	bool have_dest;
	/* the relay */
	struct relay_stats stats;
	bool udp;			/* UDP ASSOCIATE: the record carries datagram counts */
	struct udprelay_counts dgrams;
	/* the registry of live sessions */
	struct session *prev, *next;
	/* for the control socket, under the registry lock: the peer as
	 * accepted; the request is in (the client address, user, command and
	 * destination no longer change); who ended the session (killed says so
	 * without the lock) */
	struct addr accepted;
	bool shown;
	char ended_by[64];
	atomic_bool killed;
	/* session.c's setup frame while it lives (handshake to the relay's
	 * start), else NULL */
	struct session_setup *su;
};


/* The registry of live sessions (session_registry.c); thread-safe. A session
 * is added before its first byte is read and removed after its record. */
void session_registry_add(struct session *s);
void session_registry_remove(struct session *s);
/* The request is in: the control socket may list the session's user, command
 * and destination from now on (they no longer change). */
void session_registry_show(struct session *s);
/* Sets s->dest under the registry lock, so session_shutdown_all() and
 * session_kill() never touch a descriptor number being closed and reused. */
void session_set_dest(struct session *s, int fd);
/* A killed session's record names who ended it. */
void session_note_ended_by(struct session *s);

/* The command handlers' shared steps (session.c), on session_open()'s frame.
 * A request a rule or the default policy refused: outcome, reason, reply. */
void session_refuse_by_rule(struct session *s);
/* The destination's address for the record, when a is set (len > 0). */
void session_note_dest(struct session *s, const struct addr *a);
/* Once CONNECT's or BIND's last reply is out: keepalive, and the bytes the
 * client sent behind its request forwarded to fd. True when the relay may
 * run; otherwise the reason is recorded. */
bool session_relay_tail(struct session *s, int fd);

/* BIND and UDP ASSOCIATE (session_bind.c), with the request in s->su.
 * session_handle_bind() returns true when the relay may run on s->dest (the
 * replies are out); session_handle_udp() runs the UDP relay itself. Either
 * way the reason is recorded when the session ends early. */
bool session_handle_bind(struct session *s);
void session_handle_udp(struct session *s);

/* The session record, once per session (session_record.c): a "session N
 * key=value..." line on stderr, or a journal entry with the SOCKS_* fields. */
void session_record_log(const struct session *s);

#endif
