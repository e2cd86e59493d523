/* Listening sockets and the acceptor thread. The acceptor only accepts and
 * hands each connection to a callback; it never reads client bytes. */
#ifndef SOCKSGATE_LISTENER_H
#define SOCKSGATE_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct listener;

/* Called on the acceptor thread for each new connection: peer is the
 * client, local the address of the listening socket it came through (as
 * listener_addrs() reports it), by which the callback tells its sockets apart
 * (one that expects a PROXY protocol header, say). Returns 0 when it took
 * ownership of fd, or a negative errno when it did not (the acceptor then
 * closes fd). Must not block. */
typedef int (*listener_accept_fn)(int fd, const struct addr *peer, const struct addr *local,
				  void *ctx);

/* Creates a listening TCP socket bound to a (IPv6 sockets are v6-only).
 * Returns the fd or -errno. */
int listener_bind(const struct addr *a, int backlog);

/* Socket activation: takes the sockets the service manager passed (LISTEN_FDS,
 * for this pid) into fds, at most max, logging each address. Call before any
 * thread starts; the LISTEN_* variables are removed. Returns how many (0 when
 * none were passed), or -errno when one is not a listening TCP socket or
 * there are more than max (every passed socket is then closed). */
int listener_from_systemd(int *fds, size_t max);

/* Asked before the acceptor serves a set of sockets, with their addresses and
 * the listener's ctx: 0 to go on, or -errno with the reason in why. */
typedef int (*listener_check_fn)(const struct addr *a, size_t n, char *why, size_t whylen,
				 void *ctx);

/* Starts the acceptor thread over fds (ownership passes to the listener)
 * once check (may be NULL) accepts them; fn and check get ctx. Returns 0, or
 * -errno with the reason in why; on failure the fds are closed. */
int listener_start(struct listener **ret, const int *fds, size_t nfds, listener_check_fn check,
		   listener_accept_fn fn, void *ctx, char *why, size_t whylen);

/* Stops accepting, joins the thread and closes the listening sockets. The
 * connections the kernel had already completed are handed to the callback
 * first, on the calling thread (a client that got its SYN-ACK is served
 * rather than reset). NULL: no-op. */
void listener_stop(struct listener *l);

/* The addresses the listening sockets are bound to, at most max into ret;
 * returns how many. Call from the thread that starts and reconfigures. */
size_t listener_addrs(const struct listener *l, struct addr *ret, size_t max);

/* A reload changed the listen list to want[0..n): keeps the sockets of
 * addresses in both lists (their queued connections survive), binds the new
 * ones, lets check (may be NULL) veto the new set, then closes the sockets of
 * addresses that went. Connections wait in the kernel's backlog while the
 * acceptor restarts. Returns 0, or -errno with the reason in why (nothing
 * changed when binding or check failed). Not thread-safe against itself or
 * listener_stop(). */
int listener_reconfigure(struct listener *l, const struct addr *want, size_t n,
			 listener_check_fn check, char *why, size_t whylen);

/* CLOCK_MONOTONIC ms of the acceptor's last loop turn (it turns at least once
 * a second while healthy): the watchdog's proof of life. Thread-safe. */
int64_t listener_heartbeat(const struct listener *l);

#endif
