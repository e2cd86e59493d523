/* The address settings: comma-separated lists of listen addresses (each
 * with an optional "proxy"), trusted balancer networks, passed sockets that
 * expect the PROXY protocol, and the external addresses; the questions the
 * daemon asks of them; and their lines in the -t dump. */
#include "autoconf.h"

#include "config_addr.h"

#include "addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Adds one item of a list setting to c; on error writes err, returns -EINVAL. */
typedef int (*item_fn)(struct config *c, const char *item, char *err, size_t errlen);

/* Calls add for each comma-separated item of value, spaces around it
 * trimmed, and stops at the first error; an empty item is one. */
static int for_each_item(struct config *c, const char *key, const char *value, item_fn add,
			 char *err, size_t errlen)
{
	char item[128];

	for (const char *p = value;; p++) {
		size_t n = strcspn(p, ",");
		const char *end = p + n;
		while (p < end && isspace((unsigned char)*p))
			p++;
		size_t len = (size_t)(end - p);
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0 || len >= sizeof(item)) {
			snprintf(err, errlen, "%s: %s item in '%s'", key, len == 0 ? "empty" : "too long",
				 value);
			return -EINVAL;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		int r = add(c, item, err, errlen);
		if (r < 0)
			return r;
		if (*end == '\0')
			return 0;
		p = end;
	}
}

/* True when a is one of list[0..n). */
static bool addr_listed(const struct addr *list, size_t n, const struct addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (addr_same((const struct sockaddr *)&list[i].ss, (const struct sockaddr *)&a->ss,
			      true))
			return true;
	return false;
}

/* "ADDR:PORT" or "ADDR:PORT proxy". */
static int listen_item(struct config *c, const char *item, char *err, size_t errlen)
{
	char a[128];
	size_t n = strcspn(item, " \t");
	const char *word = item + n + strspn(item + n, " \t");

	memcpy(a, item, n);
	a[n] = '\0';
	if (c->nlisten >= CONFIG_LISTEN_MAX) {
		snprintf(err, errlen, "too many listen addresses (at most %d)", CONFIG_LISTEN_MAX);
		return -EINVAL;
	}
	if (*word != '\0' && strcmp(word, "proxy") != 0) {
		snprintf(err, errlen, "listen: '%s' after %s is not 'proxy'", word, a);
		return -EINVAL;
	}
	if (addr_parse(a, &c->listen[c->nlisten]) < 0) {
		snprintf(err, errlen,
			 "listen: '%s' is not ADDR:PORT (IPv4 a.b.c.d:PORT or [IPv6]:PORT)", a);
		return -EINVAL;
	}
	if (addr_listed(c->listen, c->nlisten, &c->listen[c->nlisten])) {
		snprintf(err, errlen, "listen: '%s' is already listed", a);
		return -EINVAL;
	}
	c->listen_proxy[c->nlisten++] = *word != '\0';
	return 0;
}

static int proxy_from_item(struct config *c, const char *item, char *err, size_t errlen)
{
	if (c->nproxy_from >= CONFIG_PROXY_FROM_MAX) {
		snprintf(err, errlen, "proxy_from: more than %d networks", CONFIG_PROXY_FROM_MAX);
		return -EINVAL;
	}
	if (addr_net_parse(item, &c->proxy_from[c->nproxy_from]) < 0) {
		snprintf(err, errlen,
			 "proxy_from: '%s' is not an address or a network (like 10.0.0.0/24, "
			 "2001:db8::/64) with its host bits zero", item);
		return -EINVAL;
	}
	c->nproxy_from++;
	return 0;
}

static int proxy_listen_item(struct config *c, const char *item, char *err, size_t errlen)
{
	struct addr a;

	if (c->nproxy_listen >= CONFIG_LISTEN_MAX) {
		snprintf(err, errlen, "proxy_listen: more than %d addresses", CONFIG_LISTEN_MAX);
		return -EINVAL;
	}
	if (addr_parse(item, &a) < 0) {
		snprintf(err, errlen,
			 "proxy_listen: '%s' is not ADDR:PORT (IPv4 a.b.c.d:PORT or [IPv6]:PORT)",
			 item);
		return -EINVAL;
	}
	if (addr_listed(c->proxy_listen, c->nproxy_listen, &a)) {
		snprintf(err, errlen, "proxy_listen: '%s' is already listed", item);
		return -EINVAL;
	}
	c->proxy_listen[c->nproxy_listen++] = a;
	return 0;
}

/* One IPv4 or IPv6 address, without a port, into slots[family]: at most one
 * of each family. */
static int host_item(struct addr *slots, const char *key, const char *item, char *err,
		     size_t errlen)
{
	struct addr a;

	if (addr_parse_host(item, &a) < 0) {
		snprintf(err, errlen, "%s: '%s' is not an IPv4 or IPv6 address (without a port)",
			 key, item);
		return -EINVAL;
	}
	if (addr_is_any((const struct sockaddr *)&a.ss)) {
		snprintf(err, errlen, "%s: '%s' is the any address", key, item);
		return -EINVAL;
	}
	struct addr *slot = &slots[a.ss.ss_family == AF_INET6];
	if (slot->len != 0) {
		snprintf(err, errlen, "%s: more than one %s address", key,
			 a.ss.ss_family == AF_INET6 ? "IPv6" : "IPv4");
		return -EINVAL;
	}
	*slot = a;
	return 0;
}

static int external_item(struct config *c, const char *item, char *err, size_t errlen)
{
	return host_item(c->external, "external_address", item, err, errlen);
}

static int outgoing_item(struct config *c, const char *item, char *err, size_t errlen)
{
	return host_item(c->outgoing, "outgoing_address", item, err, errlen);
}

bool config_addr_proxy_listener(const struct config *c)
{
	for (size_t i = 0; i < c->nlisten; i++)
		if (c->listen_proxy[i])
			return true;
	return false;
}

bool config_addr_proxy_trusted(const struct config *c, const struct sockaddr *peer)
{
	for (size_t i = 0; i < c->nproxy_from; i++)
		if (addr_net_contains(&c->proxy_from[i], peer))
			return true;
	return false;
}

int config_addr_set(struct config *c, const char *key, const char *value, char *err,
		    size_t errlen)
{
	if (strcmp(key, "listen") == 0)
		return for_each_item(c, key, value, listen_item, err, errlen);
	if (strcmp(key, "proxy_from") == 0)
		return for_each_item(c, key, value, proxy_from_item, err, errlen);
	if (strcmp(key, "proxy_listen") == 0)
		return for_each_item(c, key, value, proxy_listen_item, err, errlen);
	if (strcmp(key, "external_address") == 0) {
		c->external[0].len = c->external[1].len = 0;
		return for_each_item(c, key, value, external_item, err, errlen);
	}
	if (strcmp(key, "outgoing_address") == 0) {
		c->outgoing[0].len = c->outgoing[1].len = 0;
		return for_each_item(c, key, value, outgoing_item, err, errlen);
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return -EINVAL;
}

bool config_addr_proxy_socket(const struct config *c, const struct sockaddr *local, bool passed)
{
	const struct addr *list = passed ? c->proxy_listen : c->listen;
	size_t n = passed ? c->nproxy_listen : c->nlisten;

	for (size_t i = 0; i < n; i++)
		if ((passed || c->listen_proxy[i]) &&
		    addr_same((const struct sockaddr *)&list[i].ss, local, true))
			return true;
	return false;
}

const struct addr *config_addr_external(const struct config *c, const struct sockaddr *sa)
{
	const struct addr *a = NULL;

	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		a = &c->external[sa->sa_family == AF_INET6];
	return a != NULL && a->len != 0 ? a : NULL;
}

void config_addr_dump(const struct config *c, FILE *out)
{
	char a[ADDR_STRLEN];

	for (size_t i = 0; i < c->nlisten; i++)
		fprintf(out, "listen = %s%s\n",
			addr_str((const struct sockaddr *)&c->listen[i].ss, a, sizeof(a)),
			c->listen_proxy[i] ? " proxy" : "");

	if (c->nproxy_from == 0)
		fprintf(out, "# proxy_from: not set (no load balancer may send a PROXY header)\n");
	for (size_t i = 0; i < c->nproxy_from; i++)
		fprintf(out, "%s%s", i == 0 ? "proxy_from = " : ", ",
			addr_net_format(&c->proxy_from[i], a, sizeof(a)));
	if (c->nproxy_from > 0)
		fprintf(out, "\n");
	if (c->nproxy_listen == 0)
		fprintf(out, "# proxy_listen: not set (no socket from systemd expects a PROXY header)\n");
	for (size_t i = 0; i < c->nproxy_listen; i++)
		fprintf(out, "%s%s", i == 0 ? "proxy_listen = " : ", ",
			addr_str((const struct sockaddr *)&c->proxy_listen[i].ss, a, sizeof(a)));
	if (c->nproxy_listen > 0)
		fprintf(out, "\n");
	if (c->external[0].len == 0 && c->external[1].len == 0)
		fprintf(out, "# external_address: not set (replies name the relay's own address)\n");
	for (size_t i = 0, n = 0; i < 2; i++)
		if (c->external[i].len != 0)
			fprintf(out, "%s%s", n++ == 0 ? "external_address = " : ", ",
				addr_host((const struct sockaddr *)&c->external[i].ss, a, sizeof(a)));
	if (c->external[0].len != 0 || c->external[1].len != 0)
		fprintf(out, "\n");
	if (c->outgoing[0].len == 0 && c->outgoing[1].len == 0)
		fprintf(out, "# outgoing_address: not set (the kernel picks the source address)\n");
	for (size_t i = 0, n = 0; i < 2; i++)
		if (c->outgoing[i].len != 0)
			fprintf(out, "%s%s", n++ == 0 ? "outgoing_address = " : ", ",
				addr_host((const struct sockaddr *)&c->outgoing[i].ss, a, sizeof(a)));
	if (c->outgoing[0].len != 0 || c->outgoing[1].len != 0)
		fprintf(out, "\n");
}
