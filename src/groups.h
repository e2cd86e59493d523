/* Group membership of accounts for "group" rules, through NSS (getpwnam_r,
 * getgrnam_r, getgrouplist) with a small cache: answers are kept for a minute
 * so a busy user does not cost an NSS (perhaps LDAP) round trip per request. */
#ifndef SOCKSGATE_GROUPS_H
#define SOCKSGATE_GROUPS_H

#include <stdbool.h>

/* Is user a member of group, as primary or supplementary group? Unknown users
 * and groups are not members. Blocking (NSS) on a miss; thread-safe; ctx is
 * unused (the signature is rules_group_fn). */
bool groups_member(const char *user, const char *group, void *ctx);

/* Does NSS know this user (group false) or group (getpwnam_r, getgrnam_r)?
 * Only a clear "no such name" answers false; a lookup error answers true.
 * Blocking, uncached; for -t. Thread-safe. */
bool groups_name_exists(const char *name, bool group);

/* Forgets every cached answer (after a reload, so group changes show at once). */
void groups_flush(void);

#endif
