/* Authentication: RFC 1929 username/password checked through PAM. (The
 * per-address failure limiter that blocks password guessing is limiter.h.) */
#ifndef SOCKSGATE_AUTH_H
#define SOCKSGATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* The outcome of a login: its own range, never an errno (docs/HACKING). */
enum auth_status {
	AUTH_OK,
	AUTH_DENIED,		/* wrong password, unknown user, expired, locked... */
	AUTH_ERROR,		/* PAM itself failed (bad service file, module error) */
	AUTH_ABANDONED,		/* not checked: the client went away or the handshake
				 * deadline passed while the login waited its turn */
};

/* One login. Every string is NUL-terminated and free of inner NULs (the
 * caller refuses those before: PAM would see other credentials). */
struct auth_request {
	const char *service;		/* PAM service */
	const char *user;
	const char *password;		/* read through the conversation; never copied
					 * but into the reply PAM asks for; never stored;
					 * unused by auth_account() */
	const struct sockaddr *client;	/* PAM_RHOST */
	int client_fd;			/* watched while waiting: a client that goes
					 * away leaves the queue without running PAM */
	int64_t deadline_ms;		/* CLOCK_MONOTONIC; no wait lasts past it */
};

/* The login path, in the calling worker: the credential cache first (a valid
 * entry, or the answer of a login with the same credentials being checked
 * right now, stands for pam_authenticate); otherwise at most the configured
 * number of PAM conversations run at once, in arrival order, each a full
 * transaction (pam_start with PAM_RHOST/PAM_RUSER/PAM_TTY, pam_authenticate,
 * pam_acct_mgmt, pam_end). pam_acct_mgmt runs on a cache hit too, so an
 * expired or locked account is refused at once; "new password required" is
 * a refusal. *ret_cached says whether the cache answered; PAM's reason (or
 * the wait's) is written to reason. Thread-safe; no lock is held around PAM. */
enum auth_status auth_login(const struct auth_request *rq, bool *ret_cached, char *reason,
			    size_t reasonlen);

/* The account step alone, for a user whose identity something else proved
 * (the GSSAPI method's mapped principal): one PAM transaction on rq->service
 * (pam_start with PAM_RHOST/PAM_RUSER/PAM_TTY, pam_acct_mgmt, pam_end),
 * inside the same gate as logins, so expired and locked accounts are refused
 * as with passwords. rq->password is not used (NULL is fine); the cache is
 * neither read nor written. PAM's reason (or the wait's) goes to reason.
 * Thread-safe. */
enum auth_status auth_account(const struct auth_request *rq, char *reason, size_t reasonlen);

/* Sets the login path's bounds: parallel PAM conversations (0: the number of
 * online CPUs, at least 2), the cache's TTL (0: off) and size. The first call
 * (at start, before any login) creates them; later ones (reload) change them
 * and flush the cache. Main thread only. Returns 0 or -errno. */
int auth_configure(unsigned parallel, unsigned cache_ttl_ms, unsigned cache_size);

/* Forgets every cached credential. Thread-safe. */
void auth_cache_flush(void);

struct auth_stats {
	uint64_t cache_hits;		/* logins the cache answered */
	unsigned cache_entries;
	unsigned pam_running, pam_waiting;	/* in the gate now */
	unsigned parallel;			/* the gate's bound */
};
void auth_get_stats(struct auth_stats *ret);

/* Keeps the modules of a PAM service loaded for the life of the process with
 * one idle handle that every login's handle shares them with. Without it the
 * pam_end() of the last running login unloads the modules and the next
 * pam_start() loads them again: slower, and dlclose() running beside
 * dlopen() on other workers is where the dynamic loader is weakest. Pinning
 * a service again is a no-op; at most AUTH_PINNED_MAX services are pinned.
 * Returns true, or false with PAM's complaint in why (logins will report it
 * too). */
#define AUTH_PINNED_MAX 8
bool auth_pam_pin(const char *service, char *why, size_t whylen);

/* Reports, once, whether pam_unix can read other users' password hashes from
 * this process; returns false (and fills why) when it cannot. */
bool auth_can_read_shadow(char *why, size_t whylen);

#endif
