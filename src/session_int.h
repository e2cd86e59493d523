/* Private to the session module (session.c, session_registry.c,
 * session_record.c): the state of one session, which lives on its worker's
 * stack, and the calls between the module's files. Nothing else includes
 * this. */
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

struct session {
	/* who and when */
	uint64_t id;
	int64_t start_ms;
	struct config *cfg;		/* the session's reference */
	struct addr local;		/* where the client reached us */
	bool admitted;			/* policy_admit() took a slot for h.peer */
	bool quiet;			/* no record: a health check, or refused at admission */
	/* greeting to request: the client socket, the login, the reason */
	struct handshake h;
	/* the request and what the rules and limits say of it */
	struct socks5_request req;
	bool have_req;
	char dest_asked[SOCKS5_ADDR_STRLEN];
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

/* The session record, once per session (session_record.c): a "session N
 * key=value..." line on stderr, or a journal entry with the SOCKS_* fields. */
void session_record_log(const struct session *s);

#endif
