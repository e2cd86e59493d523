/* socksgate: command line, startup, the signal loop and an orderly shutdown.
 * Listeners come from systemd or are bound here, privileges are dropped, and
 * only then do threads start; every signal is taken by sigtimedwait() here, so
 * workers never see one, and the same loop keeps systemd informed (STATUS=,
 * WATCHDOG=1). */
#include "autoconf.h"

#include "auth.h"
#include "cmdline.h"
#include "config.h"
#include "control.h"
#include "config_addr.h"
#include "groups.h"
#include "gssauth.h"
#include "limiter.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "policy.h"
#include "pool.h"
#include "relay.h"
#include "runtime.h"
#include "session.h"
#include "socks5.h"
#include "timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

/* Worker stacks: a session needs a few KiB, but PAM modules can be greedy
 * (pam_cap puts a 256 KiB group array on the stack), so the bound is generous.
 * Only touched pages cost memory, and the session gives back what a login
 * touched (pool_trim_stack), so idle sessions stay small. */
#define WORKER_STACK (1024 * 1024)
#define WORKER_IDLE_EXIT_MS 30000
/* The main thread waits this long at most for the pool's lock when checking
 * that the pool is alive. */
#define POOL_PING_MS 200
/* At shutdown, how long workers get to end once their sessions are closed. */
#define STOP_GRACE_MS 3000

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned queue_len;	/* the pool's queue, fixed at start */
static struct config *current;
static struct metrics *metrics;	/* the Prometheus endpoint, or NULL */
/* The control socket (NULL when off), and the last reload's outcome for
 * STATUS=. Main thread only. */
static struct control *control;
static struct control_reload last_reload = { .applied = true };

static struct config *config_current(void)
{
	pthread_mutex_lock(&current_lock);
	struct config *c = config_ref(current);
	pthread_mutex_unlock(&current_lock);
	return c;
}

static void config_swap(struct config *c)
{
	pthread_mutex_lock(&current_lock);
	struct config *old = current;
	current = c;
	pthread_mutex_unlock(&current_lock);
	config_unref(old);
}

static void report_stderr(const char *file, unsigned line, const char *msg, void *ctx)
{
	if (line > 0)
		fprintf(stderr, "%s:%u: %s\n", file, line, msg);
	else
		fprintf(stderr, "%s: %s\n", file, msg);
	(*(unsigned *)ctx)++;
}

/* Reload errors go where the other messages go (the journal under systemd),
 * and into the reload's outcome (ctx) for socksgatectl and STATUS=. */
static void report_log(const char *file, unsigned line, const char *msg, void *ctx)
{
	if (line > 0) {
		log_msg(LOG_ERR, "%s:%u: %s", file, line, msg);
		control_reload_error(ctx, "%s:%u: %s", file, line, msg);
	} else {
		log_msg(LOG_ERR, "%s: %s", file, msg);
		control_reload_error(ctx, "%s: %s", file, msg);
	}
}

/* The control thread's view of the configuration in force. */
static struct config *config_get(void *ctx)
{
	(void)ctx;
	return config_current();
}

static bool listeners_passed;	/* by systemd: the config's listen never applied */

/* The acceptor's callback. Whether the socket expects a PROXY protocol
 * header is asked of the same config the session gets, so a reload that
 * changes it applies to the next connection, atomically. */
static int on_accept(int fd, const struct addr *peer, const struct addr *local, void *ctx)
{
	struct config *c = config_current();
	bool proxy = config_addr_proxy_socket(c, (const struct sockaddr *)&local->ss,
					      listeners_passed);
	return session_submit(ctx, fd, peer, proxy, c);
}

/* Binds every configured address; returns how many fds were bound, or -1. */
static int bind_all(const struct config *c, int *fds)
{
	char a[ADDR_STRLEN];

	for (size_t i = 0; i < c->nlisten; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&c->listen[i].ss;
		int fd = listener_bind(&c->listen[i], SOMAXCONN);
		if (fd < 0) {
			log_msg(LOG_ERR, "cannot listen on %s: %s", addr_str(sa, a, sizeof(a)),
				strerror(-fd));
			for (size_t j = 0; j < i; j++)
				close(fds[j]);
			return -1;
		}
		fds[i] = fd;
		log_msg(LOG_NOTICE, "listening on %s", addr_str(sa, a, sizeof(a)));
	}
	return (int)c->nlisten;
}

/* True when auth = none would be reachable from another host through one of
 * the live listening sockets (which may come from systemd, not the config);
 * msg then says so. */
static bool unauth_exposed(const struct config *c, const struct listener *lst, char *msg,
			   size_t len)
{
	struct addr a[CONFIG_LISTEN_MAX];
	size_t n = listener_addrs(lst, a, CONFIG_LISTEN_MAX);
	return config_unauth_exposed(c, a, n, msg, len);
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void notify_status(void)
{
	struct session_stats st;
	char counts[256], status[768];

	session_get_stats(&st);
	notify_format_status(counts, sizeof(counts), &st);
	if (!last_reload.applied)	/* until a reload succeeds */
		notify_format_reload_failed(status, sizeof(status), last_reload.errors[0],
					    last_reload.nerrors, counts);
	(void)sd_notifyf(0, "STATUS=%s", last_reload.applied ? counts : status);
}

/* The configuration the listener's veto judges: the one starting, or the one
 * a reload is about to apply. Main thread only. */
static const struct config *judged;

/* The listener's veto: a listen list must not expose auth = none. */
static int check_listen(const struct addr *a, size_t n, char *why, size_t whylen, void *ctx)
{
	(void)ctx;
	return config_unauth_exposed(judged, a, n, why, whylen) ? -EPERM : 0;
}

static bool listen_same(const struct config *a, const struct config *b)
{
	if (a->nlisten != b->nlisten)
		return false;
	for (size_t i = 0; i < a->nlisten; i++)
		if (!addr_same((const struct sockaddr *)&a->listen[i].ss,
			       (const struct sockaddr *)&b->listen[i].ss, true))
			return false;
	return true;
}

/* What a reload cannot change, said when it was asked to. */
static void warn_restart_needed(const struct config *old, const struct config *c)
{
	if (strcmp(old->user, c->user) != 0)
		log_msg(LOG_WARNING, "user changed from '%s' to '%s': that takes a restart",
			old->user, c->user);
	if (old->queue_length != c->queue_length)
		log_msg(LOG_WARNING, "queue_length changed from %u to %u: that takes a restart",
			old->queue_length, c->queue_length);
	if (strcmp(old->control_socket, c->control_socket) != 0 ||
	    strcmp(old->control_group, c->control_group) != 0)
		log_msg(LOG_WARNING, "control_socket or control_group changed: that takes a "
				     "restart");
}

/* Says which sockets expect a PROXY protocol header, and warns of the
 * settings that cannot apply: "proxy" on listen lines under socket
 * activation, proxy_listen without it or naming no passed socket. */
static void announce_proxy(const struct config *c, const struct listener *lst)
{
	struct addr a[CONFIG_LISTEN_MAX];
	char s[ADDR_STRLEN];
	size_t n = listener_addrs(lst, a, CONFIG_LISTEN_MAX);

	for (size_t i = 0; i < n; i++)
		if (config_addr_proxy_socket(c, (const struct sockaddr *)&a[i].ss, listeners_passed))
			log_msg(LOG_NOTICE, "%s expects a PROXY protocol header, from %zu trusted "
				"network(s) (proxy_from) only",
				addr_str((const struct sockaddr *)&a[i].ss, s, sizeof(s)),
				c->nproxy_from);
	if (listeners_passed && config_addr_proxy_listener(c))
		log_msg(LOG_WARNING, "'proxy' on a listen line does not apply to the sockets "
				     "systemd passed: name those in proxy_listen");
	if (!listeners_passed && c->nproxy_listen > 0)
		log_msg(LOG_WARNING, "proxy_listen applies only to sockets passed by systemd; "
				     "these were bound from 'listen', where 'proxy' says it");
	for (size_t i = 0; listeners_passed && i < c->nproxy_listen; i++) {
		const struct sockaddr *want = (const struct sockaddr *)&c->proxy_listen[i].ss;
		bool found = false;
		for (size_t j = 0; j < n && !found; j++)
			found = addr_same((const struct sockaddr *)&a[j].ss, want, true);
		if (!found)
			log_msg(LOG_WARNING, "proxy_listen: %s is not one of the sockets systemd "
				"passed", addr_str(want, s, sizeof(s)));
	}
}

/* The host's addresses for a reloaded config c: read again, or when that
 * fails (out of memory) the ones old knew, so the default policy never stops
 * protecting them; false (reported) when even that copy fails. */
static bool reload_self(struct config *c, const struct config *old, struct control_reload *rep)
{
	int r = runtime_load_self(c);

	if (r == 0)
		return true;
	struct addr_net *v = old->nself > 0 ? malloc(old->nself * sizeof(*v)) : NULL;
	if (old->nself > 0 && v == NULL) {
		log_event(LOG_ID_RELOAD_FAILED, LOG_ERR, "reload refused: cannot list this host's "
			  "addresses (%s); keeping the old configuration", strerror(-r));
		control_reload_error(rep, "cannot list this host's addresses: %s", strerror(-r));
		return false;
	}
	if (v != NULL)
		memcpy(v, old->self, old->nself * sizeof(*v));
	config_set_self(c, v, old->nself);
	log_msg(LOG_WARNING, "cannot list this host's addresses (%s): the default policy keeps "
		"protecting the ones known before", strerror(-r));
	return true;
}

/* SIGHUP: a valid new config serves new sessions, live ones keep theirs; an
 * invalid one is reported line by line and changes nothing. A changed listen
 * list is applied (unless systemd passed the sockets); the user and the
 * descriptor limit stay as they were at start. */
static void reload(const char *path, const struct config_override *ov, size_t nov,
		   struct pool *pool, rlim_t nofile, struct listener *lst)
{
	struct config *c;
	struct control_reload rep = { .applied = false };
	char msg[320];

	control_reload_begin(control);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading the configuration",
			 (unsigned long long)monotonic_usec());
	log_msg(LOG_NOTICE, "reloading the configuration");
	/* At start an absent default file means the built-in defaults; at a
	 * reload it more likely means a file removed by mistake, and falling
	 * back to the defaults would drop every rule: name the file, so that
	 * its absence is an error like any unreadable file. */
	if (config_load(path != NULL ? path : CONFIG_DEFAULT_PATH, ov, nov, report_log, &rep,
			&c) < 0) {
		log_event(LOG_ID_RELOAD_FAILED, LOG_ERR,
			  "reload failed with %u error(s); keeping the old configuration",
			  rep.nerrors);
		goto out;
	}
	if (policy_check_sources(c, path != NULL ? path : CONFIG_DEFAULT_PATH, report_log,
				 &rep) > 0) {
		log_event(LOG_ID_RELOAD_FAILED, LOG_ERR, "reload refused: an address to connect "
			  "from is not this machine's; keeping the old configuration");
		config_unref(c);
		goto out;
	}
	struct config *old = config_current();
	if (!reload_self(c, old, &rep)) {
		config_unref(old);
		config_unref(c);
		goto out;
	}
	if (!listen_same(old, c) && !listeners_passed) {
		judged = c;
		if (listener_reconfigure(lst, c->listen, c->nlisten, check_listen, msg,
					 sizeof(msg)) < 0) {
			log_event(LOG_ID_RELOAD_FAILED, LOG_ERR,
				  "reload refused: %s; keeping the old configuration", msg);
			control_reload_error(&rep, "%s", msg);
			config_unref(old);
			config_unref(c);
			goto out;
		}
	} else if (unauth_exposed(c, lst, msg, sizeof(msg))) {
		log_event(LOG_ID_RELOAD_FAILED, LOG_ERR, "reload refused: %s; keeping the old "
			  "configuration", msg);
		control_reload_error(&rep, "%s", msg);
		config_unref(old);
		config_unref(c);
		goto out;
	}
	warn_restart_needed(old, c);
	(void)limiter_set_exempt(c->auth_block_exempt, c->nauth_block_exempt);
	metrics_configure(metrics, old, c);
	config_unref(old);
	if (auth_configure(c->auth_max_parallel, c->auth_cache_ttl_ms, c->auth_cache_size) < 0)
		log_msg(LOG_WARNING, "cannot change the login bounds: %s", strerror(errno));
	runtime_log_setup(c);
	unsigned wmax = runtime_workers_max_for(c, nofile, queue_len);
	pool_set_limits(pool, c->workers_min, wmax);
	relay_set_pipe_limit(runtime_pipes_for(nofile, queue_len, wmax));
	if (config_has_method(c, SOCKS5_METHOD_USERPASS) ||
	    config_has_method(c, SOCKS5_METHOD_GSSAPI)) {
		char why[256];
		if (!auth_pam_pin(c->pam_service, why, sizeof(why)))
			log_msg(LOG_WARNING, "%s", why);
	}
	announce_proxy(c, lst);
	config_swap(c);
	groups_flush();
	log_event(LOG_ID_RELOAD, LOG_NOTICE, "configuration reloaded; new sessions use it");
	rep.applied = true;
out:
	last_reload = rep;
	control_reload_done(control, &rep);
	(void)sd_notify(0, "READY=1");
	notify_status();
}

/* The watchdog: pets systemd only while the acceptor turns and the pool's
 * lock can be taken; says once when that changes. */
static void watchdog_tick(struct listener *lst, struct pool *pool, bool *was_alive)
{
	int64_t now = monotonic_ms();
	int64_t beat = listener_heartbeat(lst);
	bool pool_ok = pool_ping(pool, POOL_PING_MS) == 0;
	bool alive = notify_alive(now, beat, NOTIFY_ACCEPTOR_STALL_MS, pool_ok);

	if (alive) {
		(void)sd_notify(0, "WATCHDOG=1");
		if (!*was_alive)
			log_msg(LOG_NOTICE, "watchdog: healthy again, pings resumed");
	} else if (*was_alive) {
		log_msg(LOG_CRIT, "watchdog: %s; withholding pings so systemd restarts the service",
			!pool_ok ? "the worker pool's lock is stuck"
				 : "the acceptor thread has stopped turning");
	}
	*was_alive = alive;
}

/* Says once, at start, what an operator must know about authentication. */
static void announce_auth(const struct config *c)
{
	char why[512];
	bool pass = config_has_method(c, SOCKS5_METHOD_USERPASS);

	if (pass || config_has_method(c, SOCKS5_METHOD_GSSAPI)) {
		if (!auth_pam_pin(c->pam_service, why, sizeof(why)))
			log_msg(LOG_WARNING, "%s", why);
		if (!auth_can_read_shadow(why, sizeof(why)))
			log_msg(LOG_WARNING, "%s", why);
	}
	if (pass)
		log_msg(LOG_INFO, "authentication: username/password through PAM service '%s'",
			c->pam_service);
	if (config_has_method(c, SOCKS5_METHOD_GSSAPI)) {
		struct gssauth *g = gssauth_new(c->gssapi_keytab, c->gssapi_service,
						c->gssapi_hostname, why, sizeof(why));
		if (g == NULL)
			log_msg(LOG_WARNING, "GSSAPI: %s: every GSSAPI login will fail", why);
		gssauth_free(g);
		log_msg(LOG_INFO, "authentication: GSSAPI (Kerberos) for service '%s', accounts "
			"checked by PAM service '%s'", c->gssapi_service, c->pam_service);
	}
	if (!config_has_method(c, SOCKS5_METHOD_NONE))
		return;
	if (c->allow_unauthenticated)
		log_msg(LOG_WARNING, "method none with allow_unauthenticated = yes: anyone who can "
				     "reach a listener can use this gateway");
	else
		log_msg(LOG_NOTICE, "method none: no authentication (loopback listeners only)");
}

/* -t: what start would refuse, -t refuses too. Returns the exit status. */
static int check_config(struct config *cfg, const char *path)
{
	int rc = 0;
	char why[256];

	if (cfg->user[0] != '\0' && getpwnam(cfg->user) == NULL) {
		fprintf(stderr, "%s: user '%s': no such user\n",
			path != NULL ? path : CONFIG_DEFAULT_PATH, cfg->user);
		rc = 1;
	} else if (!control_check(cfg, why, sizeof(why))) {
		fprintf(stderr, "%s: %s\n", path != NULL ? path : CONFIG_DEFAULT_PATH, why);
		rc = 1;
	} else {
		unsigned unknown = 0;
		/* Warnings only: the account may be created after the file. */
		(void)policy_check_rule_names(cfg, report_stderr, &unknown);
		config_dump(cfg, stdout);
		printf("# configuration OK\n");
	}
	config_unref(cfg);
	return rc;
}

/* The running daemon, as the signal loop sees it. */
struct daemon {
	const struct args *args;
	struct pool *pool;
	struct listener *lst;
	rlim_t nofile;
};

/* Sockets from systemd win over the config: the .socket unit is where the
 * operator chose the addresses. Returns how many are in fds, or -1. */
static int open_listeners(const struct config *cfg, int *fds)
{
	int nfds = listener_from_systemd(fds, CONFIG_LISTEN_MAX);

	listeners_passed = nfds > 0;
	if (nfds > 0)
		log_msg(LOG_NOTICE, "serving the %d socket(s) passed by systemd; the 'listen' "
				    "setting is ignored",
			nfds);
	else if (nfds == 0)
		nfds = bind_all(cfg, fds);
	return nfds;
}

/* The start line: what the daemon runs with. */
static void announce_start(const struct config *cfg, unsigned wmax, rlim_t nofile)
{
	struct auth_stats as;
	char cache[64] = "credential cache off";

	auth_get_stats(&as);
	if (cfg->auth_cache_ttl_ms > 0 && cfg->auth_cache_size > 0)
		snprintf(cache, sizeof(cache), "credential cache %u s, %u entries",
			 cfg->auth_cache_ttl_ms / 1000, cfg->auth_cache_size);
	log_event(LOG_ID_START, LOG_NOTICE,
		  "socksgate %s started: workers %u..%u, queue %u, descriptor limit %llu, "
		  "%u PAM logins at once, %s",
		  PACKAGE_VERSION, cfg->workers_min, wmax, queue_len, (unsigned long long)nofile,
		  as.parallel, cache);
}

/* Listening sockets from systemd or the config, root dropped, the pool and
 * the acceptor started. Returns 0, or -1 after logging why. */
static int start(struct daemon *d, struct config *cfg)
{
	int fds[CONFIG_LISTEN_MAX], r, mfd;
	char why[320];

	d->nofile = runtime_raise_nofile();
	int nfds = open_listeners(cfg, fds);
	if (nfds < 0)
		return -1;
	if (metrics_open(cfg, &mfd) < 0)
		goto fail_fds;
	/* Made while root, for the user the daemon is about to become. */
	if (control_open(cfg, &control) < 0)
		goto fail_metrics;
	/* Bound (ports below 1024 need root), so root is no longer needed. */
	if (runtime_drop_privileges(cfg->user) < 0)
		goto fail_metrics;

	queue_len = runtime_queue_for(cfg, d->nofile);
	if (queue_len < cfg->queue_length)
		log_msg(LOG_NOTICE,
			"queue_length %u cut to %u: queued connections may hold at most a quarter "
			"of the descriptor limit (%llu); raise LimitNOFILE (ulimit -n) for more",
			cfg->queue_length, queue_len, (unsigned long long)d->nofile);
	unsigned wmax = runtime_workers_max_for(cfg, d->nofile, queue_len);
	relay_set_pipe_limit(runtime_pipes_for(d->nofile, queue_len, wmax));
	log_msg(LOG_INFO, "up to %u sessions at once (descriptor limit %llu, queue %u, "
		"pipes for %u streams)", wmax, (unsigned long long)d->nofile, queue_len,
		runtime_pipes_for(d->nofile, queue_len, wmax));
	d->pool = pool_new(cfg->workers_min, wmax, queue_len, WORKER_STACK, WORKER_IDLE_EXIT_MS,
			   session_run, session_discard, NULL);
	if (d->pool == NULL) {
		log_msg(LOG_ERR, "cannot start the worker pool: %s", strerror(errno));
		goto fail_metrics;
	}
	if ((r = auth_configure(cfg->auth_max_parallel, cfg->auth_cache_ttl_ms,
				cfg->auth_cache_size)) < 0) {
		log_msg(LOG_ERR, "cannot set up the login path: %s", strerror(-r));
		pool_free(d->pool);
		goto fail_metrics;
	}
	/* Started once what it reads exists (the pool, the login path). */
	if (mfd >= 0 && (r = metrics_start(mfd, d->pool, queue_len, &metrics)) < 0) {
		log_msg(LOG_ERR, "cannot start the metrics endpoint: %s", strerror(-r));
		pool_free(d->pool);
		goto fail_fds;
	}
	(void)limiter_set_exempt(cfg->auth_block_exempt, cfg->nauth_block_exempt);
	metrics_configure(metrics, NULL, cfg);
	judged = cfg;
	if (listener_start(&d->lst, fds, (size_t)nfds, check_listen, on_accept, d->pool, why,
			   sizeof(why)) < 0) {
		log_msg(LOG_ERR, "%s", why);	/* the fds are closed */
		metrics_stop(metrics);
		pool_free(d->pool);
		return -1;
	}
	announce_auth(cfg);
	const struct control_params cp = {
		.config_path = d->args->path != NULL ? d->args->path : CONFIG_DEFAULT_PATH,
		.pool = d->pool, .queue_len = queue_len, .config_get = config_get,
	};
	(void)control_start(control, &cp);	/* without it the daemon still serves */
	announce_proxy(cfg, d->lst);
	announce_start(cfg, wmax, d->nofile);
	return 0;
fail_metrics:
	if (mfd >= 0)
		close(mfd);
fail_fds:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return -1;
}

/* Takes the signals until one says stop: SIGHUP reloads; between signals,
 * STATUS= and the watchdog are kept fresh. */
static void serve(struct daemon *d, const sigset_t *sigs)
{
	/* Watchdog pings at half the interval systemd asked for. */
	uint64_t wd_usec = 0;
	int64_t wd_ms = sd_watchdog_enabled(0, &wd_usec) > 0 ? (int64_t)(wd_usec / 2000) : 0;
	if (wd_usec > 0 && wd_ms == 0)
		wd_ms = 1;
	bool wd_alive = true;
	int64_t now = monotonic_ms();
	int64_t next_status = now + NOTIFY_STATUS_INTERVAL_MS, next_wd = now;

	for (;;) {
		if (wd_ms > 0 && now >= next_wd) {
			watchdog_tick(d->lst, d->pool, &wd_alive);
			next_wd = now + wd_ms;
		}
		if (now >= next_status) {
			notify_status();
			next_status = now + NOTIFY_STATUS_INTERVAL_MS;
		}
		int64_t wake = wd_ms > 0 && next_wd < next_status ? next_wd : next_status;
		int64_t left = wake - monotonic_ms();
		if (left < 0)
			left = 0;
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000 };
		int sig = sigtimedwait(sigs, NULL, &ts);
		now = monotonic_ms();
		if (sig < 0)	/* EAGAIN: time for the periodic work; EINTR: likewise */
			continue;
		if (sig == SIGHUP) {
			reload(d->args->path, d->args->ov, d->args->nov, d->pool, d->nofile, d->lst);
			continue;
		}
		log_msg(LOG_NOTICE, "received %s, no longer accepting", strsignal(sig));
		return;
	}
}

/* Stops accepting, drains for drain_timeout, then closes what is left. */
static void stop(struct daemon *d)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=Stopping: draining live sessions");
	listener_stop(d->lst);
	struct config *c = config_current();
	unsigned left = pool_drain(d->pool, c->drain_timeout_ms);
	config_unref(c);
	if (left > 0) {
		struct pool_stats st;
		pool_get_stats(d->pool, &st);
		unsigned queued = st.queued < left ? st.queued : left;
		/* Queued connections never had a worker, so they get no record:
		 * say how many there were. */
		log_msg(LOG_NOTICE,
			"drain period over, closing %u live session(s) and %u queued connection(s) "
			"that no worker had taken yet",
			left - queued, queued);
		(void)pool_stop(d->pool, 0);	/* from here no worker takes a queued one */
		session_shutdown_all();
	}
	/* Closed sessions end at once; a worker blocked where a closed socket
	 * cannot reach it (a PAM module, the resolver) does not hold up the
	 * exit for longer than STOP_GRACE_MS. */
	unsigned stuck = pool_stop(d->pool, STOP_GRACE_MS);
	if (stuck > 0) {
		log_msg(LOG_WARNING, "%u worker(s) still busy (in PAM, name resolution or connect) "
			"%u ms after their sessions were closed; exiting without them",
			stuck, STOP_GRACE_MS);
		log_event(LOG_ID_STOP, LOG_NOTICE, "stopped");
		fflush(NULL);
		_exit(0);	/* exit() would run library destructors under their feet */
	}
	metrics_stop(metrics);	/* it reads the pool's figures */
	metrics = NULL;
	control_stop(control);	/* before the pool it reads goes */
	control = NULL;
	pool_free(d->pool);
}

int main(int argc, char **argv)
{
	struct args args = { .nov = 0 };
	struct daemon d = { .args = &args };
	unsigned errors = 0;

	runtime_std_fds_open();
	int r = cmdline_parse(argc, argv, &args);
	if (r != 0)
		return r < 0 ? 0 : 1;
	struct config *cfg;
	if (config_load(args.path, args.ov, args.nov, report_stderr, &errors, &cfg) < 0) {
		fprintf(stderr, "socksgate: configuration has %u error(s)\n", errors);
		return 1;
	}
	if ((r = runtime_load_self(cfg)) < 0)
		log_msg(LOG_WARNING, "cannot list this host's addresses (%s): the default policy "
			"protects only loopback and the fixed ranges", strerror(-r));
	if (policy_check_sources(cfg, args.path != NULL ? args.path : CONFIG_DEFAULT_PATH,
				 report_stderr, &errors) > 0) {
		fprintf(stderr, "socksgate: configuration has %u error(s)\n", errors);
		config_unref(cfg);
		return 1;
	}
	if (args.check_only)
		return check_config(cfg, args.path);
	runtime_log_setup(cfg);
	current = cfg;

	/* Every thread inherits this mask; serve() takes the signals. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Sessions are numbered from the start time in microseconds: unique
	 * across restarts while fewer than a million sessions a second start. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	session_ids_init((uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000);
	if (start(&d, cfg) < 0) {
		control_stop(control);
		config_swap(NULL);
		return 1;
	}
	(void)sd_notify(0, "READY=1");
	notify_status();
	serve(&d, &sigs);
	stop(&d);
	config_swap(NULL);
	log_event(LOG_ID_STOP, LOG_NOTICE, "stopped");
	return 0;
}
