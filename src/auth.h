/* Authentication: RFC 1929 username/password checked through PAM, and the
 * per-address failure limiter that blocks password guessing. */
#ifndef SOCKSGATE_AUTH_H
#define SOCKSGATE_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum auth_status {
	AUTH_OK = 0,
	AUTH_DENIED = -1,	/* wrong password, unknown user, expired, locked... */
	AUTH_ERROR = -2,	/* PAM itself failed (bad service file, module error) */
};

/* One full PAM transaction for user/password in the calling thread: pam_start
 * with service, PAM_RHOST/PAM_RUSER/PAM_TTY set, pam_authenticate, then
 * pam_acct_mgmt (a "new password required" answer is a refusal), pam_end.
 * The password is read through the conversation's appdata_ptr, never copied
 * anywhere but into the reply PAM asks for. PAM's reason is written to
 * reason. Thread-safe: no lock is held around PAM. */
enum auth_status auth_pam(const char *service, const char *user, const char *password,
			  const struct sockaddr *client, char *reason, size_t reasonlen);

/* Keeps the modules of a PAM service loaded for the life of the process with
 * one idle handle that every login's handle shares them with. Without it the
 * pam_end() of the last running login unloads the modules and the next
 * pam_start() loads them again: slower, and dlclose() running beside
 * dlopen() on other workers is where the dynamic loader is weakest. Pinning
 * a service again is a no-op; at most AUTH_PINNED_MAX services are pinned.
 * Returns 0, or -1 with PAM's complaint in why (logins will report it too). */
#define AUTH_PINNED_MAX 8
int auth_pam_pin(const char *service, char *why, size_t whylen);

/* Per-address failure counting: limit failures within window_ms block the
 * address for block_ms. A fixed-size table: when full, the entry idle longest
 * is reused, so memory is bounded whatever the attacker does. */
#define AUTH_LIMITER_SLOTS 4096

struct auth_limiter_entry {
	struct addr_net key;	/* the client's address */
	unsigned failures;
	bool blocked;		/* a block started at blocked_since_ms */
	int64_t window_start_ms, blocked_since_ms, last_ms;
};

struct auth_limiter {
	pthread_mutex_t lock;
	size_t used;
	struct auth_limiter_entry e[AUTH_LIMITER_SLOTS];
};

void auth_limiter_init(struct auth_limiter *l);
void auth_limiter_fini(struct auth_limiter *l);
/* True while client is blocked at now_ms. The current limit and block_ms
 * decide, so a reload that disables blocking (limit 0) or shortens the block
 * time lifts blocks already started. Thread-safe. */
bool auth_limiter_blocked(struct auth_limiter *l, const struct sockaddr *client, int64_t now_ms,
			  unsigned limit, unsigned block_ms);
/* Counts a failure; returns true when this failure starts a block.
 * limit 0 disables blocking. Thread-safe. */
bool auth_limiter_fail(struct auth_limiter *l, const struct sockaddr *client, int64_t now_ms,
		       unsigned limit, unsigned window_ms, unsigned block_ms);

/* Reports, once, whether pam_unix can read other users' password hashes from
 * this process; returns false (and fills why) when it cannot. */
bool auth_can_read_shadow(char *why, size_t whylen);

#endif
