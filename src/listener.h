/* Listening sockets and the acceptor thread. The acceptor only accepts and
 * hands each connection to a callback; it never reads client bytes. */
#ifndef SOCKSGATE_LISTENER_H
#define SOCKSGATE_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct listener;

/* Called on the acceptor thread for each new connection. Returns 0 when it
 * took ownership of fd, or a negative errno when it did not (the acceptor then
 * closes fd). Must not block. */
typedef int (*listener_accept_fn)(int fd, const struct addr *peer, void *ctx);

/* Creates a listening TCP socket bound to a (IPv6 sockets are v6-only).
 * Returns the fd or -errno. */
int listener_bind(const struct addr *a, int backlog);

/* Socket activation: takes the sockets the service manager passed (LISTEN_FDS,
 * for this pid) into fds, at most max, logging each address. Call before any
 * thread starts; the LISTEN_* variables are removed. Returns how many (0 when
 * none were passed), or -errno when one is not a listening TCP socket or
 * there are more than max (every passed socket is then closed). */
int listener_from_systemd(int *fds, size_t max);

/* Starts the acceptor thread over fds (ownership passes to the listener).
 * Returns 0 or -errno; on failure the fds are closed. */
int listener_start(struct listener **ret, const int *fds, size_t nfds, listener_accept_fn fn,
		   void *ctx);

/* Stops accepting, joins the thread and closes the listening sockets. NULL: no-op. */
void listener_stop(struct listener *l);

/* CLOCK_MONOTONIC ms of the acceptor's last loop turn (it turns at least once
 * a second while healthy): the watchdog's proof of life. Thread-safe. */
int64_t listener_heartbeat(const struct listener *l);

#endif
