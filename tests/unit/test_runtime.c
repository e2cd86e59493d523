/* Unit tests for the sizing of the pool under the descriptor limit: the
 * automatic workers_max (two descriptors per idle relayed session plus pipes
 * for the streaming ones), the pipe budget that is left, and the relay's
 * choice between splice and copy for a pipe of a given size. */
#include "autoconf.h"

#include <limits.h>

#include "relay.h"
#include "runtime.h"
#include "unit.h"

/* What the automatic sizing must always leave: the reserve, the queue and
 * two descriptors per session, with the pipes the budget hands out. */
static void check_fits(rlim_t nofile, unsigned queue)
{
	unsigned w = runtime_workers_auto(nofile, queue, ULONG_MAX);
	unsigned pipes = runtime_pipes_for(nofile, queue, w);
	if (nofile < 64 + queue + 4)
		return;	/* nothing fits: at least one worker anyway */
	CHECK(64 + queue + 2 * (rlim_t)w + 2 * (rlim_t)pipes <= nofile,
	      "nofile %llu queue %u: %u workers and %u pipes do not fit",
	      (unsigned long long)nofile, queue, w, pipes);
	/* The headroom: one session in 40 streaming both ways (within rounding). */
	CHECK(w == 16384 || 2 * (rlim_t)pipes + 2 >= 4 * (rlim_t)w / 40,
	      "nofile %llu: %u pipes for %u workers", (unsigned long long)nofile, pipes, w);
}

static void test_this_machine(void)
{
	/* The hard limit of 20,000 that no process here can raise, and the
	 * default queue: 9,000 relayed sessions must fit. */
	unsigned w = runtime_workers_auto(20000, 1024, ULONG_MAX);
	CHECK(w >= 9000, "only %u workers at 20,000 descriptors", w);
	CHECK_INT(w, 9005);
	CHECK_INT(runtime_pipes_for(20000, 1024, w), 451);
	/* The shipped unit's LimitNOFILE=65536: the cap. */
	CHECK_INT(runtime_workers_auto(65536, 1024, ULONG_MAX), 16384);
	/* The old default (six descriptors per session) gave 3,152 here. */
	CHECK(runtime_workers_auto(20000, 1024, ULONG_MAX) > 3152, "no better than before");
}

static void test_caps(void)
{
	CHECK_INT(runtime_workers_auto(65536, 1024, 5000), 5000);
	CHECK_INT(runtime_workers_auto(20000, 1024, 0), 1);
	/* Too few descriptors for anything: still one worker, no pipes. */
	CHECK_INT(runtime_workers_auto(10, 1024, ULONG_MAX), 1);
	CHECK_INT(runtime_pipes_for(10, 1024, 1), 0);
	CHECK_INT(runtime_workers_auto(1024 + 64, 1024, ULONG_MAX), 1);
	/* A configured workers_max beyond what fits leaves no pipes. */
	CHECK_INT(runtime_pipes_for(20000, 1024, 9500), 0);
	CHECK_INT(runtime_pipes_for(20000, 1024, 9456), 0);
	CHECK_INT(runtime_pipes_for(20000, 1024, 9455), 1);
}

static void test_many_limits(void)
{
	static const unsigned queues[] = { 1, 16, 1024, 5000 };
	for (rlim_t nofile = 64; nofile < 200000; nofile = nofile * 5 / 4 + 7)
		for (size_t q = 0; q < sizeof(queues) / sizeof(queues[0]); q++)
			check_fits(nofile, queues[q]);
	check_fits(1u << 20, 1024);
	/* More descriptors never mean fewer workers. */
	unsigned last = 0;
	for (rlim_t nofile = 1000; nofile < 50000; nofile += 97) {
		unsigned w = runtime_workers_auto(nofile, 1024, ULONG_MAX);
		CHECK(w >= last, "nofile %llu: %u workers, %u below it", (unsigned long long)nofile,
		      w, last);
		last = w;
	}
}

static void test_pipe_fits(void)
{
	CHECK(relay_pipe_fits(65536), "the default pipe");
	CHECK(relay_pipe_fits(1 << 20), "a large pipe");
	/* Past fs.pipe-user-pages-soft: two pages (one on older kernels). */
	CHECK(!relay_pipe_fits(8192), "an 8 KiB pipe spliced");
	CHECK(!relay_pipe_fits(4096), "a one-page pipe spliced");
	CHECK(!relay_pipe_fits(RELAY_CHUNK - 4096), "a pipe below a chunk spliced");
	CHECK(!relay_pipe_fits(-1), "F_GETPIPE_SZ failed, yet spliced");
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "9,000 sessions in 20,000 descriptors", test_this_machine },
		{ "caps and tiny limits", test_caps },
		{ "workers and pipes fit under many limits", test_many_limits },
		{ "a pipe too small for splice", test_pipe_fits },
	};

	return UNIT_RUN("runtime", tests);
}
