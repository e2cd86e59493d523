/* Session quotas (the max_* keys): how many sessions run gateway-wide, per user
 * and per client address, and how fast one client address opens connections.
 * The counters are process-wide and survive reloads; the bounds are passed in
 * by the caller from the config of the moment. Thread-safe. */
#ifndef SOCKSGATE_QUOTA_H
#define SOCKSGATE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct sockaddr;

/* Each acquire that returns true is paired with one release. max 0: no limit
 * (the session is still counted, so a later limit sees it). False: over the
 * limit (or out of memory); nothing was counted. */
bool quota_client_acquire(const struct sockaddr *client, unsigned max);
void quota_client_release(const struct sockaddr *client);
bool quota_user_acquire(const char *user, unsigned max);
void quota_user_release(const char *user);
bool quota_session_acquire(unsigned max);
void quota_session_release(void);

/* Counts a new connection from client at now_ms against per_second (0: off).
 * Returns false when the client has already opened per_second connections in
 * the current one-second window (opened by the first connection after the
 * last window ended; now_ms is CLOCK_MONOTONIC in ms, which the releases
 * above read too, to free an entry whose window has ended). */
bool quota_rate(const struct sockaddr *client, unsigned per_second, int64_t now_ms);

/* The counter table has one entry per client address or user with a live
 * session or a running rate window. Once it holds this many, a rate window
 * for a new address first sweeps the ended ones out, and if the table is
 * still full the connection is let through uncounted rather than anyone
 * refused: memory stays bounded whatever the clients do. */
#define QUOTA_RATE_ENTRIES_MAX 65536

#endif
