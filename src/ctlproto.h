/* The control protocol's codec, shared by the daemon (control.c) and
 * socksgatectl: the request line (parsed and formatted), the filters a
 * request carries and how they match a session, and the names of the error
 * codes a response can carry. socksgatectl(8) is the protocol's reference.
 *
 * Protocol version 1. One request per connection, one line:
 *
 *     "v1" SP command *(SP argument) [CR] LF
 *
 * at most CTLPROTO_LINE_MAX bytes with the LF; words are separated by one or
 * more spaces; every byte but the line end is printable ASCII (0x20-0x7e).
 * Commands and their arguments (KEY=VALUE, each key at most once):
 *
 *     status
 *     sessions [user=U] [client=ADDR]
 *     kill     [id=N] [user=U] [client=ADDR]      (at least one)
 *     blocked
 *     unblock  client=ADDR | all
 *     cache flush
 *     reload
 *
 * U is a user name as the session record writes it (text_escape()d), ADDR
 * an address, a network (ADDR/PREFIX) or ADDR:PORT ([v6]:PORT), N a session
 * ID. The answer is one JSON object on one line ending in LF, at most
 * CTLPROTO_RESPONSE_MAX bytes, then the daemon closes the connection.
 *
 * Pure: no I/O, no allocation, no logging; every function is safe on
 * caller-owned memory from any thread. */
#ifndef SOCKSGATE_CTLPROTO_H
#define SOCKSGATE_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

#define CTLPROTO_VERSION 1
/* The longest request line, LF included. */
#define CTLPROTO_LINE_MAX 1024
/* The longest argument value (a user name as h.user holds it). */
#define CTLPROTO_VALUE_MAX 255
/* The longest response line a client needs to accept, LF included. */
#define CTLPROTO_RESPONSE_MAX (64u << 20)

enum ctlproto_status {
	CTLPROTO_OK,		/* a whole, valid request: see *ret and *ret_consumed */
	CTLPROTO_NEED_MORE,	/* no line end yet, and nothing wrong so far */
	CTLPROTO_TOO_LONG,	/* no LF within CTLPROTO_LINE_MAX bytes */
	CTLPROTO_BAD,		/* not a request line: a control byte, an empty line... */
	CTLPROTO_BAD_VERSION,	/* the first word is not "v1" */
	CTLPROTO_UNKNOWN_COMMAND,
	CTLPROTO_BAD_ARGUMENT,	/* unknown, repeated, missing or malformed argument */
};

enum ctlproto_cmd {
	CTLPROTO_CMD_STATUS,
	CTLPROTO_CMD_SESSIONS,
	CTLPROTO_CMD_KILL,
	CTLPROTO_CMD_BLOCKED,
	CTLPROTO_CMD_UNBLOCK,
	CTLPROTO_CMD_CACHE_FLUSH,
	CTLPROTO_CMD_RELOAD,
};

/* A client address filter: every address inside net, and with has_port
 * only that port. */
struct ctlproto_client {
	struct addr_net net;
	uint16_t port;
	bool has_port;
};

struct ctlproto_request {
	enum ctlproto_cmd cmd;
	bool has_id, has_user, has_client;
	bool all;				/* unblock all */
	uint64_t id;				/* > 0 */
	char user[CTLPROTO_VALUE_MAX + 1];	/* NUL-terminated */
	struct ctlproto_client client;
};

/* Parses the request line at the start of buf[0..len). Returns CTLPROTO_OK
 * and fills *ret and *ret_consumed (the line's length with its LF; bytes
 * after it are not looked at), or another status with *ret and *ret_consumed
 * untouched. A status other than CTLPROTO_NEED_MORE is final: more bytes
 * never change it, and it is given as soon as the bytes so far decide it (a
 * control byte before any LF is CTLPROTO_BAD at once). When why is not NULL,
 * a failure writes a short text for the client there (always NUL-terminated
 * when whylen > 0). */
enum ctlproto_status ctlproto_parse_request(const uint8_t *buf, size_t len,
					    struct ctlproto_request *ret, size_t *ret_consumed,
					    char *why, size_t whylen);

/* Writes rq as a request line (LF included, NUL-terminated) into buf.
 * Returns CTLPROTO_OK and the line's length (without the NUL) in *ret_len,
 * CTLPROTO_TOO_LONG when buf is too small, or CTLPROTO_BAD_ARGUMENT when rq
 * is not a request ctlproto_parse_request() would accept. */
enum ctlproto_status ctlproto_format_request(const struct ctlproto_request *rq, char *buf,
					     size_t len, size_t *ret_len);

/* Parses ADDR, ADDR/PREFIX (host bits zero), a.b.c.d:PORT or [v6]:PORT.
 * Returns true and fills *ret, or false with *ret untouched. */
bool ctlproto_parse_client(const char *s, struct ctlproto_client *ret);

/* True when s is a valid user value: 1..CTLPROTO_VALUE_MAX printable
 * ASCII bytes without spaces. */
bool ctlproto_user_valid(const char *s);

/* True when the session (id, user as its record writes it, "" before the
 * login, client address) matches every filter rq has (id, user, client). */
bool ctlproto_request_matches(const struct ctlproto_request *rq, uint64_t id, const char *user,
			      const struct sockaddr *client);

/* The command's name as the request line writes it ("cache flush" for
 * CTLPROTO_CMD_CACHE_FLUSH); "unknown" outside the enum. Static storage. */
const char *ctlproto_cmd_name(enum ctlproto_cmd cmd);

/* The error code a response carries for a status ("need_more", "too_long",
 * "bad_request", "bad_version", "unknown_command", "bad_argument"; "ok"),
 * "unknown" outside the enum. The daemon's own codes (CTLPROTO_ERR_*) are
 * the others a response may carry. Static storage. */
const char *ctlproto_status_code(enum ctlproto_status status);

#define CTLPROTO_ERR_DENIED "denied"	/* the peer may not use the socket */
#define CTLPROTO_ERR_TIMEOUT "timeout"	/* the request did not arrive in time */
#define CTLPROTO_ERR_FAILED "failed"	/* the daemon could not do it */

#endif
