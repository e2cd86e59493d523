/* socksgate: command line, startup, the signal loop and an orderly shutdown.
 * Threads start only after the listeners exist; every signal is taken by
 * sigwait() here, so workers never see one. */
#include "autoconf.h"

#include "auth.h"
#include "config.h"
#include "groups.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "session.h"
#include "timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Worker stacks: sessions need a few KiB plus getaddrinfo's and PAM modules'
 * appetite; only touched pages cost memory, so this is an upper bound. */
#define WORKER_STACK (256 * 1024)
#define WORKER_IDLE_EXIT_MS 30000
/* Descriptors a session can hold: client, destination, two splice pipes. */
#define FDS_PER_SESSION 6
#define FDS_RESERVED 64
#define WORKERS_AUTO_CAP 16384
#define OVERRIDES_MAX 64

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
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

/* Gives c the gateway's own addresses, which the default policy protects.
 * Read at start and at each reload, so a new address counts after SIGHUP. */
static void load_self(struct config *c)
{
	struct ifaddrs *ifa = NULL;
	struct rule_net *v = NULL;
	size_t n = 0, cap = 0;

	if (getifaddrs(&ifa) < 0) {
		log_msg(LOG_WARNING, "cannot list this host's addresses (%s): the default policy "
				     "protects only loopback and the fixed ranges", strerror(errno));
		return;
	}
	for (struct ifaddrs *i = ifa; i != NULL; i = i->ifa_next) {
		struct rule_net net;
		if (i->ifa_addr == NULL || !rule_net_from_sockaddr(i->ifa_addr, &net))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			struct rule_net *nv = realloc(v, cap * sizeof(*nv));
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
	if (r < 0)
		config_unref(job.cfg);
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

static unsigned workers_max_for(const struct config *c, rlim_t nofile)
{
	if (c->workers_max != 0)
		return c->workers_max;
	rlim_t n = nofile > FDS_RESERVED ? (nofile - FDS_RESERVED) / FDS_PER_SESSION : 1;
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

static void reload(const char *path, const struct config_override *ov, size_t nov,
		   struct pool *pool, rlim_t nofile)
{
	struct config *c;
	unsigned errors = 0;

	log_msg(LOG_NOTICE, "reloading the configuration");
	if (config_load(path, ov, nov, report_stderr, &errors, &c) < 0) {
		log_msg(LOG_ERR, "reload failed with %u error(s); keeping the old configuration",
			errors);
		return;
	}
	load_self(c);
	log_set_level(c->log_level);
	pool_set_limits(pool, c->workers_min, workers_max_for(c, nofile));
	config_swap(c);
	groups_flush();
	log_msg(LOG_NOTICE, "configuration reloaded; new sessions use it");
}

/* Says once, at start, what an operator must know about authentication. */
static void announce_auth(const struct config *c)
{
	char why[256];

	if (c->auth == CONFIG_AUTH_PAM) {
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "auth", required_argument, NULL, 'a' },
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

	while ((opt = getopt_long(argc, argv, "c:l:a:tVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'l':
		case 'a':
			if (nov == OVERRIDES_MAX) {
				fprintf(stderr, "socksgate: too many options\n");
				return 1;
			}
			ov[nov++] = (struct config_override){ opt == 'l' ? "listen" : "auth",
							      optarg };
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
		config_dump(cfg, stdout);
		printf("# configuration OK\n");
		config_unref(cfg);
		return 0;
	}
	log_set_level(cfg->log_level);
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
	int nfds = bind_all(cfg, fds);
	if (nfds < 0) {
		config_unref(cfg);
		return 1;
	}
	unsigned wmax = workers_max_for(cfg, nofile);
	struct pool *pool = pool_new(cfg->workers_min, wmax, cfg->queue_length, WORKER_STACK,
				     WORKER_IDLE_EXIT_MS, session_run, NULL);
	if (pool == NULL) {
		log_msg(LOG_ERR, "cannot start the worker pool: %s", strerror(errno));
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		config_unref(cfg);
		return 1;
	}
	struct listener *lst;
	int r = listener_start(&lst, fds, (size_t)nfds, on_accept, pool);
	if (r < 0) {
		log_msg(LOG_ERR, "cannot start the acceptor: %s", strerror(-r));
		pool_free(pool);
		config_unref(cfg);
		return 1;
	}
	announce_auth(cfg);
	log_msg(LOG_NOTICE, "socksgate %s started: workers %u..%u, queue %u, descriptor limit %llu",
		PACKAGE_VERSION, cfg->workers_min, wmax, cfg->queue_length,
		(unsigned long long)nofile);

	for (;;) {
		int sig;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(path, ov, nov, pool, nofile);
			continue;
		}
		log_msg(LOG_NOTICE, "received %s, no longer accepting", strsignal(sig));
		break;
	}

	listener_stop(lst);
	struct config *c = config_current();
	unsigned left = pool_drain(pool, c->drain_timeout_ms);
	config_unref(c);
	if (left > 0) {
		log_msg(LOG_NOTICE, "drain period over, closing %u live session(s)", left);
		session_shutdown_all();
	}
	pool_free(pool);
	config_swap(NULL);
	log_msg(LOG_NOTICE, "stopped");
	return 0;
}
