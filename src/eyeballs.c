/* Happy Eyeballs as plain state: the interleaved address order, the stagger
 * schedule under one deadline, and the ranking of failures for the reply.
 * connector.c runs the sockets; the unit tests drive this with a fake clock. */
#include "autoconf.h"

#include "eyeballs.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

void eyeballs_order(struct addr *a, size_t n, int first_family)
{
	struct addr tmp;

	/* Each pass moves the first address of the family due next to place i;
	 * with n at most a few dozen the quadratic cost is nothing. */
	for (size_t i = 0; i < n; i++) {
		int want = i == 0 ? first_family
				  : (a[i - 1].ss.ss_family == AF_INET6 ? AF_INET : AF_INET6);
		size_t j = i;
		while (j < n && a[j].ss.ss_family != want)
			j++;
		if (j == n || j == i)
			continue;	/* none of that family left: keep the order */
		tmp = a[j];
		memmove(&a[i + 1], &a[i], (j - i) * sizeof(a[0]));
		a[i] = tmp;
	}
}

void eyeballs_init(struct eyeballs *e, size_t n, unsigned stagger_ms, int64_t now_ms,
		   int64_t deadline_ms)
{
	*e = (struct eyeballs){
		.n = n,
		.next_ms = now_ms,
		.deadline_ms = deadline_ms,
		.stagger_ms = stagger_ms,
	};
}

enum eyeballs_step eyeballs_step(const struct eyeballs *e, int64_t now_ms, int *ret_wait_ms)
{
	if (now_ms >= e->deadline_ms)
		return EYEBALLS_TIMEOUT;
	if (e->next < e->n && (e->running == 0 || now_ms >= e->next_ms))
		return EYEBALLS_START;
	if (e->running == 0)
		return EYEBALLS_EXHAUSTED;
	int64_t until = e->deadline_ms;
	if (e->next < e->n && e->next_ms < until)
		until = e->next_ms;
	int64_t wait = until - now_ms;
	*ret_wait_ms = wait > 3600000 ? 3600000 : (int)wait;
	return EYEBALLS_WAIT;
}

void eyeballs_started(struct eyeballs *e, int64_t now_ms)
{
	e->next++;
	e->running++;
	e->next_ms = now_ms + e->stagger_ms;
}

void eyeballs_skipped(struct eyeballs *e, int64_t now_ms)
{
	e->next++;
	e->next_ms = now_ms;
}

void eyeballs_failed(struct eyeballs *e, int64_t now_ms)
{
	if (e->running > 0)
		e->running--;
	if (e->next_ms > now_ms)
		e->next_ms = now_ms;
}

static int rank(int err)
{
	switch (err) {
	case 0:
		return 0;
	case ECONNREFUSED:
		return 4;
	case ENETUNREACH:
	case ENETDOWN:
	case EHOSTUNREACH:
	case EHOSTDOWN:
		return 3;
	case ETIMEDOUT:
		return 1;
	default:
		return 2;
	}
}

int eyeballs_telling(int kept, int err)
{
	return rank(err) > rank(kept) ? err : kept;
}
