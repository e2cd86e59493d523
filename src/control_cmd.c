/* The control socket's commands: each reads what it answers about (the
 * session registry, the pool, the login path, the limiter) through that
 * module's own thread-safe calls and builds its JSON answer with json-c.
 * Runs on the control thread; control.c does the socket side. */
#include "autoconf.h"

#include "control_int.h"

#include "auth.h"
#include "config.h"
#include "limiter.h"
#include "pool.h"
#include "session.h"
#include "socks5.h"
#include "timeutil.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* At most this many sessions are listed in one answer ("truncated" says so). */
#define LIST_MAX 100000

/* json-c asserts on a NULL object, and a NULL value would answer null:
 * every add goes through put() or push(), which drop v and count the failure
 * when o or v is NULL (out of memory). An answer built with a failure is
 * dropped whole (answered as out of memory), never sent in part. */
static _Thread_local unsigned put_failed;

/* key is always a string literal: json-c keeps it without a copy (a copy
 * that json-c itself leaks when the insertion then fails). */
static void put(struct json_object *o, const char *key, struct json_object *v)
{
	if (o == NULL || v == NULL ||
	    json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0) {
		json_object_put(v);
		put_failed++;
	}
}

static void push(struct json_object *a, struct json_object *v)
{
	if (a == NULL || v == NULL || json_object_array_add(a, v) != 0) {
		json_object_put(v);
		put_failed++;
	}
}

/* o, or NULL (o freed) when an add failed since put_failed was zeroed. */
static struct json_object *whole(struct json_object *o)
{
	if (put_failed > 0) {
		json_object_put(o);
		o = NULL;
	}
	put_failed = 0;
	return o;
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	put(o, key, json_object_new_uint64(v));
}

static void add_i64(struct json_object *o, const char *key, int64_t v)
{
	put(o, key, json_object_new_int64(v));
}

static void add_str(struct json_object *o, const char *key, const char *s)
{
	put(o, key, json_object_new_string(s));
}

static struct json_object *answer_ok(void)
{
	struct json_object *o = json_object_new_object();
	if (o != NULL)
		put(o, "ok", json_object_new_boolean(1));
	return o;
}

struct json_object *control_cmd_error(const char *code, const char *msg)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	put_failed = 0;
	put(o, "ok", json_object_new_boolean(0));
	add_str(o, "code", code);
	add_str(o, "error", msg);
	return whole(o);
}

static struct json_object *errors_array(const struct control_reload *r)
{
	struct json_object *a = json_object_new_array();
	unsigned kept = r->nerrors < CONTROL_RELOAD_ERRORS ? r->nerrors : CONTROL_RELOAD_ERRORS;

	for (unsigned i = 0; a != NULL && i < kept; i++)
		push(a, json_object_new_string(r->errors[i]));
	return a;
}

struct json_object *control_cmd_reload(const struct control_reload *r)
{
	put_failed = 0;
	struct json_object *o = answer_ok();

	if (o == NULL)
		return NULL;
	put(o, "applied", json_object_new_boolean(r->applied));
	add_u64(o, "error_count", r->nerrors);
	put(o, "errors", errors_array(r));
	return whole(o);
}

/* The limiter's bounds of the configuration in force. */
static void block_bounds(const struct control_view *v, unsigned *limit, unsigned *block_ms)
{
	struct config *c = v->p->config_get(v->p->ctx);

	*limit = c->auth_fail_limit;
	*block_ms = c->auth_block_time_ms;
	config_unref(c);
}

static void status_daemon(struct json_object *o, const struct control_view *v)
{
	struct json_object *cfg = json_object_new_object();

	add_str(o, "version", PACKAGE_VERSION);
	add_i64(o, "pid", (int64_t)getpid());
	add_i64(o, "started", v->started_real);
	add_i64(o, "uptime_ms", monotonic_ms() - v->started_ms);
	add_str(cfg, "file", v->p->config_path);
	add_i64(cfg, "loaded", v->loaded_real);
	put(o, "config", cfg);
	if (v->last != NULL) {
		struct json_object *r = json_object_new_object();
		add_i64(r, "time", v->last_real);
		put(r, "applied", json_object_new_boolean(v->last->applied));
		add_u64(r, "error_count", v->last->nerrors);
		put(r, "errors", errors_array(v->last));
		put(o, "last_reload", r);
	}
}

static struct json_object *cmd_status(const struct control_view *v)
{
	struct json_object *o = answer_ok(), *sub;
	struct session_stats ss;
	struct auth_stats as;
	struct pool_stats ps;
	unsigned limit, block_ms;

	if (o == NULL)
		return NULL;
	session_get_stats(&ss);
	auth_get_stats(&as);
	pool_get_stats(v->p->pool, &ps);
	block_bounds(v, &limit, &block_ms);
	status_daemon(o, v);
	sub = json_object_new_object();
	add_u64(sub, "active", ss.active);
	add_u64(sub, "total", ss.total);
	put(o, "sessions", sub);
	sub = json_object_new_object();
	add_u64(sub, "up", ss.bytes_up);
	add_u64(sub, "down", ss.bytes_down);
	put(o, "bytes", sub);
	sub = json_object_new_object();
	add_u64(sub, "threads", ps.threads);
	add_u64(sub, "busy", ps.threads - ps.idle);
	add_u64(sub, "idle", ps.idle);
	put(o, "workers", sub);
	sub = json_object_new_object();
	add_u64(sub, "waiting", ps.queued);
	add_u64(sub, "length", v->p->queue_len);
	put(o, "queue", sub);
	sub = json_object_new_object();
	add_u64(sub, "failures", ss.auth_failures);
	add_u64(sub, "cache_hits", ss.auth_cache_hits);
	add_u64(sub, "cache_entries", as.cache_entries);
	add_u64(sub, "pam_running", as.pam_running);
	add_u64(sub, "pam_waiting", as.pam_waiting);
	add_u64(sub, "pam_parallel", as.parallel);
	put(o, "auth", sub);
	add_u64(o, "blocked", limiter_list(NULL, 0, monotonic_ms(), limit, block_ms));
	return o;
}

/* A copy of the live sessions, at most LIST_MAX: *ret (malloc'd, the
 * caller's) and its length; *ret_total is how many were live. NULL when out
 * of memory. */
static struct session_info *snapshot(size_t *ret_n, size_t *ret_total)
{
	struct session_info *a = NULL;
	size_t cap = 0, n = session_list(NULL, 0);

	/* Sessions come and go between the calls: retry with room to spare. */
	for (int tries = 0; tries < 4; tries++) {
		cap = n + n / 4 + 16;
		if (cap > LIST_MAX)
			cap = LIST_MAX;
		free(a);
		a = malloc(cap * sizeof(*a));
		if (a == NULL)
			return NULL;
		n = session_list(a, cap);
		if (n <= cap || cap == LIST_MAX)
			break;
	}
	*ret_total = n;
	*ret_n = n < cap ? n : cap;
	return a;
}

static struct json_object *session_json(const struct session_info *s, int64_t now)
{
	struct json_object *o = json_object_new_object();
	char client[ADDR_STRLEN];

	if (o == NULL)
		return NULL;
	add_u64(o, "id", s->id);
	add_str(o, "user", s->user);
	add_str(o, "client", addr_str((const struct sockaddr *)&s->client.ss, client,
				      sizeof(client)));
	add_str(o, "command", s->command < 0 ? "" : socks5_cmd_str((uint8_t)s->command));
	add_str(o, "destination", s->dest);
	add_i64(o, "age_ms", now > s->start_ms ? now - s->start_ms : 0);
	add_i64(o, "idle_ms", now > s->last_ms ? now - s->last_ms : 0);
	add_u64(o, "bytes_up", s->up);
	add_u64(o, "bytes_down", s->down);
	return o;
}

static bool matches(const struct ctlproto_request *rq, const struct session_info *s)
{
	return ctlproto_request_matches(rq, s->id, s->user, (const struct sockaddr *)&s->client.ss);
}

static struct json_object *cmd_sessions(const struct ctlproto_request *rq)
{
	size_t n, total;
	struct session_info *a = snapshot(&n, &total);
	struct json_object *o = a != NULL ? answer_ok() : NULL;
	struct json_object *list = o != NULL ? json_object_new_array() : NULL;
	int64_t now = monotonic_ms();

	if (list == NULL) {
		free(a);
		json_object_put(o);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (matches(rq, &a[i]))
			push(list, session_json(&a[i], now));
	put(o, "sessions", list);
	put(o, "truncated", json_object_new_boolean(n < total));
	free(a);
	return o;
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct json_object *cmd_kill(const struct ctlproto_request *rq, uid_t uid)
{
	size_t n, total, nids = 0;
	struct session_info *a = snapshot(&n, &total);
	uint64_t *ids = a != NULL ? malloc((n > 0 ? n : 1) * sizeof(*ids)) : NULL;
	struct json_object *o = ids != NULL ? answer_ok() : NULL;
	char by[64];

	if (o == NULL) {
		free(ids);
		free(a);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (matches(rq, &a[i]))
			ids[nids++] = a[i].id;
	qsort(ids, nids, sizeof(*ids), id_cmp);
	snprintf(by, sizeof(by), "socksgatectl (uid %u)", (unsigned)uid);
	unsigned killed = session_kill(ids, nids, by);
	struct json_object *list = json_object_new_array();
	for (size_t i = 0; list != NULL && i < nids; i++)
		push(list, json_object_new_uint64(ids[i]));
	add_u64(o, "killed", killed);
	put(o, "ids", list);
	free(ids);
	free(a);
	return o;
}

static struct json_object *cmd_blocked(const struct control_view *v)
{
	struct json_object *o = answer_ok(), *list = json_object_new_array();
	int64_t now = monotonic_ms();
	unsigned limit, block_ms;
	char a[INET6_ADDRSTRLEN + 8];

	block_bounds(v, &limit, &block_ms);
	struct limiter_block *b = malloc(LIMITER_SLOTS * sizeof(*b));
	if (o == NULL || list == NULL || b == NULL) {
		free(b);
		json_object_put(list);
		json_object_put(o);
		return NULL;
	}
	size_t n = limiter_list(b, LIMITER_SLOTS, now, limit, block_ms);
	for (size_t i = 0; i < n && i < LIMITER_SLOTS; i++) {
		struct json_object *e = json_object_new_object();
		add_str(e, "address", addr_net_format(&b[i].addr, a, sizeof(a)));
		add_i64(e, "age_ms", now - b[i].since_ms);
		add_i64(e, "remaining_ms", b[i].until_ms - now);
		push(list, e);
	}
	put(o, "blocked", list);
	free(b);
	return o;
}

static struct json_object *cmd_unblock(const struct ctlproto_request *rq,
				       const struct control_view *v)
{
	struct json_object *o = answer_ok();
	unsigned limit, block_ms;

	if (o == NULL)
		return NULL;
	block_bounds(v, &limit, &block_ms);
	add_u64(o, "unblocked", limiter_unblock(rq->all ? NULL : &rq->client.net, monotonic_ms(),
						block_ms));
	return o;
}

static struct json_object *cmd_cache_flush(void)
{
	struct json_object *o = answer_ok();
	struct auth_stats as;

	if (o == NULL)
		return NULL;
	auth_get_stats(&as);
	auth_cache_flush();
	add_u64(o, "flushed", as.cache_entries);
	return o;
}

struct json_object *control_cmd_run(const struct ctlproto_request *rq,
				    const struct control_view *v)
{
	put_failed = 0;
	switch (rq->cmd) {
	case CTLPROTO_CMD_STATUS:
		return whole(cmd_status(v));
	case CTLPROTO_CMD_SESSIONS:
		return whole(cmd_sessions(rq));
	case CTLPROTO_CMD_KILL:
		return whole(cmd_kill(rq, v->uid));
	case CTLPROTO_CMD_BLOCKED:
		return whole(cmd_blocked(v));
	case CTLPROTO_CMD_UNBLOCK:
		return whole(cmd_unblock(rq, v));
	case CTLPROTO_CMD_CACHE_FLUSH:
		return whole(cmd_cache_flush());
	case CTLPROTO_CMD_RELOAD:
		break;	/* the control thread's own business */
	}
	return control_cmd_error(CTLPROTO_ERR_FAILED, "not a command control_cmd_run() runs");
}
