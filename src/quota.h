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
 * the current one-second window. */
bool quota_rate(const struct sockaddr *client, unsigned per_second, int64_t now_ms);

#endif
