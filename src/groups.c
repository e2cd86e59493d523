/* The group cache: a fixed table of (user, group) -> member answers with an
 * expiry, under one mutex that is never held across an NSS call. Bounded:
 * when full, the answer that expires first makes room. */
#include "autoconf.h"

#include "groups.h"

#include "timeutil.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GROUPS_CACHE_SIZE 256
#define GROUPS_TTL_MS 60000
#define NAME_MAX_LEN 64		/* longer names are looked up, never cached */
#define NSS_BUF 16384
#define GROUPS_MAX 65536

struct entry {
	char user[NAME_MAX_LEN + 1];
	char group[NAME_MAX_LEN + 1];
	bool member;
	int64_t expires_ms;	/* 0: unused */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry cache[GROUPS_CACHE_SIZE];

static bool lookup(const char *user, const char *group)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char *buf = malloc(2 * NSS_BUF);
	gid_t *gids = NULL;
	bool member = false;

	if (buf == NULL)
		return false;
	if (getpwnam_r(user, &pw, buf, NSS_BUF, &pwp) != 0 || pwp == NULL)
		goto out;
	if (getgrnam_r(group, &gr, buf + NSS_BUF, NSS_BUF, &grp) != 0 || grp == NULL)
		goto out;
	if (pw.pw_gid == gr.gr_gid) {
		member = true;
		goto out;
	}
	int n = 64;
	for (;;) {
		gid_t *g = realloc(gids, (size_t)n * sizeof(*g));
		if (g == NULL)
			goto out;
		gids = g;
		int want = n;
		if (getgrouplist(user, pw.pw_gid, gids, &want) >= 0) {
			n = want;
			break;
		}
		if (want <= n || want > GROUPS_MAX)
			goto out;
		n = want;
	}
	for (int i = 0; i < n && !member; i++)
		member = gids[i] == gr.gr_gid;
out:
	free(gids);
	free(buf);
	return member;
}

bool groups_member(const char *user, const char *group, void *ctx)
{
	int64_t now = monotonic_ms();
	bool cacheable = strlen(user) <= NAME_MAX_LEN && strlen(group) <= NAME_MAX_LEN;

	(void)ctx;
	if (cacheable) {
		pthread_mutex_lock(&cache_lock);
		for (size_t i = 0; i < GROUPS_CACHE_SIZE; i++) {
			struct entry *e = &cache[i];
			if (e->expires_ms > now && strcmp(e->user, user) == 0 &&
			    strcmp(e->group, group) == 0) {
				bool m = e->member;
				pthread_mutex_unlock(&cache_lock);
				return m;
			}
		}
		pthread_mutex_unlock(&cache_lock);
	}

	bool member = lookup(user, group);

	if (cacheable) {
		pthread_mutex_lock(&cache_lock);
		struct entry *victim = &cache[0];
		for (size_t i = 0; i < GROUPS_CACHE_SIZE; i++) {
			if (cache[i].expires_ms < victim->expires_ms)
				victim = &cache[i];
			if (victim->expires_ms <= now)
				break;	/* unused or expired: take it */
		}
		strcpy(victim->user, user);
		strcpy(victim->group, group);
		victim->member = member;
		victim->expires_ms = now + GROUPS_TTL_MS;
		pthread_mutex_unlock(&cache_lock);
	}
	return member;
}

void groups_flush(void)
{
	pthread_mutex_lock(&cache_lock);
	memset(cache, 0, sizeof(cache));
	pthread_mutex_unlock(&cache_lock);
}

bool groups_name_exists(const char *name, bool group)
{
	char *buf = malloc(NSS_BUF);
	bool found = true;
	int r;

	if (buf == NULL)
		return true;
	if (group) {
		struct group gr, *grp = NULL;
		r = getgrnam_r(name, &gr, buf, NSS_BUF, &grp);
		found = r != 0 || grp != NULL;
	} else {
		struct passwd pw, *pwp = NULL;
		r = getpwnam_r(name, &pw, buf, NSS_BUF, &pwp);
		found = r != 0 || pwp != NULL;
	}
	free(buf);
	return found;
}
