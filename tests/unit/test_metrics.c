/* Unit tests for the metrics: the renderer's exact text for a known
 * snapshot (every series, label escaping, histograms cumulative with +Inf
 * equal to the count), the series a snapshot leaves out, and the counters
 * behind it: histogram buckets (bounds inclusive), sessions by outcome and
 * the refusals they imply, and the per-user table's cap and "other". */
#include "autoconf.h"

#include "metrics.h"
#include "stats.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <stdlib.h>
#include <string.h>

static const char expected[] =
	"# HELP socksgate_build_info Always 1; the version is a label.\n"
	"# TYPE socksgate_build_info gauge\n"
	"socksgate_build_info{version=\"1.2.3\"} 1\n"
	"# HELP socksgate_start_time_seconds When the daemon started, in seconds since the Unix"
	" epoch.\n"
	"# TYPE socksgate_start_time_seconds gauge\n"
	"socksgate_start_time_seconds 1700000000\n"
	"# HELP socksgate_sessions_active Sessions being served now.\n"
	"# TYPE socksgate_sessions_active gauge\n"
	"socksgate_sessions_active 2\n"
	"# HELP socksgate_sessions_started_total Connections a worker took up since start.\n"
	"# TYPE socksgate_sessions_started_total counter\n"
	"socksgate_sessions_started_total 17\n"
	"# HELP socksgate_sessions_ended_total Sessions ended since start, by command (none: no"
	" valid request) and outcome.\n"
	"# TYPE socksgate_sessions_ended_total counter\n"
	"socksgate_sessions_ended_total{command=\"none\",outcome=\"refused_auth\"} 3\n"
	"socksgate_sessions_ended_total{command=\"none\",outcome=\"error\"} 0\n"
	"socksgate_sessions_ended_total{command=\"none\",outcome=\"client_gone\"} 0\n"
	"socksgate_sessions_ended_total{command=\"connect\",outcome=\"ok\"} 10\n"
	"socksgate_sessions_ended_total{command=\"connect\",outcome=\"refused_rule\"} 1\n"
	"socksgate_sessions_ended_total{command=\"connect\",outcome=\"refused_policy\"} 0\n"
	"socksgate_sessions_ended_total{command=\"connect\",outcome=\"refused_limit\"} 0\n"
	"socksgate_sessions_ended_total{command=\"connect\",outcome=\"error\"} 0\n"
	"socksgate_sessions_ended_total{command=\"connect\",outcome=\"client_gone\"} 0\n"
	"socksgate_sessions_ended_total{command=\"bind\",outcome=\"ok\"} 0\n"
	"socksgate_sessions_ended_total{command=\"bind\",outcome=\"refused_rule\"} 0\n"
	"socksgate_sessions_ended_total{command=\"bind\",outcome=\"refused_policy\"} 0\n"
	"socksgate_sessions_ended_total{command=\"bind\",outcome=\"refused_limit\"} 0\n"
	"socksgate_sessions_ended_total{command=\"bind\",outcome=\"error\"} 2\n"
	"socksgate_sessions_ended_total{command=\"bind\",outcome=\"client_gone\"} 0\n"
	"socksgate_sessions_ended_total{command=\"udp\",outcome=\"ok\"} 0\n"
	"socksgate_sessions_ended_total{command=\"udp\",outcome=\"refused_rule\"} 0\n"
	"socksgate_sessions_ended_total{command=\"udp\",outcome=\"refused_policy\"} 0\n"
	"socksgate_sessions_ended_total{command=\"udp\",outcome=\"refused_limit\"} 0\n"
	"socksgate_sessions_ended_total{command=\"udp\",outcome=\"error\"} 0\n"
	"socksgate_sessions_ended_total{command=\"udp\",outcome=\"client_gone\"} 1\n"
	"# HELP socksgate_relayed_bytes_total Payload bytes relayed since start (live sessions"
	" included), up: client to destination, down: back.\n"
	"# TYPE socksgate_relayed_bytes_total counter\n"
	"socksgate_relayed_bytes_total{direction=\"up\"} 1024\n"
	"socksgate_relayed_bytes_total{direction=\"down\"} 52311\n"
	"# HELP socksgate_logins_total Username/password logins since start, by result.\n"
	"# TYPE socksgate_logins_total counter\n"
	"socksgate_logins_total{result=\"success\"} 5\n"
	"socksgate_logins_total{result=\"cache_hit\"} 4\n"
	"socksgate_logins_total{result=\"failure\"} 3\n"
	"socksgate_logins_total{result=\"pam_error\"} 0\n"
	"socksgate_logins_total{result=\"blocked\"} 1\n"
	"socksgate_logins_total{result=\"abandoned\"} 0\n"
	"# HELP socksgate_refusals_total Connections and requests refused since start, by cause"
	" (rule, default_policy, limit, block).\n"
	"# TYPE socksgate_refusals_total counter\n"
	"socksgate_refusals_total{cause=\"rule\"} 1\n"
	"socksgate_refusals_total{cause=\"default_policy\"} 0\n"
	"socksgate_refusals_total{cause=\"limit\"} 2\n"
	"socksgate_refusals_total{cause=\"block\"} 1\n"
	"# HELP socksgate_login_duration_seconds Time a username/password check took (credential"
	" cache, PAM queue and PAM), in seconds.\n"
	"# TYPE socksgate_login_duration_seconds histogram\n"
	"socksgate_login_duration_seconds_bucket{le=\"0.001\"} 2\n"
	"socksgate_login_duration_seconds_bucket{le=\"0.0025\"} 2\n"
	"socksgate_login_duration_seconds_bucket{le=\"0.005\"} 2\n"
	"socksgate_login_duration_seconds_bucket{le=\"0.01\"} 2\n"
	"socksgate_login_duration_seconds_bucket{le=\"0.025\"} 2\n"
	"socksgate_login_duration_seconds_bucket{le=\"0.05\"} 3\n"
	"socksgate_login_duration_seconds_bucket{le=\"0.1\"} 3\n"
	"socksgate_login_duration_seconds_bucket{le=\"0.25\"} 3\n"
	"socksgate_login_duration_seconds_bucket{le=\"0.5\"} 3\n"
	"socksgate_login_duration_seconds_bucket{le=\"1\"} 3\n"
	"socksgate_login_duration_seconds_bucket{le=\"2.5\"} 3\n"
	"socksgate_login_duration_seconds_bucket{le=\"5\"} 3\n"
	"socksgate_login_duration_seconds_bucket{le=\"10\"} 3\n"
	"socksgate_login_duration_seconds_bucket{le=\"+Inf\"} 4\n"
	"socksgate_login_duration_seconds_sum 20.031500\n"
	"socksgate_login_duration_seconds_count 4\n"
	"# HELP socksgate_connect_duration_seconds Time a successful CONNECT took to resolve and"
	" connect to its destination, in seconds.\n"
	"# TYPE socksgate_connect_duration_seconds histogram\n"
	"socksgate_connect_duration_seconds_bucket{le=\"0.001\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"0.0025\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"0.005\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"0.01\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"0.025\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"0.05\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"0.1\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"0.25\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"0.5\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"1\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"2.5\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"5\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"10\"} 0\n"
	"socksgate_connect_duration_seconds_bucket{le=\"+Inf\"} 0\n"
	"socksgate_connect_duration_seconds_sum 0.000000\n"
	"socksgate_connect_duration_seconds_count 0\n"
	"# HELP socksgate_handshake_duration_seconds Time from accept to the request read (queue"
	" wait and login included), in seconds.\n"
	"# TYPE socksgate_handshake_duration_seconds histogram\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"0.001\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"0.0025\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"0.005\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"0.01\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"0.025\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"0.05\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"0.1\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"0.25\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"0.5\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"1\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"2.5\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"5\"} 0\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"10\"} 7\n"
	"socksgate_handshake_duration_seconds_bucket{le=\"+Inf\"} 7\n"
	"socksgate_handshake_duration_seconds_sum 70.000000\n"
	"socksgate_handshake_duration_seconds_count 7\n"
	"# HELP socksgate_workers Worker threads, by state.\n"
	"# TYPE socksgate_workers gauge\n"
	"socksgate_workers{state=\"busy\"} 3\n"
	"socksgate_workers{state=\"idle\"} 1\n"
	"# HELP socksgate_queue_length Accepted connections waiting for a worker.\n"
	"# TYPE socksgate_queue_length gauge\n"
	"socksgate_queue_length 0\n"
	"# HELP socksgate_queue_capacity The most connections that may wait for a worker.\n"
	"# TYPE socksgate_queue_capacity gauge\n"
	"socksgate_queue_capacity 1024\n"
	"# HELP socksgate_open_fds Open file descriptors.\n"
	"# TYPE socksgate_open_fds gauge\n"
	"socksgate_open_fds 12\n"
	"# HELP socksgate_max_fds The descriptor limit (RLIMIT_NOFILE).\n"
	"# TYPE socksgate_max_fds gauge\n"
	"socksgate_max_fds 65536\n"
	"# HELP socksgate_blocked_addresses Client addresses blocked now after repeated"
	" authentication failures.\n"
	"# TYPE socksgate_blocked_addresses gauge\n"
	"socksgate_blocked_addresses 1\n"
	"# HELP socksgate_user_sessions_total Sessions of each authenticated user that ended"
	" since start (users past metrics_max_users as \"other\").\n"
	"# TYPE socksgate_user_sessions_total counter\n"
	"socksgate_user_sessions_total{user=\"alice\"} 3\n"
	"socksgate_user_sessions_total{user=\"b\\\"o\\\\b\"} 1\n"
	"socksgate_user_sessions_total{user=\"other\"} 2\n"
	"# HELP socksgate_user_relayed_bytes_total Payload bytes of each authenticated user's"
	" ended sessions, by direction.\n"
	"# TYPE socksgate_user_relayed_bytes_total counter\n"
	"socksgate_user_relayed_bytes_total{user=\"alice\",direction=\"up\"} 100\n"
	"socksgate_user_relayed_bytes_total{user=\"alice\",direction=\"down\"} 200\n"
	"socksgate_user_relayed_bytes_total{user=\"b\\\"o\\\\b\",direction=\"up\"} 1\n"
	"socksgate_user_relayed_bytes_total{user=\"b\\\"o\\\\b\",direction=\"down\"} 2\n"
	"socksgate_user_relayed_bytes_total{user=\"other\",direction=\"up\"} 5\n"
	"socksgate_user_relayed_bytes_total{user=\"other\",direction=\"down\"} 6\n";

/* Renders s into a malloc'd string. */
static char *render(const struct metrics_snapshot *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	CHECK(out != NULL, "open_memstream failed");
	if (out == NULL)
		return NULL;
	CHECK_INT(metrics_render(s, out), 0);
	fclose(out);
	return text;
}

/* Where two texts first differ, for a readable failure. */
static void check_text(const char *got, const char *want)
{
	size_t i = 0, line = 1;

	while (got[i] != '\0' && got[i] == want[i]) {
		if (got[i] == '\n')
			line++;
		i++;
	}
	CHECK(got[i] == want[i], "texts differ at line %zu: got \"%.60s\", expected \"%.60s\"",
	      line, got + i, want + i);
}

static const struct stats_user users[] = {
	{ .name = "alice", .sessions = 3, .bytes_up = 100, .bytes_down = 200 },
	{ .name = "b\"o\\b", .sessions = 1, .bytes_up = 1, .bytes_down = 2 },
	{ .name = "other", .sessions = 2, .bytes_up = 5, .bytes_down = 6 },
};

static void known_snapshot(struct metrics_snapshot *s)
{
	*s = (struct metrics_snapshot){
		.version = "1.2.3",
		.start_time_s = 1700000000,
		.sessions_active = 2,
		.sessions_started = 17,
		.bytes_up = 1024,
		.bytes_down = 52311,
		.workers_busy = 3,
		.workers_idle = 1,
		.queue_length = 0,
		.queue_capacity = 1024,
		.open_fds = 12,
		.max_fds = 65536,
		.blocked_addresses = 1,
		.per_user = true,
		.users = users,
		.nusers = 3,
	};
	s->stats.sessions[STATS_CMD_NONE][STATS_REFUSED_AUTH] = 3;
	s->stats.sessions[STATS_CMD_CONNECT][STATS_OK] = 10;
	s->stats.sessions[STATS_CMD_CONNECT][STATS_REFUSED_RULE] = 1;
	s->stats.sessions[STATS_CMD_BIND][STATS_ERROR] = 2;
	s->stats.sessions[STATS_CMD_UDP][STATS_CLIENT_GONE] = 1;
	s->stats.logins[STATS_LOGIN_SUCCESS] = 5;
	s->stats.logins[STATS_LOGIN_CACHE_HIT] = 4;
	s->stats.logins[STATS_LOGIN_FAILURE] = 3;
	s->stats.logins[STATS_LOGIN_BLOCKED] = 1;
	s->stats.refusals[STATS_REFUSAL_RULE] = 1;
	s->stats.refusals[STATS_REFUSAL_LIMIT] = 2;
	s->stats.refusals[STATS_REFUSAL_BLOCK] = 1;
	/* 0.5 ms and 1 ms (a bound is inclusive), 30 ms, 20 s (+Inf only). */
	struct stats_histogram *h = &s->stats.hist[STATS_HIST_LOGIN];
	h->buckets[0] = 2;
	h->buckets[5] = 1;
	h->buckets[STATS_BUCKETS] = 1;
	h->count = 4;
	h->sum_us = 500 + 1000 + 30000 + 20000000;
	h = &s->stats.hist[STATS_HIST_HANDSHAKE];
	h->buckets[STATS_BUCKETS - 1] = 7;
	h->count = 7;
	h->sum_us = 70000000;
}

static void test_render_exact(void)
{
	struct metrics_snapshot s;

	known_snapshot(&s);
	char *text = render(&s);
	if (text != NULL)
		check_text(text, expected);
	free(text);
}

/* Without per-user series, or with unknown descriptor figures, those series
 * are left out and the rest is the same text. */
static void test_render_left_out(void)
{
	struct metrics_snapshot s;

	known_snapshot(&s);
	s.per_user = false;
	s.open_fds = -1;
	s.max_fds = -1;
	char *text = render(&s);
	if (text == NULL)
		return;
	CHECK(strstr(text, "socksgate_user_") == NULL, "per-user series without per_user");
	CHECK(strstr(text, "_fds") == NULL, "descriptor series while unknown");
	const char *cut = strstr(expected, "# HELP socksgate_open_fds");
	CHECK(strncmp(text, expected, (size_t)(cut - expected)) == 0, "the common part differs");
	CHECK(strstr(text, "socksgate_blocked_addresses 1\n") != NULL, "blocked addresses missing");
	free(text);
}

static void test_histogram_buckets(void)
{
	struct stats_snapshot st;

	stats_reset();
	stats_observe(STATS_HIST_CONNECT, 1000);	/* on the bound: le="0.001" */
	stats_observe(STATS_HIST_CONNECT, 1001);	/* just past it: le="0.0025" */
	stats_observe(STATS_HIST_CONNECT, -5);		/* a clock step back counts as 0 */
	stats_observe(STATS_HIST_CONNECT, 10000000);	/* the last bound */
	stats_observe(STATS_HIST_CONNECT, 10000001);	/* +Inf */
	stats_get(&st);
	const struct stats_histogram *h = &st.hist[STATS_HIST_CONNECT];
	CHECK_INT(h->buckets[0], 2);
	CHECK_INT(h->buckets[1], 1);
	CHECK_INT(h->buckets[STATS_BUCKETS - 1], 1);
	CHECK_INT(h->buckets[STATS_BUCKETS], 1);
	CHECK_INT(h->count, 5);
	CHECK_INT(h->sum_us, 1000 + 1001 + 0 + 10000000 + 10000001);
	CHECK_INT(st.hist[STATS_HIST_LOGIN].count, 0);
}

static void test_sessions_and_refusals(void)
{
	struct stats_snapshot st;

	stats_reset();
	stats_session_end(1, STATS_OK);			/* CONNECT */
	stats_session_end(1, STATS_REFUSED_RULE);
	stats_session_end(2, STATS_REFUSED_POLICY);	/* BIND */
	stats_session_end(3, STATS_REFUSED_LIMIT);	/* UDP ASSOCIATE */
	stats_session_end(0, STATS_REFUSED_AUTH);	/* no request */
	stats_session_end(9, STATS_ERROR);		/* an unknown command */
	stats_refusal(STATS_REFUSAL_BLOCK);
	stats_login(STATS_LOGIN_CACHE_HIT);
	stats_get(&st);
	CHECK_INT(st.sessions[STATS_CMD_CONNECT][STATS_OK], 1);
	CHECK_INT(st.sessions[STATS_CMD_CONNECT][STATS_REFUSED_RULE], 1);
	CHECK_INT(st.sessions[STATS_CMD_BIND][STATS_REFUSED_POLICY], 1);
	CHECK_INT(st.sessions[STATS_CMD_UDP][STATS_REFUSED_LIMIT], 1);
	CHECK_INT(st.sessions[STATS_CMD_NONE][STATS_REFUSED_AUTH], 1);
	CHECK_INT(st.sessions[STATS_CMD_NONE][STATS_ERROR], 1);
	CHECK_INT(st.refusals[STATS_REFUSAL_RULE], 1);
	CHECK_INT(st.refusals[STATS_REFUSAL_DEFAULT_POLICY], 1);
	CHECK_INT(st.refusals[STATS_REFUSAL_LIMIT], 1);
	CHECK_INT(st.refusals[STATS_REFUSAL_BLOCK], 1);
	CHECK_INT(st.logins[STATS_LOGIN_CACHE_HIT], 1);
	CHECK_INT(st.logins[STATS_LOGIN_SUCCESS], 0);
}

static void test_users_capped(void)
{
	struct stats_user *u = NULL;

	stats_reset();
	stats_set_per_user(false, 2);
	stats_user_end("alice", 1, 2);		/* off: not counted */
	CHECK_INT(stats_get_users(&u), 0);
	CHECK(u == NULL, "users without any");
	stats_set_per_user(true, 2);
	stats_user_end("zoe", 10, 20);
	stats_user_end("alice", 1, 2);
	stats_user_end("zoe", 10, 20);
	stats_user_end("carol", 100, 200);	/* the third user: "other" */
	stats_user_end("other", 1000, 2000);	/* a real "other" joins it */
	stats_user_end("", 5, 5);		/* not authenticated: nothing */
	int n = stats_get_users(&u);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(u[0].name, "alice");
		CHECK_INT(u[0].sessions, 1);
		CHECK_STR(u[1].name, "zoe");
		CHECK_INT(u[1].sessions, 2);
		CHECK_INT(u[1].bytes_up, 20);
		CHECK_INT(u[1].bytes_down, 40);
		CHECK_STR(u[2].name, STATS_USER_OTHER);
		CHECK_INT(u[2].sessions, 2);
		CHECK_INT(u[2].bytes_up, 1100);
		CHECK_INT(u[2].bytes_down, 2200);
	}
	free(u);
	/* A user with series keeps them after the cap shrinks. */
	stats_set_per_user(true, 0);
	stats_user_end("alice", 1, 1);
	stats_user_end("bob", 1, 1);
	n = stats_get_users(&u);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_INT(u[0].sessions, 2);
		CHECK_INT(u[2].sessions, 3);
	}
	free(u);
	stats_reset();
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "the exact text of a known snapshot", test_render_exact },
		{ "series left out", test_render_left_out },
		{ "histogram buckets", test_histogram_buckets },
		{ "sessions by outcome and the refusals they imply", test_sessions_and_refusals },
		{ "per-user totals, capped, the rest as other", test_users_capped },
	};
	return UNIT_RUN("metrics", tests);
}
