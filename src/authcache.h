/* The credential cache: remembers successful pam_authenticate() answers for a
 * while, keyed by PAM service, username and a keyed hash of the password, and
 * lets logins with the same credentials that arrive while one is being checked
 * wait for that one's answer (single-flight) instead of each running PAM.
 *
 * What is stored: service, username, a 32-byte keyed BLAKE2b (libsodium's
 * crypto_generichash) of service, username and password under a key drawn at
 * authcache_new(), and the time of the check. Never the password: it is
 * hashed on the caller's stack and the hash state is wiped.
 *
 * Rules the cache keeps:
 * - an entry is valid for ttl_ms from the successful check that created it; a
 *   hit does not extend it. One entry per (service, username): a newer
 *   successful check (perhaps with a new password) replaces it;
 * - failures are never stored; a password that does not match the entry of
 *   its user is a miss, and leaves the entry as it was (not evicted, not
 *   extended, not moved in the LRU order);
 * - at most max_entries entries; the least recently used (created or hit)
 *   goes first; lookups are O(1) (a hash table of the keyed hash of service
 *   and username, plus an LRU list);
 * - ttl_ms 0 or max_entries 0 turns the cache off: every authcache_begin() is
 *   AUTHCACHE_LEADER at once, nothing is stored and no login waits for
 *   another (so an operator who wants every login to reach PAM gets that).
 *
 * THE CALLER STILL RUNS pam_acct_mgmt() ON A HIT. The cache only stands for
 * pam_authenticate(); skipping the account step would let an expired or
 * locked account in for the rest of the TTL.
 *
 * What the TTL means for an operator: a password that was changed or locked
 * keeps working through the cache until its entry expires or the cache is
 * flushed (reload); pam_acct_mgmt() still refuses an expired account at once.
 *
 * Time: every call takes now_ms, CLOCK_MONOTONIC milliseconds in the daemon
 * (monotonic_ms()), any clock in the unit tests. Only a follower's wait reads
 * the real clock: it waits at most deadline_ms - now_ms milliseconds of
 * CLOCK_MONOTONIC time on a condition variable.
 *
 * The login path, with the PAM gate (pamgate.h):
 *	switch (authcache_begin(c, svc, user, pw, len, now, deadline, &t)) {
 *	case AUTHCACHE_HIT: pam_acct_mgmt() only; break;
 *	case AUTHCACHE_LEADER:
 *		if (pamgate_enter(...) != PAMGATE_OK) {
 *			authcache_finish(c, t, AUTHCACHE_UNDECIDED, now); fail; }
 *		pam_authenticate(); pamgate_leave();
 *		authcache_finish(c, t, ACCEPTED / REFUSED / UNDECIDED, now);
 *		then pam_acct_mgmt() on success; break;
 *	case AUTHCACHE_DENIED: a wrong password; break;
 *	case AUTHCACHE_TIMEOUT: the handshake timed out; break;
 *	}
 * Followers wait for a leader without taking a slot of the gate.
 *
 * Thread-safety: every function is thread-safe except authcache_new() and
 * authcache_free(). One mutex, never held across PAM (the cache never calls
 * PAM) nor while a caller waits. */
#ifndef SOCKSGATE_AUTHCACHE_H
#define SOCKSGATE_AUTHCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct authcache;

/* A leader's promise to report its PAM answer; see authcache_begin(). */
struct authcache_ticket;

enum authcache_answer {
	/* Accepted without PAM's pam_authenticate: by a valid entry, or by the
	 * check of a leader with the same credentials that this call waited for.
	 * The caller still runs pam_acct_mgmt(). */
	AUTHCACHE_HIT,
	/* The caller must run pam_authenticate itself and then report the answer
	 * with authcache_finish(*ret_ticket, ...), on every path, exactly once.
	 * Logins with the same credentials wait for that report meanwhile. */
	AUTHCACHE_LEADER,
	/* Refused without PAM: this call waited for a leader with the same
	 * credentials whose pam_authenticate gave a definite denial. The caller
	 * treats it as a wrong password (failure delay, limiter, log). */
	AUTHCACHE_DENIED,
	/* deadline_ms came while waiting for a leader; nothing to finish. */
	AUTHCACHE_TIMEOUT,
};

/* What a leader's pam_authenticate said, for authcache_finish(). */
enum authcache_outcome {
	/* Success: stored (unless the cache was flushed since the leader's
	 * authcache_begin(), or turned off), and every waiting follower gets
	 * AUTHCACHE_HIT. Report this when pam_authenticate succeeded, whatever
	 * pam_acct_mgmt() said next: followers run their own account step. */
	AUTHCACHE_ACCEPTED,
	/* A definite denial (PAM_AUTH_ERR, PAM_USER_UNKNOWN, PAM_MAXTRIES...):
	 * not stored; every waiting follower gets AUTHCACHE_DENIED, since its
	 * service, username and password are the same and PAM would say the same
	 * (and each of a stale-password client's parallel connections does not
	 * count as a failure of its own in pam_faillock). */
	AUTHCACHE_REFUSED,
	/* No answer: PAM failed (PAM_SYSTEM_ERR, PAM_AUTHINFO_UNAVAIL: perhaps
	 * transient), or the leader gave up before asking (its client went away,
	 * its deadline passed in the PAM gate). Not stored; one waiting follower
	 * becomes the leader (its authcache_begin() returns AUTHCACHE_LEADER)
	 * and the others go on waiting for it. */
	AUTHCACHE_UNDECIDED,
};

struct authcache_stats {
	/* Answers of authcache_begin(), each counted once since authcache_new():
	 * hits from a stored entry, joined (HIT or DENIED taken from a leader's
	 * check), misses (LEADER: the caller ran PAM), timeouts (TIMEOUT). */
	uint64_t hits, joined, misses, timeouts;
	unsigned entries;	/* stored now, expired ones included until they go */
	unsigned checking;	/* distinct credentials being checked now */
	unsigned waiting;	/* calls waiting for a leader now */
};

/* A cache of at most max_entries entries valid for ttl_ms each (either 0:
 * off). Initialises libsodium and draws the hash keys. Returns NULL with
 * errno set (ENOMEM, or EIO when libsodium cannot start). */
struct authcache *authcache_new(unsigned ttl_ms, unsigned max_entries);

/* Frees the cache. No call may be running or waiting in it, and no ticket
 * may be outstanding. NULL is a no-op. */
void authcache_free(struct authcache *c);

/* New limits (after a reload). ttl_ms applies to existing entries too (each
 * stays valid for the new ttl_ms from its check); a smaller max_entries
 * evicts the least recently used at once; either 0 empties the cache and
 * turns it off for new calls (flights already running finish normally). */
void authcache_set_limits(struct authcache *c, unsigned ttl_ms, unsigned max_entries);

/* Forgets every entry (reload). A leader that began before the flush and
 * finishes after it is not stored, and logins that arrive after the flush do
 * not wait for it (they check on their own), so a check made against the old
 * PAM configuration does not outlive the reload; the followers it had before
 * the flush still get its answer. */
void authcache_flush(struct authcache *c);

/* Looks up service/user/password (password_len bytes, any bytes; the caller
 * refuses NUL bytes before, as PAM would not see them). Returns:
 * - AUTHCACHE_HIT when a valid entry matches (it becomes the most recently
 *   used) or a leader with the same credentials succeeded while this call
 *   waited;
 * - AUTHCACHE_LEADER and *ret_ticket when the caller must check: no entry
 *   matches and no one is checking the same credentials (or the leader this
 *   call waited for gave up). *ret_ticket is NULL when the cache is off
 *   (or had no memory for the flight): authcache_finish() takes it all the
 *   same;
 * - AUTHCACHE_DENIED when the leader this call waited for was refused;
 * - AUTHCACHE_TIMEOUT when deadline_ms came first (at once when
 *   deadline_ms <= now_ms and someone else is checking).
 * Blocks only as a follower, at most deadline_ms - now_ms real milliseconds.
 * *ret_ticket is written only for AUTHCACHE_LEADER. */
enum authcache_answer authcache_begin(struct authcache *c, const char *service, const char *user,
				      const char *password, size_t password_len, int64_t now_ms,
				      int64_t deadline_ms, struct authcache_ticket **ret_ticket);

/* The leader's report: see enum authcache_outcome. Ends the ticket (it must
 * not be used again); now_ms is the time of the check, from which an
 * accepted entry's TTL runs. A NULL ticket (cache off) is a no-op. */
void authcache_finish(struct authcache *c, struct authcache_ticket *ticket,
		      enum authcache_outcome outcome, int64_t now_ms);

void authcache_get_stats(struct authcache *c, struct authcache_stats *ret);

/* For the unit tests: does any byte string of len bytes appear in the memory
 * of the cache object, of any stored entry or of any running flight? */
bool authcache_debug_contains(struct authcache *c, const void *bytes, size_t len);

#endif
