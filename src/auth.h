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
 * Returns true, or false with PAM's complaint in why (logins will report it
 * too). */
#define AUTH_PINNED_MAX 8
bool auth_pam_pin(const char *service, char *why, size_t whylen);

/* Reports, once, whether pam_unix can read other users' password hashes from
 * this process; returns false (and fills why) when it cannot. */
bool auth_can_read_shadow(char *why, size_t whylen);

#endif
