/* Unit tests for the login-failure limiter: a seeded random sequence of
 * failures and checks from many addresses, under changing limits, against a
 * plain model (once within the table, once past its bound so that entries are
 * reused), then the edges one by one: window and block expiry, a reload that
 * turns blocking off, address keys, and which entry a full table gives up. */
#include "autoconf.h"

#include "addr.h"
#include "limiter.h"
#include "unit.h"

#include <CUnit/CUnit.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

static unsigned seed;

struct cfg {
	unsigned limit, window_ms, block_ms;
};

/* What the limiter should remember of one address. */
struct model {
	bool present;
	unsigned failures;
	bool blocked;
	int64_t window_start, since, last;
};

static bool model_blocked(const struct model *m, int64_t now, const struct cfg *c)
{
	return c->limit != 0 && m->present && m->blocked && now - m->since < (int64_t)c->block_ms;
}

static bool model_fail(struct model *m, int64_t now, const struct cfg *c)
{
	if (c->limit == 0)
		return false;
	if (!m->present)
		*m = (struct model){ .present = true, .window_start = now };
	if (now - m->window_start > (int64_t)c->window_ms) {
		m->window_start = now;
		m->failures = 0;
	}
	m->last = now;
	m->failures++;
	if (m->failures < c->limit || model_blocked(m, now, c))
		return false;
	m->blocked = true;
	m->since = now;
	m->window_start = now;
	m->failures = 0;
	return true;
}

struct run {
	struct model *m;
	unsigned nids;		/* client ids 0..nids-1 */
	size_t present;		/* entries the model holds */
	unsigned ops, step_max;	/* operations; time advances 0..step_max-1 ms (+1 if strict) */
	bool strict_time;	/* every operation at a later ms: no ties when reusing */
	unsigned starts, refusals, evictions, reloads;
};

/* The model of a full table: the address without a live block whose last
 * failure is oldest goes; when every one is blocked, the oldest block. */
static void model_make_room(struct run *r, int64_t now, const struct cfg *c)
{
	struct model *oldest = NULL, *oldest_block = NULL;

	if (r->present < LIMITER_SLOTS)
		return;
	for (unsigned i = 0; i < r->nids; i++) {
		struct model *m = &r->m[i];
		if (!m->present)
			continue;
		if (m->blocked && now - m->since < (int64_t)c->block_ms) {
			if (oldest_block == NULL || m->since < oldest_block->since)
				oldest_block = m;
		} else if (oldest == NULL || m->last < oldest->last) {
			oldest = m;
		}
	}
	if (oldest == NULL)
		oldest = oldest_block;
	oldest->present = false;
	r->present--;
	r->evictions++;
}

static void random_run(struct run *r, const struct cfg *cfgs, unsigned ncfgs)
{
	unsigned rs = seed;
	int64_t now = 1000000;
	const struct cfg *c = &cfgs[0];
	struct sockaddr_storage ss;

	limiter_reset();
	for (unsigned op = 0; op < r->ops; op++) {
		now += unit_below(&rs, r->step_max) + (r->strict_time ? 1 : 0);
		if (unit_below(&rs, 400) == 0) {
			c = &cfgs[unit_below(&rs, ncfgs)];	/* a reload */
			r->reloads++;
		}
		unsigned id = unit_below(&rs, r->nids);
		struct model *m = &r->m[id];
		bool mapped = unit_below(&rs, 2) == 0;
		const struct sockaddr *sa =
			unit_client(&ss, id, mapped, (uint16_t)unit_below(&rs, 65536));
		bool got, want;
		const char *what;
		if (unit_below(&rs, 3) != 0) {
			what = "limiter_fail";
			if (c->limit != 0 && !m->present) {
				model_make_room(r, now, c);
				r->present++;
			}
			want = model_fail(m, now, c);
			got = limiter_fail(sa, now, c->limit, c->window_ms, c->block_ms);
			r->starts += want;
		} else {
			what = "limiter_blocked";
			want = model_blocked(m, now, c);
			got = limiter_blocked(sa, now, c->limit, c->block_ms);
			r->refusals += want;
		}
		if (got != want) {
			CHECK(false, "seed %u, op %u: %s(client %u, now %lld, limit %u, window %u, "
				     "block %u) is %d, the model says %d",
			      seed, op, what, id, (long long)now, c->limit, c->window_ms,
			      c->block_ms, got, want);
			return;
		}
	}
}

static void test_random_within_table(void)
{
	static const struct cfg cfgs[] = {
		{ 3, 1000, 5000 }, { 1, 500, 2000 }, { 5, 3000, 1000 }, { 0, 1000, 5000 },
		{ 2, 0, 0 },	   { 4, 2000, 30000 },
	};
	/* Few addresses and short steps, so that windows hold several failures. */
	static struct model m[16];
	struct run r = { .m = m, .nids = 16, .ops = 40000, .step_max = 50 };

	memset(m, 0, sizeof(m));
	random_run(&r, cfgs, sizeof(cfgs) / sizeof(cfgs[0]));
	/* The sequence reached what it is meant to test. */
	CHECK(r.starts > 100 && r.refusals > 100 && r.reloads > 10,
	      "seed %u: only %u blocks, %u refusals, %u reloads", seed, r.starts, r.refusals,
	      r.reloads);
	limiter_reset();
}

static void test_random_past_the_bound(void)
{
	static const struct cfg cfgs[] = {
		{ 2, 100000, 1000000 }, { 3, 100000, 1000000 }, { 1, 50000, 60000 },
	};
	static struct model m[6000];
	struct run r = { .m = m, .nids = 6000, .ops = 20000, .step_max = 4, .strict_time = true };

	memset(m, 0, sizeof(m));
	random_run(&r, cfgs, sizeof(cfgs) / sizeof(cfgs[0]));
	CHECK(r.evictions > 1000 && r.starts > 100 && r.refusals > 100,
	      "seed %u: only %u entries reused, %u blocks, %u refusals", seed, r.evictions,
	      r.starts, r.refusals);
	limiter_reset();
}

static struct sockaddr_storage ss_a, ss_b;

static const struct sockaddr *client(unsigned id)
{
	return unit_client(&ss_a, id, false, 40000);
}

/* Failures count in a window opened by the first; past it they start over. */
static void test_window_expiry(void)
{
	limiter_reset();
	/* The third failure within 1000 ms (the boundary included) blocks. */
	CHECK(!limiter_fail(client(0), 0, 3, 1000, 5000), "first failure blocked");
	CHECK(!limiter_fail(client(0), 500, 3, 1000, 5000), "second failure blocked");
	CHECK(!limiter_blocked(client(0), 500, 3, 5000), "blocked after two failures");
	CHECK(limiter_fail(client(0), 1000, 3, 1000, 5000), "third failure at 1000 ms: no block");
	CHECK(limiter_blocked(client(0), 1000, 3, 5000), "not blocked after the third failure");
	/* 1 ms later the window has closed: the count starts over. */
	CHECK(!limiter_fail(client(2), 0, 3, 1000, 5000), "first failure blocked");
	CHECK(!limiter_fail(client(2), 500, 3, 1000, 5000), "second failure blocked");
	CHECK(!limiter_fail(client(2), 1001, 3, 1000, 5000), "3rd failure past the window: block");
	CHECK(!limiter_blocked(client(2), 1001, 3, 5000), "blocked though the window closed");
	CHECK(!limiter_fail(client(2), 1500, 3, 1000, 5000), "second failure of the new window");
	CHECK(limiter_fail(client(2), 2001, 3, 1000, 5000), "third failure of the new window");
	/* Another address is not touched. */
	CHECK(!limiter_blocked(client(4), 2001, 3, 5000), "a bystander is blocked");
	limiter_reset();
	CHECK(!limiter_blocked(client(0), 1000, 3, 5000), "limiter_reset() kept a block");
}

static void test_block_expiry(void)
{
	limiter_reset();
	CHECK(!limiter_fail(client(1), 100, 2, 1000, 5000), "first failure blocked");
	CHECK(limiter_fail(client(1), 200, 2, 1000, 5000), "second failure did not block");
	/* Failing while blocked starts no second block. */
	CHECK(!limiter_fail(client(1), 300, 2, 1000, 5000), "a blocked failure: a new block");
	CHECK(!limiter_fail(client(1), 400, 2, 1000, 5000), "a blocked failure: a new block");
	CHECK(limiter_blocked(client(1), 5199, 2, 5000), "block ended early");
	CHECK(!limiter_blocked(client(1), 5200, 2, 5000), "block outlived block_ms");
	/* After the block a new window needs the limit again. */
	CHECK(!limiter_fail(client(1), 7000, 2, 1000, 5000), "one failure after the block blocked");
	CHECK(limiter_fail(client(1), 7500, 2, 1000, 5000), "two failures after the block");
	CHECK(limiter_blocked(client(1), 12499, 2, 5000), "the new block is short");
	/* A shorter block_ms at a reload shortens blocks already running. */
	CHECK(!limiter_blocked(client(1), 8500, 2, 1000), "block_ms lowered, still blocked");
	CHECK(limiter_blocked(client(1), 8499, 2, 1000), "block_ms lowered, block ended early");
	limiter_reset();
}

/* limit 0 is "blocking off": blocks lift, and failures are not counted. */
static void test_reload_to_zero(void)
{
	limiter_reset();
	CHECK(!limiter_fail(client(3), 0, 2, 60000, 600000), "first failure blocked");
	CHECK(limiter_fail(client(3), 1, 2, 60000, 600000), "second failure did not block");
	CHECK(limiter_blocked(client(3), 2, 2, 600000), "not blocked");
	CHECK(!limiter_blocked(client(3), 2, 0, 600000), "limit 0 keeps the block");
	for (int64_t t = 0; t < 10; t++) {
		CHECK(!limiter_fail(client(5), t, 0, 60000, 600000), "limit 0 started a block");
		CHECK(!limiter_blocked(client(5), t, 0, 600000), "limit 0 blocks");
	}
	/* Those failures were not counted: with a limit again it takes two. */
	CHECK(!limiter_fail(client(5), 20, 2, 60000, 600000), "uncounted failures counted");
	CHECK(limiter_fail(client(5), 21, 2, 60000, 600000), "second failure did not block");
	limiter_reset();
}

/* One address is one entry whatever its form; other families are ignored. */
static void test_keys(void)
{
	limiter_reset();
	/* 10.0.0.3 (id 6) as IPv4 and as ::ffff:10.0.0.3, from different ports. */
	CHECK(!limiter_fail(unit_client(&ss_a, 6, false, 1), 0, 2, 1000, 5000), "blocked at once");
	CHECK(limiter_fail(unit_client(&ss_b, 6, true, 2), 1, 2, 1000, 5000),
	      "the IPv4-mapped form is another address");
	CHECK(limiter_blocked(unit_client(&ss_a, 6, false, 3), 2, 2, 5000), "IPv4 not blocked");
	CHECK(limiter_blocked(unit_client(&ss_b, 6, true, 4), 2, 2, 5000), "mapped not blocked");
	/* Neighbours and the IPv6 address with the same low bits are others. */
	CHECK(!limiter_blocked(client(8), 2, 2, 5000), "10.0.0.4 blocked");
	CHECK(!limiter_blocked(client(7), 2, 2, 5000), "2001:db8::7 blocked");

	struct sockaddr_un su;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	for (int64_t t = 0; t < 5; t++)
		CHECK(!limiter_fail((struct sockaddr *)&su, t, 1, 1000, 5000), "AF_UNIX blocked");
	CHECK(!limiter_blocked((struct sockaddr *)&su, 5, 1, 5000), "AF_UNIX blocked");
	limiter_reset();
}

/* A full table gives up the unblocked entry whose last failure is oldest and
 * nothing else; failing again keeps an entry fresh; blocked entries go last. */
static void test_table_bound(void)
{
	const unsigned limit = 2, window = 1000000, block = 1000000;
	int64_t t = 0;

	limiter_reset();
	CHECK(!limiter_fail(client(0), t++, limit, window, block), "first failure blocked");
	CHECK(limiter_fail(client(0), t++, limit, window, block), "client 0 not blocked");
	for (unsigned id = 1; id < LIMITER_SLOTS; id++)
		CU_ASSERT_FATAL(!limiter_fail(client(id), t++, limit, window, block));
	/* Full. Client 0's failure makes client 1 the oldest. */
	CHECK(!limiter_fail(client(0), t++, limit, window, block), "a blocked failure blocked");
	CHECK(!limiter_fail(client(LIMITER_SLOTS), t++, limit, window, block), "newcomer");
	CHECK(limiter_blocked(client(0), t, limit, block), "the refreshed entry was given up");
	/* Client 1 was forgotten: its next failure is a first one (and pushes out 2). */
	CHECK(!limiter_fail(client(1), t++, limit, window, block), "client 1 was remembered");
	CHECK(limiter_fail(client(1), t++, limit, window, block), "client 1 not blocked");
	CHECK(!limiter_fail(client(2), t++, limit, window, block), "client 2 was remembered");
	/* That pushed out client 3; client 5 is still there: its second failure blocks. */
	CHECK(!limiter_fail(client(3), t++, limit, window, block), "client 3 was remembered");
	CHECK(limiter_fail(client(5), t++, limit, window, block), "client 5 was forgotten");

	/* The oldest entry holds a block: it stays, the oldest unblocked one goes,
	 * however many other addresses fail (the attack of issue 11). */
	limiter_reset();
	CHECK(!limiter_fail(client(0), 0, limit, window, block), "first failure blocked");
	CHECK(limiter_fail(client(0), 1, limit, window, block), "client 0 not blocked");
	CHECK(!limiter_full(), "full after one address");
	for (unsigned id = 1; id <= 2 * LIMITER_SLOTS; id++)
		CU_ASSERT_FATAL(!limiter_fail(client(id), 1 + id, limit, window, block));
	CHECK(limiter_full(), "not full after twice the slots");
	CHECK(limiter_blocked(client(0), 2 * LIMITER_SLOTS + 2, limit, block),
	      "a full table gave up a live block");
	/* The newest unblocked entries are still there: a second failure blocks. */
	CHECK(limiter_fail(client(2 * LIMITER_SLOTS), 2 * LIMITER_SLOTS + 3, limit, window, block),
	      "the newest entry went");
	/* Once the block is over, the entry is an ordinary old one and goes. */
	CHECK(!limiter_fail(client(2 * LIMITER_SLOTS + 1), block + 10, limit, window, block),
	      "newcomer after the block");
	CHECK(!limiter_blocked(client(0), block + 11, limit, block), "the ended block stayed");

	/* Every entry blocked: the block that started first goes, and only it. */
	limiter_reset();
	for (unsigned id = 0; id < LIMITER_SLOTS; id++) {
		CU_ASSERT_FATAL(!limiter_fail(client(id), 2 * id, limit, window, block));
		CU_ASSERT_FATAL(limiter_fail(client(id), 2 * id + 1, limit, window, block));
	}
	int64_t now = 2 * LIMITER_SLOTS;
	CHECK(!limiter_fail(client(LIMITER_SLOTS), now, limit, window, block), "newcomer blocked");
	CHECK(!limiter_blocked(client(0), now + 1, limit, block), "the oldest block stayed");
	CHECK(limiter_blocked(client(1), now + 1, limit, block), "the second oldest block went");
	CHECK(limiter_blocked(client(LIMITER_SLOTS - 1), now + 1, limit, block),
	      "the newest block went");
	limiter_reset();
}

/* auth_block_exempt: failures from an exempt network are not counted and
 * never block, a block that started before the exemption stops counting
 * while it holds, and the exempt list has a bound. */
static void test_exempt(void)
{
	struct addr_net nets[LIMITER_EXEMPT_MAX + 1];
	struct sockaddr_storage mapped;
	const int64_t t = 1000;

	limiter_reset();
	CHECK_INT(addr_net_parse("10.0.0.0/31", &nets[0]), 0);	/* ids 0 and 2 */
	CHECK_INT(addr_net_parse("2001:db8::3", &nets[1]), 0);	/* id 3 */
	CHECK_INT(limiter_set_exempt(nets, 2), 0);
	CHECK(limiter_exempt(client(2)), "10.0.0.1 is not exempt");
	CHECK(limiter_exempt(unit_client(&mapped, 2, true, 1)), "::ffff:10.0.0.1 is not exempt");
	CHECK(limiter_exempt(client(3)), "2001:db8::3 is not exempt");
	CHECK(!limiter_exempt(client(4)) && !limiter_exempt(client(5)), "a bystander is exempt");
	for (int i = 0; i < 10; i++) {
		CHECK(!limiter_fail(client(0), t + i, 2, 60000, 600000), "exempt 10.0.0.0 blocked");
		CHECK(!limiter_fail(unit_client(&mapped, 2, true, 1), t + i, 2, 60000, 600000),
		      "exempt ::ffff:10.0.0.1 blocked");
		CHECK(!limiter_fail(client(3), t + i, 2, 60000, 600000), "exempt v6 blocked");
	}
	CHECK(!limiter_blocked(client(0), t + 10, 2, 600000), "an exempt address is blocked");
	CHECK(!limiter_blocked(client(3), t + 10, 2, 600000), "an exempt address is blocked");
	CHECK(!limiter_full(), "exempt failures took entries");
	/* Others block as before. */
	CHECK(!limiter_fail(client(4), t, 2, 60000, 600000), "first failure blocked");
	CHECK(limiter_fail(client(4), t + 1, 2, 60000, 600000), "10.0.0.2 not blocked");
	CHECK(!limiter_fail(client(5), t, 2, 60000, 600000), "first failure blocked");
	CHECK(limiter_fail(client(5), t + 1, 2, 60000, 600000), "2001:db8::5 not blocked");
	CHECK_INT(limiter_count_blocked(t + 2, 2, 600000), 2);
	CHECK_INT(limiter_count_blocked(t + 2, 0, 600000), 0);
	CHECK_INT(limiter_count_blocked(t + 600001, 2, 600000), 0);
	/* Exempting a blocked address (a reload) lifts its block while it is exempt. */
	CHECK_INT(addr_net_parse("10.0.0.2", &nets[2]), 0);
	CHECK_INT(limiter_set_exempt(nets, 3), 0);
	CHECK(!limiter_blocked(client(4), t + 2, 2, 600000), "exempted but still blocked");
	CHECK(limiter_blocked(client(5), t + 2, 2, 600000), "a bystander's block lifted");
	CHECK_INT(limiter_count_blocked(t + 2, 2, 600000), 1);
	/* Too many networks: refused, the list in force stays. */
	for (size_t i = 0; i <= LIMITER_EXEMPT_MAX; i++)
		nets[i] = nets[0];
	CHECK_INT(limiter_set_exempt(nets, LIMITER_EXEMPT_MAX + 1), -E2BIG);
	CHECK(limiter_exempt(client(4)), "a refused list replaced the one in force");
	CHECK_INT(limiter_set_exempt(nets, LIMITER_EXEMPT_MAX), 0);
	CHECK(!limiter_exempt(client(4)), "the new list is not in force");
	/* No list: everybody counts again, and a block still in its time holds. */
	CHECK_INT(limiter_set_exempt(NULL, 0), 0);
	CHECK(!limiter_exempt(client(0)), "an empty list exempts");
	CHECK(limiter_blocked(client(4), t + 3, 2, 600000), "the block did not come back");
	CHECK(!limiter_fail(client(0), t + 3, 2, 60000, 600000), "first failure blocked");
	CHECK(limiter_fail(client(0), t + 4, 2, 60000, 600000), "10.0.0.0 no longer counted");
	limiter_reset();
}

/* The control socket's view: limiter_list() shows exactly the live blocks
 * (not expired ones, none with limit 0), with their times; limiter_unblock()
 * lifts those inside a network, or all, and the lifted address starts afresh. */
static void test_list_and_unblock(void)
{
	const unsigned limit = 2, window = 10000, block = 5000;
	struct limiter_block b[4];
	struct addr_net net;

	limiter_reset();
	CHECK_INT(limiter_list(NULL, 0, 0, limit, block), 0);
	for (unsigned id = 0; id < 3; id++) {	/* 10.0.0.0, 2001:db8::1, 10.0.0.1 */
		CU_ASSERT_FATAL(!limiter_fail(client(id), 100 * id, limit, window, block));
		CU_ASSERT_FATAL(limiter_fail(client(id), 100 * id + 1, limit, window, block));
	}
	CU_ASSERT_FATAL(!limiter_fail(client(4), 400, limit, window, block)); /* one failure */
	CHECK_INT(limiter_list(b, 4, 500, limit, block), 3);
	CHECK_INT(b[0].since_ms, 1);
	CHECK_INT(b[0].until_ms, 5001);
	CHECK_INT(b[1].addr.family, AF_INET6);
	CHECK_INT(limiter_list(b, 1, 500, limit, block), 3);	/* counts past max */
	CHECK_INT(limiter_list(b, 4, 500, 0, block), 0);	/* blocking off */
	CHECK_INT(limiter_list(b, 4, 5001, limit, block), 2);	/* the first one ended */

	CU_ASSERT_FATAL(addr_net_parse("10.0.0.0/8", &net) == 0);
	CHECK_INT(limiter_unblock(&net, 600, block), 2);
	CHECK(!limiter_blocked(client(2), 600, limit, block), "10.0.0.1 still blocked");
	CHECK(limiter_blocked(client(1), 600, limit, block), "2001:db8::1 lifted");
	CHECK_INT(limiter_list(b, 4, 600, limit, block), 1);
	/* Lifted and forgotten: one failure does not block again, two do. */
	CHECK(!limiter_fail(client(2), 700, limit, window, block), "one failure blocked again");
	CHECK(limiter_fail(client(2), 701, limit, window, block), "two failures did not block");
	/* 10.0.0.2 had one failure: forgotten too, so its next is a first one. */
	CHECK(!limiter_fail(client(4), 702, limit, window, block), "its failure was kept");
	CHECK_INT(limiter_unblock(NULL, 800, block), 2);
	CHECK_INT(limiter_list(b, 4, 800, limit, block), 0);
	CHECK_INT(limiter_unblock(NULL, 800, block), 0);
	limiter_reset();
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "random failures and checks within the table", test_random_within_table },
		{ "random failures and checks past the table bound", test_random_past_the_bound },
		{ "the failure window", test_window_expiry },
		{ "block expiry and block_ms at a reload", test_block_expiry },
		{ "limit 0 at a reload lifts blocks", test_reload_to_zero },
		{ "address keys", test_keys },
		{ "listing and lifting blocks", test_list_and_unblock },
		{ "the table bound", test_table_bound },
		{ "exempt networks (auth_block_exempt)", test_exempt },
	};

	seed = unit_seed();
	return UNIT_RUN("limiter", tests);
}
