/* The control protocol's request codec: finds the line, splits it into
 * words, checks the version, the command and each argument against what the
 * command takes. The formatter writes a line and parses it back, so it can
 * never produce a request the parser refuses. */
#include "autoconf.h"

#include "ctlproto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* "v1", a two-word command, three filters and "all", with room to say
 * "too many" rather than ignore the rest. */
#define WORDS_MAX 8

/* The arguments a command takes, as a bit set. */
enum {
	ARG_ID = 1 << 0,
	ARG_USER = 1 << 1,
	ARG_CLIENT = 1 << 2,
	ARG_ALL = 1 << 3,
};

static const struct {
	const char *name;	/* the first word */
	const char *second;	/* a second word it needs, or NULL */
	enum ctlproto_cmd cmd;
	unsigned args;
} commands[] = {
	{ "status", NULL, CTLPROTO_CMD_STATUS, 0 },
	{ "sessions", NULL, CTLPROTO_CMD_SESSIONS, ARG_USER | ARG_CLIENT },
	{ "kill", NULL, CTLPROTO_CMD_KILL, ARG_ID | ARG_USER | ARG_CLIENT },
	{ "blocked", NULL, CTLPROTO_CMD_BLOCKED, 0 },
	{ "unblock", NULL, CTLPROTO_CMD_UNBLOCK, ARG_CLIENT | ARG_ALL },
	{ "cache", "flush", CTLPROTO_CMD_CACHE_FLUSH, 0 },
	{ "reload", NULL, CTLPROTO_CMD_RELOAD, 0 },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

struct word {
	const char *p;
	size_t n;
};

static void say(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static bool word_is(const struct word *w, const char *s)
{
	return w->n == strlen(s) && memcmp(w->p, s, w->n) == 0;
}

/* Where the line ends: CTLPROTO_OK with the LF's index, or the final status
 * (or NEED_MORE) the bytes so far decide. Scans in order, so the first
 * deciding byte decides for every longer buffer too. */
static enum ctlproto_status find_line(const uint8_t *buf, size_t len, size_t *ret_lf, char *why,
				      size_t whylen)
{
	size_t n = len < CTLPROTO_LINE_MAX ? len : CTLPROTO_LINE_MAX;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = buf[i];
		if (c == '\n') {
			*ret_lf = i;
			return CTLPROTO_OK;
		}
		if (c == '\r') {
			if (i + 1 >= CTLPROTO_LINE_MAX)
				break;	/* even CRLF would not fit */
			if (i + 1 == len)
				return CTLPROTO_NEED_MORE;
			if (buf[i + 1] == '\n')
				continue;
		}
		if (c < 0x20 || c > 0x7e) {
			say(why, whylen, "byte 0x%02x at offset %zu: a request is one line of "
				"printable ASCII", c, i);
			return CTLPROTO_BAD;
		}
	}
	if (len < CTLPROTO_LINE_MAX)
		return CTLPROTO_NEED_MORE;
	say(why, whylen, "no line end within %u bytes", CTLPROTO_LINE_MAX);
	return CTLPROTO_TOO_LONG;
}

/* Splits line[0..n) at runs of spaces. Returns the number of words, or
 * WORDS_MAX + 1 when there are more than WORDS_MAX. */
static size_t split(const char *line, size_t n, struct word *w)
{
	size_t nw = 0, i = 0;

	while (i < n) {
		while (i < n && line[i] == ' ')
			i++;
		if (i == n)
			break;
		size_t start = i;
		while (i < n && line[i] != ' ')
			i++;
		if (nw == WORDS_MAX)
			return WORDS_MAX + 1;
		w[nw++] = (struct word){ line + start, i - start };
	}
	return nw;
}

bool ctlproto_user_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CTLPROTO_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

bool ctlproto_parse_client(const char *s, struct ctlproto_client *ret)
{
	struct ctlproto_client c;
	const char *colon = strchr(s, ':');

	memset(&c, 0, sizeof(c));
	if (s[0] == '[' || (colon != NULL && strchr(colon + 1, ':') == NULL)) {
		struct addr a;
		if (addr_parse(s, &a) < 0 ||
		    !addr_net_from_sockaddr((const struct sockaddr *)&a.ss, &c.net))
			return false;
		c.port = addr_port((const struct sockaddr *)&a.ss);
		c.has_port = true;
	} else if (addr_net_parse(s, &c.net) < 0) {
		return false;
	}
	*ret = c;
	return true;
}

/* "id": a session ID, decimal, 1..2^64-1, without leading zeros. */
static bool parse_id(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (s[0] < '1' || s[0] > '9')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

/* One KEY=VALUE (or "all") word for a command taking the arguments in
 * allowed; fills r. */
static enum ctlproto_status parse_arg(const struct word *w, unsigned allowed,
				      struct ctlproto_request *r, unsigned *seen, char *why,
				      size_t whylen)
{
	char v[CTLPROTO_VALUE_MAX + 1];
	const char *eq = memchr(w->p, '=', w->n);
	size_t klen = eq != NULL ? (size_t)(eq - w->p) : w->n;
	struct word key = { w->p, klen };
	unsigned bit = word_is(&key, "id")	 ? ARG_ID
		       : word_is(&key, "user")	 ? ARG_USER
		       : word_is(&key, "client") ? ARG_CLIENT
		       : word_is(&key, "all")	 ? ARG_ALL
						 : 0;

	if (bit == 0 || (bit & allowed) == 0 || (bit == ARG_ALL) != (eq == NULL)) {
		say(why, whylen, "%s does not take '%.*s'", ctlproto_cmd_name(r->cmd),
		    (int)(w->n < 64 ? w->n : 64), w->p);
		return CTLPROTO_BAD_ARGUMENT;
	}
	if (*seen & bit) {
		say(why, whylen, "'%.*s' given twice", (int)klen, w->p);
		return CTLPROTO_BAD_ARGUMENT;
	}
	*seen |= bit;
	if (bit == ARG_ALL) {
		r->all = true;
		return CTLPROTO_OK;
	}
	size_t vlen = w->n - klen - 1;
	if (vlen == 0 || vlen > CTLPROTO_VALUE_MAX) {
		say(why, whylen, "'%.*s' needs a value of 1 to %u bytes", (int)klen, w->p,
		    CTLPROTO_VALUE_MAX);
		return CTLPROTO_BAD_ARGUMENT;
	}
	memcpy(v, eq + 1, vlen);
	v[vlen] = '\0';
	bool ok = true;
	if (bit == ARG_ID) {
		ok = r->has_id = parse_id(v, &r->id);
	} else if (bit == ARG_USER) {
		memcpy(r->user, v, vlen + 1);
		r->has_user = true;
	} else {
		ok = r->has_client = ctlproto_parse_client(v, &r->client);
		if (ok && r->client.has_port && r->cmd == CTLPROTO_CMD_UNBLOCK)
			ok = false;	/* blocks are per address, whatever the port */
	}
	if (!ok)
		say(why, whylen, "%.*s: '%.64s' is not %s", (int)klen, w->p, v,
		    bit == ARG_ID ? "a session ID"
		    : r->cmd == CTLPROTO_CMD_UNBLOCK ? "an address or ADDR/PREFIX"
						     : "an address, ADDR/PREFIX or ADDR:PORT");
	return ok ? CTLPROTO_OK : CTLPROTO_BAD_ARGUMENT;
}

/* The command in w[0..nw) (after "v1"); *ret_used says how many words it took. */
static enum ctlproto_status parse_cmd(const struct word *w, size_t nw, size_t *ret_i,
				      size_t *ret_used, char *why, size_t whylen)
{
	if (nw == 0) {
		say(why, whylen, "no command after the version");
		return CTLPROTO_UNKNOWN_COMMAND;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (!word_is(&w[0], commands[i].name))
			continue;
		if (commands[i].second != NULL && (nw < 2 || !word_is(&w[1], commands[i].second)))
			break;
		*ret_i = i;
		*ret_used = commands[i].second != NULL ? 2 : 1;
		return CTLPROTO_OK;
	}
	say(why, whylen, "unknown command '%.*s'", (int)(w[0].n < 64 ? w[0].n : 64), w[0].p);
	return CTLPROTO_UNKNOWN_COMMAND;
}

/* What a command needs beyond the arguments being known to it. */
static enum ctlproto_status check_needs(const struct ctlproto_request *r, char *why, size_t whylen)
{
	if (r->cmd == CTLPROTO_CMD_KILL && !r->has_id && !r->has_user && !r->has_client) {
		say(why, whylen, "kill needs id=N, user=U or client=ADDR");
		return CTLPROTO_BAD_ARGUMENT;
	}
	if (r->cmd == CTLPROTO_CMD_UNBLOCK && r->has_client == r->all) {
		say(why, whylen, "unblock needs client=ADDR or all, one of them");
		return CTLPROTO_BAD_ARGUMENT;
	}
	return CTLPROTO_OK;
}

static enum ctlproto_status parse_line(const char *line, size_t n, struct ctlproto_request *r,
				       char *why, size_t whylen)
{
	struct word w[WORDS_MAX];
	size_t nw = split(line, n, w), ci, used;
	unsigned seen = 0;
	enum ctlproto_status st;

	if (nw == 0) {
		say(why, whylen, "empty request");
		return CTLPROTO_BAD;
	}
	if (nw > WORDS_MAX) {
		say(why, whylen, "too many words (at most %u)", WORDS_MAX);
		return CTLPROTO_BAD_ARGUMENT;
	}
	if (!word_is(&w[0], "v1")) {
		say(why, whylen, "unsupported protocol version '%.*s': this daemon speaks v%u",
		    (int)(w[0].n < 16 ? w[0].n : 16), w[0].p, CTLPROTO_VERSION);
		return CTLPROTO_BAD_VERSION;
	}
	if ((st = parse_cmd(w + 1, nw - 1, &ci, &used, why, whylen)) != CTLPROTO_OK)
		return st;
	r->cmd = commands[ci].cmd;
	for (size_t i = 1 + used; i < nw; i++) {
		st = parse_arg(&w[i], commands[ci].args, r, &seen, why, whylen);
		if (st != CTLPROTO_OK)
			return st;
	}
	return check_needs(r, why, whylen);
}

enum ctlproto_status ctlproto_parse_request(const uint8_t *buf, size_t len,
					    struct ctlproto_request *ret, size_t *ret_consumed,
					    char *why, size_t whylen)
{
	struct ctlproto_request r;
	size_t lf;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	enum ctlproto_status st = find_line(buf, len, &lf, why, whylen);
	if (st != CTLPROTO_OK)
		return st;
	memset(&r, 0, sizeof(r));
	size_t n = lf > 0 && buf[lf - 1] == '\r' ? lf - 1 : lf;
	st = parse_line((const char *)buf, n, &r, why, whylen);
	if (st != CTLPROTO_OK)
		return st;
	*ret = r;
	*ret_consumed = lf + 1;
	return CTLPROTO_OK;
}

/* Appends to buf[*pos..len); false when it does not fit. */
static bool put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;

	if (*pos >= len)
		return false;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *pos)
		return false;
	*pos += (size_t)n;
	return true;
}

static bool put_client(char *buf, size_t len, size_t *pos, const struct ctlproto_client *c)
{
	char a[INET6_ADDRSTRLEN + 8];

	addr_net_format(&c->net, a, sizeof(a));
	if (!c->has_port)
		return put(buf, len, pos, " client=%s", a);
	return put(buf, len, pos, c->net.family == AF_INET6 ? " client=[%s]:%u" : " client=%s:%u",
		   a, (unsigned)c->port);
}

enum ctlproto_status ctlproto_format_request(const struct ctlproto_request *rq, char *buf,
					     size_t len, size_t *ret_len)
{
	struct ctlproto_request back;
	size_t pos = 0, used;
	bool ok;

	if ((unsigned)rq->cmd >= NCOMMANDS || (rq->has_user && !ctlproto_user_valid(rq->user)))
		return CTLPROTO_BAD_ARGUMENT;
	ok = put(buf, len, &pos, "v%u %s", CTLPROTO_VERSION, ctlproto_cmd_name(rq->cmd));
	if (ok && rq->has_id)
		ok = put(buf, len, &pos, " id=%" PRIu64, rq->id);
	if (ok && rq->has_user)
		ok = put(buf, len, &pos, " user=%s", rq->user);
	if (ok && rq->has_client)
		ok = put_client(buf, len, &pos, &rq->client);
	if (ok && rq->all)
		ok = put(buf, len, &pos, " all");
	if (!ok || !put(buf, len, &pos, "\n"))
		return CTLPROTO_TOO_LONG;
	if (ctlproto_parse_request((const uint8_t *)buf, pos, &back, &used, NULL, 0) != CTLPROTO_OK)
		return CTLPROTO_BAD_ARGUMENT;
	*ret_len = pos;
	return CTLPROTO_OK;
}

bool ctlproto_request_matches(const struct ctlproto_request *rq, uint64_t id, const char *user,
			      const struct sockaddr *client)
{
	if (rq->has_id && rq->id != id)
		return false;
	if (rq->has_user && strcmp(rq->user, user) != 0)
		return false;
	if (rq->has_client) {
		if (!addr_net_contains(&rq->client.net, client))
			return false;
		if (rq->client.has_port && addr_port(client) != rq->client.port)
			return false;
	}
	return true;
}

const char *ctlproto_cmd_name(enum ctlproto_cmd cmd)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].cmd == cmd)
			return commands[i].second != NULL ? "cache flush" : commands[i].name;
	return "unknown";
}

const char *ctlproto_status_code(enum ctlproto_status status)
{
	switch (status) {
	case CTLPROTO_OK:
		return "ok";
	case CTLPROTO_NEED_MORE:
		return "need_more";
	case CTLPROTO_TOO_LONG:
		return "too_long";
	case CTLPROTO_BAD:
		return "bad_request";
	case CTLPROTO_BAD_VERSION:
		return "bad_version";
	case CTLPROTO_UNKNOWN_COMMAND:
		return "unknown_command";
	case CTLPROTO_BAD_ARGUMENT:
		return "bad_argument";
	}
	return "unknown";
}
