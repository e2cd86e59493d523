/* The machinery of the gsspair test driver: a session's two contexts, the
 * client's and the destination's threads, one relay run between them
 * (gsspair_rig.c). The cases are in gsspair.c. A failure to set anything up
 * exits the program. */
#ifndef SOCKSGATE_TESTS_GSSPAIR_H
#define SOCKSGATE_TESTS_GSSPAIR_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gssapi/gssapi.h>
#include <sodium.h>

#include "gssrelay.h"

/* One session's two ends. lock: the client's two threads share init. */
struct pair {
	gss_ctx_id_t init, acc;
	pthread_mutex_t lock;
};

/* One thread's part. A tx job sends data (client: as messages wrapped with
 * conf, or raw when raw is set) and then shuts its write side (unless
 * keep_open); an rx job reads to EOF (client: unwrapping, expecting conf). */
struct job {
	void *(*fn)(void *);	/* client_tx, client_rx, dest_tx, dest_rx or NULL */
	int fd;
	struct pair *pair;
	bool conf, raw, keep_open;
	const uint8_t *data;
	size_t len;
	sem_t *after;		/* tx: start once this job is done */
	uint32_t seed;
	/* results */
	crypto_hash_sha256_state sha;
	size_t got;
	bool clean;		/* rx: EOF came between messages, all tokens fine */
	sem_t done;
};

/* One relay run: the client's two jobs on one socketpair, the destination's
 * on another, gssrelay_run on the acceptor's context between them. */
struct rig {
	struct pair pair;
	struct job ctx, crx, dtx, drx;
	struct relay_stats stats;
	enum relay_end end;
	int err;
	struct gssrelay_why why;
};

void *client_tx(void *job);
void *client_rx(void *job);
void *dest_tx(void *job);
void *dest_rx(void *job);

/* A fresh pair of contexts for target (service@host: initiator from the
 * ccache, acceptor from the keytab) and jobs seeded from seed, none set to
 * run. */
void rig_init(struct rig *r, const char *target, uint32_t seed);

/* Runs the relay until it ends (conf: confidentiality; idle_ms as in
 * gssrelay_run), then closes its ends and waits for the jobs. */
void rig_run(struct rig *r, bool conf, unsigned idle_ms);

void rig_free(struct rig *r);

/* Writes one RFC 1961 data message, the wrap of msg[0..len) with conf_req
 * conf by the initiator, to out (room for a whole frame); returns its length. */
size_t frame_wrap(struct pair *p, bool conf, const void *msg, size_t len, uint8_t *out);

/* Whether the job's bytes were exactly data[0..len) (its hash is final after). */
bool job_sha_is(struct job *j, const uint8_t *data, size_t len);

#endif
