/* The process around the daemon: its standard descriptors, its descriptor
 * limit and what the pool may take of it, the user it runs as, and the
 * host's own addresses for the default policy. Main thread only, at start
 * and at reloads. */
#ifndef SOCKSGATE_RUNTIME_H
#define SOCKSGATE_RUNTIME_H

#include <sys/resource.h>

struct config;

/* Opens /dev/null on any of stdin, stdout and stderr that is closed, so a
 * socket never gets one of those numbers. Call first thing. */
void runtime_std_fds_open(void);

/* Raises the descriptor limit to its hard maximum and returns it. */
rlim_t runtime_raise_nofile(void);

/* The queue length to use under the descriptor limit nofile: at most a
 * quarter of what the limit leaves, so queued connections cannot take the
 * descriptors that sessions need. */
unsigned runtime_queue_for(const struct config *c, rlim_t nofile);

/* c's workers_max, or when it is 0 (auto) what fits in nofile beside a queue
 * of queue connections. */
unsigned runtime_workers_max_for(const struct config *c, rlim_t nofile, unsigned queue);

/* Started as root with a user: switches to it and its groups for good. Not
 * root: user may only name the user already running. "" keeps the uid.
 * Returns 0, or -1 after logging why the daemon must not start. */
int runtime_drop_privileges(const char *user);

/* Logging as c says: its level, its output, and on every journal entry
 * SOCKS_INSTANCE=instance_name when that is set (no such field when not).
 * At start, before the first entry that should carry it, and at reloads. */
void runtime_log_setup(const struct config *c);

/* Gives c the host's current addresses (protected by the default policy).
 * Read at start and at each reload, so a new address counts after SIGHUP.
 * Returns 0, or -errno with c's list unchanged (never a part of the list). */
int runtime_load_self(struct config *c);

#endif
