/* One client connection from accept to the last relayed byte: admission,
 * the pool job, handshake, rules, connect / bind / udp, relay, and the
 * session record. Owns the registry of live sessions and the counters. */
#ifndef SOCKSGATE_SESSION_H
#define SOCKSGATE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct addr;
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

/* Shuts down the sockets of every live session so their workers finish soon
 * (the end of a drain). Thread-safe. */
void session_shutdown_all(void);

#endif
