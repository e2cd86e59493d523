/* socksgatectl's reading of the daemon's answers: what each means as an exit
 * status, and as text for a person (aligned tables for lists). The JSON keys
 * read here are the ones socksgatectl(8) documents. */
#include "autoconf.h"

#include "notify.h"
#include "socksgatectl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CELL 300
#define COLS 9

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static uint64_t num(struct json_object *o, const char *key)
{
	return json_object_get_uint64(get(o, key));
}

static const char *str(struct json_object *o, const char *key)
{
	const char *s = json_object_get_string(get(o, key));
	return s != NULL ? s : "";
}

static bool flag(struct json_object *o, const char *key)
{
	return json_object_get_boolean(get(o, key));
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "850ms", "12s", "3m05s", "2h03m", "4d07h". */
static char *duration(char *buf, size_t len, uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, len, "%" PRIu64 "ms", ms);
	else if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
	return buf;
}

static char *when(char *buf, size_t len, int64_t unix_time)
{
	time_t t = (time_t)unix_time;
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%" PRId64, unix_time);
	return buf;
}

static void print_errors(FILE *out, struct json_object *r, const char *indent)
{
	struct json_object *errs = get(r, "errors");
	size_t n = json_object_array_length(errs);

	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s\n", indent,
			json_object_get_string(json_object_array_get_idx(errs, i)));
	if (num(r, "error_count") > n)
		fprintf(out, "%s(and %" PRIu64 " more: see the log)\n", indent,
			num(r, "error_count") - n);
}

static void show_status(struct json_object *o)
{
	struct json_object *cfg = get(o, "config"), *last = get(o, "last_reload");
	struct json_object *s = get(o, "sessions"), *b = get(o, "bytes"), *w = get(o, "workers");
	struct json_object *q = get(o, "queue"), *a = get(o, "auth");
	char t1[64], t2[64];

	printf("socksgate %s (pid %" PRIu64 "), up %s\n", str(o, "version"), num(o, "pid"),
	       duration(t1, sizeof(t1), num(o, "uptime_ms")));
	printf("configuration  %s, loaded %s\n", str(cfg, "file"),
	       when(t1, sizeof(t1), json_object_get_int64(get(cfg, "loaded"))));
	if (last != NULL) {
		when(t1, sizeof(t1), json_object_get_int64(get(last, "time")));
		printf("last reload    %s: %s", t1,
		       flag(last, "applied") ? "applied\n" : "REFUSED, ");
		if (!flag(last, "applied")) {
			printf("%" PRIu64 " %s:\n", num(last, "error_count"),
			       plural(num(last, "error_count"), "error", "errors"));
			print_errors(stdout, last, "                 ");
		}
	}
	printf("sessions       %" PRIu64 " active, %" PRIu64 " since start\n", num(s, "active"),
	       num(s, "total"));
	printf("bytes          %s up, %s down\n", notify_format_bytes(t1, sizeof(t1), num(b, "up")),
	       notify_format_bytes(t2, sizeof(t2), num(b, "down")));
	printf("workers        %" PRIu64 " busy, %" PRIu64 " idle; queue %" PRIu64
	       " waiting (of %" PRIu64 ")\n", num(w, "busy"), num(w, "idle"), num(q, "waiting"),
	       num(q, "length"));
	printf("logins         %" PRIu64 " %s, %" PRIu64 " from the cache (%" PRIu64
	       " cached); PAM %" PRIu64 " running, %" PRIu64 " waiting (at most %" PRIu64 ")\n",
	       num(a, "failures"), plural(num(a, "failures"), "failure", "failures"),
	       num(a, "cache_hits"), num(a, "cache_entries"), num(a, "pam_running"),
	       num(a, "pam_waiting"), num(a, "pam_parallel"));
	printf("blocked        %" PRIu64 " %s\n", num(o, "blocked"),
	       plural(num(o, "blocked"), "address", "addresses"));
}

/* A table: a header row, then rows made by fill(item, cells), columns padded
 * to their widest cell; right[i] aligns column i right. */
typedef void (*row_fn)(struct json_object *item, char cells[COLS][CELL]);

static void table(struct json_object *list, size_t ncols, const char *const *head,
		  const bool *right, row_fn fill)
{
	char cells[COLS][CELL];
	size_t width[COLS], n = json_object_array_length(list);

	for (size_t c = 0; c < ncols; c++)
		width[c] = strlen(head[c]);
	for (size_t i = 0; i < n; i++) {
		fill(json_object_array_get_idx(list, i), cells);
		for (size_t c = 0; c < ncols; c++)
			if (strlen(cells[c]) > width[c])
				width[c] = strlen(cells[c]);
	}
	for (size_t i = 0; i <= n; i++) {
		if (i > 0)
			fill(json_object_array_get_idx(list, i - 1), cells);
		for (size_t c = 0; c < ncols; c++) {
			const char *v = i == 0 ? head[c] : cells[c];
			bool last = c + 1 == ncols;
			if (right[c])
				printf("%*s", (int)width[c], v);
			else if (last)
				fputs(v, stdout);	/* no trailing blanks */
			else
				printf("%-*s", (int)width[c], v);
			fputs(last ? "\n" : "  ", stdout);
		}
	}
}

static void session_row(struct json_object *s, char cells[COLS][CELL])
{
	snprintf(cells[0], CELL, "%" PRIu64, num(s, "id"));
	snprintf(cells[1], CELL, "%s", str(s, "user")[0] != '\0' ? str(s, "user") : "-");
	snprintf(cells[2], CELL, "%s", str(s, "client"));
	snprintf(cells[3], CELL, "%s", str(s, "command")[0] != '\0' ? str(s, "command") : "-");
	snprintf(cells[4], CELL, "%s",
		 str(s, "destination")[0] != '\0' ? str(s, "destination") : "-");
	duration(cells[5], CELL, num(s, "age_ms"));
	duration(cells[6], CELL, num(s, "idle_ms"));
	notify_format_bytes(cells[7], CELL, num(s, "bytes_up"));
	notify_format_bytes(cells[8], CELL, num(s, "bytes_down"));
}

static void show_sessions(struct json_object *o)
{
	static const char *const head[] = { "ID",  "USER", "CLIENT", "COMMAND", "DESTINATION",
					    "AGE", "IDLE", "UP",     "DOWN" };
	static const bool right[] = { true, false, false, false, false, true, true, true, true };
	struct json_object *list = get(o, "sessions");

	if (json_object_array_length(list) == 0) {
		printf("no live sessions%s\n", flag(o, "truncated") ? " listed" : "");
		return;
	}
	table(list, COLS, head, right, session_row);
	if (flag(o, "truncated"))
		printf("(more sessions are live than one answer lists)\n");
}

static void block_row(struct json_object *b, char cells[COLS][CELL])
{
	snprintf(cells[0], CELL, "%s", str(b, "address"));
	duration(cells[1], CELL, num(b, "age_ms"));
	duration(cells[2], CELL, num(b, "remaining_ms"));
}

static enum sgctl_exit show_result(const struct ctlproto_request *rq, struct json_object *o,
				   bool print)
{
	uint64_t n;

	switch (rq->cmd) {
	case CTLPROTO_CMD_KILL:
		n = num(o, "killed");
		if (print && n > 0)
			printf("ended %" PRIu64 " %s\n", n, plural(n, "session", "sessions"));
		else if (print)
			fprintf(stderr, "socksgatectl: no live session matched\n");
		return n > 0 ? SGCTL_OK : SGCTL_FAILED;
	case CTLPROTO_CMD_UNBLOCK:
		n = num(o, "unblocked");
		if (print && (n > 0 || rq->all))
			printf("lifted %" PRIu64 " %s\n", n, plural(n, "block", "blocks"));
		else if (print)
			fprintf(stderr, "socksgatectl: no blocked address matched\n");
		return n > 0 || rq->all ? SGCTL_OK : SGCTL_FAILED;
	case CTLPROTO_CMD_CACHE_FLUSH:
		if (print)
			printf("flushed %" PRIu64 " cached %s\n", num(o, "flushed"),
			       plural(num(o, "flushed"), "credential", "credentials"));
		return SGCTL_OK;
	default:
		break;
	}
	/* reload */
	if (flag(o, "applied")) {
		if (print)
			printf("configuration reloaded; new sessions use it\n");
		return SGCTL_OK;
	}
	if (print) {
		fprintf(stderr, "socksgatectl: reload refused, the old configuration stays in "
			"force (%" PRIu64 " %s):\n", num(o, "error_count"),
			plural(num(o, "error_count"), "error", "errors"));
		print_errors(stderr, o, "  ");
	}
	return SGCTL_FAILED;
}

enum sgctl_exit sgctl_show(const struct ctlproto_request *rq, struct json_object *answer,
			   bool print)
{
	static const char *const bhead[] = { "ADDRESS", "BLOCKED FOR", "REMAINING" };
	static const bool bright[] = { false, true, true };

	if (!flag(answer, "ok")) {
		if (print)
			fprintf(stderr, "socksgatectl: %s\n", str(answer, "error"));
		return strcmp(str(answer, "code"), CTLPROTO_ERR_DENIED) == 0 ? SGCTL_DENIED
									 : SGCTL_FAILED;
	}
	switch (rq->cmd) {
	case CTLPROTO_CMD_STATUS:
		if (print)
			show_status(answer);
		return SGCTL_OK;
	case CTLPROTO_CMD_SESSIONS:
		if (print)
			show_sessions(answer);
		return SGCTL_OK;
	case CTLPROTO_CMD_BLOCKED:
		if (print && json_object_array_length(get(answer, "blocked")) == 0)
			printf("no blocked addresses\n");
		else if (print)
			table(get(answer, "blocked"), 3, bhead, bright, block_row);
		return SGCTL_OK;
	default:
		return show_result(rq, answer, print);
	}
}
