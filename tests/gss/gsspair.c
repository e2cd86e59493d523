/* Test driver for gssrelay_run, run by tests/integration/138-gssrelay.py in a
 * throwaway realm: an initiator context (from the ccache) and an acceptor one
 * (from the keytab) established in this process; the relay runs with the
 * acceptor's between a "client" wrapping and unwrapping with the initiator's
 * and a plain "destination", both on socketpairs, each side on two threads. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <sodium.h>

#include "gssproto.h"
#include "gssrelay.h"

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

/* One session's two ends. lock: the client's two threads share init. */
struct pair {
	gss_ctx_id_t init, acc;
	pthread_mutex_t lock;
};

static void die_gss(const char *what, OM_uint32 major, OM_uint32 minor)
{
	OM_uint32 m, ctx = 0;
	gss_buffer_desc text;

	fprintf(stderr, "%s failed: major %#x minor %u", what, major, minor);
	do {
		if (GSS_ERROR(gss_display_status(&m, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx,
						 &text)))
			break;
		fprintf(stderr, ": %.*s", (int)text.length, (char *)text.value);
		(void)gss_release_buffer(&m, &text);
	} while (ctx != 0);
	fputc('\n', stderr);
	exit(1);
}

/* Establishes both contexts, asking for what RFC 1961 clients ask for. */
static void pair_open(struct pair *p)
{
	gss_buffer_desc name_buf = { strlen(target), (void *)target };
	gss_buffer_desc to_acc = GSS_C_EMPTY_BUFFER, to_init = GSS_C_EMPTY_BUFFER;
	OM_uint32 major, minor, m, acc_major = GSS_S_CONTINUE_NEEDED, acc_flags = 0;
	OM_uint32 want = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG |
			 GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG;
	gss_name_t name;

	major = gss_import_name(&minor, &name_buf, GSS_C_NT_HOSTBASED_SERVICE, &name);
	if (GSS_ERROR(major))
		die_gss("gss_import_name", major, minor);
	p->init = p->acc = GSS_C_NO_CONTEXT;
	for (int round = 0; round < 4; round++) {
		major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &p->init, name,
					     GSS_C_NO_OID, want, 0, GSS_C_NO_CHANNEL_BINDINGS,
					     &to_init, NULL, &to_acc, NULL, NULL);
		(void)gss_release_buffer(&m, &to_init);
		if (GSS_ERROR(major))
			die_gss("gss_init_sec_context", major, minor);
		if (to_acc.length > 0) {
			acc_major = gss_accept_sec_context(&minor, &p->acc, GSS_C_NO_CREDENTIAL,
							   &to_acc, GSS_C_NO_CHANNEL_BINDINGS,
							   NULL, NULL, &to_init, &acc_flags, NULL,
							   NULL);
			(void)gss_release_buffer(&m, &to_acc);
			if (GSS_ERROR(acc_major))
				die_gss("gss_accept_sec_context", acc_major, minor);
		}
		if (major == GSS_S_COMPLETE)
			break;
	}
	(void)gss_release_name(&m, &name);
	if (major != GSS_S_COMPLETE || acc_major != GSS_S_COMPLETE) {
		fprintf(stderr, "context establishment did not complete\n");
		exit(1);
	}
	/* The replay and gap cases mean nothing without detection. */
	if ((acc_flags & (GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG)) !=
	    (GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG)) {
		fprintf(stderr, "acceptor flags %#x lack replay, sequence or conf\n", acc_flags);
		exit(1);
	}
	pthread_mutex_init(&p->lock, NULL);
}

static void pair_close(struct pair *p)
{
	OM_uint32 m;

	(void)gss_delete_sec_context(&m, &p->init, GSS_C_NO_BUFFER);
	(void)gss_delete_sec_context(&m, &p->acc, GSS_C_NO_BUFFER);
	pthread_mutex_destroy(&p->lock);
}

/* Appends one RFC 1961 data message: the wrap of msg[0..len) with conf_req. */
static size_t frame_wrap(struct pair *p, bool conf, const void *msg, size_t len, uint8_t *out)
{
	gss_buffer_desc in = { len, (void *)msg }, tok;
	OM_uint32 major, minor, m;

	pthread_mutex_lock(&p->lock);
	major = gss_wrap(&minor, p->init, conf, GSS_C_QOP_DEFAULT, &in, NULL, &tok);
	pthread_mutex_unlock(&p->lock);
	if (GSS_ERROR(major))
		die_gss("gss_wrap", major, minor);
	if (gssproto_build_header(out, GSSPROTO_DATA, tok.length) == 0) {
		fprintf(stderr, "a %zu-byte token cannot be framed\n", tok.length);
		exit(1);
	}
	size_t len_out = GSSPROTO_HEADER_LEN + tok.length;
	memcpy(out + GSSPROTO_HEADER_LEN, tok.value, tok.length);
	(void)gss_release_buffer(&m, &tok);	/* zeroes tok.length */
	return len_out;
}

/* xorshift32: the sizes of writes and reads, different in each run's seed. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* One thread's part. A tx job sends data (client: as messages wrapped with
 * conf, or raw when raw is set) and then shuts its write side (unless
 * keep_open); an rx job reads to EOF (client: unwrapping, expecting conf). */
struct job {
	void *(*fn)(void *);
	int fd;
	struct pair *pair;
	bool conf, raw, keep_open;
	const uint8_t *data;
	size_t len;
	sem_t *after;		/* tx: start once this job is done */
	uint32_t seed;
	/* results */
	crypto_hash_sha256_state sha;
	size_t got;
	bool clean;		/* rx: EOF came between messages, all tokens fine */
	sem_t done;
};

static bool send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* Returns n, 0 on EOF before the first byte, -1 on EOF inside or an error. */
static ssize_t recv_exact(int fd, uint8_t *p, size_t n)
{
	size_t have = 0;

	while (have < n) {
		ssize_t k = recv(fd, p + have, n - have, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k == 0 && have == 0 ? 0 : -1;
		have += (size_t)k;
	}
	return (ssize_t)n;
}

static void job_end(struct job *j, bool shut)
{
	if (shut && !j->keep_open)
		(void)shutdown(j->fd, SHUT_WR);
	sem_post(&j->done);
}

static void job_wait_turn(struct job *j)
{
	if (j->after != NULL)
		while (sem_wait(j->after) < 0 && errno == EINTR)
			;
}

/* Client tx: messages of random sizes, each written in one to three pieces. */
static void *client_tx(void *arg)
{
	struct job *j = arg;
	uint8_t frame[GSSPROTO_HEADER_LEN + GSSPROTO_TOKEN_MAX];
	OM_uint32 minor, limit;
	bool ok = true;

	job_wait_turn(j);
	if (j->raw) {
		ok = send_all(j->fd, j->data, j->len);
		job_end(j, ok);
		return NULL;
	}
	if (GSS_ERROR(gss_wrap_size_limit(&minor, j->pair->init, j->conf, GSS_C_QOP_DEFAULT,
					  GSSPROTO_TOKEN_MAX, &limit)))
		limit = 1024;
	for (size_t off = 0; ok && off < j->len;) {
		size_t n = 1 + rnd(&j->seed) % (rnd(&j->seed) % 4 == 0 ? 512 : limit);
		if (n > j->len - off)
			n = j->len - off;
		size_t flen = frame_wrap(j->pair, j->conf, j->data + off, n, frame);
		size_t cut = rnd(&j->seed) % 3 == 0 ? rnd(&j->seed) % flen : flen;
		ok = send_all(j->fd, frame, cut) && send_all(j->fd, frame + cut, flen - cut);
		off += n;
	}
	job_end(j, ok);
	return NULL;
}

/* Client rx: unwraps each message and checks it was protected as agreed. */
static void *client_rx(void *arg)
{
	struct job *j = arg;
	uint8_t frame[GSSPROTO_HEADER_LEN + GSSPROTO_TOKEN_MAX];
	struct gssproto_msg m;
	size_t hl;
	ssize_t k;

	j->clean = true;
	while ((k = recv_exact(j->fd, frame, GSSPROTO_HEADER_LEN)) > 0) {
		if (gssproto_parse_header(frame, GSSPROTO_HEADER_LEN, GSSPROTO_DATA, &m, &hl) !=
			    GSSPROTO_OK || m.type != GSSPROTO_DATA ||
		    recv_exact(j->fd, frame + hl, m.token_len) <= 0) {
			j->clean = false;
			break;
		}
		gss_buffer_desc in = { m.token_len, frame + hl }, out;
		OM_uint32 major, minor, mm;
		int conf_state = 0;
		pthread_mutex_lock(&j->pair->lock);
		major = gss_unwrap(&minor, j->pair->init, &in, &out, &conf_state, NULL);
		pthread_mutex_unlock(&j->pair->lock);
		if (major != GSS_S_COMPLETE || conf_state != j->conf || out.length == 0) {
			j->clean = false;
			break;
		}
		crypto_hash_sha256_update(&j->sha, out.value, out.length);
		j->got += out.length;
		(void)gss_release_buffer(&mm, &out);
	}
	if (k < 0)
		j->clean = false;
	job_end(j, false);
	return NULL;
}

/* Destination tx: plain writes of random sizes. */
static void *dest_tx(void *arg)
{
	struct job *j = arg;
	bool ok = true;

	job_wait_turn(j);
	for (size_t off = 0; ok && off < j->len;) {
		size_t n = 1 + rnd(&j->seed) % (128 * 1024);
		if (n > j->len - off)
			n = j->len - off;
		ok = send_all(j->fd, j->data + off, n);
		off += n;
	}
	job_end(j, ok);
	return NULL;
}

/* Destination rx: plain reads of random sizes, some small, to EOF. */
static void *dest_rx(void *arg)
{
	struct job *j = arg;
	uint8_t buf[128 * 1024];
	ssize_t k;

	while ((k = recv(j->fd, buf, 1 + rnd(&j->seed) % sizeof(buf), 0)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		crypto_hash_sha256_update(&j->sha, buf, (size_t)k);
		j->got += (size_t)k;
	}
	j->clean = k == 0;
	job_end(j, false);
	return NULL;
}

/* One relay run: the client's two jobs on one socketpair, the destination's
 * on another; jobs without fn do not run. */
struct rig {
	struct pair pair;
	struct job ctx, crx, dtx, drx;
	struct relay_stats stats;
	enum relay_end end;
	int err;
	struct gssrelay_why why;
};

static unsigned quiet_calls;

static void count_quiet(void)
{
	quiet_calls++;
}

static void rig_init(struct rig *r, uint32_t seed)
{
	memset(r, 0, sizeof(*r));
	pair_open(&r->pair);
	struct job *jobs[] = { &r->ctx, &r->crx, &r->dtx, &r->drx };
	for (size_t i = 0; i < 4; i++) {
		jobs[i]->pair = &r->pair;
		jobs[i]->seed = seed * 4 + (uint32_t)i + 1;
		crypto_hash_sha256_init(&jobs[i]->sha);
		sem_init(&jobs[i]->done, 0, 0);
	}
	r->err = -1;
}

static void set_nonblock(int fd)
{
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		perror("fcntl");
		exit(1);
	}
}

/* Runs the relay on the acceptor's context until it ends, then closes its
 * ends (the peers see EOF or EPIPE) and waits for the jobs. */
static void rig_run(struct rig *r, bool conf, unsigned idle_ms)
{
	int cs[2], ds[2];
	pthread_t t[4];
	struct job *jobs[] = { &r->ctx, &r->crx, &r->dtx, &r->drx };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ds) < 0) {
		perror("socketpair");
		exit(1);
	}
	set_nonblock(cs[0]);
	set_nonblock(ds[0]);
	r->ctx.fd = r->crx.fd = cs[1];
	r->dtx.fd = r->drx.fd = ds[1];
	for (size_t i = 0; i < 4; i++)
		if (jobs[i]->fn != NULL && pthread_create(&t[i], NULL, jobs[i]->fn, jobs[i]) != 0)
			exit(1);
	r->end = gssrelay_run(cs[0], ds[0], r->pair.acc, conf, idle_ms, &r->stats, &r->err,
			      &r->why);
	close(cs[0]);
	close(ds[0]);
	for (size_t i = 0; i < 4; i++)
		if (jobs[i]->fn != NULL)
			pthread_join(t[i], NULL);
	close(cs[1]);
	close(ds[1]);
}

static void rig_free(struct rig *r)
{
	struct job *jobs[] = { &r->ctx, &r->crx, &r->dtx, &r->drx };

	for (size_t i = 0; i < 4; i++)
		sem_destroy(&jobs[i]->done);
	pair_close(&r->pair);
}

static bool job_sha_is(struct job *j, const uint8_t *data, size_t len)
{
	unsigned char got[crypto_hash_sha256_BYTES], want[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_final(&j->sha, got);
	crypto_hash_sha256(want, data, len);
	return j->got == len && memcmp(got, want, sizeof(got)) == 0;
}

static uint8_t *bulk_up, *bulk_down;

/* Both ways at once, each BULK bytes: the hashes and the counts hold. */
static void test_bulk(bool conf)
{
	int start = failures;
	struct rig r;

	rig_init(&r, conf ? 11 : 10);
	r.ctx.fn = client_tx;
	r.ctx.conf = conf;
	r.ctx.data = bulk_up;
	r.ctx.len = BULK;
	r.crx.fn = client_rx;
	r.crx.conf = conf;
	r.dtx.fn = dest_tx;
	r.dtx.data = bulk_down;
	r.dtx.len = BULK;
	r.drx.fn = dest_rx;
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

	rig_init(&r, client_first ? 20 : 21);
	r.ctx.fn = client_tx;
	r.ctx.conf = conf;
	r.ctx.data = bulk_up;
	r.ctx.len = HALF;
	r.crx.fn = client_rx;
	r.crx.conf = conf;
	r.dtx.fn = dest_tx;
	r.dtx.data = bulk_down;
	r.dtx.len = HALF;
	r.drx.fn = dest_rx;
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

	rig_init(&r, 30 + c);
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

	rig_init(&r, 40);
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

	rig_init(&r, 50);
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
