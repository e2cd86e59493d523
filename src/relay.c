/* The relay loop. A direction starts light: no pipe, and a small buffer only
 * while it holds bytes, so an idle session holds just its two sockets. A read
 * that fills the small buffer shows a stream: the direction takes a pipe for
 * splice() (a copy buffer when no full-size pipe can be had) and gives it back
 * once it has been empty for RELAY_RELEASE_MS. EOF on a direction's input
 * becomes shutdown(SHUT_WR) on its output once everything read is written. */
#include "autoconf.h"

#include "relay.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum dir_mode {
	DIR_LIGHT,	/* recv() into a RELAY_SMALL buffer, taken while bytes are held */
	DIR_SPLICE,	/* splice() through a pipe */
	DIR_COPY,	/* recv()/send() through a RELAY_CHUNK buffer */
};

struct dir {
	int in, out;
	enum dir_mode mode;
	int pipe[2];		/* DIR_SPLICE */
	size_t piped;		/* bytes in the pipe */
	bool full;		/* the pipe took no more though input was ready */
	char *buf;		/* NULL while a light direction holds nothing */
	size_t cap, off, held;	/* buf's size; where its held bytes start, how many */
	bool moved;		/* wrote something since the loop last looked */
	int64_t last_ms;	/* monotonic_ms() when it last wrote */
	bool eof, done;
	struct relay_stats *stats;
	bool up;		/* counts as stats->up */
};

/* Pipes held by all relays, and how many they may hold (relay_set_pipe_limit). */
static atomic_uint pipes_used;
static atomic_uint pipes_max = UINT_MAX;
static struct log_ratelimit small_pipe_rl;

void relay_set_pipe_limit(unsigned max_pipes)
{
	atomic_store(&pipes_max, max_pipes);
}

bool relay_pipe_fits(long pipe_size)
{
	return pipe_size >= RELAY_CHUNK;
}

static void dir_init(struct dir *d, int in, int out, struct relay_stats *stats, bool up)
{
	*d = (struct dir){ .in = in, .out = out, .mode = DIR_LIGHT, .pipe = { -1, -1 },
			   .stats = stats, .up = up };
}

static void dir_pipe_close(struct dir *d)
{
	if (d->pipe[0] < 0)
		return;
	close(d->pipe[0]);
	close(d->pipe[1]);
	d->pipe[0] = d->pipe[1] = -1;
	d->piped = 0;
	d->full = false;
	atomic_fetch_sub(&pipes_used, 1);
}

/* A pipe within the limit that holds a whole chunk, or -errno: -ENOBUFS when
 * the limit is reached or the pipe came out small (the user's pipe quota,
 * fs.pipe-user-pages-soft, used up: splice() would then move a page or two
 * per call), else pipe2()'s error. */
static int dir_pipe_open(struct dir *d)
{
	int r = 0;

	if (atomic_fetch_add(&pipes_used, 1) >= atomic_load(&pipes_max)) {
		atomic_fetch_sub(&pipes_used, 1);
		return -ENOBUFS;
	}
	if (pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		d->pipe[0] = d->pipe[1] = -1;
		atomic_fetch_sub(&pipes_used, 1);
		return r;
	}
	long size = fcntl(d->pipe[0], F_GETPIPE_SZ);
	if (!relay_pipe_fits(size)) {
		log_ratelimited(&small_pipe_rl, LOG_NOTICE,
				"pipes come out at %ld bytes (this user's pipe quota, "
				"fs.pipe-user-pages-soft, is used up): streams are copied instead of "
				"spliced", size);
		dir_pipe_close(d);
		r = -ENOBUFS;
	}
	return r;
}

/* Gives back what a direction holds while it moves data: its pipe and its
 * buffer. Only called while it holds no bytes. */
static void dir_release(struct dir *d)
{
	dir_pipe_close(d);
	free(d->buf);
	d->buf = NULL;
	d->cap = d->off = d->held = 0;
	d->mode = DIR_LIGHT;
}

/* Into copy mode, keeping the held bytes; only called with the pipe empty.
 * Returns -ENOMEM or 0. */
static int dir_to_copy(struct dir *d)
{
	dir_pipe_close(d);
	if (d->cap < RELAY_CHUNK) {
		if (d->off > 0)
			memmove(d->buf, d->buf + d->off, d->held);
		d->off = 0;
		char *nb = realloc(d->buf, RELAY_CHUNK);
		if (nb == NULL)
			return -ENOMEM;
		d->buf = nb;
		d->cap = RELAY_CHUNK;
	}
	d->mode = DIR_COPY;
	return 0;
}

/* A light direction whose buffer filled: a stream. A pipe when one can be
 * had, else a copy buffer. Returns -ENOMEM or 0. */
static int dir_lift(struct dir *d)
{
	if (dir_pipe_open(d) == 0) {
		d->mode = DIR_SPLICE;
		return 0;
	}
	return dir_to_copy(d);
}

/* Whether the direction has room for more input. */
static bool dir_room(const struct dir *d)
{
	if (d->mode == DIR_SPLICE)
		return !d->full && d->piped < RELAY_CHUNK;
	return d->buf == NULL || d->held < d->cap;
}

/* recv() into the buffer, taking a small one when it has none. Returns the
 * count, 0 at EOF, or -1 with errno set. */
static ssize_t dir_recv(struct dir *d)
{
	if (d->buf == NULL) {
		if ((d->buf = malloc(RELAY_SMALL)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		d->cap = RELAY_SMALL;
	}
	if (d->held == 0)
		d->off = 0;
	/* After partial writes the held bytes can end at the buffer's end
	 * with room only in front: move them down. Otherwise recv() would
	 * be asked for 0 bytes, return 0, and that reads as EOF: the rest
	 * of the stream was silently dropped (seen when pipes ran out). */
	if (d->off > 0 && d->off + d->held == d->cap) {
		memmove(d->buf, d->buf + d->off, d->held);
		d->off = 0;
	}
	return recv(d->in, d->buf + d->off + d->held, d->cap - d->off - d->held, 0);
}

/* Reads what fits. Returns 0 (progress, EOF or nothing yet) or -errno. */
static int dir_read(struct dir *d)
{
	ssize_t n;

	if (d->eof || !dir_room(d))
		return 0;
	if (d->mode == DIR_SPLICE) {
		n = splice(d->in, NULL, d->pipe[1], NULL, RELAY_CHUNK - d->piped,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINVAL && d->piped == 0) {
			int r = dir_to_copy(d);
			return r < 0 ? r : dir_read(d);
		}
		if (n > 0)
			d->piped += (size_t)n;
	} else {
		n = dir_recv(d);
		if (n > 0)
			d->held += (size_t)n;
	}
	if (n == 0)
		d->eof = true;
	else if (n < 0 && errno == EAGAIN && d->piped > 0)
		d->full = true;	/* pipe slots used up by small segments: wait for out */
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		return -errno;
	if (n > 0 && d->mode == DIR_LIGHT && d->held == d->cap)
		return dir_lift(d);
	return 0;
}

static void dir_wrote(struct dir *d, ssize_t n)
{
	relay_count(d->stats, d->up, (uint64_t)n);
	d->moved = true;
}

/* Writes what it holds, the buffer's bytes (read first) before the pipe's;
 * passes EOF on when drained. Returns 0 or -errno. */
static int dir_write(struct dir *d)
{
	ssize_t n;

	while (d->held > 0) {
		if ((n = send(d->out, d->buf + d->off, d->held, MSG_NOSIGNAL)) < 0)
			goto fail;
		d->held -= (size_t)n;
		d->off = d->held == 0 ? 0 : d->off + (size_t)n;
		dir_wrote(d, n);
	}
	if (d->mode != DIR_COPY && d->buf != NULL) {
		/* A light buffer, or what a direction held when it took a pipe. */
		free(d->buf);
		d->buf = NULL;
		d->cap = 0;
	}
	while (d->piped > 0) {
		n = splice(d->pipe[0], NULL, d->out, NULL, d->piped,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0)
			goto fail;
		d->piped -= (size_t)n;
		d->full = false;
		dir_wrote(d, n);
	}
	if (d->eof && !d->done) {
		d->done = true;
		dir_release(d);
		/* ENOTCONN: the peer is already gone; the other direction will notice. */
		(void)shutdown(d->out, SHUT_WR);
	}
	return 0;
fail:
	return errno == EAGAIN || errno == EINTR ? 0 : -errno;
}

/* The events this direction wants on its input and output fds. */
static short want_in(const struct dir *d)
{
	return !d->eof && dir_room(d) ? POLLIN : 0;
}

static short want_out(const struct dir *d)
{
	return d->held + d->piped > 0 ? POLLOUT : 0;
}

/* A pipe or copy buffer that held nothing for RELAY_RELEASE_MS goes back
 * at this time; INT64_MAX when the direction holds none. */
static int64_t dir_release_due(const struct dir *d)
{
	if (d->mode == DIR_LIGHT || d->held + d->piped > 0)
		return INT64_MAX;
	return d->last_ms + RELAY_RELEASE_MS;
}

/* The poll() timeout until the earliest of the deadlines. */
static int wait_for(int64_t due, int64_t now)
{
	if (due == INT64_MAX)
		return -1;
	if (due <= now)
		return 0;
	return due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

/* Handles fd i's poll() result: reads into dirs[i], writes out of both.
 * Returns 0 or -errno (the session ends). */
static int relay_step(struct dir dirs[2], bool hung[2], int i, short rev)
{
	struct dir *d = &dirs[i];
	int r = 0;

	if (hung[i] && want_in(d)) {
		/* Unpolled: a read must make progress (data, EOF, or a full
		 * pipe); one that does not would spin. */
		size_t before = d->held + d->piped;
		r = dir_read(d);
		if (r == 0 && d->held + d->piped == before && !d->eof && !d->full)
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
	return r;
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
	bool quiet_done = stats->on_quiet == NULL;
	int64_t now = monotonic_ms(), active_ms = now;	/* poll() last reported something */
	int r = 0;

	dir_init(&dirs[0], a, b, stats, true);
	dir_init(&dirs[1], b, a, stats, false);

	while (!(dirs[0].done && dirs[1].done)) {
		struct pollfd p[2] = {
			{ .fd = hung[0] ? -1 : a, .events = want_in(&dirs[0]) | want_out(&dirs[1]) },
			{ .fd = hung[1] ? -1 : b, .events = want_in(&dirs[1]) | want_out(&dirs[0]) },
		};
		/* A hung-up fd is read without poll(): once its peer's FIN is in,
		 * a read never blocks, it returns data or EOF. */
		bool unpolled = (hung[0] && want_in(&dirs[0])) || (hung[1] && want_in(&dirs[1]));
		int64_t idle_due = idle_timeout_ms > 0 ? active_ms + idle_timeout_ms : INT64_MAX;
		int64_t due = idle_due;
		/* The first quiet spell of RELAY_QUIET_MS runs on_quiet once. */
		if (!quiet_done && active_ms + RELAY_QUIET_MS < due)
			due = active_ms + RELAY_QUIET_MS;
		for (int i = 0; i < 2; i++)
			if (dir_release_due(&dirs[i]) < due)
				due = dir_release_due(&dirs[i]);
		int n = poll(p, 2, unpolled ? 0 : wait_for(due, now));
		if (n < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		now = monotonic_ms();
		if (n <= 0 && !unpolled) {
			/* A deadline, not activity: the idle timeout keeps counting. */
			for (int i = 0; i < 2; i++)
				if (dir_release_due(&dirs[i]) <= now)
					dir_release(&dirs[i]);
			if (!quiet_done && active_ms + RELAY_QUIET_MS <= now) {
				stats->on_quiet();
				quiet_done = true;
			}
			if (n == 0 && idle_due <= now) {
				end = RELAY_END_IDLE;
				break;
			}
			continue;
		}
		active_ms = now;
		for (int i = 0; i < 2 && r == 0; i++)
			r = relay_step(dirs, hung, i, p[i].revents);	/* p[i].fd == dirs[i].in */
		for (int i = 0; i < 2; i++) {
			if (dirs[i].moved)
				dirs[i].last_ms = now;
			dirs[i].moved = false;
		}
		if (r < 0)
			break;
	}
	if (r < 0) {
		end = RELAY_END_ERROR;
		*ret_err = -r;
	}
	dir_release(&dirs[0]);
	dir_release(&dirs[1]);
	return end;
}
