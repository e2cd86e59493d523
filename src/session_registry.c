/* The registry of live sessions: every session is in it from its first byte
 * to its record, so a drain can shut them all and the control socket can list
 * and end them. One mutex; the sessions themselves live on their workers'
 * stacks. */
#include "autoconf.h"

#include "session.h"
#include "session_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct session *registry;

void session_registry_add(struct session *s)
{
	pthread_mutex_lock(&registry_lock);
	s->accepted = s->h.peer;
	s->prev = NULL;
	s->next = registry;
	if (registry != NULL)
		registry->prev = s;
	registry = s;
	pthread_mutex_unlock(&registry_lock);
}

void session_registry_remove(struct session *s)
{
	pthread_mutex_lock(&registry_lock);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		registry = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&registry_lock);
}

/* Sets the dest fd under the registry lock so session_shutdown_all() never
 * touches a descriptor number that is being closed and reused. */
void session_set_dest(struct session *s, int fd)
{
	pthread_mutex_lock(&registry_lock);
	s->dest = fd;
	pthread_mutex_unlock(&registry_lock);
}

void session_shutdown_all(void)
{
	pthread_mutex_lock(&registry_lock);
	for (struct session *s = registry; s != NULL; s = s->next) {
		(void)shutdown(s->h.fd, SHUT_RDWR);
		if (s->dest >= 0)
			(void)shutdown(s->dest, SHUT_RDWR);
	}
	pthread_mutex_unlock(&registry_lock);
}

/* The request is in: from here the control socket lists the session's user,
 * command and destination, which no longer change. */
void session_registry_show(struct session *s)
{
	pthread_mutex_lock(&registry_lock);
	s->shown = true;
	pthread_mutex_unlock(&registry_lock);
}

/* Copies src into dst[0..len), cut to fit. */
static void copy_cut(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* With the registry lock held. */
static void info_fill(const struct session *s, struct session_info *i)
{
	int64_t last = atomic_load_explicit(&s->stats.last_ms, memory_order_relaxed);

	i->id = s->id;
	i->client = s->shown ? s->h.peer : s->accepted;
	i->start_ms = s->start_ms;
	i->last_ms = last > s->start_ms ? last : s->start_ms;
	i->up = atomic_load_explicit(&s->stats.up, memory_order_relaxed);
	i->down = atomic_load_explicit(&s->stats.down, memory_order_relaxed);
	i->command = s->shown ? s->cmd : -1;
	copy_cut(i->user, sizeof(i->user), s->shown ? s->h.user : "");
	copy_cut(i->dest, sizeof(i->dest), s->shown ? s->dest_asked : "");
}

size_t session_list(struct session_info *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&registry_lock);
	for (const struct session *s = registry; s != NULL; s = s->next, n++)
		if (n < max)
			info_fill(s, &out[n]);
	pthread_mutex_unlock(&registry_lock);
	return n;
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

unsigned session_kill(const uint64_t *ids, size_t n, const char *by)
{
	unsigned killed = 0;

	pthread_mutex_lock(&registry_lock);
	for (struct session *s = registry; s != NULL; s = s->next) {
		if (n == 0 || bsearch(&s->id, ids, n, sizeof(*ids), id_cmp) == NULL)
			continue;
		if (s->ended_by[0] == '\0')
			snprintf(s->ended_by, sizeof(s->ended_by), "%s", by);
		atomic_store(&s->killed, true);
		(void)shutdown(s->h.fd, SHUT_RDWR);
		if (s->dest >= 0)
			(void)shutdown(s->dest, SHUT_RDWR);
		killed++;
	}
	pthread_mutex_unlock(&registry_lock);
	return killed;
}

/* A session that session_kill() ended says so in its record, whatever the
 * closed sockets made the relay or the handshake note. */
void session_note_ended_by(struct session *s)
{
	if (!atomic_load_explicit(&s->killed, memory_order_relaxed))
		return;
	pthread_mutex_lock(&registry_lock);
	snprintf(s->h.reason, sizeof(s->h.reason), "ended by %s", s->ended_by);
	pthread_mutex_unlock(&registry_lock);
}

