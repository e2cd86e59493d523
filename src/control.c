/* The control thread: a poll() loop over the listening socket and a few
 * clients, each a small state machine (read the request line, wait for a
 * reload, write the answer) with a deadline, and the reload handshake with
 * main. control_access.c makes the socket and checks peers; control_cmd.c
 * runs the commands. */
#include "autoconf.h"

#include "control.h"

#include "config.h"
#include "control_int.h"
#include "ctlproto.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
	struct control_sockfile sock;	/* removed at stop */
	int wakefd;
	char path[CONFIG_SOCKPATH_MAX + 1];
	struct control_acl acl;
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
	ctl->sock.fd = ctl->wakefd = -1;
	snprintf(ctl->path, sizeof(ctl->path), "%s", c->control_socket);
	snprintf(ctl->acl.group, sizeof(ctl->acl.group), "%s", c->control_group);
	ctl->acl.has_group = c->control_group[0] != '\0' &&
			     control_lookup_gid(c->control_group, &ctl->acl.gid) == 0;
	pthread_mutex_init(&ctl->lock, NULL);
	int r = control_sock_make(c, &ctl->acl, &ctl->sock, &what);
	if (r == 0) {
		what = "eventfd";
		ctl->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		r = ctl->wakefd < 0 ? -errno : 0;
	}
	if (r < 0) {
		log_msg(LOG_WARNING, "control socket %s: %s: %s; running without it (socksgatectl "
			"cannot reach this daemon)", ctl->path, what,
			r == -EADDRINUSE ? "another daemon is listening there" : strerror(-r));
		if (ctl->sock.fd >= 0) {
			close(ctl->sock.fd);
			(void)unlink(ctl->path);
		}
		pthread_mutex_destroy(&ctl->lock);
		free(ctl);
		return 0;
	}
	*ret = ctl;
	return 0;
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
	const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	const char *s = obj != NULL ? json_object_to_json_string_ext(obj, flags) : NULL;
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
		int fd = accept4(ctl->sock.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_ratelimited(&accept_rl, LOG_WARNING,
						"control socket: accept: %s", strerror(errno));
				ctl->accept_pause_until = monotonic_ms() + ACCEPT_PAUSE_MS;
			}
			return;
		}
		*c = (struct client){ .state = CLIENT_READ, .fd = fd,
				      .deadline_ms = monotonic_ms() + CONTROL_REQUEST_MS };
		if (!control_peer_allowed(&ctl->acl, fd, &c->uid, why, sizeof(why))) {
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
		.fd = room && monotonic_ms() >= ctl->accept_pause_until ? ctl->sock.fd : -1,
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
	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->sock.dev &&
	    st.st_ino == ctl->sock.ino && unlink(ctl->path) == 0 && ctl->sock.made_dir) {
		char *slash = strrchr(ctl->path, '/');
		*slash = '\0';
		(void)rmdir(ctl->path);	/* when empty, and when this user may */
	}
	close(ctl->sock.fd);
	close(ctl->wakefd);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
}
