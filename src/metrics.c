/* The metrics endpoint: libmicrohttpd serves GET /metrics from its own
 * polling thread, each scrape collecting a fresh snapshot from the counters
 * (stats, session), the pool, the limiter and /proc/self/fd and rendering
 * it. Bounded: a few connections at once, each with a timeout and a small
 * memory pool. */
#include "autoconf.h"

#include "metrics.h"

#include "addr.h"
#include "config.h"
#include "limiter.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "session.h"
#include "timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define METRICS_CONNECTIONS 8		/* scrapers at once */
#define METRICS_PER_IP 4
#define METRICS_TIMEOUT_S 10		/* an idle or slow connection is closed */
#define METRICS_MEMORY (32 * 1024)	/* per connection, for the request */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct MHD_Daemon *mhd;
	struct pool *pool;
	unsigned queue_capacity;
	uint64_t start_time_s;
	atomic_uint fail_limit, block_ms;	/* the limiter's bounds of the moment */
};

static struct log_ratelimit mhd_rl;

int metrics_open(const struct config *c, int *ret_fd)
{
	char a[ADDR_STRLEN];

	if (c->metrics_listen.len == 0) {
		*ret_fd = -1;
		return 0;
	}
	addr_str((const struct sockaddr *)&c->metrics_listen.ss, a, sizeof(a));
	int fd = listener_bind(&c->metrics_listen, 16);
	if (fd < 0) {
		log_msg(LOG_ERR, "cannot serve metrics on %s: %s", a, strerror(-fd));
		return fd;
	}
	log_msg(LOG_NOTICE, "metrics on http://%s/metrics", a);
	*ret_fd = fd;
	return 0;
}

/* Descriptors open now, from /proc/self/fd (less the one reading it), or -1. */
static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;

	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static long max_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return -1;
	return (long)rl.rlim_cur;
}

void metrics_collect(struct metrics *m, struct metrics_snapshot *s)
{
	struct session_stats ss;
	struct pool_stats ps = { 0 };
	struct stats_user *users = NULL;

	session_get_stats(&ss);
	if (m->pool != NULL)
		pool_get_stats(m->pool, &ps);
	*s = (struct metrics_snapshot){
		.version = PACKAGE_VERSION,
		.start_time_s = m->start_time_s,
		.sessions_active = ss.active,
		.sessions_started = ss.total,
		.bytes_up = ss.bytes_up,
		.bytes_down = ss.bytes_down,
		.workers_busy = ps.threads > ps.idle ? ps.threads - ps.idle : 0,
		.workers_idle = ps.idle,
		.queue_length = ps.queued,
		.queue_capacity = m->queue_capacity,
		.open_fds = open_fds(),
		.max_fds = max_fds(),
		.blocked_addresses = limiter_count_blocked(monotonic_ms(),
							   atomic_load(&m->fail_limit),
							   atomic_load(&m->block_ms)),
		.per_user = stats_per_user(),
	};
	stats_get(&s->stats);
	if (s->per_user) {
		int n = stats_get_users(&users);
		if (n > 0) {
			s->users = users;
			s->nusers = (size_t)n;
		}
	}
}

void metrics_snapshot_free(struct metrics_snapshot *s)
{
	free((void *)s->users);
	s->users = NULL;
	s->nusers = 0;
}

/* The body of GET /metrics, malloc'd; NULL when out of memory. */
static char *scrape(struct metrics *m, size_t *ret_len)
{
	struct metrics_snapshot s;
	char *text = NULL;
	size_t len = 0;

	FILE *out = open_memstream(&text, &len);
	if (out == NULL)
		return NULL;
	metrics_collect(m, &s);
	int r = metrics_render(&s, out);
	metrics_snapshot_free(&s);
	if (fclose(out) != 0 || r < 0) {
		free(text);
		return NULL;
	}
	*ret_len = len;
	return text;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								  MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* libmicrohttpd's request callback, on its thread. Requests carry no body
 * that matters: each is answered on the first call. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct metrics *m = cls;
	size_t len = 0;

	(void)version;
	(void)upload;
	(void)con_cls;
	*upload_size = 0;	/* a body, if any, is ignored */
	if (strcmp(url, "/metrics") != 0)
		return respond(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	char *text = scrape(m, &len);
	if (text == NULL)
		return respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_ratelimited(&mhd_rl, LOG_WARNING, "metrics endpoint: %s", msg);
}

int metrics_start(int fd, struct pool *pool, unsigned queue_capacity, struct metrics **ret)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		close(fd);
		return -ENOMEM;
	}
	m->pool = pool;
	m->queue_capacity = queue_capacity;
	m->start_time_s = (uint64_t)time(NULL);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
				  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNECTIONS,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_PER_IP,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_MEMORY,
				  MHD_OPTION_END);
	if (m->mhd == NULL) {
		/* Not closed here: whether libmicrohttpd already closed it on its
		 * way out is not documented, and the daemon exits anyway. */
		int r = errno != 0 ? -errno : -EINVAL;
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void metrics_configure(struct metrics *m, const struct config *old, const struct config *c)
{
	const struct sockaddr *now = (const struct sockaddr *)&c->metrics_listen.ss;
	char a[ADDR_STRLEN];
	bool moved = false;

	if (old != NULL)
		moved = old->metrics_listen.len != c->metrics_listen.len ||
			(c->metrics_listen.len > 0 &&
			 !addr_same((const struct sockaddr *)&old->metrics_listen.ss, now, true));
	if (moved)
		log_msg(LOG_WARNING, "metrics_listen changed to %s: that takes a restart",
			c->metrics_listen.len > 0 ? addr_str(now, a, sizeof(a)) : "off");
	stats_set_per_user(c->metrics_per_user, c->metrics_max_users);
	if (m != NULL) {
		atomic_store(&m->fail_limit, c->auth_fail_limit);
		atomic_store(&m->block_ms, c->auth_block_time_ms);
	}
}

void metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->mhd);	/* joins its thread and closes the socket */
	free(m);
}
