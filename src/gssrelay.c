/* The RFC 1961 section 5 relay behind gssrelay.h. Two directions, each with
 * one input buffer and at most one message held for output: up reads frames
 * from the client and holds the gss_unwrap of one, down reads plaintext from
 * the destination and holds its gss_wrap as one frame. Neither reads while it
 * holds a message, so memory stays bounded whatever the peers do. */
#include "autoconf.h"

#include "gssrelay.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "gssproto.h"

#define GSSRELAY_FRAME_MAX (GSSPROTO_HEADER_LEN + GSSPROTO_TOKEN_MAX)

struct gsess {
	gss_ctx_id_t ctx;
	bool conf;
	struct relay_stats *stats;
	struct gssrelay_why why;	/* of the failure, when there is one */
};

struct gdir {
	int in, out;
	bool up;		/* client -> dest: unwraps frames; else wraps plaintext */
	uint8_t *buf;		/* up: frames as read; down: plaintext as read */
	size_t cap;		/* up: one whole frame; down: the wrap size limit */
	size_t off, have;	/* up: unparsed bytes at buf + off */
	gss_buffer_desc msg;	/* held for out: up plaintext, down a token */
	uint8_t hdr[GSSPROTO_HEADER_LEN];	/* down: the frame header of msg */
	size_t sent;		/* of msg (down: of hdr and msg) */
	size_t plain_len;	/* down: the plaintext msg carries */
	bool eof, done;
};

static int gsess_fail(struct gsess *s, enum gssrelay_fault fault, OM_uint32 major,
		      OM_uint32 minor)
{
	s->why = (struct gssrelay_why){ .fault = fault, .major = major, .minor = minor };
	return fault == GSSRELAY_FAULT_FRAME || fault == GSSRELAY_FAULT_TRUNCATED ||
	       fault == GSSRELAY_FAULT_ABORT ? -EPROTO : -EBADMSG;
}

static bool gdir_held(const struct gdir *d)
{
	return d->msg.length > 0;
}

static void gdir_release(struct gdir *d)
{
	OM_uint32 minor;

	if (d->msg.value != NULL)
		(void)gss_release_buffer(&minor, &d->msg);
	d->msg = (gss_buffer_desc)GSS_C_EMPTY_BUFFER;
	d->sent = 0;
}

/* Up: unwraps the next whole frame into msg, unless one is held. An empty
 * message (the wrap of zero bytes) has nothing to pass on and is skipped.
 * Returns 0 (a message held, or no whole frame yet) or -EPROTO / -EBADMSG. */
static int up_next(struct gsess *s, struct gdir *d)
{
	while (!gdir_held(d) && d->have > 0) {
		struct gssproto_msg m;
		size_t len;
		OM_uint32 major, minor = 0;
		int conf_state = 0;
		gss_qop_t qop;
		enum gssproto_status st = gssproto_parse(d->buf + d->off, d->have, GSSPROTO_DATA,
							 &m, &len);
		if (st == GSSPROTO_NEED_MORE)
			return 0;
		if (st != GSSPROTO_OK)
			return gsess_fail(s, GSSRELAY_FAULT_FRAME, 0, 0);
		if (m.type == GSSPROTO_ABORT)
			return gsess_fail(s, GSSRELAY_FAULT_ABORT, 0, 0);
		gss_buffer_desc in = { .length = m.token_len, .value = (void *)m.token };
		major = gss_unwrap(&minor, s->ctx, &in, &d->msg, &conf_state, &qop);
		d->off += len;
		d->have -= len;
		/* Anything but COMPLETE, supplementary bits included: over TCP a
		 * duplicate, old or out-of-sequence token is an attack. */
		if (major != GSS_S_COMPLETE) {
			gdir_release(d);
			return gsess_fail(s, GSSRELAY_FAULT_UNWRAP, major, minor);
		}
		if (s->conf && !conf_state) {
			gdir_release(d);
			return gsess_fail(s, GSSRELAY_FAULT_WEAK, major, minor);
		}
		if (!gdir_held(d))
			gdir_release(d);
	}
	return 0;
}

/* Down: wraps the n bytes just read as the message to send. */
static int down_wrap(struct gsess *s, struct gdir *d, size_t n)
{
	gss_buffer_desc in = { .length = n, .value = d->buf };
	OM_uint32 major, minor = 0;
	int conf_state = 0;

	major = gss_wrap(&minor, s->ctx, s->conf, GSS_C_QOP_DEFAULT, &in, &conf_state, &d->msg);
	if (GSS_ERROR(major)) {
		gdir_release(d);
		return gsess_fail(s, GSSRELAY_FAULT_WRAP, major, minor);
	}
	/* Never send in the clear what was agreed to be encrypted; and a token
	 * over the limit gss_wrap_size_limit gave cannot be framed. */
	if ((s->conf && !conf_state) ||
	    gssproto_build_header(d->hdr, GSSPROTO_DATA, d->msg.length) == 0) {
		gdir_release(d);
		return gsess_fail(s, GSSRELAY_FAULT_WRAP, major, minor);
	}
	d->plain_len = n;
	d->sent = 0;
	return 0;
}

/* Reads what fits and turns it into a held message when it can. Returns the
 * bytes read, 0 (EOF or nothing yet) or a negative errno. */
static int gdir_read(struct gsess *s, struct gdir *d)
{
	ssize_t n;

	if (d->eof || gdir_held(d))
		return 0;
	if (d->up) {
		/* Not holding a message: what is left is less than one frame. */
		if (d->off > 0) {
			memmove(d->buf, d->buf + d->off, d->have);
			d->off = 0;
		}
		n = recv(d->in, d->buf + d->have, d->cap - d->have, 0);
	} else {
		n = recv(d->in, d->buf, d->cap, 0);
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0) {
		d->eof = true;
		return 0;
	}
	if (!d->up) {
		int r = down_wrap(s, d, (size_t)n);
		return r < 0 ? r : (int)n;
	}
	d->have += (size_t)n;
	int r = up_next(s, d);
	return r < 0 ? r : (int)n;
}

/* One send of what is held. Returns bytes sent, 0 when the socket is full,
 * or a negative errno. */
static ssize_t gdir_send(struct gdir *d)
{
	ssize_t n;

	if (d->up) {
		n = send(d->out, (uint8_t *)d->msg.value + d->sent, d->msg.length - d->sent,
			 MSG_NOSIGNAL);
	} else {
		struct iovec iov[2];
		struct msghdr mh = { .msg_iov = iov };
		if (d->sent < GSSPROTO_HEADER_LEN)
			iov[mh.msg_iovlen++] = (struct iovec){ d->hdr + d->sent,
							       GSSPROTO_HEADER_LEN - d->sent };
		size_t tok_off = d->sent < GSSPROTO_HEADER_LEN ? 0 : d->sent - GSSPROTO_HEADER_LEN;
		iov[mh.msg_iovlen++] = (struct iovec){ (uint8_t *)d->msg.value + tok_off,
						       d->msg.length - tok_off };
		n = sendmsg(d->out, &mh, MSG_NOSIGNAL);
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	return n;
}

/* Writes what it holds, then the next message up; passes EOF on when
 * drained. Returns 0 or a negative errno. */
static int gdir_write(struct gsess *s, struct gdir *d)
{
	while (gdir_held(d)) {
		size_t total = d->msg.length + (d->up ? 0 : GSSPROTO_HEADER_LEN);
		ssize_t n = gdir_send(d);
		if (n <= 0)
			return (int)n;
		d->sent += (size_t)n;
		if (d->up)
			relay_count(s->stats, true, (uint64_t)n);
		if (d->sent < total)
			continue;
		if (!d->up)
			relay_count(s->stats, false, d->plain_len);
		gdir_release(d);
		if (d->up) {
			int r = up_next(s, d);
			if (r < 0)
				return r;
		}
	}
	if (d->eof && !d->done) {
		/* The client may only stop between two messages. */
		if (d->have > 0)
			return gsess_fail(s, GSSRELAY_FAULT_TRUNCATED, 0, 0);
		d->done = true;
		/* ENOTCONN: the peer is already gone; the other direction will notice. */
		(void)shutdown(d->out, SHUT_WR);
	}
	return 0;
}

static short want_in(const struct gdir *d)
{
	return !d->eof && !gdir_held(d) ? POLLIN : 0;
}

static short want_out(const struct gdir *d)
{
	return gdir_held(d) ? POLLOUT : 0;
}

/* Gives each direction its buffer; the plaintext read from dest is cut to
 * what wraps into one 65535-byte token. Returns 0, -ENOMEM or -EBADMSG. */
static int gsess_init(struct gsess *s, struct gdir dirs[2], int client, int dest)
{
	OM_uint32 major, minor = 0, limit = 0;

	dirs[0] = (struct gdir){ .in = client, .out = dest, .up = true, .cap = GSSRELAY_FRAME_MAX,
				 .msg = GSS_C_EMPTY_BUFFER };
	dirs[1] = (struct gdir){ .in = dest, .out = client, .msg = GSS_C_EMPTY_BUFFER };
	major = gss_wrap_size_limit(&minor, s->ctx, s->conf, GSS_C_QOP_DEFAULT,
				    GSSPROTO_TOKEN_MAX, &limit);
	if (GSS_ERROR(major) || limit == 0)
		return gsess_fail(s, GSSRELAY_FAULT_WRAP, major, minor);
	dirs[1].cap = limit < GSSPROTO_TOKEN_MAX ? limit : GSSPROTO_TOKEN_MAX;
	if ((dirs[0].buf = malloc(dirs[0].cap)) == NULL ||
	    (dirs[1].buf = malloc(dirs[1].cap)) == NULL)
		return -ENOMEM;
	return 0;
}

/* Runs the direction out of fd i on its events, then relay_hang_up's rule. */
static int gsess_step(struct gsess *s, struct gdir dirs[2], int i, short rev, bool hung[2])
{
	struct gdir *d = &dirs[i];
	int r = 0;

	if (hung[i] && want_in(d)) {
		/* Unpolled: once its peer's FIN is in, a read returns data or
		 * EOF; one that makes no progress would spin. */
		r = gdir_read(s, d);
		if (r == 0 && !d->eof)
			d->eof = true;
	} else if (rev & (POLLIN | POLLHUP | POLLERR)) {
		r = gdir_read(s, d);
	}
	if (r >= 0)
		r = gdir_write(s, d);
	bool eof = false;
	if (r == 0)
		r = relay_hang_up(rev, dirs[1 - i].done, &hung[i], &eof);
	if (r == 0 && eof) {
		d->eof = true;
		r = gdir_write(s, d);
	}
	return r;
}

enum relay_end gssrelay_run(int client, int dest, gss_ctx_id_t ctx, bool conf,
			    unsigned idle_timeout_ms, struct relay_stats *stats, int *ret_err,
			    struct gssrelay_why *ret_why)
{
	struct gsess s = { .ctx = ctx, .conf = conf, .stats = stats };
	struct gdir dirs[2];
	enum relay_end end = RELAY_END_CLOSED;
	bool hung[2] = { false, false };	/* fd i hung up: no longer polled */
	struct relay_wait w;
	int r = gsess_init(&s, dirs, client, dest);

	relay_wait_init(&w, idle_timeout_ms, stats);

	while (r == 0 && !(dirs[0].done && dirs[1].done)) {
		struct pollfd p[2] = {
			{ .fd = hung[0] ? -1 : client,
			  .events = want_in(&dirs[0]) | want_out(&dirs[1]) },
			{ .fd = hung[1] ? -1 : dest,
			  .events = want_in(&dirs[1]) | want_out(&dirs[0]) },
		};
		bool unpolled = (hung[0] && want_in(&dirs[0])) || (hung[1] && want_in(&dirs[1]));
		int n = relay_wait_poll(&w, p, 2, unpolled, stats);
		if (n == -ETIMEDOUT) {
			end = RELAY_END_IDLE;
			break;
		}
		r = n < 0 ? n : 0;
		for (int i = 0; i < 2 && r == 0; i++)
			r = gsess_step(&s, dirs, i, p[i].revents, hung);
	}
	if (r < 0) {
		end = RELAY_END_ERROR;
		*ret_err = -r;
		if (ret_why != NULL)
			*ret_why = s.why;
	}
	for (int i = 0; i < 2; i++) {
		gdir_release(&dirs[i]);
		free(dirs[i].buf);
	}
	return end;
}
