/* The relay loop. Each direction owns a pipe (splice mode) or a buffer (copy
 * mode, the fallback when pipes or splice are unavailable). A direction reads
 * only while it has room and writes only while it holds data; EOF on its input
 * becomes shutdown(SHUT_WR) on its output once everything read is written. */
#include "autoconf.h"

#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_CHUNK (64 * 1024)

struct dir {
	int in, out;
	int pipe[2];		/* splice mode when pipe[0] >= 0 */
	char *buf;		/* copy mode */
	size_t off, pending;	/* bytes held, waiting for out */
	bool eof, done;
	bool full;		/* the pipe took no more though input was ready */
	struct relay_stats *stats;
	bool up;		/* counts as stats->up */
};

static void dir_init(struct dir *d, int in, int out, struct relay_stats *stats, bool up)
{
	d->in = in;
	d->out = out;
	d->pipe[0] = d->pipe[1] = -1;
	d->buf = NULL;
	d->off = d->pending = 0;
	d->eof = d->done = d->full = false;
	d->stats = stats;
	d->up = up;
	if (pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		d->pipe[0] = d->pipe[1] = -1;
}

static void dir_free(struct dir *d)
{
	if (d->pipe[0] >= 0) {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	free(d->buf);
}

/* Leaves splice mode; only called while the pipe is empty. Returns -ENOMEM or 0. */
static int dir_to_copy(struct dir *d)
{
	if (d->pipe[0] >= 0) {
		close(d->pipe[0]);
		close(d->pipe[1]);
		d->pipe[0] = d->pipe[1] = -1;
	}
	if (d->buf == NULL && (d->buf = malloc(RELAY_CHUNK)) == NULL)
		return -ENOMEM;
	return 0;
}

/* Reads what fits. Returns 0 (progress, EOF or nothing yet) or -errno. */
static int dir_read(struct dir *d)
{
	ssize_t n;

	if (d->eof || d->full || d->pending >= RELAY_CHUNK)
		return 0;
	if (d->pipe[0] >= 0) {
		n = splice(d->in, NULL, d->pipe[1], NULL, RELAY_CHUNK - d->pending,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINVAL && d->pending == 0) {
			int r = dir_to_copy(d);
			if (r < 0)
				return r;
			return dir_read(d);
		}
	} else {
		if (d->buf == NULL && dir_to_copy(d) < 0)
			return -ENOMEM;
		if (d->off > 0 && d->pending == 0)
			d->off = 0;
		/* After partial writes the held bytes can end at the buffer's end
		 * with room only in front: move them down. Otherwise recv() would
		 * be asked for 0 bytes, return 0, and that reads as EOF: the rest
		 * of the stream was silently dropped (seen when pipes ran out). */
		if (d->off > 0 && d->off + d->pending == RELAY_CHUNK) {
			memmove(d->buf, d->buf + d->off, d->pending);
			d->off = 0;
		}
		n = recv(d->in, d->buf + d->off + d->pending, RELAY_CHUNK - d->off - d->pending, 0);
	}
	if (n > 0)
		d->pending += (size_t)n;
	else if (n == 0)
		d->eof = true;
	else if (errno == EAGAIN && d->pending > 0 && d->pipe[0] >= 0)
		d->full = true;	/* pipe slots used up by small segments: wait for out */
	else if (errno != EAGAIN && errno != EINTR)
		return -errno;
	return 0;
}

/* Writes what it holds; passes EOF on when drained. Returns 0 or -errno. */
static int dir_write(struct dir *d)
{
	while (d->pending > 0) {
		ssize_t n;
		if (d->pipe[0] >= 0)
			n = splice(d->pipe[0], NULL, d->out, NULL, d->pending,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		else
			n = send(d->out, d->buf + d->off, d->pending, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		d->pending -= (size_t)n;
		d->full = false;
		relay_count(d->stats, d->up, (uint64_t)n);
		if (d->pipe[0] < 0)
			d->off = d->pending == 0 ? 0 : d->off + (size_t)n;
	}
	if (d->eof && !d->done) {
		d->done = true;
		/* ENOTCONN: the peer is already gone; the other direction will notice. */
		(void)shutdown(d->out, SHUT_WR);
	}
	return 0;
}

/* The events this direction wants on its input and output fds. */
static short want_in(const struct dir *d)
{
	return !d->eof && !d->full && d->pending < RELAY_CHUNK ? POLLIN : 0;
}

static short want_out(const struct dir *d)
{
	return d->pending > 0 ? POLLOUT : 0;
}

void relay_wait_init(struct relay_wait *w, unsigned idle_timeout_ms,
		     const struct relay_stats *stats)
{
	*w = (struct relay_wait){ .idle_timeout_ms = idle_timeout_ms,
				  .quiet_done = stats->on_quiet == NULL };
}

int relay_wait_poll(struct relay_wait *w, struct pollfd *p, nfds_t n, bool now,
		    struct relay_stats *stats)
{
	for (;;) {
		int wait = now ? 0 : w->idle_timeout_ms > 0 ?
			   (int)(w->idle_timeout_ms - w->waited) : -1;
		/* The first quiet spell of RELAY_QUIET_MS runs on_quiet once. */
		bool to_quiet = !now && !w->quiet_done && (wait < 0 || wait > RELAY_QUIET_MS);
		if (to_quiet)
			wait = RELAY_QUIET_MS;
		int k = poll(p, n, wait);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0 && to_quiet) {
			stats->on_quiet();
			w->quiet_done = true;
			w->waited = RELAY_QUIET_MS;	/* the idle timeout keeps counting */
			continue;
		}
		w->waited = 0;
		return k == 0 && !now ? -ETIMEDOUT : k;
	}
}

int relay_hang_up(short rev, bool other_done, bool *hung, bool *ret_eof)
{
	/* Hung up or reset while the direction out of it did not ask for
	 * POLLIN (it is full, or EOF was read). poll() reports that on every
	 * call whatever the events asked, so the fd must leave the set: the loop
	 * would spin and the idle timeout never fire. When the other direction
	 * still has to write to it, that write can never land: the session
	 * ends. A hang-up (both halves shut, after our own shutdown) can still
	 * hold unread bytes: they are read as room frees up, EOF after them. A
	 * reset holds nothing more: EOF now, and what this direction holds may
	 * still be delivered, under the idle timeout. */
	if (!(rev & (POLLHUP | POLLERR)) || (rev & POLLIN))
		return 0;
	*hung = true;
	if (!other_done)
		return (rev & POLLERR) ? -ECONNRESET : -EPIPE;
	if (rev & POLLERR)
		*ret_eof = true;
	return 0;
}

enum relay_end relay_run(int a, int b, unsigned idle_timeout_ms, struct relay_stats *stats,
			 int *ret_err)
{
	struct dir dirs[2];
	enum relay_end end = RELAY_END_CLOSED;
	bool hung[2] = { false, false };	/* fd i hung up: no longer polled */
	struct relay_wait w;
	int r = 0;

	dir_init(&dirs[0], a, b, stats, true);
	dir_init(&dirs[1], b, a, stats, false);
	relay_wait_init(&w, idle_timeout_ms, stats);

	while (!(dirs[0].done && dirs[1].done)) {
		struct pollfd p[2] = {
			{ .fd = hung[0] ? -1 : a, .events = want_in(&dirs[0]) | want_out(&dirs[1]) },
			{ .fd = hung[1] ? -1 : b, .events = want_in(&dirs[1]) | want_out(&dirs[0]) },
		};
		/* A hung-up fd is read without poll(): once its peer's FIN is in,
		 * a read never blocks, it returns data or EOF. */
		bool unpolled = (hung[0] && want_in(&dirs[0])) || (hung[1] && want_in(&dirs[1]));
		int n = relay_wait_poll(&w, p, 2, unpolled, stats);
		if (n == -ETIMEDOUT) {
			end = RELAY_END_IDLE;
			break;
		}
		if (n < 0) {
			r = n;
			break;
		}
		for (int i = 0; i < 2 && r == 0; i++) {
			struct dir *d = &dirs[i];
			short rev = p[i].revents;	/* p[i].fd == d->in */
			if (hung[i] && want_in(d)) {
				/* Unpolled: a read must make progress (data, EOF, or
				 * a full pipe); one that does not would spin. */
				size_t before = d->pending;
				r = dir_read(d);
				if (r == 0 && d->pending == before && !d->eof && !d->full)
					d->eof = true;
			} else if (rev & (POLLIN | POLLHUP | POLLERR)) {
				r = dir_read(d);
			}
			if (r == 0)
				r = dir_write(d);
			bool eof = false;
			if (r == 0)
				r = relay_hang_up(rev, dirs[1 - i].done, &hung[i], &eof);
			if (r == 0 && eof) {
				d->eof = true;
				r = dir_write(d);	/* passes EOF on if drained */
			}
		}
		if (r < 0)
			break;
	}
	if (r < 0) {
		end = RELAY_END_ERROR;
		*ret_err = -r;
	}
	dir_free(&dirs[0]);
	dir_free(&dirs[1]);
	return end;
}
