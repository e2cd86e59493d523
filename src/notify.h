/* The service manager's view of the daemon: what goes into sd_notify()'s
 * STATUS= line and whether the daemon is healthy enough to pet the watchdog.
 * Pure functions; main.c does the sending. */
#ifndef SOCKSGATE_NOTIFY_H
#define SOCKSGATE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session_stats;

/* The acceptor turns at least once a second; this long without a turn means
 * it is stuck, and the watchdog pings stop so systemd restarts the service. */
#define NOTIFY_ACCEPTOR_STALL_MS 5000
/* How often STATUS= is refreshed. */
#define NOTIFY_STATUS_INTERVAL_MS 2000

/* Writes the STATUS= text for st (without the "STATUS=" prefix), like
 * "2 active sessions, 17 since start, 1 authentication failure, 3.5 MiB up,
 * 120 B down" (with ", N logins from the credential cache" after the
 * failures once there are any). Always NUL-terminates; returns buf. */
char *notify_format_status(char *buf, size_t len, const struct session_stats *st);

/* STATUS= while the last reload was refused: "last reload failed: ERROR
 * (and N more); STATUS", where error is the first of nerrors errors (NULL or
 * "" when none was recorded) and status the usual text. Always
 * NUL-terminates; returns buf. */
char *notify_format_reload_failed(char *buf, size_t len, const char *error, unsigned nerrors,
				  const char *status);

/* Formats a byte count with a binary unit ("999 B", "1.5 KiB", "12.0 GiB");
 * exact below 1 KiB. Returns buf. */
char *notify_format_bytes(char *buf, size_t len, uint64_t bytes);

/* The watchdog decision: alive when the acceptor's heartbeat (CLOCK_MONOTONIC
 * ms) is at most stall_ms old at now_ms and the pool answered (pool_ok).
 * A heartbeat in the future (clock read races) counts as fresh. */
bool notify_alive(int64_t now_ms, int64_t heartbeat_ms, int64_t stall_ms, bool pool_ok);

#endif
