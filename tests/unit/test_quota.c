/* Unit tests for the session quotas: a seeded random sequence of acquires,
 * releases and connection-rate checks for many clients and users under
 * changing limits, against a plain model; then the edges one by one: the
 * rate window, limits lowered and raised at a reload, address keys, and the
 * bound of the counter table. */
#include "autoconf.h"

#include "quota.h"
#include "timeutil.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <stdint.h>
#include <string.h>
#include <sys/un.h>

static unsigned seed;

/* The test's clock. The releases read the real monotonic clock to free an
 * entry whose rate window has ended; starting far ahead of it keeps every
 * window the test opens running in the releases' eyes, so only the test's
 * own times decide (and an entry kept is what the model assumes). Each test
 * moves it on by more than a window, so no test sees another's windows. */
static int64_t now;

static void next_test(void)
{
	if (now == 0)
		now = monotonic_ms() + 1000000000;
	now += 10000;
}

static struct sockaddr_storage ss_a;

static const struct sockaddr *client(unsigned id)
{
	return unit_client(&ss_a, id, false, 50000);
}

/* ---- the random sequence ---- */

#define NCLIENTS 16
#define NUSERS 6

struct model {
	struct {
		unsigned active;
		bool window;		/* a rate window has been opened */
		int64_t start;
		unsigned count;
	} c[NCLIENTS];
	unsigned u[NUSERS];
	unsigned sessions;
};

static const char *const users[NUSERS] = { "alice", "bob", "carol", "c", "u", "Alice" };

static bool model_acquire(unsigned *active, unsigned max)
{
	if (max != 0 && *active >= max)
		return false;
	(*active)++;
	return true;
}

static bool model_rate(struct model *m, unsigned id, unsigned per_second, int64_t t)
{
	if (per_second == 0)
		return true;
	if (!m->c[id].window || t - m->c[id].start >= 1000) {
		m->c[id].window = true;
		m->c[id].start = t;
		m->c[id].count = 0;
	}
	if (m->c[id].count >= per_second)
		return false;
	m->c[id].count++;
	return true;
}

struct tally {
	unsigned refused, allowed, limited;
};

/* One random operation; returns false (after a failed CHECK) on a mismatch. */
static bool random_op(struct model *m, unsigned *rs, unsigned op, struct tally *n)
{
	struct sockaddr_storage ss;
	unsigned id = unit_below(rs, NCLIENTS), u = unit_below(rs, NUSERS);
	unsigned max = unit_below(rs, 4);
	const struct sockaddr *sa =
		unit_client(&ss, id, unit_below(rs, 2) == 0, (uint16_t)unit_below(rs, 65536));
	bool got = true, want = true;
	const char *what;

	switch (unit_below(rs, 14)) {
	case 0: case 1: case 2:
		what = "quota_client_acquire";
		want = model_acquire(&m->c[id].active, max);
		got = quota_client_acquire(sa, max);
		break;
	case 3: case 4:
		what = "quota_client_release";
		if (m->c[id].active > 0)	/* a spare release is ignored */
			m->c[id].active--;
		quota_client_release(sa);
		break;
	case 5: case 6:
		what = "quota_user_acquire";
		want = model_acquire(&m->u[u], max);
		got = quota_user_acquire(users[u], max);
		break;
	case 7:
		what = "quota_user_release";
		if (m->u[u] > 0)
			m->u[u]--;
		quota_user_release(users[u]);
		break;
	case 8:
		what = "quota_session_acquire";
		max = unit_below(rs, 6);
		want = model_acquire(&m->sessions, max);
		got = quota_session_acquire(max);
		break;
	case 9:
		what = "quota_session_release";
		if (m->sessions == 0)
			return true;	/* only paired releases: the counter is unsigned */
		m->sessions--;
		quota_session_release();
		break;
	default:
		what = "quota_rate";
		want = model_rate(m, id, max, now);
		got = quota_rate(sa, max, now);
		n->limited += !want;
		break;
	}
	n->refused += !want;
	n->allowed += want;
	if (got != want)
		CHECK(false, "seed %u, op %u: %s(client %u, user %s, max %u, now %+lld) is %d, the "
			     "model says %d",
		      seed, op, what, id, users[u], max, (long long)(now % 100000), got, want);
	return got == want;
}

/* Releases whatever the model still holds, then checks every counter is 0. */
static void release_all(const struct model *m)
{
	for (unsigned id = 0; id < NCLIENTS; id++)
		for (unsigned k = 0; k < m->c[id].active; k++)
			quota_client_release(client(id));
	for (unsigned u = 0; u < NUSERS; u++)
		for (unsigned k = 0; k < m->u[u]; k++)
			quota_user_release(users[u]);
	for (unsigned k = 0; k < m->sessions; k++)
		quota_session_release();
	for (unsigned id = 0; id < NCLIENTS; id++) {
		CHECK(quota_client_acquire(client(id), 1), "client %u still counted", id);
		quota_client_release(client(id));
	}
	for (unsigned u = 0; u < NUSERS; u++) {
		CHECK(quota_user_acquire(users[u], 1), "user %s still counted", users[u]);
		quota_user_release(users[u]);
	}
	CHECK(quota_session_acquire(1), "sessions still counted");
	quota_session_release();
}

static void test_random(void)
{
	static struct model m;
	struct tally n = { 0, 0, 0 };
	unsigned rs = seed, op;

	next_test();
	memset(&m, 0, sizeof(m));
	for (op = 0; op < 60000; op++) {
		now += unit_below(&rs, 40);
		if (!random_op(&m, &rs, op, &n))
			break;
	}
	CHECK(n.refused > 1000 && n.allowed > 1000 && n.limited > 500,
	      "seed %u: only %u refused (%u by rate), %u allowed", seed, n.refused, n.limited,
	      n.allowed);
	release_all(&m);
}

/* ---- one edge at a time ---- */

static void test_rate_window(void)
{
	next_test();
	const int64_t t = now;
	CHECK(quota_rate(client(0), 2, t), "first connection refused");
	CHECK(quota_rate(client(0), 2, t + 10), "second connection refused");
	CHECK(!quota_rate(client(0), 2, t + 20), "third connection allowed");
	CHECK(quota_rate(client(2), 2, t + 20), "another client refused");
	CHECK(!quota_rate(client(0), 2, t + 999), "the window ended early");
	/* The window opened at t ends at t + 1000; the next opens then. */
	CHECK(quota_rate(client(0), 2, t + 1000), "the window outlived 1000 ms");
	CHECK(quota_rate(client(0), 2, t + 1500), "second of the new window refused");
	CHECK(!quota_rate(client(0), 2, t + 1999), "third of the new window allowed");
	/* A reload: a lower limit refuses at once, a higher one allows more. */
	CHECK(!quota_rate(client(0), 1, t + 1999), "per_second lowered, still allowed");
	CHECK(quota_rate(client(0), 5, t + 1999), "per_second raised, still refused");
	/* 0 is off: always allowed, nothing counted. */
	for (int i = 0; i < 10; i++)
		CHECK(quota_rate(client(4), 0, t + i), "per_second 0 refused");
	CHECK(quota_rate(client(4), 1, t + 10), "connections uncounted at 0 were counted");
	CHECK(!quota_rate(client(4), 1, t + 10), "second connection allowed");
	/* Sessions do not count against the rate, nor the rate against sessions. */
	CHECK(quota_client_acquire(client(6), 1), "acquire refused");
	CHECK(quota_rate(client(6), 1, t), "a live session counted as a connection");
	CHECK(!quota_client_acquire(client(6), 1), "second session allowed");
	quota_client_release(client(6));
	CHECK(!quota_rate(client(6), 1, t + 1), "the release ended the rate window");
}

/* The bounds come from the config of the moment; the counts survive it. */
static void test_limits_at_reload(void)
{
	next_test();
	for (int i = 0; i < 3; i++)
		CHECK(quota_client_acquire(client(8), 0), "max 0 refused");
	CHECK(!quota_client_acquire(client(8), 3), "uncounted at max 0");
	CHECK(quota_client_acquire(client(8), 4), "4th session refused at max 4");
	quota_client_release(client(8));
	CHECK(!quota_client_acquire(client(8), 2), "3 sessions, max 2, allowed");
	quota_client_release(client(8));
	quota_client_release(client(8));
	CHECK(quota_client_acquire(client(8), 2), "1 session, max 2, refused");
	quota_client_release(client(8));
	quota_client_release(client(8));
	CHECK(quota_client_acquire(client(8), 1), "the releases were lost");
	quota_client_release(client(8));
	/* A release too many does not make room for later. */
	quota_client_release(client(8));
	CHECK(quota_client_acquire(client(8), 1), "first session refused");
	CHECK(!quota_client_acquire(client(8), 1), "a spare release made room");
	quota_client_release(client(8));

	for (int i = 0; i < 2; i++)
		CHECK(quota_user_acquire("dave", 0), "max 0 refused");
	CHECK(!quota_user_acquire("dave", 2), "uncounted at max 0");
	CHECK(quota_user_acquire("eve", 1), "another user refused");
	CHECK(quota_user_acquire("Dave", 1), "user names compared without case");
	quota_user_release("dave");
	CHECK(quota_user_acquire("dave", 2), "release lost");
	quota_user_release("dave");
	quota_user_release("dave");
	quota_user_release("eve");
	quota_user_release("Dave");

	CHECK(quota_session_acquire(0), "max 0 refused");
	CHECK(quota_session_acquire(0), "max 0 refused");
	CHECK(!quota_session_acquire(2), "uncounted at max 0");
	CHECK(quota_session_acquire(3), "3rd of 3 refused");
	CHECK(!quota_session_acquire(3), "4th of 3 allowed");
	for (int i = 0; i < 3; i++)
		quota_session_release();
	CHECK(quota_session_acquire(1), "releases lost");
	quota_session_release();
}

/* One client is one key however its address is written; user and client
 * keys never meet; other families are not limited. */
static void test_keys(void)
{
	struct sockaddr_storage a, b;

	next_test();
	CHECK(quota_client_acquire(unit_client(&a, 10, false, 1), 1), "IPv4 refused");
	CHECK(!quota_client_acquire(unit_client(&b, 10, true, 2), 1),
	      "the IPv4-mapped form is another client");
	CHECK(quota_client_acquire(client(12), 1), "a neighbour refused");
	CHECK(quota_client_acquire(client(11), 1), "an IPv6 address refused");
	quota_client_release(unit_client(&b, 10, true, 3));
	CHECK(quota_client_acquire(unit_client(&a, 10, false, 4), 1), "mapped release lost");
	quota_client_release(client(10));
	quota_client_release(client(11));
	quota_client_release(client(12));
	CHECK(quota_rate(unit_client(&a, 10, false, 1), 1, now), "rate refused");
	CHECK(!quota_rate(unit_client(&b, 10, true, 1), 1, now), "mapped rate is another window");

	/* A user named like anything is still a user. */
	CHECK(quota_client_acquire(client(14), 1), "client refused");
	CHECK(quota_user_acquire("10.0.0.7", 1), "a user named like the client refused");
	quota_user_release("10.0.0.7");
	quota_client_release(client(14));

	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	for (int i = 0; i < 3; i++) {
		CHECK(quota_client_acquire((struct sockaddr *)&su, 1), "AF_UNIX limited");
		CHECK(quota_rate((struct sockaddr *)&su, 1, now), "AF_UNIX rate-limited");
	}
	for (int i = 0; i < 3; i++)
		quota_client_release((struct sockaddr *)&su);
}

/* A full table lets new clients through uncounted rather than refuse them,
 * and frees ended windows when it needs room; live sessions are never lost. */
static void test_table_bound(void)
{
	const unsigned live = 2 * QUOTA_RATE_ENTRIES_MAX + 1;	/* an IPv6 id past the rest */

	next_test();
	const int64_t t = now;
	CHECK(quota_client_acquire(client(live), 0), "acquire refused");
	for (unsigned id = 0; id < QUOTA_RATE_ENTRIES_MAX - 1; id++)
		CU_ASSERT_FATAL(quota_rate(client(2 * id), 1, t));
	/* Full: a newcomer is let through every time, counted nowhere. */
	const unsigned newcomer = 2 * QUOTA_RATE_ENTRIES_MAX;
	for (int i = 0; i < 3; i++)
		CHECK(quota_rate(client(newcomer), 1, t + 999), "a newcomer was limited");
	/* Clients already there are still counted. */
	CHECK(!quota_rate(client(0), 1, t + 999), "a client's window was lost");
	CHECK(!quota_rate(client(2 * (QUOTA_RATE_ENTRIES_MAX - 2)), 1, t + 999),
	      "the last client's window was lost");
	/* Once the windows end, the sweep makes room: the newcomer is counted. */
	CHECK(quota_rate(client(newcomer), 1, t + 1000), "refused after the sweep");
	CHECK(!quota_rate(client(newcomer), 1, t + 1000), "not counted after the sweep");
	CHECK(quota_rate(client(0), 1, t + 1000), "an ended window still counted");
	CHECK(!quota_rate(client(0), 1, t + 1000), "client 0 not counted again");
	/* The live session survived the sweep. */
	CHECK(!quota_client_acquire(client(live), 1), "the sweep lost a live session");
	quota_client_release(client(live));
	CHECK(quota_client_acquire(client(live), 1), "release lost");
	quota_client_release(client(live));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "random acquires, releases and rates", test_random },
		{ "the rate window", test_rate_window },
		{ "limits lowered and raised at a reload", test_limits_at_reload },
		{ "address and user keys", test_keys },
		{ "the table bound", test_table_bound },
	};

	seed = unit_seed();
	return UNIT_RUN("quota", tests);
}
