/* Inside the control module, not an API of its own: control.c (the thread and
 * its clients) uses control_access.c (the socket file and who may use it) and
 * control_cmd.c (the commands, each turning a request into its JSON answer). */
#ifndef SOCKSGATE_CONTROL_INT_H
#define SOCKSGATE_CONTROL_INT_H

#include <json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "config.h"
#include "control.h"
#include "ctlproto.h"

/* Who may use the socket besides root and the daemon's own user. */
struct control_acl {
	bool has_group;
	gid_t gid;
	char group[CONFIG_NAME_MAX + 1];
};

/* The gid of a group name: 0 with *ret set, -ENOENT, or -errno. Blocking (NSS). */
int control_lookup_gid(const char *name, gid_t *ret);

/* The listening control socket and its file. */
struct control_sockfile {
	int fd;			/* non-blocking, close-on-exec; the caller's */
	dev_t dev;		/* the file made, to remove only that one */
	ino_t ino;
	bool made_dir;		/* its directory was made for it, to remove too */
};

/* Makes the listening socket at c->control_socket (see control_open()):
 * returns 0 with *ret filled, or -errno with *what naming the step that
 * failed (-EADDRINUSE: a live daemon answers there). */
int control_sock_make(const struct config *c, const struct control_acl *acl,
		      struct control_sockfile *ret, const char **what);

/* May the peer on fd use the socket? Root, the daemon's own user (socksgatectl
 * as ExecReload= runs as it) and members of acl's group (as the peer's gid or
 * through its account's groups, NSS) may. *ret_uid is the peer's uid whenever
 * its credentials could be read; why says no. Blocking (NSS). */
bool control_peer_allowed(const struct control_acl *acl, int fd, uid_t *ret_uid, char *why,
			  size_t whylen);

/* What a command sees of the daemon, as the control thread gathers it. */
struct control_view {
	const struct control_params *p;
	uid_t uid;				/* the client's: kill's records name it */
	int64_t started_real, started_ms;	/* wall clock (s) and CLOCK_MONOTONIC */
	int64_t loaded_real;			/* when the configuration in force was read */
	const struct control_reload *last;	/* the last reload's outcome, or NULL */
	int64_t last_real;			/* and when it ended */
};

/* Runs rq, any command but reload. Returns its answer ({"ok": true, ...}),
 * which the caller owns (json_object_put()), or NULL when out of memory. */
struct json_object *control_cmd_run(const struct ctlproto_request *rq,
				    const struct control_view *v);

/* The answer to reload: {"ok": true, "applied": ..., "errors": [...]}. */
struct json_object *control_cmd_reload(const struct control_reload *r);

/* An error answer: {"ok": false, "code": code, "error": msg}. */
struct json_object *control_cmd_error(const char *code, const char *msg);

#endif
