/* The Prometheus text exposition format (0.0.4) of one snapshot: HELP and
 * TYPE lines, counters ending in _total, base units (seconds, bytes),
 * histograms as cumulative _bucket{le=...} series with _sum and _count.
 * Pure: the same snapshot always gives the same text. */
#include "autoconf.h"

#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

static const char *const cmd_names[STATS_CMD_N] = {
	[STATS_CMD_NONE] = "none",
	[STATS_CMD_CONNECT] = "connect",
	[STATS_CMD_BIND] = "bind",
	[STATS_CMD_UDP] = "udp",
};

static const char *const outcome_names[STATS_OUTCOME_N] = {
	[STATS_OK] = "ok",
	[STATS_REFUSED_RULE] = "refused_rule",
	[STATS_REFUSED_POLICY] = "refused_policy",
	[STATS_REFUSED_LIMIT] = "refused_limit",
	[STATS_REFUSED_AUTH] = "refused_auth",
	[STATS_ERROR] = "error",
	[STATS_CLIENT_GONE] = "client_gone",
};

static const char *const login_names[STATS_LOGIN_N] = {
	[STATS_LOGIN_SUCCESS] = "success",
	[STATS_LOGIN_CACHE_HIT] = "cache_hit",
	[STATS_LOGIN_FAILURE] = "failure",
	[STATS_LOGIN_PAM_ERROR] = "pam_error",
	[STATS_LOGIN_BLOCKED] = "blocked",
	[STATS_LOGIN_ABANDONED] = "abandoned",
};

static const char *const refusal_names[STATS_REFUSAL_N] = {
	[STATS_REFUSAL_RULE] = "rule",
	[STATS_REFUSAL_DEFAULT_POLICY] = "default_policy",
	[STATS_REFUSAL_LIMIT] = "limit",
	[STATS_REFUSAL_BLOCK] = "block",
};

static const struct {
	const char *name, *help;
} hist_names[STATS_HIST_N] = {
	[STATS_HIST_LOGIN] = { "socksgate_login_duration_seconds",
			       "Time a username/password check took (credential cache, PAM "
			       "queue and PAM), in seconds." },
	[STATS_HIST_CONNECT] = { "socksgate_connect_duration_seconds",
				 "Time a successful CONNECT took to resolve and connect to its "
				 "destination, in seconds." },
	[STATS_HIST_HANDSHAKE] = { "socksgate_handshake_duration_seconds",
				   "Time from accept to the request read (queue wait and login "
				   "included), in seconds." },
};

static void header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void seconds(FILE *out, uint64_t us)
{
	fprintf(out, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
}

/* The series a session can have: without a request only the handshake's
 * ends, with one every end but a refused login. */
static bool session_series(size_t cmd, size_t outcome)
{
	if (outcome == STATS_OUTCOME_UNSET)
		return false;
	if (cmd == STATS_CMD_NONE)
		return outcome == STATS_REFUSED_AUTH || outcome == STATS_ERROR ||
		       outcome == STATS_CLIENT_GONE;
	return outcome != STATS_REFUSED_AUTH;
}

static void render_sessions(const struct metrics_snapshot *s, FILE *out)
{
	header(out, "socksgate_sessions_active", "gauge", "Sessions being served now.");
	fprintf(out, "socksgate_sessions_active %" PRIu64 "\n", s->sessions_active);
	header(out, "socksgate_sessions_started_total", "counter",
	       "Connections a worker took up since start.");
	fprintf(out, "socksgate_sessions_started_total %" PRIu64 "\n", s->sessions_started);
	header(out, "socksgate_sessions_ended_total", "counter",
	       "Sessions ended since start, by command (none: no valid request) and outcome.");
	for (size_t c = 0; c < STATS_CMD_N; c++) {
		for (size_t o = 0; o < STATS_OUTCOME_N; o++) {
			if (!session_series(c, o))
				continue;
			fprintf(out, "socksgate_sessions_ended_total{command=\"%s\","
				     "outcome=\"%s\"} %" PRIu64 "\n",
				cmd_names[c], outcome_names[o], s->stats.sessions[c][o]);
		}
	}
	header(out, "socksgate_relayed_bytes_total", "counter",
	       "Payload bytes relayed since start (live sessions included), up: client to "
	       "destination, down: back.");
	fprintf(out, "socksgate_relayed_bytes_total{direction=\"up\"} %" PRIu64 "\n", s->bytes_up);
	fprintf(out, "socksgate_relayed_bytes_total{direction=\"down\"} %" PRIu64 "\n",
		s->bytes_down);
}

static void render_logins(const struct metrics_snapshot *s, FILE *out)
{
	header(out, "socksgate_logins_total", "counter",
	       "Username/password logins since start, by result.");
	for (size_t i = 0; i < STATS_LOGIN_N; i++)
		fprintf(out, "socksgate_logins_total{result=\"%s\"} %" PRIu64 "\n", login_names[i],
			s->stats.logins[i]);
	header(out, "socksgate_refusals_total", "counter",
	       "Connections and requests refused since start, by cause (rule, "
	       "default_policy, limit, block).");
	for (size_t i = 0; i < STATS_REFUSAL_N; i++)
		fprintf(out, "socksgate_refusals_total{cause=\"%s\"} %" PRIu64 "\n",
			refusal_names[i], s->stats.refusals[i]);
}

static void render_histogram(const struct stats_histogram *h, const char *name,
			     const char *help, FILE *out)
{
	uint64_t cum = 0;

	header(out, name, "histogram", help);
	for (size_t b = 0; b < STATS_BUCKETS; b++) {
		cum += h->buckets[b];
		fprintf(out, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, stats_bucket_le[b], cum);
	}
	fprintf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
	fprintf(out, "%s_sum ", name);
	seconds(out, h->sum_us);
	fprintf(out, "\n%s_count %" PRIu64 "\n", name, h->count);
}

static void gauge(FILE *out, const char *name, const char *help, long long v)
{
	header(out, name, "gauge", help);
	fprintf(out, "%s %lld\n", name, v);
}

static void render_process(const struct metrics_snapshot *s, FILE *out)
{
	header(out, "socksgate_workers", "gauge", "Worker threads, by state.");
	fprintf(out, "socksgate_workers{state=\"busy\"} %u\n", s->workers_busy);
	fprintf(out, "socksgate_workers{state=\"idle\"} %u\n", s->workers_idle);
	gauge(out, "socksgate_queue_length", "Accepted connections waiting for a worker.",
	      s->queue_length);
	gauge(out, "socksgate_queue_capacity", "The most connections that may wait for a worker.",
	      s->queue_capacity);
	if (s->open_fds >= 0)
		gauge(out, "socksgate_open_fds", "Open file descriptors.", s->open_fds);
	if (s->max_fds >= 0)
		gauge(out, "socksgate_max_fds", "The descriptor limit (RLIMIT_NOFILE).",
		      s->max_fds);
	gauge(out, "socksgate_blocked_addresses",
	      "Client addresses blocked now after repeated authentication failures.",
	      s->blocked_addresses);
}

static void render_users(const struct metrics_snapshot *s, FILE *out)
{
	header(out, "socksgate_user_sessions_total", "counter",
	       "Sessions of each authenticated user that ended since start (users past "
	       "metrics_max_users as \"other\").");
	for (size_t i = 0; i < s->nusers; i++) {
		fputs("socksgate_user_sessions_total{user=\"", out);
		label_value(out, s->users[i].name);
		fprintf(out, "\"} %" PRIu64 "\n", s->users[i].sessions);
	}
	header(out, "socksgate_user_relayed_bytes_total", "counter",
	       "Payload bytes of each authenticated user's ended sessions, by direction.");
	for (size_t i = 0; i < s->nusers; i++) {
		for (int up = 1; up >= 0; up--) {
			fputs("socksgate_user_relayed_bytes_total{user=\"", out);
			label_value(out, s->users[i].name);
			fprintf(out, "\",direction=\"%s\"} %" PRIu64 "\n", up ? "up" : "down",
				up ? s->users[i].bytes_up : s->users[i].bytes_down);
		}
	}
}

int metrics_render(const struct metrics_snapshot *s, FILE *out)
{
	header(out, "socksgate_build_info", "gauge", "Always 1; the version is a label.");
	fputs("socksgate_build_info{version=\"", out);
	label_value(out, s->version);
	fputs("\"} 1\n", out);
	gauge(out, "socksgate_start_time_seconds", "When the daemon started, in seconds since "
	      "the Unix epoch.", (long long)s->start_time_s);
	render_sessions(s, out);
	render_logins(s, out);
	for (size_t h = 0; h < STATS_HIST_N; h++)
		render_histogram(&s->stats.hist[h], hist_names[h].name, hist_names[h].help, out);
	render_process(s, out);
	if (s->per_user)
		render_users(s, out);
	return ferror(out) ? -EIO : 0;
}
