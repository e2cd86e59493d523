/* Test driver for gssrelay_run, run by tests/integration/140-gssrelay.py in a
 * throwaway realm: each case establishes a session's contexts in-process and
 * runs the relay on the acceptor's between a client that wraps and unwraps
 * with the initiator's and a plain destination (gsspair_rig.c). Prints one
 * "ok" or "not ok" line per case; exits 0 when every case passed. */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gsspair.h"
#include "gssproto.h"

#define BULK (16u << 20)
#define HALF (1u << 20)
#define IDLE_MS 10000	/* a relay that missed an ending shows as IDLE, not a hang */

static int failures;
#define EXPECT(ok, ...)                                                                  \
	do {                                                                             \
		if (!(ok)) {                                                             \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);             \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                             \
			failures++;                                                      \
		}                                                                        \
	} while (0)

/* Prints the case's result: "ok" only when no EXPECT failed since start. */
static void report(int start, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int start, const char *fmt, ...)
{
	va_list ap;

	fputs(failures == start ? "ok " : "not ok ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static const char *target;	/* the acceptor's service@host */
static unsigned quiet_calls;

static void count_quiet(void)
{
	quiet_calls++;
}

static uint8_t *bulk_up, *bulk_down;

/* Sets all four jobs: up_len bytes of bulk_up from the client, down_len of
 * bulk_down from the destination, messages wrapped with conf both ways. */
static void rig_both_ways(struct rig *r, bool conf, size_t up_len, size_t down_len)
{
	r->ctx.fn = client_tx;
	r->ctx.conf = conf;
	r->ctx.data = bulk_up;
	r->ctx.len = up_len;
	r->crx.fn = client_rx;
	r->crx.conf = conf;
	r->dtx.fn = dest_tx;
	r->dtx.data = bulk_down;
	r->dtx.len = down_len;
	r->drx.fn = dest_rx;
}

/* Both ways at once, each BULK bytes: the hashes and the counts hold. */
static void test_bulk(bool conf)
{
	int start = failures;
	struct rig r;

	rig_init(&r, target, conf ? 11 : 10);
	rig_both_ways(&r, conf, BULK, BULK);
	rig_run(&r, conf, IDLE_MS);
	EXPECT(r.end == RELAY_END_CLOSED, "conf %d: end %d err %d", conf, r.end, r.err);
	EXPECT(job_sha_is(&r.drx, bulk_up, BULK) && r.drx.clean, "conf %d: up %zu bytes, "
	       "sha256 differs or no EOF", conf, r.drx.got);
	EXPECT(job_sha_is(&r.crx, bulk_down, BULK) && r.crx.clean, "conf %d: down %zu bytes, "
	       "sha256 differs or a bad message", conf, r.crx.got);
	EXPECT(r.stats.up == BULK && r.stats.down == BULK, "stats %ju/%ju",
	       (uintmax_t)r.stats.up, (uintmax_t)r.stats.down);
	rig_free(&r);
	report(start, "bulk conf=%d: %u bytes each way", conf, BULK);
}

/* One side sends and shuts; the other sees all of it and EOF, and only then
 * sends its own: the relay must pass the first EOF on and keep the other
 * direction going. */
static void test_half_close(bool client_first, bool conf)
{
	int start = failures;
	struct rig r;

	rig_init(&r, target, client_first ? 20 : 21);
	rig_both_ways(&r, conf, HALF, HALF);
	if (client_first)
		r.dtx.after = &r.drx.done;
	else
		r.ctx.after = &r.crx.done;
	rig_run(&r, conf, IDLE_MS);
	EXPECT(r.end == RELAY_END_CLOSED, "client_first %d: end %d err %d", client_first, r.end,
	       r.err);
	EXPECT(job_sha_is(&r.drx, bulk_up, HALF) && r.drx.clean, "client_first %d: up %zu",
	       client_first, r.drx.got);
	EXPECT(job_sha_is(&r.crx, bulk_down, HALF) && r.crx.clean, "client_first %d: down %zu",
	       client_first, r.crx.got);
	rig_free(&r);
	report(start, "half-close, %s first", client_first ? "client" : "destination");
}

/* The client's bytes, built before the relay runs. */
struct script {
	uint8_t buf[3 * (GSSPROTO_HEADER_LEN + GSSPROTO_TOKEN_MAX)];
	size_t len;
};

static void put(struct script *sc, const void *p, size_t n)
{
	memcpy(sc->buf + sc->len, p, n);
	sc->len += n;
}

static void put_msg(struct script *sc, struct pair *p, bool conf, const char *text)
{
	sc->len += frame_wrap(p, conf, text, strlen(text), sc->buf + sc->len);
}

/* A header claiming len bytes, then fill bytes of junk. */
static void put_junk(struct script *sc, size_t len, size_t fill)
{
	uint8_t hdr[GSSPROTO_HEADER_LEN] = { GSSPROTO_VERSION, GSSPROTO_DATA, len >> 8, len };

	put(sc, hdr, sizeof(hdr));
	randombytes_buf(sc->buf + sc->len, fill);
	sc->len += fill;
}

enum bad_case {
	BAD_TOKEN, BAD_ABORT, BAD_TRUNCATED, BAD_OVERSIZE, BAD_ZERO_LEN, BAD_VERSION,
	BAD_TYPE, BAD_WEAK, BAD_REPLAY, BAD_GAP,
};

struct bad {
	const char *name;
	int err;
	enum gssrelay_fault fault;
	OM_uint32 major_bit;	/* a bit the GSS major status must carry, or 0 */
	const char *passed;	/* what reaches the destination before the fault */
};

static const struct bad bads[] = {
	[BAD_TOKEN] = { "bogus token", EBADMSG, GSSRELAY_FAULT_UNWRAP, 0, "hello" },
	[BAD_ABORT] = { "abort", EPROTO, GSSRELAY_FAULT_ABORT, 0, "hello" },
	[BAD_TRUNCATED] = { "truncated frame", EPROTO, GSSRELAY_FAULT_TRUNCATED, 0, "hello" },
	[BAD_OVERSIZE] = { "oversize length", EBADMSG, GSSRELAY_FAULT_UNWRAP, 0, "hello" },
	[BAD_ZERO_LEN] = { "zero length", EPROTO, GSSRELAY_FAULT_FRAME, 0, "hello" },
	[BAD_VERSION] = { "bad version", EPROTO, GSSRELAY_FAULT_FRAME, 0, "hello" },
	[BAD_TYPE] = { "bad type", EPROTO, GSSRELAY_FAULT_FRAME, 0, "hello" },
	[BAD_WEAK] = { "integrity-only token, confidentiality session", EBADMSG,
		       GSSRELAY_FAULT_WEAK, 0, "hello" },
	[BAD_REPLAY] = { "replayed token", EBADMSG, GSSRELAY_FAULT_UNWRAP,
			 GSS_S_DUPLICATE_TOKEN, "hello" },
	[BAD_GAP] = { "missing token", EBADMSG, GSSRELAY_FAULT_UNWRAP, GSS_S_GAP_TOKEN,
		      "hello" },
};

/* Builds case c after a good "hello"; returns whether the client shuts after. */
static bool bad_script(struct script *sc, struct pair *p, enum bad_case c)
{
	static const uint8_t abort_msg[] = { GSSPROTO_VERSION, GSSPROTO_ABORT };
	uint8_t scratch[GSSPROTO_HEADER_LEN + GSSPROTO_TOKEN_MAX];
	size_t start = sc->len, n;

	put_msg(sc, p, true, "hello");
	switch (c) {
	case BAD_TOKEN:
		put_junk(sc, 100, 100);
		break;
	case BAD_ABORT:
		put(sc, abort_msg, sizeof(abort_msg));
		break;
	case BAD_TRUNCATED:
		put_junk(sc, 100, 50);
		return true;
	case BAD_OVERSIZE:
		/* The longest length there is, over a good token and junk. */
		n = frame_wrap(p, true, "x", 1, scratch) - GSSPROTO_HEADER_LEN;
		put_junk(sc, GSSPROTO_TOKEN_MAX, GSSPROTO_TOKEN_MAX);
		memcpy(sc->buf + sc->len - GSSPROTO_TOKEN_MAX, scratch + GSSPROTO_HEADER_LEN, n);
		break;
	case BAD_ZERO_LEN:
		put_junk(sc, 0, 0);
		break;
	case BAD_VERSION:
		n = sc->len;
		put_msg(sc, p, true, "world");
		sc->buf[n] = 0x05;	/* SOCKS5's, say */
		break;
	case BAD_TYPE:
		n = sc->len;
		put_msg(sc, p, true, "world");
		sc->buf[n + 1] = GSSPROTO_PROTECTION;
		break;
	case BAD_WEAK:
		put_msg(sc, p, false, "weak");
		break;
	case BAD_REPLAY:
		put(sc, sc->buf + start, sc->len - start);
		break;
	case BAD_GAP:
		(void)frame_wrap(p, true, "lost", 4, scratch);
		put_msg(sc, p, true, "after the gap");
		break;
	}
	return false;
}

/* Each bad case ends the relay with its errno and fault, after the good
 * message before it reached the destination and nothing after it. */
static void test_bad(enum bad_case c)
{
	int start = failures;
	const struct bad *b = &bads[c];
	static struct script sc;
	struct rig r;

	rig_init(&r, target, 30 + c);
	sc.len = 0;
	r.ctx.keep_open = !bad_script(&sc, &r.pair, c);
	r.ctx.fn = client_tx;
	r.ctx.raw = true;
	r.ctx.data = sc.buf;
	r.ctx.len = sc.len;
	r.drx.fn = dest_rx;
	rig_run(&r, true, IDLE_MS);
	EXPECT(r.end == RELAY_END_ERROR && r.err == b->err && r.why.fault == b->fault,
	       "%s: end %d err %d (%s) fault %d, expected error %d fault %d", b->name, r.end,
	       r.err, strerror(r.err), r.why.fault, b->err, b->fault);
	EXPECT((r.why.major & b->major_bit) == b->major_bit, "%s: major %#x lacks %#x", b->name,
	       r.why.major, b->major_bit);
	EXPECT(b->fault != GSSRELAY_FAULT_UNWRAP || r.why.major != GSS_S_COMPLETE,
	       "%s: no GSS status", b->name);
	EXPECT(job_sha_is(&r.drx, (const uint8_t *)b->passed, strlen(b->passed)),
	       "%s: the destination got %zu bytes, expected \"%s\"", b->name, r.drx.got,
	       b->passed);
	EXPECT(r.stats.up == strlen(b->passed) && r.stats.down == 0, "%s: stats %ju/%ju",
	       b->name, (uintmax_t)r.stats.up, (uintmax_t)r.stats.down);
	rig_free(&r);
	report(start, "%s: %s, fault %d, major %#x", b->name, strerror(r.err), r.why.fault,
	       r.why.major);
}

/* An integrity session takes an encrypted token (it is integrity-protected
 * too) and skips an empty message. */
static void test_integrity_takes_conf(void)
{
	int start = failures;
	static struct script sc;
	struct rig r;

	rig_init(&r, target, 40);
	sc.len = 0;
	put_msg(&sc, &r.pair, true, "");
	put_msg(&sc, &r.pair, true, "sealed");
	put_msg(&sc, &r.pair, false, " and signed");
	r.ctx.fn = client_tx;
	r.ctx.raw = true;
	r.ctx.data = sc.buf;
	r.ctx.len = sc.len;
	r.crx.fn = client_rx;
	r.dtx.fn = dest_tx;	/* sends nothing, shuts */
	r.drx.fn = dest_rx;
	rig_run(&r, false, IDLE_MS);
	EXPECT(r.end == RELAY_END_CLOSED, "end %d err %d", r.end, r.err);
	EXPECT(job_sha_is(&r.drx, (const uint8_t *)"sealed and signed", 17) && r.drx.clean,
	       "the destination got %zu bytes", r.drx.got);
	rig_free(&r);
	report(start, "integrity session: encrypted and empty messages");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nothing moves: on_quiet once after RELAY_QUIET_MS, IDLE at the timeout. */
static void test_idle(void)
{
	int start = failures;
	struct rig r;
	unsigned idle = RELAY_QUIET_MS + 300;

	rig_init(&r, target, 50);
	r.crx.fn = client_rx;
	r.drx.fn = dest_rx;
	r.stats.on_quiet = count_quiet;
	quiet_calls = 0;
	int64_t t0 = now_ms();
	rig_run(&r, true, idle);
	int64_t took = now_ms() - t0;
	EXPECT(r.end == RELAY_END_IDLE, "end %d err %d", r.end, r.err);
	EXPECT(quiet_calls == 1, "on_quiet ran %u times", quiet_calls);
	EXPECT(took >= idle && took < idle + 2000, "idle after %jd ms, timeout %u", (intmax_t)took,
	       idle);
	EXPECT(r.crx.clean && r.crx.got == 0, "the client got %zu bytes", r.crx.got);
	rig_free(&r);
	report(start, "idle timeout after %jd ms", (intmax_t)took);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SERVICE@HOST (KRB5_CONFIG, KRB5CCNAME and "
			"KRB5_KTNAME set)\n", argv[0]);
		return 2;
	}
	target = argv[1];
	if (sodium_init() < 0 || (bulk_up = malloc(BULK)) == NULL ||
	    (bulk_down = malloc(BULK)) == NULL)
		return 1;
	static const unsigned char seed_up[randombytes_SEEDBYTES] = "gsspair up";
	static const unsigned char seed_down[randombytes_SEEDBYTES] = "gsspair down";
	randombytes_buf_deterministic(bulk_up, BULK, seed_up);
	randombytes_buf_deterministic(bulk_down, BULK, seed_down);

	test_bulk(false);
	test_bulk(true);
	test_half_close(true, true);
	test_half_close(false, false);
	for (enum bad_case c = BAD_TOKEN; c <= BAD_GAP; c++)
		test_bad(c);
	test_integrity_takes_conf();
	test_idle();

	free(bulk_up);
	free(bulk_down);
	printf("%s: %d failed\n", argv[0], failures);
	return failures == 0 ? 0 : 1;
}
