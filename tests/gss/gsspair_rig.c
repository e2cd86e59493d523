/* The gsspair driver's machinery (gsspair.h): both contexts of a session
 * established in-process, the client's threads (wrapping and unwrapping with
 * the initiator's context under one lock) and the destination's (plain), and
 * one gssrelay_run between them over socketpairs. */
#include "autoconf.h"

#include "gsspair.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gssproto.h"

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
static void pair_open(struct pair *p, const char *target)
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
size_t frame_wrap(struct pair *p, bool conf, const void *msg, size_t len, uint8_t *out)
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
void *client_tx(void *arg)
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
void *client_rx(void *arg)
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
void *dest_tx(void *arg)
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
void *dest_rx(void *arg)
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

void rig_init(struct rig *r, const char *target, uint32_t seed)
{
	memset(r, 0, sizeof(*r));
	pair_open(&r->pair, target);
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
void rig_run(struct rig *r, bool conf, unsigned idle_ms)
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

void rig_free(struct rig *r)
{
	struct job *jobs[] = { &r->ctx, &r->crx, &r->dtx, &r->drx };

	for (size_t i = 0; i < 4; i++)
		sem_destroy(&jobs[i]->done);
	pair_close(&r->pair);
}

bool job_sha_is(struct job *j, const uint8_t *data, size_t len)
{
	unsigned char got[crypto_hash_sha256_BYTES], want[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_final(&j->sha, got);
	crypto_hash_sha256(want, data, len);
	return j->got == len && memcmp(got, want, sizeof(got)) == 0;
}