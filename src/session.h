/* One client connection from greeting to the last relayed byte: handshake,
 * authentication, rules, connect, relay, and the session record. */
#ifndef SOCKSGATE_SESSION_H
#define SOCKSGATE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct addr;
struct config;
struct pool_job;

/* At accept time, before any byte is read: may this client address open a
 * session (client rules, max_connection_rate, max_sessions_per_client)?
 * True takes one of the address's session slots, which session_run() or
 * session_discard() gives back (session_unadmit() when the connection never
 * becomes a job). False: close it at once; the refusal is logged here
 * (rate-limited). Cheap, no I/O: runs on the acceptor thread. Thread-safe. */
bool session_admit(const struct addr *peer, const struct config *cfg);
void session_unadmit(const struct addr *peer);

/* Serves one connection on the calling worker thread until it ends.
 * Takes ownership of job->fd and of the job's config reference. */
void session_run(struct pool_job *job, void *ctx);

/* A queued connection that will never be served (shutdown): closes it and
 * gives back what session_admit() took. */
void session_discard(struct pool_job *job, void *ctx);

/* Live figures, readable from any thread at any time. */
struct session_stats {
	uint64_t active;
	uint64_t total;
	uint64_t auth_failures;
	uint64_t bytes_up;
	uint64_t bytes_down;
};
void session_get_stats(struct session_stats *ret);

/* Shuts down the sockets of every live session so their workers finish soon
 * (the end of a drain). Thread-safe. */
void session_shutdown_all(void);

#endif
