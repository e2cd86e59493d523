/* The gateway's event counters for the metrics endpoint: sessions ended by
 * command and outcome, logins by result, refusals by cause, latency
 * histograms, and (when asked for) per-user session and byte totals. The
 * modules where each event happens add to them; the metrics thread reads a
 * copy. Bytes and live session counts stay with session (session_get_stats).
 * Every function is thread-safe. Counting costs one relaxed atomic add per
 * event; the per-user table takes a mutex once per session end, never per
 * byte. */
#ifndef SOCKSGATE_STATS_H
#define SOCKSGATE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The command of an ended session: none when it never sent a request. */
enum stats_cmd {
	STATS_CMD_NONE,
	STATS_CMD_CONNECT,
	STATS_CMD_BIND,
	STATS_CMD_UDP,
	STATS_CMD_N
};

/* How a session ended; the first cause recorded wins. */
enum stats_outcome {
	STATS_OUTCOME_UNSET,	/* not recorded: stats_session_end() derives it */
	STATS_OK,		/* the request succeeded (reply 0x00) */
	STATS_REFUSED_RULE,	/* an access rule refused it (0x02) */
	STATS_REFUSED_POLICY,	/* the built-in default policy refused it (0x02) */
	STATS_REFUSED_LIMIT,	/* max_sessions or max_sessions_per_user (0x02) */
	STATS_REFUSED_AUTH,	/* login refused, address blocked, no acceptable method */
	STATS_ERROR,		/* malformed input, or the request failed (0x01, 0x03-0x08) */
	STATS_CLIENT_GONE,	/* closed, reset or timed out before being answered */
	STATS_OUTCOME_N
};

enum stats_login {
	STATS_LOGIN_SUCCESS,	/* PAM accepted the password */
	STATS_LOGIN_CACHE_HIT,	/* the credential cache accepted it (PAM's account step ran) */
	STATS_LOGIN_FAILURE,	/* refused: wrong password, unknown or locked user... */
	STATS_LOGIN_PAM_ERROR,	/* the PAM stack failed; not the client's fault */
	STATS_LOGIN_BLOCKED,	/* refused without PAM: the address is blocked */
	STATS_LOGIN_ABANDONED,	/* the client went away or ran out of time while waiting */
	STATS_LOGIN_N
};

/* Refusals, counted where they are decided: at accept time (client rules,
 * max_connection_rate, max_sessions_per_client) and for requests. */
enum stats_refusal {
	STATS_REFUSAL_RULE,
	STATS_REFUSAL_DEFAULT_POLICY,
	STATS_REFUSAL_LIMIT,
	STATS_REFUSAL_BLOCK,
	STATS_REFUSAL_N
};

enum stats_hist {
	STATS_HIST_LOGIN,	/* the login check: cache, PAM gate and PAM */
	STATS_HIST_CONNECT,	/* a successful CONNECT's resolve and connect */
	STATS_HIST_HANDSHAKE,	/* accept to the request read (queue, login included) */
	STATS_HIST_N
};

/* The histograms' upper bounds in microseconds (and as Prometheus "le"
 * strings in seconds); the last bucket, +Inf, is implied. */
#define STATS_BUCKETS 13
extern const uint64_t stats_bucket_us[STATS_BUCKETS];
extern const char *const stats_bucket_le[STATS_BUCKETS];

struct stats_histogram {
	uint64_t buckets[STATS_BUCKETS + 1];	/* per bucket, not cumulative; last: +Inf */
	uint64_t count;				/* the sum of the buckets */
	uint64_t sum_us;
};

/* One user's totals, over the sessions that ended. */
#define STATS_USER_MAX 256
struct stats_user {
	char name[STATS_USER_MAX];	/* as the session record writes it (escaped) */
	uint64_t sessions, bytes_up, bytes_down;
};

/* A copy of every counter. */
struct stats_snapshot {
	uint64_t sessions[STATS_CMD_N][STATS_OUTCOME_N];
	uint64_t logins[STATS_LOGIN_N];
	uint64_t refusals[STATS_REFUSAL_N];
	struct stats_histogram hist[STATS_HIST_N];
};

/* One ended session: socks_cmd is the request's SOCKS command byte, 0 when
 * there was none (another value counts as none too). A refused_rule,
 * refused_policy or refused_limit outcome counts as a refusal as well. */
void stats_session_end(unsigned socks_cmd, enum stats_outcome outcome);
void stats_login(enum stats_login result);
void stats_refusal(enum stats_refusal cause);
/* Records one latency (negative values count as 0). */
void stats_observe(enum stats_hist h, int64_t us);
/* CLOCK_MONOTONIC in microseconds, for the latencies. */
int64_t stats_now_us(void);

/* Copies every counter into *ret. A copy taken while events happen may be
 * a moment apart between counters, never torn within one. */
void stats_get(struct stats_snapshot *ret);

/* Per-user totals: on or off, and how many users get series of their own
 * (the rest, and a user really named "other", are summed as "other").
 * Applies from the next session end; users already counted stay. */
void stats_set_per_user(bool on, unsigned max_users);
bool stats_per_user(void);
/* Adds one ended session of user (an authenticated name, escaped; ignored
 * when empty or when per-user totals are off). */
void stats_user_end(const char *user, uint64_t bytes_up, uint64_t bytes_down);
/* Copies the users in name order into a malloc'd array (the caller frees
 * it), "other" last when it has any sessions. Returns how many, 0 with
 * *ret NULL when there are none, or -ENOMEM. */
int stats_get_users(struct stats_user **ret);

/* The name under which users beyond the cap are summed. */
#define STATS_USER_OTHER "other"

/* Forgets every counter and user (tests). */
void stats_reset(void);

#endif
