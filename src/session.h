/* One client connection from accept to the last relayed byte: admission,
 * the pool job, handshake, rules, connect / bind / udp, relay, and the
 * session record. Owns the registry of live sessions and the counters. */
#ifndef SOCKSGATE_SESSION_H
#define SOCKSGATE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct config;
struct pool;

/* Called on the acceptor thread for a new connection: admits it (client
 * rules, max_connection_rate, max_sessions_per_client; a refusal is logged,
 * rate-limited) and queues it on pool. With proxy (the socket expects a
 * PROXY protocol header) peer must be a trusted balancer (proxy_from), else
 * it is refused the same way; admission then waits for the header, which
 * names the client, in the worker. Takes cfg's reference in every case.
 * Returns 0 when it took fd (queued, or refused and closed), or -errno
 * (-EAGAIN: the queue is full) when fd is still the caller's to close; what
 * admission took is given back then. Cheap, no I/O. Thread-safe. */
int session_submit(struct pool *pool, int fd, const struct addr *peer, bool proxy,
		   struct config *cfg);

/* The pool's callbacks (pool_fn) for a job that session_submit() queued:
 * session_run() serves it on the calling worker until it ends;
 * session_discard() closes one that will never be served (shutdown) and gives
 * back what admission took. Both free the job. */
void session_run(void *job, void *ctx);
void session_discard(void *job, void *ctx);

/* Live figures, readable from any thread at any time. */
struct session_stats {
	uint64_t active;
	uint64_t total;
	uint64_t auth_failures;
	uint64_t auth_cache_hits;	/* logins the credential cache answered */
	uint64_t bytes_up;
	uint64_t bytes_down;
};
void session_get_stats(struct session_stats *ret);

/* Numbers the sessions from first on (by default from 1). At start, before
 * any session: main passes the start time in microseconds since the epoch,
 * so a record's ID stays unique across restarts. */
void session_ids_init(uint64_t first);

/* Shuts down the sockets of every live session so their workers finish soon
 * (the end of a drain). Thread-safe. */
void session_shutdown_all(void);

/* A live session as the control socket lists it: a copy, taken under the
 * registry lock. user, command and dest are known once the request has been
 * read; before that they are "", -1 and "", and client is the peer as
 * accepted (the address a PROXY header names shows from the request on). */
#define SESSION_DEST_LEN 272	/* a 255-byte name and a port; longer ones are cut */
struct session_info {
	uint64_t id;
	struct addr client;
	char user[256];			/* as the record writes it */
	int command;			/* SOCKS5_CMD_*, or -1 */
	char dest[SESSION_DEST_LEN];	/* the destination the client asked for */
	int64_t start_ms;		/* CLOCK_MONOTONIC: accepted */
	int64_t last_ms;		/* last byte relayed, or start_ms (coarse clock) */
	uint64_t up, down;		/* bytes so far */
};

/* Copies up to max live sessions (newest first) into out and returns how many
 * sessions are live, which may be more than max: call again with a larger
 * array. out may be NULL when max is 0. Thread-safe; holds the registry lock
 * for the copy only. */
size_t session_list(struct session_info *out, size_t max);

/* Ends the live sessions whose IDs are in ids[0..n) (sorted ascending): shuts
 * their sockets down, as session_shutdown_all() does, so their workers finish
 * soon, and their records say "ended by BY" (by is copied, at most 63 bytes).
 * Returns how many live sessions it ended. Thread-safe. */
unsigned session_kill(const uint64_t *ids, size_t n, const char *by);

#endif
