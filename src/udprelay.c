/* The UDP relay. One client-facing socket takes datagrams only from the
 * client; one unconnected outgoing socket per address family (opened on first
 * use) sends payloads on and learns with recvfrom() who answers. Answers are
 * passed back only from addresses the client has sent to, so the relay port
 * is no open door into the client's network. Drops are counted, not logged:
 * the session record carries the totals. */
#include "autoconf.h"

#include "udprelay.h"

#include "connector.h"
#include "relay.h"
#include "socks5.h"
#include "timeutil.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_PAYLOAD_MAX 65535
#define UDP_BUF (SOCKS5_REQUEST_MAX + UDP_PAYLOAD_MAX + 1)
/* Names resolved per association, and addresses remembered per name. */
#define DNS_CACHE 32
#define DNS_ADDRS 4
/* Destinations remembered for accepting answers; the oldest is forgotten. */
#define PEERS_MAX 256
/* Datagrams taken from one socket per wakeup, so no socket starves the others. */
#define BURST 64

struct dns_entry {
	bool used;
	int n;			/* addresses, 0 when the name did not resolve */
	char name[256];
	struct addr a[DNS_ADDRS];
};

struct udprelay {
	const struct udprelay_params *p;
	int out[2];		/* [0] IPv4, [1] IPv6; -1 until first used */
	struct addr client;	/* the client's IP, and its port once known */
	bool port_known;
	struct relay_stats *bytes;
	struct udprelay_counts *counts;
	int64_t last_ms;	/* when a datagram was last relayed */
	struct dns_entry dns[DNS_CACHE];
	unsigned dns_next;
	struct addr peers[PEERS_MAX];
	unsigned npeers, peers_next;
	uint8_t buf[UDP_BUF];
};

int udprelay_open(const struct sockaddr *local, struct addr *ret_bound)
{
	struct addr a;

	addr_set(&a, local, addr_len(local->sa_family));
	addr_unmap(&a);
	addr_set_port(&a, 0);
	int fd = addr_socket(a.ss.ss_family, SOCK_DGRAM, true);
	if (fd < 0)
		return fd;
	ret_bound->len = sizeof(ret_bound->ss);
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ret_bound->ss, &ret_bound->len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* The outgoing socket for family, opened on first use; -1 if it cannot be. */
static int out_socket(struct udprelay *r, int family)
{
	int i = family == AF_INET6;

	if (r->out[i] < 0) {
		int fd = addr_socket(family, SOCK_DGRAM, true);
		if (fd < 0)
			return -1;
		/* outgoing_address: datagrams leave from it. The port is taken now
		 * (an unconnected socket needs one before its first sendto()). */
		const struct addr *src = r->p->source != NULL ? &r->p->source[i] : NULL;
		if (src != NULL && src->len > 0 && bind(fd, (const struct sockaddr *)&src->ss,
							src->len) < 0) {
			close(fd);
			return -1;
		}
		r->out[i] = fd;
	}
	return r->out[i];
}

/* The addresses dst stands for, port included. Names are looked up once per
 * association, failures too (a client cannot make the worker ask the resolver
 * again and again). Returns the count, 0 when there are none. */
static int resolve(struct udprelay *r, const struct socks5_addr *dst, struct addr *ret)
{
	struct connector_result res;
	struct dns_entry *e = NULL;

	if (connector_sockaddr(dst, &ret[0]))
		return 1;
	for (unsigned i = 0; i < DNS_CACHE && e == NULL; i++)
		if (r->dns[i].used && strcmp(r->dns[i].name, dst->u.domain) == 0)
			e = &r->dns[i];
	if (e == NULL) {
		e = &r->dns[r->dns_next];
		r->dns_next = (r->dns_next + 1) % DNS_CACHE;
		e->used = true;
		memcpy(e->name, dst->u.domain, dst->domain_len + 1u);
		e->n = connector_resolve(dst, SOCK_DGRAM, e->a, DNS_ADDRS, &res);
		if (e->n < 0)
			e->n = 0;
	}
	for (int i = 0; i < e->n; i++) {
		ret[i] = e->a[i];
		addr_set_port(&ret[i], dst->port);
	}
	return e->n;
}

static bool known_peer(const struct udprelay *r, const struct sockaddr *sa)
{
	for (unsigned i = 0; i < r->npeers; i++)
		if (addr_same((const struct sockaddr *)&r->peers[i].ss, sa, true))
			return true;
	return false;
}

static void remember_peer(struct udprelay *r, const struct addr *a)
{
	if (known_peer(r, (const struct sockaddr *)&a->ss))
		return;
	r->peers[r->peers_next] = *a;
	r->peers_next = (r->peers_next + 1) % PEERS_MAX;
	if (r->npeers < PEERS_MAX)
		r->npeers++;
}

/* One client datagram of len bytes in r->buf from src: true when relayed. */
static bool client_datagram(struct udprelay *r, const struct addr *src, size_t len)
{
	struct socks5_udp_header h;
	struct addr to[DNS_ADDRS];

	if (!addr_same((const struct sockaddr *)&src->ss, (const struct sockaddr *)&r->client.ss,
		       r->port_known))
		return false;
	if (len > UDP_PAYLOAD_MAX)
		return false;	/* truncated by MSG_TRUNC's measure */
	size_t hlen;
	if (socks5_parse_udp_header(r->buf, len, &h, &hlen) != SOCKS5_OK || h.frag != 0)
		return false;
	/* The first well-formed datagram from the client's host names its port. */
	if (!r->port_known) {
		addr_set_port(&r->client, addr_port((const struct sockaddr *)&src->ss));
		r->port_known = true;
	}
	int n = resolve(r, &h.dst, to);
	for (int i = 0; i < n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&to[i].ss;
		const char *name = h.dst.atyp == SOCKS5_ATYP_DOMAIN ? h.dst.u.domain : NULL;
		if (r->p->check != NULL && !r->p->check(sa, name, r->p->ctx))
			continue;
		int fd = out_socket(r, sa->sa_family);
		if (fd < 0)
			continue;
		size_t plen = len - hlen;
		if (sendto(fd, r->buf + hlen, plen, MSG_NOSIGNAL, sa, to[i].len) < 0)
			return false;	/* full buffers, no route, too big: UDP may lose it */
		remember_peer(r, &to[i]);
		r->counts->up++;
		relay_count(r->bytes, true, plen);
		return true;
	}
	return false;
}

/* One answer of len bytes at r->buf + SOCKS5_UDP_HEADER_MAX from src. */
static bool dest_datagram(struct udprelay *r, const struct addr *src, size_t len)
{
	uint8_t hdr[SOCKS5_UDP_HEADER_MAX];

	if (len > UDP_PAYLOAD_MAX || !r->port_known ||
	    !known_peer(r, (const struct sockaddr *)&src->ss))
		return false;
	size_t hlen = socks5_build_udp_header(hdr, sizeof(hdr), (const struct sockaddr *)&src->ss);
	if (hlen == 0)
		return false;
	uint8_t *start = r->buf + SOCKS5_UDP_HEADER_MAX - hlen;
	memcpy(start, hdr, hlen);
	if (sendto(r->p->fd, start, hlen + len, MSG_NOSIGNAL, (struct sockaddr *)&r->client.ss,
		   r->client.len) < 0)
		return false;
	r->counts->down++;
	relay_count(r->bytes, false, len);
	return true;
}

/* Reads up to BURST datagrams from fd; returns 0 or -errno for a broken socket. */
static int drain(struct udprelay *r, int fd, bool from_client)
{
	size_t off = from_client ? 0 : SOCKS5_UDP_HEADER_MAX;

	for (int i = 0; i < BURST; i++) {
		struct addr src;
		src.len = sizeof(src.ss);
		ssize_t n = recvfrom(fd, r->buf + off, sizeof(r->buf) - off, MSG_TRUNC,
				     (struct sockaddr *)&src.ss, &src.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			/* An ICMP error queued for an earlier datagram: not the socket's end. */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
				continue;
			return -errno;
		}
		addr_unmap(&src);
		bool ok = from_client ? client_datagram(r, &src, (size_t)n)
				      : dest_datagram(r, &src, (size_t)n);
		if (ok)
			r->last_ms = monotonic_ms();
		else
			r->counts->dropped++;
	}
	return 0;
}

/* Returns 1 when the control connection has ended, 0 if not, -errno on error.
 * RFC 1928 gives the client nothing to say on it any more; bytes are discarded. */
static int control_ended(int ctl)
{
	char sink[256];

	for (;;) {
		ssize_t n = recv(ctl, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0)
			return 1;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -errno;
	}
}

enum udprelay_end udprelay_run(const struct udprelay_params *p, struct relay_stats *bytes,
			       struct udprelay_counts *counts, int *ret_err)
{
	enum udprelay_end end = UDPRELAY_END_CLOSED;
	int err = 0;

	struct udprelay *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		close(p->fd);
		*ret_err = ENOMEM;
		return UDPRELAY_END_ERROR;
	}
	r->p = p;
	r->out[0] = r->out[1] = -1;
	addr_set(&r->client, p->client, addr_len(p->client->sa_family));
	addr_unmap(&r->client);
	addr_set_port(&r->client, p->client_port);
	r->port_known = p->client_port != 0;
	r->bytes = bytes;
	r->counts = counts;
	r->last_ms = monotonic_ms();

	for (;;) {
		struct pollfd pf[4] = {
			{ .fd = p->ctl, .events = POLLIN },
			{ .fd = p->fd, .events = POLLIN },
			{ .fd = r->out[0], .events = POLLIN },
			{ .fd = r->out[1], .events = POLLIN },
		};
		int timeout = -1;
		if (p->idle_timeout_ms > 0) {
			int64_t left = r->last_ms + p->idle_timeout_ms - monotonic_ms();
			if (left <= 0) {
				end = UDPRELAY_END_IDLE;
				break;
			}
			timeout = (int)left;
		}
		int n = poll(pf, 4, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (pf[0].revents != 0) {
			int c = control_ended(p->ctl);
			if (c != 0) {
				err = c < 0 ? -c : 0;
				break;
			}
		}
		for (int i = 1; i < 4 && err == 0; i++)
			if (pf[i].revents != 0) {
				int d = drain(r, pf[i].fd, i == 1);
				err = d < 0 ? -d : 0;
			}
		if (err != 0)
			break;
	}
	if (err != 0) {
		end = UDPRELAY_END_ERROR;
		*ret_err = err;
	}
	/* Closed before the session is logged: from here datagrams meet a closed port. */
	close(p->fd);
	for (int i = 0; i < 2; i++)
		if (r->out[i] >= 0)
			close(r->out[i]);
	free(r);
	return end;
}
