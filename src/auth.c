/* PAM in the worker that owns the connection: one handle per attempt, a
 * conversation that answers only the password (and username) prompt from
 * memory passed through appdata_ptr, and no global lock, so logins on
 * different workers run side by side. */
#include "autoconf.h"

#include "auth.h"

#include "addr.h"
#include "authcache.h"
#include "pamgate.h"
#include "timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct conv_data {
	const char *user;
	const char *password;
};

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp,
			void *appdata)
{
	const struct conv_data *d = appdata;
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *answer = NULL;
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:	/* "Password: " */
			answer = d->password;
			break;
		case PAM_PROMPT_ECHO_ON:	/* "login: " */
			answer = d->user;
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			continue;	/* nobody to show it to */
		default:
			goto fail;
		}
		if ((r[i].resp = strdup(answer)) == NULL)
			goto fail;
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++) {
		if (r[i].resp != NULL) {
			explicit_bzero(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
	return PAM_CONV_ERR;
}

/* The failure delay is ours (equal for every failure); PAM modules' own is off. */
static void no_delay(int retval, unsigned usec_delay, void *appdata)
{
	(void)retval;
	(void)usec_delay;
	(void)appdata;
}

/* Whether a PAM failure is the user's (wrong password, unknown or locked
 * account) or the system's: a broken service file, a missing module, an
 * authentication backend that cannot be reached. The latter must not count
 * against the client's address. */
static enum auth_status pam_failure_status(int r)
{
	switch (r) {
	case PAM_ABORT:
	case PAM_BUF_ERR:
	case PAM_SYSTEM_ERR:
	case PAM_SERVICE_ERR:
	case PAM_MODULE_UNKNOWN:
	case PAM_SYMBOL_ERR:
	case PAM_AUTHINFO_UNAVAIL:
		return AUTH_ERROR;
	default:
		return AUTH_DENIED;
	}
}

/* One PAM transaction: pam_authenticate unless password is NULL (a cache
 * hit), then pam_acct_mgmt. *ret_authenticated says whether
 * pam_authenticate succeeded (false when skipped). */
static enum auth_status pam_login(const char *service, const char *user, const char *password,
				  const struct sockaddr *client, bool *ret_authenticated,
				  char *reason, size_t reasonlen)
{
	struct conv_data d = { .user = user, .password = password != NULL ? password : "" };
	struct pam_conv conv = { .conv = conversation, .appdata_ptr = &d };
	pam_handle_t *pamh = NULL;
	char host[ADDR_HOSTLEN];
	enum auth_status st = AUTH_DENIED;
	const int flags = PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK;

	int r = pam_start(service, user, &conv, &pamh);
	if (r != PAM_SUCCESS) {
		snprintf(reason, reasonlen, "pam_start(%s): %s", service,
			 pamh != NULL ? pam_strerror(pamh, r) : "failed");
		st = AUTH_ERROR;
		goto out;
	}
	addr_host(client, host, sizeof(host));
	if ((r = pam_set_item(pamh, PAM_RHOST, host)) != PAM_SUCCESS ||
	    (r = pam_set_item(pamh, PAM_RUSER, user)) != PAM_SUCCESS ||
	    (r = pam_set_item(pamh, PAM_TTY, "socksgate")) != PAM_SUCCESS ||
	    (r = pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)no_delay)) != PAM_SUCCESS) {
		snprintf(reason, reasonlen, "pam_set_item: %s", pam_strerror(pamh, r));
		st = AUTH_ERROR;
		goto out;
	}
	if (password != NULL) {
		r = pam_authenticate(pamh, flags);
		if (r != PAM_SUCCESS) {
			snprintf(reason, reasonlen, "pam_authenticate: %s", pam_strerror(pamh, r));
			st = pam_failure_status(r);
			goto out;
		}
		*ret_authenticated = true;
	}
	r = pam_acct_mgmt(pamh, flags);
	if (r == PAM_NEW_AUTHTOK_REQD) {
		snprintf(reason, reasonlen,
			 "pam_acct_mgmt: password expired, must be changed (not possible over SOCKS)");
		goto out;
	}
	if (r != PAM_SUCCESS) {
		snprintf(reason, reasonlen, "pam_acct_mgmt: %s", pam_strerror(pamh, r));
		st = pam_failure_status(r);
		goto out;
	}
	st = AUTH_OK;
	snprintf(reason, reasonlen, password != NULL ? "authenticated" : "authenticated (cached)");
out:
	if (pamh != NULL)
		pam_end(pamh, r);
	return st;
}

static int refuse_conversation(int n, const struct pam_message **msg,
			       struct pam_response **resp, void *appdata)
{
	(void)n;
	(void)msg;
	(void)resp;
	(void)appdata;
	return PAM_CONV_ERR;
}

static pthread_mutex_t pinned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char service[64];
	pam_handle_t *pamh;	/* never used again, never ended */
} pinned[AUTH_PINNED_MAX];
static size_t npinned;

bool auth_pam_pin(const char *service, char *why, size_t whylen)
{
	static const struct pam_conv conv = { .conv = refuse_conversation };
	bool ret = true;

	pthread_mutex_lock(&pinned_lock);
	for (size_t i = 0; i < npinned; i++)
		if (strcmp(pinned[i].service, service) == 0)
			goto out;
	if (npinned == AUTH_PINNED_MAX || strlen(service) >= sizeof(pinned[0].service))
		goto out;	/* only an optimisation: logins work regardless */
	pam_handle_t *pamh = NULL;
	int r = pam_start(service, NULL, &conv, &pamh);
	if (r != PAM_SUCCESS) {
		snprintf(why, whylen, "PAM service '%s': %s", service,
			 pamh != NULL ? pam_strerror(pamh, r) : "pam_start failed");
		if (pamh != NULL)
			pam_end(pamh, r);
		ret = false;
		goto out;
	}
	snprintf(pinned[npinned].service, sizeof(pinned[0].service), "%s", service);
	pinned[npinned++].pamh = pamh;
out:
	pthread_mutex_unlock(&pinned_lock);
	return ret;
}

/* The login path's shared state: the gate that bounds PAM conversations and
 * the credential cache. Made by auth_configure() on the main thread before
 * any login, changed only by it. */
static struct pamgate *gate;
static struct authcache *cache;

int auth_configure(unsigned parallel, unsigned cache_ttl_ms, unsigned cache_size)
{
	if (parallel == 0)
		parallel = pamgate_default_parallel();
	if (gate == NULL) {
		gate = pamgate_new(parallel);
		cache = gate != NULL ? authcache_new(cache_ttl_ms, cache_size) : NULL;
		return cache != NULL ? 0 : -errno;
	}
	pamgate_set_parallel(gate, parallel);
	authcache_set_limits(cache, cache_ttl_ms, cache_size);
	authcache_flush(cache);	/* a reload may have changed PAM or passwords */
	return 0;
}

void auth_cache_flush(void)
{
	if (cache != NULL)
		authcache_flush(cache);
}

void auth_get_stats(struct auth_stats *ret)
{
	struct authcache_stats cs = { 0 };
	struct pamgate_stats gs = { 0 };

	if (cache != NULL)
		authcache_get_stats(cache, &cs);
	if (gate != NULL)
		pamgate_get_stats(gate, &gs);
	*ret = (struct auth_stats){
		.cache_hits = cs.hits + cs.joined,
		.cache_entries = cs.entries,
		.pam_running = gs.running,
		.pam_waiting = gs.waiting,
		.parallel = gs.parallel,
	};
}

/* A leader's check: the PAM conversation inside the gate. */
static enum auth_status login_pam(const struct auth_request *rq, struct authcache_ticket *t,
				  char *reason, size_t reasonlen)
{
	bool authenticated = false;

	enum pamgate_status g = pamgate_enter(gate, rq->deadline_ms, rq->client_fd);
	if (g != PAMGATE_OK) {
		authcache_finish(cache, t, AUTHCACHE_UNDECIDED, monotonic_ms());
		snprintf(reason, reasonlen, g == PAMGATE_GONE
				 ? "client went away while waiting for a PAM slot"
				 : "handshake timeout waiting for a PAM slot");
		return AUTH_ABANDONED;
	}
	enum auth_status st = pam_login(rq->service, rq->user, rq->password, rq->client,
					&authenticated, reason, reasonlen);
	pamgate_leave(gate);
	authcache_finish(cache, t,
			 authenticated	     ? AUTHCACHE_ACCEPTED :
			 st == AUTH_DENIED ? AUTHCACHE_REFUSED : AUTHCACHE_UNDECIDED,
			 monotonic_ms());
	return st;
}

enum auth_status auth_login(const struct auth_request *rq, bool *ret_cached, char *reason,
			    size_t reasonlen)
{
	struct authcache_ticket *t = NULL;
	bool unused;

	*ret_cached = false;
	if (gate == NULL) {
		snprintf(reason, reasonlen, "authentication is not configured");
		return AUTH_ERROR;
	}
	switch (authcache_begin(cache, rq->service, rq->user, rq->password, strlen(rq->password),
				monotonic_ms(), rq->deadline_ms, &t)) {
	case AUTHCACHE_HIT:
		*ret_cached = true;
		/* The account step still runs: an expired or locked account is
		 * refused at once, cached password or not. */
		return pam_login(rq->service, rq->user, NULL, rq->client, &unused, reason,
				 reasonlen);
	case AUTHCACHE_LEADER:
		return login_pam(rq, t, reason, reasonlen);
	case AUTHCACHE_DENIED:
		snprintf(reason, reasonlen, "pam_authenticate: refused (the same credentials were "
					    "refused by a login checked at the same time)");
		return AUTH_DENIED;
	case AUTHCACHE_TIMEOUT:
		break;
	}
	snprintf(reason, reasonlen, "handshake timeout waiting for the same credentials' check");
	return AUTH_ABANDONED;
}

enum auth_status auth_account(const struct auth_request *rq, char *reason, size_t reasonlen)
{
	bool unused;

	if (gate == NULL) {
		snprintf(reason, reasonlen, "authentication is not configured");
		return AUTH_ERROR;
	}
	enum pamgate_status g = pamgate_enter(gate, rq->deadline_ms, rq->client_fd);
	if (g != PAMGATE_OK) {
		snprintf(reason, reasonlen, g == PAMGATE_GONE
				 ? "client went away while waiting for a PAM slot"
				 : "handshake timeout waiting for a PAM slot");
		return AUTH_ABANDONED;
	}
	enum auth_status st = pam_login(rq->service, rq->user, NULL, rq->client, &unused, reason,
					reasonlen);
	pamgate_leave(gate);
	return st;
}

bool auth_can_read_shadow(char *why, size_t whylen)
{
	if (geteuid() == 0)
		return true;
	if (access("/etc/shadow", R_OK) == 0)
		return true;
	snprintf(why, whylen,
		 "running as uid %u without read access to /etc/shadow: pam_unix cannot check "
		 "other users' passwords; run as root, or as a dedicated user in the 'shadow' "
		 "group (see socksgate(8))",
		 (unsigned)geteuid());
	return false;
}
