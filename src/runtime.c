/* The process around the daemon: standard descriptors, the descriptor limit
 * and how it is shared between queue and workers, dropping root, the
 * host's own addresses, and how it logs. */
#include "autoconf.h"

#include "runtime.h"

#include "addr.h"
#include "config.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Descriptors a session can hold: client, destination, two splice pipes. */
#define FDS_PER_SESSION 6
#define FDS_RESERVED 64
#define WORKERS_AUTO_CAP 16384
/* Gives c the gateway's own addresses, which the default policy protects.
 * Read at start and at each reload, so a new address counts after SIGHUP. */
int runtime_load_self(struct config *c)
{
	struct ifaddrs *ifa = NULL;
	struct addr_net *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (struct ifaddrs *i = ifa; i != NULL; i = i->ifa_next) {
		struct addr_net net;
		if (i->ifa_addr == NULL || !addr_net_from_sockaddr(i->ifa_addr, &net))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			struct addr_net *nv = realloc(v, cap * sizeof(*nv));
			if (nv == NULL) {
				/* Never a part of the list: the rest would lose protection. */
				r = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[n++] = net;
	}
	config_set_self(c, v, n);
	v = NULL;
out:
	free(v);
	freeifaddrs(ifa);
	return r;
}

/* Raises the descriptor limit to its hard maximum and returns it. */
rlim_t runtime_raise_nofile(void)
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
unsigned runtime_queue_for(const struct config *c, rlim_t nofile)
{
	rlim_t share = (nofile > FDS_RESERVED ? nofile - FDS_RESERVED : 0) / 4;
	if (share == 0)
		share = 1;
	return c->queue_length < share ? c->queue_length : (unsigned)share;
}

unsigned runtime_workers_max_for(const struct config *c, rlim_t nofile, unsigned queue)
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

/* Started as root with "user": switch to that user and its groups for good.
 * Not root: "user" may only name the user it already runs as. Returns 0, or
 * -1 after logging why the daemon must not start. */
int runtime_drop_privileges(const char *user)
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

void runtime_log_setup(const struct config *c)
{
	struct log_fields f;

	log_set_level(c->log_level);
	log_set_target((enum log_target)c->log_target);
	/* Several instances on one host, or behind one balancer, share a
	 * central journal: this field tells their entries apart. */
	log_fields_init(&f);
	if (c->instance_name[0] != '\0')
		log_field(&f, "SOCKS_INSTANCE=%s", c->instance_name);
	log_set_default_fields(&f);
}

/* A daemon started with stdin, stdout or stderr closed would hand those
 * numbers to its first sockets, and a log line would then go to a client.
 * Fill any that are closed with /dev/null before opening anything else. */
void runtime_std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* Lower numbers are open by now, so open() returns fd itself. */
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			_exit(1);
	}
}

