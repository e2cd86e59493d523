/* socksgatectl's two halves: socksgatectl.c (the command line, the socket)
 * and socksgatectl_show.c (what an answer means, as text and exit status). */
#ifndef SOCKSGATE_SOCKSGATECTL_H
#define SOCKSGATE_SOCKSGATECTL_H

#include <json.h>
#include <stdbool.h>

#include "ctlproto.h"

/* The exit statuses socksgatectl(8) documents. */
enum sgctl_exit {
	SGCTL_OK = 0,
	SGCTL_FAILED = 1,	/* the daemon refused or failed: reload refused, nothing matched */
	SGCTL_USAGE = 2,
	SGCTL_UNREACHABLE = 3,	/* no daemon at the socket, no answer in time, bad answer */
	SGCTL_DENIED = 4,	/* not allowed to use the control socket */
};

/* The exit status an answer to rq gives. With print, also writes it for a
 * person: the result on stdout, a failure on stderr. */
enum sgctl_exit sgctl_show(const struct ctlproto_request *rq, struct json_object *answer,
			   bool print);

#endif
