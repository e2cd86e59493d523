/* socksgatectl: asks a running socksgate over its control socket. Turns the
 * command line into one request line (ctlproto), sends it, reads the one-line
 * JSON answer within a deadline, and prints it as tables (socksgatectl_show.c)
 * or, with --json, as it came. */
#include "autoconf.h"

#include "config.h"
#include "ctlproto.h"
#include "socksgatectl.h"
#include "text.h"
#include "timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A reload waits for the daemon's own bound on it, plus a margin. */
#define TIMEOUT_MS 10000
#define RELOAD_TIMEOUT_MS 70000
#define RETRY_MS 50

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: socksgatectl [--socket PATH] [--json] [--timeout SECONDS] COMMAND\n"
		"Asks a running socksgate over its control socket.\n\n"
		"Commands:\n"
		"  status                              the daemon, its counters, the last reload\n"
		"  sessions [--user U] [--client ADDR] live sessions\n"
		"  kill ID | --user U | --client ADDR  end sessions (the filters combine)\n"
		"  blocked                             addresses blocked after failed logins\n"
		"  unblock ADDR|all                    lift blocks (ADDR may be ADDR/PREFIX)\n"
		"  cache flush                         forget every cached credential\n"
		"  reload                              reload, and say whether it was applied\n\n"
		"  -s, --socket PATH   the control socket (default %s)\n"
		"  -j, --json          print the daemon's JSON answer as it is\n"
		"  -t, --timeout SECS  give up after this long (default 10, reload 70)\n"
		"  -h, --help          print this help and exit\n"
		"  -V, --version       print the version and exit\n\n"
		"Exit status: 0 done, 1 refused or failed, 2 usage, 3 cannot reach the daemon,\n"
		"4 permission denied. See socksgatectl(8).\n",
		CONFIG_CONTROL_SOCKET_DEFAULT);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "socksgatectl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'socksgatectl --help'.\n");
	return SGCTL_USAGE;
}

/* --user U / --user=U and --client ADDR / --client=ADDR at argv[*i]; returns
 * 1 when it took one (advancing *i), 0 when argv[*i] is neither, or an exit
 * status (negated) on a bad value. */
static int filter_opt(int argc, char **argv, int *i, struct ctlproto_request *rq)
{
	const char *a = argv[*i], *v = NULL;
	bool user = strncmp(a, "--user", 6) == 0, client = strncmp(a, "--client", 8) == 0;
	size_t klen = user ? 6 : 8;

	if ((!user && !client) || (a[klen] != '\0' && a[klen] != '='))
		return 0;
	if (a[klen] == '=')
		v = a + klen + 1;
	else if (*i + 1 < argc)
		v = argv[++*i];
	if (v == NULL || *v == '\0')
		return -usage_error("%s needs a value", user ? "--user" : "--client");
	if (user) {
		/* As the session record writes the name: escaped. */
		text_escape(v, strlen(v), rq->user, sizeof(rq->user));
		if (!ctlproto_user_valid(rq->user) || strlen(v) > CTLPROTO_VALUE_MAX)
			return -usage_error("user name '%s' is too long", v);
		rq->has_user = true;
	} else {
		if (!ctlproto_parse_client(v, &rq->client))
			return -usage_error("'%s' is not an address, ADDR/PREFIX or ADDR:PORT", v);
		rq->has_client = true;
	}
	return 1;
}

/* The command and its arguments in argv[0..argc) into *rq; 0 or an exit status. */
static int parse_command(int argc, char **argv, struct ctlproto_request *rq)
{
	static const struct {
		const char *name;
		enum ctlproto_cmd cmd;
	} names[] = { { "status", CTLPROTO_CMD_STATUS },   { "sessions", CTLPROTO_CMD_SESSIONS },
		      { "kill", CTLPROTO_CMD_KILL },	   { "blocked", CTLPROTO_CMD_BLOCKED },
		      { "unblock", CTLPROTO_CMD_UNBLOCK }, { "cache", CTLPROTO_CMD_CACHE_FLUSH },
		      { "reload", CTLPROTO_CMD_RELOAD } };
	size_t k;
	int i = 1, r;

	if (argc == 0)
		return usage_error("%s", "no command given");
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strcmp(argv[0], names[k].name) == 0)
			break;
	if (k == sizeof(names) / sizeof(names[0]))
		return usage_error("unknown command '%s'", argv[0]);
	rq->cmd = names[k].cmd;
	if (rq->cmd == CTLPROTO_CMD_CACHE_FLUSH && (argc < 2 || strcmp(argv[i++], "flush") != 0))
		return usage_error("%s", "did you mean 'cache flush'?");
	for (; i < argc; i++) {
		bool filters = rq->cmd == CTLPROTO_CMD_SESSIONS || rq->cmd == CTLPROTO_CMD_KILL;
		if (filters && (r = filter_opt(argc, argv, &i, rq)) != 0) {
			if (r < 0)
				return -r;
			continue;
		}
		if (rq->cmd == CTLPROTO_CMD_KILL && !rq->has_id) {
			char *end;
			errno = 0;
			rq->id = strtoull(argv[i], &end, 10);
			if (argv[i][0] < '1' || argv[i][0] > '9' || *end != '\0' || errno != 0)
				return usage_error("'%s' is not a session ID", argv[i]);
			rq->has_id = true;
		} else if (rq->cmd == CTLPROTO_CMD_UNBLOCK && !rq->has_client && !rq->all) {
			rq->all = strcmp(argv[i], "all") == 0;
			if (!rq->all && !ctlproto_parse_client(argv[i], &rq->client))
				return usage_error("'%s' is not an address or ADDR/PREFIX",
						   argv[i]);
			rq->has_client = !rq->all;
		} else {
			return usage_error("unexpected argument '%s'", argv[i]);
		}
	}
	if (rq->cmd == CTLPROTO_CMD_KILL && !rq->has_id && !rq->has_user && !rq->has_client)
		return usage_error("%s", "kill needs a session ID, --user U or --client ADDR");
	if (rq->cmd == CTLPROTO_CMD_UNBLOCK && !rq->has_client && !rq->all)
		return usage_error("%s", "unblock needs an address (or ADDR/PREFIX) or 'all'");
	if (rq->cmd == CTLPROTO_CMD_UNBLOCK && rq->client.has_port)
		return usage_error("%s", "unblock takes an address without a port: blocks are "
				   "per address");
	return 0;
}

/* Connects to path before deadline_ms; returns the descriptor or -errno. A
 * full backlog (the daemon serves a few clients at once) is waited out. */
static int connect_to(const char *path, int64_t deadline_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;
		if ((err != EAGAIN && err != EINTR) || monotonic_ms() >= deadline_ms) {
			close(fd);
			return err == EAGAIN ? -ETIMEDOUT : -err;
		}
		poll(NULL, 0, RETRY_MS);
	}
	return fd;
}

/* Waits for fd to be ready for events before deadline_ms: 0 or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline_ms - monotonic_ms();

	if (left <= 0)
		return -ETIMEDOUT;
	int r = poll(&p, 1, (int)left);
	return r < 0 ? -errno : r == 0 ? -ETIMEDOUT : 0;
}

/* How an exchange with the daemon ended. */
enum exchange_end {
	EXCHANGE_ANSWER,	/* *ret holds the answer line */
	EXCHANGE_CLOSED,	/* the daemon closed the connection without an answer */
	EXCHANGE_ERROR,		/* *ret_err holds errno (ETIMEDOUT, EMSGSIZE: too long...) */
};

/* Sends line, reads the answer line into *ret (malloc'd, NUL-terminated,
 * without the LF). */
static enum exchange_end exchange(int fd, const char *line, size_t len, int64_t deadline_ms,
				  char **ret, int *ret_err)
{
	size_t off = 0, n = 0, cap = 0;
	char *buf = NULL, *lf = NULL;
	int r = 0;
	bool closed = false;

	while (off < len && r == 0) {
		ssize_t k = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (k > 0)
			off += (size_t)k;
		else if (errno == EAGAIN || errno == EINTR)
			r = wait_fd(fd, POLLOUT, deadline_ms);
		else
			r = -errno;
	}
	/* A daemon that refuses a client answers and closes at once, perhaps
	 * before the request went out: its answer is still there to read. */
	int sent = r;
	if (r == -EPIPE || r == -ECONNRESET)
		r = 0;
	while (r == 0 && lf == NULL) {
		if (n + 4096 + 1 > cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			char *nb = cap <= CTLPROTO_RESPONSE_MAX + 1 ? realloc(buf, cap) : NULL;
			if (nb == NULL) {
				r = cap <= CTLPROTO_RESPONSE_MAX + 1 ? -ENOMEM : -EMSGSIZE;
				break;
			}
			buf = nb;
		}
		ssize_t k = recv(fd, buf + n, cap - n - 1, 0);
		if (k > 0) {
			lf = memchr(buf + n, '\n', (size_t)k);
			n += (size_t)k;
		} else if (k == 0) {
			closed = true;
			break;
		} else if (errno == EAGAIN || errno == EINTR) {
			r = wait_fd(fd, POLLIN, deadline_ms);
		} else {
			r = -errno;
		}
	}
	if (closed && sent < 0)
		r = sent;	/* the send's failure says more than the close */
	if (r < 0 || closed) {
		free(buf);
		*ret_err = -r;
		return r < 0 ? EXCHANGE_ERROR : EXCHANGE_CLOSED;
	}
	*lf = '\0';
	*ret = buf;
	return EXCHANGE_ANSWER;
}

/* Asks and answers: the exit status. */
static int ask(const char *path, const struct ctlproto_request *rq, bool json, int64_t timeout)
{
	char line[CTLPROTO_LINE_MAX + 1], *answer = NULL;
	size_t len;
	int64_t deadline = monotonic_ms() + timeout;

	if (ctlproto_format_request(rq, line, sizeof(line), &len) != CTLPROTO_OK)
		return usage_error("%s", "that request cannot be written");
	int fd = connect_to(path, deadline);
	if (fd < 0) {
		bool absent = fd == -ENOENT || fd == -ECONNREFUSED;
		fprintf(stderr, "socksgatectl: cannot reach the daemon at %s: %s%s\n", path,
			strerror(-fd),
			absent ? " (is socksgate running, with this control_socket?)" : "");
		return fd == -EACCES || fd == -EPERM ? SGCTL_DENIED : SGCTL_UNREACHABLE;
	}
	int err = 0;
	enum exchange_end end = exchange(fd, line, len, deadline, &answer, &err);
	close(fd);
	if (end != EXCHANGE_ANSWER) {
		fprintf(stderr, "socksgatectl: %s: %s\n", path,
			end == EXCHANGE_CLOSED ? "the daemon closed the connection without an answer"
			: err == ETIMEDOUT     ? "no answer in time"
					       : strerror(err));
		return SGCTL_UNREACHABLE;
	}
	struct json_object *obj = json_tokener_parse(answer);
	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		fprintf(stderr, "socksgatectl: %s: the answer is not a JSON object\n", path);
		json_object_put(obj);
		free(answer);
		return SGCTL_UNREACHABLE;
	}
	if (json)
		printf("%s\n", answer);
	int r = sgctl_show(rq, obj, !json);
	json_object_put(obj);
	free(answer);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },	     { NULL, 0, NULL, 0 },
	};
	const char *path = CONFIG_CONTROL_SOCKET_DEFAULT;
	struct ctlproto_request rq;
	bool json = false;
	int64_t timeout = -1;
	int opt;

	/* "+": options end at the command, whose own options come after it. */
	while ((opt = getopt_long(argc, argv, "+s:jt:hV", longopts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			timeout = strtol(optarg, &end, 10) * 1000;
			if (*optarg < '1' || *optarg > '9' || *end != '\0' || timeout > 86400000)
				return usage_error("--timeout '%s' is not a number of seconds",
						   optarg);
			break;
		case 'h':
			usage(stdout);
			return SGCTL_OK;
		case 'V':
			printf("socksgatectl %s\n", PACKAGE_VERSION);
			return SGCTL_OK;
		default:
			usage(stderr);
			return SGCTL_USAGE;
		}
	}
	memset(&rq, 0, sizeof(rq));
	int r = parse_command(argc - optind, argv + optind, &rq);
	if (r != 0)
		return r;
	if (timeout < 0)
		timeout = rq.cmd == CTLPROTO_CMD_RELOAD ? RELOAD_TIMEOUT_MS : TIMEOUT_MS;
	return ask(path, &rq, json, timeout);
}
