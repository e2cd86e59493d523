/* The control socket's side of the control module: making the socket file,
 * the peer credential check, and the control thread's poll() loop over the
 * listening socket and a few clients, each a small state machine (read the
 * request line, wait for a reload, write the answer) with a deadline.
 * control_cmd.c runs the commands. */
#include "autoconf.h"

#include "control.h"

#include "config.h"
#include "control_cmd.h"
#include "ctlproto.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* What a client's closing read discards of input it sent past its request,
 * so the close is a clean EOF (unread input makes it a reset). */
#define DRAIN_MAX 65536
/* After accept() fails for want of descriptors, wait this long to retry. */
#define ACCEPT_PAUSE_MS 200

enum client_state { CLIENT_FREE, CLIENT_READ, CLIENT_RELOAD, CLIENT_WRITE };

struct client {
	enum client_state state;
	int fd;
	uid_t uid;
	int64_t deadline_ms;		/* CLOCK_MONOTONIC; the state's deadline */
	uint64_t reload_want;		/* CLIENT_RELOAD: answered once done >= this */
	size_t inlen;
	uint8_t in[CTLPROTO_LINE_MAX];
	char *out;			/* the answer line, malloc'd */
	size_t outlen, outoff;
};

struct control {
	int lfd, wakefd;
	char path[CONFIG_SOCKPATH_MAX + 1];
	dev_t dev;			/* the socket file we made, removed at stop */
	ino_t ino;
	bool has_group;
	gid_t gid;
	char group[CONFIG_NAME_MAX + 1];
	struct control_params p;
	pthread_t thread;
	bool started;
	int64_t started_real, started_ms, accept_pause_until;
	struct client clients[CONTROL_CLIENTS_MAX];	/* the control thread's */
	/* Under lock: shared with the main thread. */
	pthread_mutex_t lock;
	bool stopping;
	uint64_t begun, done;		/* reloads begun and finished */
	int64_t loaded_real;		/* when the configuration in force was read */
	bool have_last;
	struct control_reload last;
	int64_t last_real;
};

static struct log_ratelimit denied_rl, accept_rl;

void control_reload_error(struct control_reload *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nerrors < CONTROL_RELOAD_ERRORS) {
		va_start(ap, fmt);
		vsnprintf(r->errors[r->nerrors], CONTROL_ERROR_LEN, fmt, ap);
		va_end(ap);
	}
	r->nerrors++;
}

/* The gid of group name: 0 with *ret set, -ENOENT, or -errno. */
static int lookup_gid(const char *name, gid_t *ret)
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
	int r = lookup_gid(c->control_group, &gid);
	if (r == 0)
		return true;
	snprintf(why, whylen, "control_group '%s': %s", c->control_group,
		 r == -ENOENT ? "no such group" : strerror(-r));
	return false;
}

/* The user the daemon will run as (c->user when root drops to it) and the
 * group the socket file gets. */
static void file_owner(const struct control *ctl, const struct config *c, uid_t *uid, gid_t *gid)
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
	if (ctl->has_group)
		*gid = ctl->gid;
}

/* Makes the socket's directory when it is missing (one level, as /run/socksgate
 * without systemd's RuntimeDirectory=), owned by the user the daemon runs as so
 * that it can remove the socket at stop. */
static int make_dir(const char *path, uid_t uid, gid_t gid)
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
static void set_owner(struct control *ctl, const struct config *c)
{
	uid_t uid;
	gid_t gid;
	mode_t mode = ctl->has_group ? 0660 : 0600;

	file_owner(ctl, c, &uid, &gid);
	if ((uid != geteuid() || gid != getegid()) && chown(ctl->path, uid, gid) < 0) {
		log_msg(LOG_NOTICE, "control socket %s: cannot give it to uid %u, group %u (%s); "
			"it is open to every local user (mode 0666) and the peer credential "
			"check alone decides who may use it", ctl->path, (unsigned)uid,
			(unsigned)gid, strerror(errno));
		mode = 0666;
	}
	if (chmod(ctl->path, mode) < 0)
		log_msg(LOG_WARNING, "control socket %s: chmod: %s", ctl->path, strerror(errno));
}

/* The socket itself; returns 0 or -errno, *what saying which step failed. */
static int make_socket(struct control *ctl, const struct config *c, const char **what)
{
	uid_t uid;
	gid_t gid;
	struct stat st;
	int r;

	file_owner(ctl, c, &uid, &gid);
	*what = "cannot make its directory";
	if ((r = make_dir(ctl->path, uid, gid)) < 0)
		return r;
	*what = "socket";
	ctl->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->lfd < 0)
		return -errno;
	*what = "bind";
	if ((r = bind_path(ctl->lfd, ctl->path)) < 0)
		return r;
	*what = "listen";
	if (listen(ctl->lfd, CONTROL_BACKLOG) < 0 || lstat(ctl->path, &st) < 0)
		return -errno;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	set_owner(ctl, c);
	*what = "eventfd";
	ctl->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return ctl->wakefd < 0 ? -errno : 0;
}

int control_open(const struct config *c, struct control **ret)
{
	const char *what = "";
	char why[256];

	*ret = NULL;
	if (c->control_socket[0] == '\0')
		return 0;
	if (!control_check(c, why, sizeof(why))) {
		log_msg(LOG_ERR, "%s", why);
		return -EINVAL;
	}
	struct control *ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL) {
		log_msg(LOG_WARNING, "control socket: %s; running without it", strerror(ENOMEM));
		return 0;
	}
	ctl->lfd = ctl->wakefd = -1;
	snprintf(ctl->path, sizeof(ctl->path), "%s", c->control_socket);
	snprintf(ctl->group, sizeof(ctl->group), "%s", c->control_group);
	ctl->has_group = c->control_group[0] != '\0' && lookup_gid(c->control_group, &ctl->gid) == 0;
	pthread_mutex_init(&ctl->lock, NULL);
	int r = make_socket(ctl, c, &what);
	if (r < 0) {
		log_msg(LOG_WARNING, "control socket %s: %s: %s; running without it (socksgatectl "
			"cannot reach this daemon)", ctl->path, what,
			r == -EADDRINUSE ? "another daemon is listening there" : strerror(-r));
		if (ctl->lfd >= 0)
			close(ctl->lfd);
		pthread_mutex_destroy(&ctl->lock);
		free(ctl);
		return 0;
	}
	*ret = ctl;
	return 0;
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
static bool peer_allowed(const struct control *ctl, int fd, uid_t *ret_uid, char *why,
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
	if (ctl->has_group && (cr.gid == ctl->gid || user_in_group(cr.uid, ctl->gid)))
		return true;
	if (ctl->has_group)
		snprintf(why, whylen, "permission denied: uid %u is neither root nor a member of "
			 "group '%s'", (unsigned)cr.uid, ctl->group);
	else
		snprintf(why, whylen, "permission denied: uid %u is not root (set control_group "
			 "to let a group in)", (unsigned)cr.uid);
	return false;
}

static void client_close(struct client *c)
{
	char sink[4096];

	for (size_t n = 0; n < DRAIN_MAX;) {
		ssize_t r = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->state = CLIENT_FREE;
}

/* Writes what the socket takes of the answer; closes once it is all out or
 * the client is gone. */
static void client_write(struct client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;	/* poll() says when there is room */
		if (n <= 0)
			break;
		c->outoff += (size_t)n;
	}
	client_close(c);
}

/* Queues obj (taken; NULL: out of memory) as the answer and starts writing. */
static void client_answer(struct client *c, struct json_object *obj)
{
	static const char oom[] = "{\"ok\":false,\"code\":\"failed\",\"error\":\"out of memory\"}";
	const char *s = obj != NULL ? json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
									   JSON_C_TO_STRING_NOSLASHESCAPE)
				    : NULL;
	size_t n = s != NULL ? strlen(s) : 0;

	if (s == NULL || n + 1 > CTLPROTO_RESPONSE_MAX) {
		s = oom;
		n = sizeof(oom) - 1;
	}
	c->out = malloc(n + 1);
	if (c->out != NULL) {
		memcpy(c->out, s, n);
		c->out[n] = '\n';
		c->outlen = n + 1;
	}
	json_object_put(obj);
	c->state = CLIENT_WRITE;
	c->deadline_ms = monotonic_ms() + CONTROL_WRITE_MS;
	client_write(c);
}

static void wake(struct control *ctl)
{
	uint64_t one = 1;
	(void)!write(ctl->wakefd, &one, sizeof(one));
}

/* The daemon as commands see it, copied under the lock. */
static void view_fill(struct control *ctl, const struct client *c, struct control_view *v,
		      struct control_reload *last)
{
	pthread_mutex_lock(&ctl->lock);
	*v = (struct control_view){ .p = &ctl->p, .uid = c->uid,
				    .started_real = ctl->started_real,
				    .started_ms = ctl->started_ms, .loaded_real = ctl->loaded_real,
				    .last = ctl->have_last ? last : NULL,
				    .last_real = ctl->last_real };
	if (ctl->have_last)
		*last = ctl->last;
	pthread_mutex_unlock(&ctl->lock);
}

/* A request has arrived: a reload waits for main, the rest are answered now.
 * What changes the daemon's state is logged with who asked. */
static void client_run(struct control *ctl, struct client *c, const struct ctlproto_request *rq)
{
	struct control_view v;
	struct control_reload last;
	char line[CTLPROTO_LINE_MAX + 1];
	size_t n;

	if (rq->cmd != CTLPROTO_CMD_STATUS && rq->cmd != CTLPROTO_CMD_SESSIONS &&
	    rq->cmd != CTLPROTO_CMD_BLOCKED &&
	    ctlproto_format_request(rq, line, sizeof(line), &n) == CTLPROTO_OK)
		log_msg(LOG_NOTICE, "control socket: uid %u asked for '%.*s'", (unsigned)c->uid,
			(int)n - 4, line + 3);	/* without "v1 " and the LF */
	if (rq->cmd == CTLPROTO_CMD_RELOAD) {
		pthread_mutex_lock(&ctl->lock);
		c->reload_want = ctl->begun + 1;
		pthread_mutex_unlock(&ctl->lock);
		c->state = CLIENT_RELOAD;
		c->deadline_ms = monotonic_ms() + CONTROL_RELOAD_MS;
		(void)kill(getpid(), SIGHUP);	/* main's signal loop takes it */
		return;
	}
	view_fill(ctl, c, &v, &last);
	client_answer(c, control_cmd_run(rq, &v));
}

static void client_read(struct control *ctl, struct client *c)
{
	struct ctlproto_request rq;
	size_t used;
	char why[160];

	ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);	/* gone before a whole request */
		return;
	}
	c->inlen += (size_t)n;
	enum ctlproto_status st = ctlproto_parse_request(c->in, c->inlen, &rq, &used, why,
							 sizeof(why));
	if (st == CTLPROTO_NEED_MORE)
		return;
	if (st == CTLPROTO_OK)
		client_run(ctl, c, &rq);
	else
		client_answer(c, control_cmd_error(ctlproto_status_code(st), why));
}

/* Takes waiting connections while there is a free slot. */
static void accept_clients(struct control *ctl)
{
	char why[160];

	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct client *c = &ctl->clients[i];
		if (c->state != CLIENT_FREE)
			continue;
		int fd = accept4(ctl->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_ratelimited(&accept_rl, LOG_WARNING, "control socket: accept: %s",
						strerror(errno));
				ctl->accept_pause_until = monotonic_ms() + ACCEPT_PAUSE_MS;
			}
			return;
		}
		*c = (struct client){ .state = CLIENT_READ, .fd = fd,
				      .deadline_ms = monotonic_ms() + CONTROL_REQUEST_MS };
		if (!peer_allowed(ctl, fd, &c->uid, why, sizeof(why))) {
			log_ratelimited(&denied_rl, LOG_WARNING, "control socket: %s", why);
			client_answer(c, control_cmd_error(CTLPROTO_ERR_DENIED, why));
		}
	}
}

/* Answers the clients whose reload has finished. */
static void answer_reloads(struct control *ctl)
{
	struct control_reload r;
	uint64_t done;
	bool have;

	pthread_mutex_lock(&ctl->lock);
	done = ctl->done;
	have = ctl->have_last;
	if (have)
		r = ctl->last;
	pthread_mutex_unlock(&ctl->lock);
	for (size_t i = 0; have && i < CONTROL_CLIENTS_MAX; i++) {
		struct client *c = &ctl->clients[i];
		if (c->state == CLIENT_RELOAD && c->reload_want <= done)
			client_answer(c, control_cmd_reload(&r));
	}
}

/* Ends what is past its deadline; returns the poll() timeout to the next. */
static int expire(struct control *ctl)
{
	int64_t now = monotonic_ms(), next = -1;

	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct client *c = &ctl->clients[i];
		if (c->state != CLIENT_FREE && now >= c->deadline_ms) {
			if (c->state == CLIENT_WRITE)
				client_close(c);
			else
				client_answer(c, control_cmd_error(
					CTLPROTO_ERR_TIMEOUT, c->state == CLIENT_READ
						? "no whole request line in time"
						: "the reload did not finish in time"));
		}
		if (c->state != CLIENT_FREE && (next < 0 || c->deadline_ms < next))
			next = c->deadline_ms;
	}
	if (ctl->accept_pause_until > now && (next < 0 || ctl->accept_pause_until < next))
		next = ctl->accept_pause_until;
	return next < 0 ? -1 : (int)(next - now);
}

/* Fills the poll set: the wake fd, the listener while a slot is free, and the
 * clients that wait for input or room. Returns its length. */
static nfds_t poll_set(struct control *ctl, struct pollfd *pfd)
{
	bool room = false;

	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		const struct client *c = &ctl->clients[i];
		room = room || c->state == CLIENT_FREE;
		pfd[2 + i] = (struct pollfd){
			.fd = c->state == CLIENT_READ || c->state == CLIENT_WRITE ? c->fd : -1,
			.events = c->state == CLIENT_READ ? POLLIN : POLLOUT
		};
	}
	pfd[0] = (struct pollfd){ .fd = ctl->wakefd, .events = POLLIN };
	pfd[1] = (struct pollfd){
		.fd = room && monotonic_ms() >= ctl->accept_pause_until ? ctl->lfd : -1,
		.events = POLLIN
	};
	return 2 + CONTROL_CLIENTS_MAX;
}

static void *control_main(void *arg)
{
	struct control *ctl = arg;
	struct pollfd pfd[2 + CONTROL_CLIENTS_MAX];
	uint64_t count;

	for (;;) {
		int timeout = expire(ctl);
		nfds_t n = poll_set(ctl, pfd);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "control socket: poll: %s; closing it", strerror(errno));
			break;
		}
		if (pfd[0].revents != 0) {
			(void)!read(ctl->wakefd, &count, sizeof(count));
			pthread_mutex_lock(&ctl->lock);
			bool stopping = ctl->stopping;
			pthread_mutex_unlock(&ctl->lock);
			if (stopping)
				break;
			answer_reloads(ctl);
		}
		for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
			struct client *c = &ctl->clients[i];
			if (pfd[2 + i].fd < 0 || pfd[2 + i].revents == 0)
				continue;
			if (c->state == CLIENT_READ)
				client_read(ctl, c);
			else if (c->state == CLIENT_WRITE)
				client_write(c);
		}
		if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN))
			accept_clients(ctl);
	}
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (ctl->clients[i].state != CLIENT_FREE)
			client_close(&ctl->clients[i]);
	return NULL;
}

int control_start(struct control *ctl, const struct control_params *p)
{
	pthread_attr_t attr;

	if (ctl == NULL)
		return 0;
	ctl->p = *p;
	ctl->started_real = ctl->loaded_real = (int64_t)time(NULL);
	ctl->started_ms = monotonic_ms();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int r = pthread_create(&ctl->thread, &attr, control_main, ctl);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		log_msg(LOG_WARNING, "control socket: cannot start its thread: %s", strerror(r));
		return -r;
	}
	ctl->started = true;
	log_msg(LOG_NOTICE, "control socket on %s", ctl->path);
	return 0;
}

void control_reload_begin(struct control *ctl)
{
	if (ctl == NULL)
		return;
	pthread_mutex_lock(&ctl->lock);
	ctl->begun++;
	pthread_mutex_unlock(&ctl->lock);
}

void control_reload_done(struct control *ctl, const struct control_reload *r)
{
	if (ctl == NULL)
		return;
	pthread_mutex_lock(&ctl->lock);
	ctl->done = ctl->begun;
	ctl->last = *r;
	ctl->have_last = true;
	ctl->last_real = (int64_t)time(NULL);
	if (r->applied)
		ctl->loaded_real = ctl->last_real;
	pthread_mutex_unlock(&ctl->lock);
	wake(ctl);
}

void control_stop(struct control *ctl)
{
	struct stat st;

	if (ctl == NULL)
		return;
	if (ctl->started) {
		pthread_mutex_lock(&ctl->lock);
		ctl->stopping = true;
		pthread_mutex_unlock(&ctl->lock);
		wake(ctl);
		pthread_join(ctl->thread, NULL);
	}
	/* Only the file this daemon made: another may have replaced it since. */
	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		(void)unlink(ctl->path);
	close(ctl->lfd);
	close(ctl->wakefd);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
}
