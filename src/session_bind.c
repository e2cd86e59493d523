/* BIND and UDP ASSOCIATE up to their relays (session.c has CONNECT and the
 * session around them): the listener and its one inbound connection, the UDP
 * relay socket, and the first reply of both with the address just opened.
 * Runs on session_open()'s frame, with the request in s->su. */
#include "autoconf.h"

#include "session_int.h"

#include "bind.h"
#include "config.h"
#include "config_addr.h"
#include "connector.h"
#include "handshake.h"
#include "policy.h"
#include "socks5.h"
#include "timeutil.h"
#include "udprelay.h"

#include <netdb.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Addresses of a BIND destination name that an inbound peer may come from. */
#define BIND_ADDRS 16

/* The first reply of BIND and UDP ASSOCIATE, with the address of the socket
 * just opened (fd, or -errno from opening it, named by what). Returns true
 * when the client has it; otherwise fd is closed. */
static bool reply_bound(struct session *s, int fd, const struct addr *bnd, const char *what)
{
	if (fd < 0) {
		handshake_reason(&s->h, "%s: %s", what, strerror(-fd));
		(void)handshake_reply(&s->h, socks5_rep_from_errno(-fd), NULL);
		return false;
	}
	/* Behind NAT or a balancer, the address the client (or BIND's peer)
	 * must use: external_address of the socket's family, with its port. */
	struct addr shown = *bnd;
	const struct addr *ext = config_addr_external(s->cfg, (const struct sockaddr *)&bnd->ss);
	if (ext != NULL) {
		shown = *ext;
		addr_set_port(&shown, addr_port((const struct sockaddr *)&bnd->ss));
	}
	/* The reply has the whole handshake deadline's worth of time again. */
	s->h.deadline_ms = monotonic_ms() + s->cfg->handshake_timeout_ms;
	if (handshake_reply(&s->h, SOCKS5_REP_SUCCEEDED, (const struct sockaddr *)&shown.ss) < 0) {
		close(fd);
		return false;
	}
	return true;
}

/* Waits for BIND's inbound connection on lfd (which it closes). Returns the
 * connected socket, or -1 after the reason and any reply. */
static int bind_accept(struct session *s, int lfd, struct addr *ret_peer)
{
	int fd = -1, err = 0;
	/* Bytes pipelined behind the request count as speaking too early. */
	enum bind_end end = s->h.inlen > 0 ? BIND_END_CLIENT_SPOKE
					   : bind_wait(lfd, s->h.fd, s->cfg->bind_timeout_ms, &fd,
						       ret_peer, &err);
	close(lfd);	/* one connection per BIND: the port is free from here on */
	s->h.deadline_ms = monotonic_ms() + s->cfg->handshake_timeout_ms;
	switch (end) {
	case BIND_END_PEER:
		return fd;
	case BIND_END_TIMEOUT:
		handshake_reason(&s->h, "no inbound connection within bind_timeout (%u ms)",
				 s->cfg->bind_timeout_ms);
		(void)handshake_reply(&s->h, SOCKS5_REP_TTL_EXPIRED, NULL);
		break;
	case BIND_END_CLIENT_CLOSED:
		handshake_reason(&s->h, "client closed while waiting for the inbound connection");
		break;
	case BIND_END_CLIENT_RESET:
		handshake_reason(&s->h, "client reset the connection while waiting for the "
					"inbound connection");
		break;
	case BIND_END_CLIENT_SPOKE:
		handshake_reason(&s->h, "client sent data before the inbound connection");
		(void)handshake_reply(&s->h, SOCKS5_REP_GENERAL_FAILURE, NULL);
		break;
	case BIND_END_ERROR:
		handshake_reason(&s->h, "waiting for the inbound connection: %s", strerror(err));
		(void)handshake_reply(&s->h, socks5_rep_from_errno(err), NULL);
		break;
	}
	return -1;
}

/* BIND: a listener on the address facing the destination, the first reply
 * with it, one inbound connection from the expected peer, the second reply
 * with the peer's address, then the relay as for CONNECT. True when the relay
 * may run on s->dest. */
bool session_handle_bind(struct session *s)
{
	struct connector_result res;
	struct addr want[BIND_ADDRS], bnd, peer;
	char a[ADDR_STRLEN];

	int nwant = connector_resolve(&s->su->req.dst, SOCK_STREAM, want, BIND_ADDRS, &res);
	if (nwant < 0) {
		handshake_reason(&s->h, "resolving: %s", gai_strerror(res.err));
		(void)handshake_reply(&s->h, res.rep, NULL);
		return false;
	}
	/* The listener takes the family of the first address; a name's other
	 * addresses still count as the expected peer. */
	int lfd = bind_listen((struct sockaddr *)&want[0].ss, (struct sockaddr *)&s->su->local.ss,
			      &bnd);
	if (!reply_bound(s, lfd, &bnd, "bind"))
		return false;
	int fd = bind_accept(s, lfd, &peer);
	if (fd < 0)
		return false;
	session_note_dest(s, &peer);
	bool expected = bind_peer_expected(want, nwant, s->su->req.dst.port, &peer);
	if (!expected || !policy_dest_allowed((struct sockaddr *)&peer.ss, &s->pol)) {
		close(fd);	/* the wrong peer learns nothing and is gone at once */
		addr_str((struct sockaddr *)&peer.ss, a, sizeof(a));
		if (!expected) {
			handshake_reason(&s->h, "inbound connection from %s, not the requested peer",
					 a);
		} else {
			s->refused_by_rule = true;
			handshake_outcome(&s->h, policy_refusal_outcome(&s->pol));
			handshake_reason(&s->h, "inbound connection from %s %s", a, s->pol.refusal);
		}
		(void)handshake_reply(&s->h, SOCKS5_REP_NOT_ALLOWED, (struct sockaddr *)&peer.ss);
		return false;
	}
	session_set_dest(s, fd);
	if (handshake_reply(&s->h, SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&peer.ss) < 0)
		return false;
	return session_relay_tail(s, fd);
}

/* UDP ASSOCIATE: a relay socket on the address the client reached us on,
 * the reply with it, then the relay until the control connection ends. The
 * client's datagrams must come from the control connection's IP address,
 * whatever DST.ADDR says; DST.PORT, when not zero, fixes their source port. */
void session_handle_udp(struct session *s)
{
	struct addr bnd;

	s->udp = true;
	if (s->h.peer.ss.ss_family != s->su->local.ss.ss_family) {
		/* The relay is on the balancer's side of the instance; the header's
		 * client, of the other family, could never pass the source check. */
		handshake_reason(&s->h, "the client's address family differs from the connection's "
					"to the gateway: no UDP relay for it");
		(void)handshake_reply(&s->h, SOCKS5_REP_GENERAL_FAILURE, NULL);
		return;
	}
	int fd = udprelay_open((struct sockaddr *)&s->su->local.ss, &bnd);
	if (!reply_bound(s, fd, &bnd, "udp socket"))
		return;
	s->h.inlen = 0;	/* the control connection carries nothing more */

	const struct udprelay_params p = {
		.ctl = s->h.fd,
		.fd = fd,	/* udprelay_run() closes it */
		.client = (struct sockaddr *)&s->h.peer.ss,
		.client_port = s->su->req.dst.port,
		.idle_timeout_ms = s->cfg->udp_idle_timeout_ms,
		.source = s->cfg->outgoing,
		.check = policy_udp_allowed,
		.ctx = &s->pol,
	};
	int err = 0;
	enum udprelay_end end = udprelay_run(&p, &s->stats, &s->dgrams, &err);
	if (end == UDPRELAY_END_IDLE)
		handshake_reason(&s->h, "udp idle timeout");
	else if (end == UDPRELAY_END_ERROR)
		handshake_reason(&s->h, "udp relay: %s", strerror(err));
}
