/* Inside the control module (control.c and control_cmd.c), not an API of its
 * own: the commands, each turning a parsed request into its JSON answer. */
#ifndef SOCKSGATE_CONTROL_CMD_H
#define SOCKSGATE_CONTROL_CMD_H

#include <json.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.h"
#include "ctlproto.h"

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
