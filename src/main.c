/* socksgate: command line, startup, the signal loop and an orderly shutdown.
 * Listeners come from systemd or are bound here, privileges are dropped, and
 * only then do threads start; every signal is taken by sigtimedwait() here, so
 * workers never see one, and the same loop keeps systemd informed (STATUS=,
 * WATCHDOG=1). */
#include "autoconf.h"

#include "auth.h"
#include "config.h"
#include "groups.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "session.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <ifaddrs.h>
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
/* Descriptors a session can hold: client, destination, two splice pipes. */
#define FDS_PER_SESSION 6
#define FDS_RESERVED 64
#define WORKERS_AUTO_CAP 16384
#define OVERRIDES_MAX 64
/* The main thread waits this long at most for the pool's lock when checking
 * that the pool is alive. */
#define POOL_PING_MS 200
/* At shutdown, how long workers get to end once their sessions are closed. */
#define STOP_GRACE_MS 3000

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned queue_len;	/* the pool's queue, fixed at start */
static struct config *current;

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

/* Reload errors go where the other messages go (the journal under systemd). */
static void report_log(const char *file, unsigned line, const char *msg, void *ctx)
{
	if (line > 0)
		log_msg(LOG_ERR, "%s:%u: %s", file, line, msg);
	else
		log_msg(LOG_ERR, "%s: %s", file, msg);
	(*(unsigned *)ctx)++;
}

/* Gives c the gateway's own addresses, which the default policy protects.
 * Read at start and at each reload, so a new address counts after SIGHUP. */
static void load_self(struct config *c)
{
	struct ifaddrs *ifa = NULL;
	struct addr_net *v = NULL;
	size_t n = 0, cap = 0;

	if (getifaddrs(&ifa) < 0) {
		log_msg(LOG_WARNING, "cannot list this host's addresses (%s): the default policy "
				     "protects only loopback and the fixed ranges", strerror(errno));
		return;
	}
	for (struct ifaddrs *i = ifa; i != NULL; i = i->ifa_next) {
		struct addr_net net;
		if (i->ifa_addr == NULL || !addr_net_from_sockaddr(i->ifa_addr, &net))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			struct addr_net *nv = realloc(v, cap * sizeof(*nv));
			if (nv == NULL)
				break;
			v = nv;
		}
		v[n++] = net;
	}
	freeifaddrs(ifa);
	config_set_self(c, v, n);
}

static int on_accept(int fd, const struct addr *peer, void *ctx)
{
	struct pool *pool = ctx;
	struct pool_job job = {
		.fd = fd,
		.peer = *peer,
		.accepted_ms = monotonic_ms(),
		.cfg = config_current(),
	};
	if (!session_admit(peer, job.cfg)) {
		close(fd);
		config_unref(job.cfg);
		return 0;	/* ours to close; session_admit() said why */
	}
	int r = pool_submit(pool, &job);
	if (r < 0) {
		session_unadmit(peer);
		config_unref(job.cfg);
	}
	return r;
}

/* Raises the descriptor limit to its hard maximum and returns it. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

/* Every queued connection holds a descriptor. The queue gets at most a
 * quarter of what the limit leaves, and the default worker maximum only what
 * remains after the queue, so a flood of silent connections cannot take the
 * descriptors that the sessions being served need for their destinations. */
static unsigned queue_for(const struct config *c, rlim_t nofile)
{
	rlim_t share = (nofile > FDS_RESERVED ? nofile - FDS_RESERVED : 0) / 4;
	if (share == 0)
		share = 1;
	return c->queue_length < share ? c->queue_length : (unsigned)share;
}

static unsigned workers_max_for(const struct config *c, rlim_t nofile, unsigned queue)
{
	if (c->workers_max != 0)
		return c->workers_max;
	rlim_t n = nofile > FDS_RESERVED + queue ? (nofile - FDS_RESERVED - queue) / FDS_PER_SESSION
						 : 0;
	if (n == 0)
		n = 1;
	if (n > WORKERS_AUTO_CAP)
		n = WORKERS_AUTO_CAP;
	if (n < c->workers_min)
		n = c->workers_min;
	return (unsigned)n;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: socksgate [OPTION]...\n"
		"SOCKS5 gateway with PAM authentication and journald records.\n\n"
		"  -c, --config FILE      configuration file (default %s)\n"
		"  -l, --listen ADDR:PORT listen here; repeatable; IPv6 as [ADDR]:PORT\n"
		"                         (default 127.0.0.1:1080)\n"
		"  -a, --auth none|pam    authentication method\n"
		"  -u, --user NAME        when started as root, switch to this user after\n"
		"                         binding the listeners\n"
		"  -t, --check-config     check the configuration, print it, and exit\n"
		"  -V, --version          print the version and exit\n"
		"  -h, --help             print this help and exit\n\n"
		"See socksgate(8) and socksgate.conf(5).\n",
		CONFIG_DEFAULT_PATH);
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
 * names the first such address in which. */
static bool unauth_exposed(const struct config *c, const int *fds, int nfds, char *which,
			   size_t len)
{
	if (c->auth != CONFIG_AUTH_NONE || c->allow_unauthenticated)
		return false;
	for (int i = 0; i < nfds; i++) {
		struct addr a;
		a.len = sizeof(a.ss);
		if (getsockname(fds[i], (struct sockaddr *)&a.ss, &a.len) < 0)
			continue;
		if (!addr_is_loopback((struct sockaddr *)&a.ss)) {
			addr_str((struct sockaddr *)&a.ss, which, len);
			return true;
		}
	}
	return false;
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
	char status[256];

	session_get_stats(&st);
	(void)sd_notifyf(0, "STATUS=%s", notify_format_status(status, sizeof(status), &st));
}

static bool listeners_passed;	/* by systemd: the config's listen never applied */

/* The live listening sockets and the acceptor thread that serves them. */
struct listening {
	struct listener *lst;
	int fds[CONFIG_LISTEN_MAX];	/* owned by lst; here for getsockname() */
	int nfds;
};

static bool listen_same(const struct addr *a, const struct addr *b)
{
	return addr_same((const struct sockaddr *)&a->ss, (const struct sockaddr *)&b->ss, true);
}

/* A reload changed the listen list: keeps the sockets of addresses that stay
 * (so their queued connections survive), binds the new ones, starts an
 * acceptor over the new set and only then stops the old one, which closes
 * the sockets of addresses that went. Returns 0, or -1 after logging why
 * with nothing changed. */
static int relisten(const struct config *old, const struct config *c, struct listening *L,
		    struct pool *pool)
{
	int fds[CONFIG_LISTEN_MAX];
	char a[ADDR_STRLEN], which[ADDR_STRLEN];
	size_t n = 0;

	for (size_t i = 0; i < c->nlisten; i++) {
		const struct addr *want = &c->listen[i];
		int fd = -1, err = 0;
		bool kept = false;
		for (size_t j = 0; j < old->nlisten && j < (size_t)L->nfds && !kept; j++) {
			if (listen_same(&old->listen[j], want)) {
				kept = true;
				fd = fcntl(L->fds[j], F_DUPFD_CLOEXEC, 0);
				err = fd < 0 ? errno : 0;
			}
		}
		if (!kept) {
			fd = listener_bind(want, SOMAXCONN);
			err = fd < 0 ? -fd : 0;
			if (fd >= 0)
				log_msg(LOG_NOTICE, "listening on %s",
					addr_str((const struct sockaddr *)&want->ss, a, sizeof(a)));
		}
		if (fd < 0) {
			log_event(LOG_ID_RELOAD_FAILED, LOG_ERR,
				  "reload refused: cannot listen on %s: %s; keeping the old "
				  "configuration",
				  addr_str((const struct sockaddr *)&want->ss, a, sizeof(a)),
				  strerror(err));
			goto fail;
		}
		fds[n++] = fd;
	}
	if (unauth_exposed(c, fds, (int)n, which, sizeof(which))) {
		log_event(LOG_ID_RELOAD_FAILED, LOG_ERR,
			  "reload refused: auth = none on the non-loopback listener %s lets anyone "
			  "who can reach it use the gateway (allow_unauthenticated = yes if intended); "
			  "keeping the old configuration",
			  which);
		goto fail;
	}
	struct listener *nl;
	int r = listener_start(&nl, fds, n, on_accept, pool);	/* closes fds on failure */
	if (r < 0) {
		log_event(LOG_ID_RELOAD_FAILED, LOG_ERR,
			  "reload refused: cannot start the acceptor: %s; keeping the old "
			  "configuration",
			  strerror(-r));
		return -1;
	}
	listener_stop(L->lst);
	L->lst = nl;
	for (size_t j = 0; j < old->nlisten && j < (size_t)L->nfds; j++) {
		bool stays = false;
		for (size_t i = 0; i < c->nlisten && !stays; i++)
			stays = listen_same(&old->listen[j], &c->listen[i]);
		if (!stays)
			log_msg(LOG_NOTICE, "no longer listening on %s",
				addr_str((const struct sockaddr *)&old->listen[j].ss, a, sizeof(a)));
	}
	memcpy(L->fds, fds, n * sizeof(fds[0]));
	L->nfds = (int)n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	return -1;
}

/* SIGHUP: a valid new config serves new sessions, live ones keep theirs; an
 * invalid one is reported line by line and changes nothing. A changed listen
 * list is applied (unless systemd passed the sockets); the user and the
 * descriptor limit stay as they were at start. */
static void reload(const char *path, const struct config_override *ov, size_t nov,
		   struct pool *pool, rlim_t nofile, struct listening *L)
{
	struct config *c;
	unsigned errors = 0;
	char which[ADDR_STRLEN];

	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading the configuration",
			 (unsigned long long)monotonic_usec());
	log_msg(LOG_NOTICE, "reloading the configuration");
	/* At start an absent default file means the built-in defaults; at a
	 * reload it more likely means a file removed by mistake, and falling
	 * back to the defaults would drop every rule: name the file, so that
	 * its absence is an error like any unreadable file. */
	if (config_load(path != NULL ? path : CONFIG_DEFAULT_PATH, ov, nov, report_log, &errors,
			&c) < 0) {
		log_event(LOG_ID_RELOAD_FAILED, LOG_ERR,
			  "reload failed with %u error(s); keeping the old configuration", errors);
		goto out;
	}
	struct config *old = config_current();
	bool same_listen = old->nlisten == c->nlisten;
	for (size_t i = 0; same_listen && i < c->nlisten; i++)
		same_listen = listen_same(&old->listen[i], &c->listen[i]);
	if (!same_listen && !listeners_passed) {
		if (relisten(old, c, L, pool) < 0) {
			config_unref(old);
			config_unref(c);
			goto out;
		}
	} else if (unauth_exposed(c, L->fds, L->nfds, which, sizeof(which))) {
		log_event(LOG_ID_RELOAD_FAILED, LOG_ERR,
			  "reload refused: auth = none on the non-loopback listener %s lets anyone "
			  "who can reach it use the gateway (allow_unauthenticated = yes if intended); "
			  "keeping the old configuration",
			  which);
		config_unref(old);
		config_unref(c);
		goto out;
	}
	if (strcmp(old->user, c->user) != 0)
		log_msg(LOG_WARNING, "user changed from '%s' to '%s': that takes a restart",
			old->user, c->user);
	if (old->queue_length != c->queue_length)
		log_msg(LOG_WARNING, "queue_length changed from %u to %u: that takes a restart",
			old->queue_length, c->queue_length);
	config_unref(old);
	load_self(c);
	log_set_level(c->log_level);
	log_set_target((enum log_target)c->log_target);
	pool_set_limits(pool, c->workers_min, workers_max_for(c, nofile, queue_len));
	if (c->auth == CONFIG_AUTH_PAM) {
		char why[256];
		if (auth_pam_pin(c->pam_service, why, sizeof(why)) < 0)
			log_msg(LOG_WARNING, "%s", why);
	}
	config_swap(c);
	groups_flush();
	log_event(LOG_ID_RELOAD, LOG_NOTICE, "configuration reloaded; new sessions use it");
out:
	(void)sd_notify(0, "READY=1");
	notify_status();
}

/* Started as root with "user": switch to that user and its groups for good.
 * Not root: "user" may only name the user it already runs as. Returns 0, or
 * -1 after logging why the daemon must not start. */
static int drop_privileges(const char *user)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	uid_t euid = geteuid();

	if (user[0] == '\0') {
		if (euid == 0)
			log_msg(LOG_NOTICE,
				"running as root: sessions and PAM run with full privileges; set "
				"'user = socksgate' (a system user in the 'shadow' group) or -u to drop "
				"them after binding");
		return 0;
	}
	int r = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (res == NULL) {
		log_msg(LOG_ERR, "user '%s': %s", user, r != 0 ? strerror(r) : "no such user");
		return -1;
	}
	if (euid != 0) {
		if (pw.pw_uid == euid)
			return 0;
		log_msg(LOG_ERR,
			"cannot switch to user '%s': running as uid %u, and only root can change "
			"user; start as root or drop the 'user' setting",
			user, (unsigned)euid);
		return -1;
	}
	if (pw.pw_uid == 0) {
		log_msg(LOG_NOTICE, "user '%s' is root: nothing to drop", user);
		return 0;
	}
	if (initgroups(pw.pw_name, pw.pw_gid) < 0 || setgid(pw.pw_gid) < 0 ||
	    setuid(pw.pw_uid) < 0) {
		log_msg(LOG_ERR, "cannot switch to user '%s': %s", user, strerror(errno));
		return -1;
	}
	/* A setuid() that left a saved root uid behind would be undone here. */
	if (setuid(0) == 0 || seteuid(0) == 0 || geteuid() != pw.pw_uid || getuid() != pw.pw_uid ||
	    getegid() != pw.pw_gid) {
		log_msg(LOG_ERR, "switching to user '%s' did not stick: root can be regained", user);
		return -1;
	}
	log_msg(LOG_NOTICE, "running as user %s (uid %u, gid %u)", user, (unsigned)pw.pw_uid,
		(unsigned)pw.pw_gid);
	return 0;
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
	char why[256];

	if (c->auth == CONFIG_AUTH_PAM) {
		if (auth_pam_pin(c->pam_service, why, sizeof(why)) < 0)
			log_msg(LOG_WARNING, "%s", why);
		if (!auth_can_read_shadow(why, sizeof(why)))
			log_msg(LOG_WARNING, "%s", why);
		log_msg(LOG_INFO, "authentication: username/password through PAM service '%s'",
			c->pam_service);
	} else if (c->allow_unauthenticated) {
		log_msg(LOG_WARNING, "auth = none with allow_unauthenticated = yes: anyone who can "
				     "reach a listener can use this gateway");
	} else {
		log_msg(LOG_NOTICE, "auth = none: no authentication (loopback listeners only)");
	}
}

/* A daemon started with stdin, stdout or stderr closed would hand those
 * numbers to its first sockets, and a log line would then go to a client.
 * Fill any that are closed with /dev/null before opening anything else. */
static void std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* Lower numbers are open by now, so open() returns fd itself. */
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			_exit(1);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "auth", required_argument, NULL, 'a' },
		{ "user", required_argument, NULL, 'u' },
		{ "check-config", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config_override ov[OVERRIDES_MAX];
	size_t nov = 0;
	const char *path = NULL;
	bool check_only = false;
	int opt, fds[CONFIG_LISTEN_MAX];
	unsigned errors = 0;
	char which[ADDR_STRLEN];

	std_fds_open();
	while ((opt = getopt_long(argc, argv, "c:l:a:u:tVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'l':
		case 'a':
		case 'u':
			if (nov == OVERRIDES_MAX) {
				fprintf(stderr, "socksgate: too many options\n");
				return 1;
			}
			ov[nov++] = (struct config_override){
				opt == 'l' ? "listen" : opt == 'a' ? "auth" : "user", optarg
			};
			break;
		case 't':
			check_only = true;
			break;
		case 'V':
			printf("socksgate %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "socksgate: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}

	struct config *cfg;
	if (config_load(path, ov, nov, report_stderr, &errors, &cfg) < 0) {
		fprintf(stderr, "socksgate: configuration has %u error(s)\n", errors);
		return 1;
	}
	load_self(cfg);
	if (check_only) {
		/* What start would refuse, -t refuses too. */
		if (cfg->user[0] != '\0' && getpwnam(cfg->user) == NULL) {
			fprintf(stderr, "%s: user '%s': no such user\n",
				path != NULL ? path : CONFIG_DEFAULT_PATH, cfg->user);
			config_unref(cfg);
			return 1;
		}
		config_dump(cfg, stdout);
		printf("# configuration OK\n");
		config_unref(cfg);
		return 0;
	}
	log_set_level(cfg->log_level);
	log_set_target((enum log_target)cfg->log_target);
	current = cfg;

	/* Every thread inherits this mask; the loop below takes the signals. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	rlim_t nofile = raise_nofile();
	/* Sockets from systemd win over the config: the .socket unit is where
	 * the operator chose the addresses. */
	int nfds = listener_from_systemd(fds, CONFIG_LISTEN_MAX);
	listeners_passed = nfds > 0;
	if (nfds > 0)
		log_msg(LOG_NOTICE, "serving the %d socket(s) passed by systemd; the 'listen' "
				    "setting is ignored",
			nfds);
	else if (nfds == 0)
		nfds = bind_all(cfg, fds);
	if (nfds < 0)
		goto fail_config;
	if (unauth_exposed(cfg, fds, nfds, which, sizeof(which))) {
		log_msg(LOG_ERR, "auth = none on the non-loopback listener %s lets anyone who can "
				 "reach it use the gateway; set allow_unauthenticated = yes if that is "
				 "intended",
			which);
		goto fail_fds;
	}
	/* Bound (ports below 1024 need root), so root is no longer needed. */
	if (drop_privileges(cfg->user) < 0)
		goto fail_fds;

	queue_len = queue_for(cfg, nofile);
	if (queue_len < cfg->queue_length)
		log_msg(LOG_NOTICE,
			"queue_length %u cut to %u: queued connections may hold at most a quarter "
			"of the descriptor limit (%llu); raise LimitNOFILE (ulimit -n) for more",
			cfg->queue_length, queue_len, (unsigned long long)nofile);
	unsigned wmax = workers_max_for(cfg, nofile, queue_len);
	struct pool *pool = pool_new(cfg->workers_min, wmax, queue_len, WORKER_STACK,
				     WORKER_IDLE_EXIT_MS, session_run, NULL);
	if (pool == NULL) {
		log_msg(LOG_ERR, "cannot start the worker pool: %s", strerror(errno));
		goto fail_fds;
	}
	pool_set_discard(pool, session_discard);
	struct listening L = { .nfds = nfds };
	memcpy(L.fds, fds, (size_t)nfds * sizeof(fds[0]));
	int r = listener_start(&L.lst, fds, (size_t)nfds, on_accept, pool);
	if (r < 0) {
		log_msg(LOG_ERR, "cannot start the acceptor: %s", strerror(-r));
		pool_free(pool);
		goto fail_config;
	}
	announce_auth(cfg);
	log_event(LOG_ID_START, LOG_NOTICE,
		  "socksgate %s started: workers %u..%u, queue %u, descriptor limit %llu",
		  PACKAGE_VERSION, cfg->workers_min, wmax, queue_len,
		  (unsigned long long)nofile);
	(void)sd_notify(0, "READY=1");
	notify_status();

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
			watchdog_tick(L.lst, pool, &wd_alive);
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
		int sig = sigtimedwait(&sigs, NULL, &ts);
		now = monotonic_ms();
		if (sig < 0)	/* EAGAIN: time for the periodic work; EINTR: likewise */
			continue;
		if (sig == SIGHUP) {
			reload(path, ov, nov, pool, nofile, &L);
			continue;
		}
		log_msg(LOG_NOTICE, "received %s, no longer accepting", strsignal(sig));
		break;
	}

	(void)sd_notify(0, "STOPPING=1\nSTATUS=Stopping: draining live sessions");
	listener_stop(L.lst);
	struct config *c = config_current();
	unsigned left = pool_drain(pool, c->drain_timeout_ms);
	config_unref(c);
	if (left > 0) {
		struct pool_stats st;
		pool_get_stats(pool, &st);
		unsigned queued = st.queued < left ? st.queued : left;
		/* Queued connections never had a worker, so they get no record:
		 * say how many there were. */
		log_msg(LOG_NOTICE,
			"drain period over, closing %u live session(s) and %u queued connection(s) "
			"that no worker had taken yet",
			left - queued, queued);
		(void)pool_stop(pool, 0);	/* from here no worker takes a queued one */
		session_shutdown_all();
	}
	/* Closed sessions end at once; a worker blocked where a closed socket
	 * cannot reach it (a PAM module, the resolver) does not hold up the
	 * exit for longer than STOP_GRACE_MS. */
	unsigned stuck = pool_stop(pool, STOP_GRACE_MS);
	if (stuck > 0) {
		log_msg(LOG_WARNING, "%u worker(s) still busy (in PAM, name resolution or connect) "
			"%u ms after their sessions were closed; exiting without them",
			stuck, STOP_GRACE_MS);
		log_event(LOG_ID_STOP, LOG_NOTICE, "stopped");
		fflush(NULL);
		_exit(0);	/* exit() would run library destructors under their feet */
	}
	pool_free(pool);
	config_swap(NULL);
	log_event(LOG_ID_STOP, LOG_NOTICE, "stopped");
	return 0;

fail_fds:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
fail_config:
	config_swap(NULL);
	return 1;
}
