/* Group membership of accounts for "group" rules, through NSS (getpwnam_r,
 * getgrnam_r, getgrouplist) with a small cache: answers are kept for a minute
 * so a busy user does not cost an NSS (perhaps LDAP) round trip per request. */
#ifndef SOCKSGATE_GROUPS_H
#define SOCKSGATE_GROUPS_H

#include <stdbool.h>
#include <stddef.h>

/* Is user a member of group, as primary or supplementary group? Unknown users
 * and groups are not members. Blocking (NSS) on a miss; thread-safe; ctx is
 * unused (the signature is rules_group_fn). */
bool groups_member(const char *user, const char *group, void *ctx);

struct rule;

/* Called for each name check_rule_names() finds unknown: the rule's file
 * and line, and a message naming the user or group. */
typedef void (*groups_warn_fn)(const char *file, unsigned line, const char *msg, void *ctx);

/* For -t: asks NSS (getpwnam_r, getgrnam_r) about every user and group the
 * rules name and calls warn for each that does not exist (a typo, or an
 * account not created yet: such a rule never matches). Blocking; returns
 * how many were unknown. */
unsigned groups_check_rule_names(const struct rule *rules, size_t n, groups_warn_fn warn,
				 void *ctx);

/* Forgets every cached answer (after a reload, so group changes show at once). */
void groups_flush(void);

#endif
