/* STATUS= text and the watchdog's health decision, kept free of I/O so they
 * can be unit-tested; main.c sends what these say. */
#include "autoconf.h"

#include "notify.h"

#include "session.h"

#include <inttypes.h>
#include <stdio.h>

char *notify_format_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	/* Tenths of the unit, in integers so 2^64-1 neither overflows nor rounds oddly. */
	size_t u = 0;
	uint64_t whole = bytes / 1024, rem = bytes % 1024;
	while (whole >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		rem = whole % 1024;
		whole /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 ".%u %s", whole, (unsigned)(rem * 10 / 1024), units[u]);
	return buf;
}

char *notify_format_status(char *buf, size_t len, const struct session_stats *st)
{
	char up[32], down[32], cache[64] = "";

	if (st->auth_cache_hits > 0)
		snprintf(cache, sizeof(cache), ", %" PRIu64 " login%s from the credential cache",
			 st->auth_cache_hits, st->auth_cache_hits == 1 ? "" : "s");
	snprintf(buf, len,
		 "%" PRIu64 " active session%s, %" PRIu64 " since start, %" PRIu64
		 " authentication failure%s%s, %s up, %s down",
		 st->active, st->active == 1 ? "" : "s", st->total, st->auth_failures,
		 st->auth_failures == 1 ? "" : "s", cache,
		 notify_format_bytes(up, sizeof(up), st->bytes_up),
		 notify_format_bytes(down, sizeof(down), st->bytes_down));
	return buf;
}

char *notify_format_reload_failed(char *buf, size_t len, const char *error, unsigned nerrors,
				  const char *status)
{
	char more[48] = "";

	if (error == NULL || error[0] == '\0') {
		snprintf(buf, len, "last reload failed; %s", status);
		return buf;
	}
	if (nerrors > 1)
		snprintf(more, sizeof(more), " (and %u more)", nerrors - 1);
	snprintf(buf, len, "last reload failed: %s%s; %s", error, more, status);
	return buf;
}

bool notify_alive(int64_t now_ms, int64_t heartbeat_ms, int64_t stall_ms, bool pool_ok)
{
	return pool_ok && now_ms - heartbeat_ms <= stall_ms;
}
