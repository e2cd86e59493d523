/* The control socket: an AF_UNIX stream socket (control_socket) that
 * socksgatectl talks to in the protocol of ctlproto.h. One thread of its own
 * serves it with poll(): at most CONTROL_CLIENTS_MAX clients at once (the rest
 * wait in the listen backlog), each with a deadline, each checked by its peer
 * credentials (SO_PEERCRED: root, the daemon's own user, or a member of
 * control_group), whatever the file's mode says. It reads the session
 * registry, the limiter, the login path and the pool, each under its own short
 * lock; it never runs on the acceptor or a worker and never waits on them. A
 * reload is the main thread's: the control thread raises SIGHUP and answers
 * once main reports the outcome (control_reload_done()). */
#ifndef SOCKSGATE_CONTROL_H
#define SOCKSGATE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct pool;

#define CONTROL_CLIENTS_MAX 4
#define CONTROL_BACKLOG 16
#define CONTROL_REQUEST_MS 3000		/* the whole request line, from accept */
#define CONTROL_WRITE_MS 10000		/* the whole response, once it is ready */
#define CONTROL_RELOAD_MS 60000		/* a reload's outcome, once asked for */

/* The outcome of one reload, as main collects it. */
#define CONTROL_RELOAD_ERRORS 16
#define CONTROL_ERROR_LEN 400
struct control_reload {
	bool applied;			/* the new configuration is in force */
	unsigned nerrors;		/* every error reported ... */
	char errors[CONTROL_RELOAD_ERRORS][CONTROL_ERROR_LEN];	/* ... the first ones */
};

/* Adds one error ("FILE:LINE: message") to r, counting those past the
 * kept ones. Pure. */
void control_reload_error(struct control_reload *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* What -t checks of the control settings: that control_group names a group.
 * Returns true, or false with the problem in why. Blocking (NSS). */
bool control_check(const struct config *c, char *why, size_t whylen);

/* What the control thread needs from main. */
struct control_params {
	const char *config_path;	/* as status shows it; kept, not copied */
	struct pool *pool;		/* outlives the control thread */
	unsigned queue_len;
	/* A reference to the configuration new sessions get (for the limiter's
	 * bounds); called on the control thread. */
	struct config *(*config_get)(void *ctx);
	void *ctx;
};

struct control;

/* Creates c's control socket (main thread, at start, before privileges are
 * dropped: the file goes to the user the daemon will run as, mode 0600, or
 * 0660 with control_group as its group; when that group cannot be given, as
 * in the shipped unit whose system call filter refuses chown, mode 0666 and
 * the credential check alone). A stale socket file is replaced, one that a
 * live daemon answers on is not. Returns 0 with *ret set (NULL when
 * control_socket is off, or when the socket could not be made: that is
 * logged as a warning and the daemon runs without it), or -EINVAL after
 * logging that control_group names no group. */
int control_open(const struct config *c, struct control **ret);

/* Starts the control thread. p is copied. Returns 0 or -errno (logged; the
 * daemon runs on without the socket). ctl may be NULL: returns 0. */
int control_start(struct control *ctl, const struct control_params *p);

/* Main thread, around each reload (SIGHUP from anyone): begin before the new
 * file is read, done with the outcome. Clients waiting for a reload that began
 * after they asked get r. ctl may be NULL. Thread-safe. */
void control_reload_begin(struct control *ctl);
void control_reload_done(struct control *ctl, const struct control_reload *r);

/* Stops the thread, closes every client (a waiting one gets no answer),
 * removes the socket file and frees ctl. NULL is a no-op. Main thread. */
void control_stop(struct control *ctl);

#endif
