/* Who may use the control socket, and its file: making the socket where the
 * configuration says (its directory, a stale file replaced, the owner, group
 * and mode for the user the daemon will run as), and checking each client's
 * peer credentials against root, the daemon's own user and control_group. */
#include "autoconf.h"

#include "config.h"
#include "control_int.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int control_lookup_gid(const char *name, gid_t *ret)
{
	struct group gr, *res = NULL;
	size_t cap = 16384;
	int r;

	for (;;) {
		char *buf = malloc(cap);
		if (buf == NULL)
			return -ENOMEM;
		r = getgrnam_r(name, &gr, buf, cap, &res);
		if (r == 0 && res != NULL)
			*ret = gr.gr_gid;
		free(buf);
		if (r != ERANGE || cap >= (1u << 24))
			break;
		cap *= 4;
	}
	return r != 0 ? -r : res == NULL ? -ENOENT : 0;
}

bool control_check(const struct config *c, char *why, size_t whylen)
{
	gid_t gid;

	if (c->control_socket[0] == '\0' || c->control_group[0] == '\0')
		return true;
	int r = control_lookup_gid(c->control_group, &gid);
	if (r == 0)
		return true;
	snprintf(why, whylen, "control_group '%s': %s", c->control_group,
		 r == -ENOENT ? "no such group" : strerror(-r));
	return false;
}

/* The user the daemon will run as (c->user when root drops to it) and the
 * group the socket file gets. */
static void file_owner(const struct control_acl *acl, const struct config *c, uid_t *uid,
		       gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	*uid = geteuid();
	*gid = getegid();
	if (*uid == 0 && c->user[0] != '\0' &&
	    getpwnam_r(c->user, &pw, buf, sizeof(buf), &res) == 0 && res != NULL) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
	}
	if (acl->has_group)
		*gid = acl->gid;
}

/* Makes the socket's directory when it is missing (one level, as /run/socksgate
 * without systemd's RuntimeDirectory=), owned by the user the daemon runs as so
 * that it can remove the socket at stop. */
static int make_dir(const char *path, uid_t uid, gid_t gid, bool *ret_made)
{
	char dir[CONFIG_SOCKPATH_MAX + 1];
	const char *slash = strrchr(path, '/');
	size_t n = (size_t)(slash - path);
	struct stat st;

	if (n == 0)
		return 0;	/* in / itself */
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (stat(dir, &st) == 0)
		return 0;
	if (errno != ENOENT || mkdir(dir, 0755) < 0)
		return -errno;
	(void)chown(dir, uid, gid);	/* best effort: only root can, and only root needs to */
	*ret_made = true;
	return 0;
}

/* Binds fd to path; a file left there by a daemon that is gone is replaced,
 * one a live daemon answers on is -EADDRINUSE. */
static int bind_path(int fd, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;

	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return 0;
	if (errno != EADDRINUSE)
		return -errno;
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return -EEXIST;
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	int r = connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0 || errno == EAGAIN
			? -EADDRINUSE
			: 0;
	close(probe);
	if (r < 0)
		return r;
	if (unlink(path) < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -errno;
	return 0;
}

/* Gives the socket file its owner, group and mode (see control_open()). */
static void set_owner(const struct control_acl *acl, const struct config *c)
{
	const char *path = c->control_socket;
	uid_t uid;
	gid_t gid;
	mode_t mode = acl->has_group ? 0660 : 0600;

	file_owner(acl, c, &uid, &gid);
	if ((uid != geteuid() || gid != getegid()) && chown(path, uid, gid) < 0) {
		log_msg(LOG_NOTICE, "control socket %s: cannot give it to uid %u, group %u (%s); "
			"it is open to every local user (mode 0666) and the peer credential "
			"check alone decides who may use it", path, (unsigned)uid,
			(unsigned)gid, strerror(errno));
		mode = 0666;
	}
	if (chmod(path, mode) < 0)
		log_msg(LOG_WARNING, "control socket %s: chmod: %s", path, strerror(errno));
}

int control_sock_make(const struct config *c, const struct control_acl *acl,
		      struct control_sockfile *ret, const char **what)
{
	const char *path = c->control_socket;
	uid_t uid;
	gid_t gid;
	struct stat st;
	bool made_dir = false;
	int r = 0;

	file_owner(acl, c, &uid, &gid);
	*what = "cannot make its directory";
	if ((r = make_dir(path, uid, gid, &made_dir)) < 0)
		return r;
	*what = "socket";
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*what = "bind";
	if ((r = bind_path(fd, path)) < 0)
		goto out;
	*what = "listen";
	if (listen(fd, CONTROL_BACKLOG) < 0 || lstat(path, &st) < 0) {
		r = -errno;
		goto out;
	}
	set_owner(acl, c);
	*ret = (struct control_sockfile){
		.fd = fd, .dev = st.st_dev, .ino = st.st_ino, .made_dir = made_dir
	};
out:
	if (r < 0)
		close(fd);
	return r;
}

/* Is uid a member of gid through its account's groups (NSS)? */
static bool user_in_group(uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int n = 64;
	bool found = false;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	for (int tries = 0; tries < 3 && !found; tries++) {
		gid_t *groups = malloc((size_t)n * sizeof(*groups));
		if (groups == NULL)
			return false;
		int want = n;
		int r = getgrouplist(pw.pw_name, pw.pw_gid, groups, &want);
		for (int i = 0; r >= 0 && i < want; i++)
			found = found || groups[i] == gid;
		free(groups);
		if (r >= 0 || want <= n)
			break;
		n = want;
	}
	return found;
}

/* May the peer on fd use the socket? Root, the daemon's own user (socksgatectl
 * as ExecReload= runs as it) and members of control_group may. */
bool control_peer_allowed(const struct control_acl *acl, int fd, uid_t *ret_uid, char *why,
			  size_t whylen)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		snprintf(why, whylen, "cannot read the peer's credentials: %s", strerror(errno));
		return false;
	}
	*ret_uid = cr.uid;
	if (cr.uid == 0 || cr.uid == geteuid())
		return true;
	if (acl->has_group && (cr.gid == acl->gid || user_in_group(cr.uid, acl->gid)))
		return true;
	if (acl->has_group)
		snprintf(why, whylen, "permission denied: uid %u is neither root nor a member of "
			 "group '%s'", (unsigned)cr.uid, acl->group);
	else
		snprintf(why, whylen, "permission denied: uid %u is not root (set control_group "
			 "to let a group in)", (unsigned)cr.uid);
	return false;
}
