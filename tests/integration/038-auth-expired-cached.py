#!/usr/bin/python3
"""As root, a real account through the real pam_unix stack (the project's
pam.d/socksgate, with pam_exec lines in front that count the calls): once
its login is cached, `chage -E 0` (expired) refuses it at once, because a
cache hit skips pam_authenticate but still runs pam_acct_mgmt (issue 11).
After `chage -E -1` it logs in again; after `usermod -L` and a reload (which
flushes the cache) it is refused. The account and the service file are
removed afterwards."""
import os
import signal

import sgauth
import sgtest

USER = "sgexp%d" % (os.getpid() % 100000)
PASSWORD = "Corr3ct-Horse-9"
CONF = ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 0"]


def test():
    sgtest.require_root("real accounts and /etc/pam.d need root")
    calls = sgauth.PamCalls()
    service = sgauth.project_pam_service(first=calls.lines)
    with sgauth.SystemAccounts({USER: PASSWORD}), sgtest.Daemon(
            CONF + ["pam_service = " + service]) as d:
        st, _, rec = sgauth.attempt_record(d, USER, PASSWORD)
        sgtest.check(st == 0, "the account could not log in: %r" % rec)
        sgtest.check(calls.counts() == (1, 1), "first login: PAM calls %r" % (calls.counts(),))
        st, _, rec = sgauth.attempt_record(d, USER, PASSWORD)
        sgtest.check(st == 0, "the second login failed: %r" % rec)
        sgtest.check(calls.counts() == (1, 2), "the second login was not a cache hit: PAM "
                     "calls (pam_authenticate, pam_acct_mgmt) %r, expected (1, 2)" % (
                         calls.counts(),))
        sgtest.check(rec.get("auth") == "cache", "second login's record: %r" % rec)

        sgauth.sh("chage", "-E", "0", USER)
        st, _, rec = sgauth.attempt_record(d, USER, PASSWORD)
        sgtest.check(st == 1, "an expired account got in on a cache hit: 0x%02x %r" % (st, rec))
        sgtest.check("pam_acct_mgmt" in (rec["reason"] or ""),
                     "the refusal was not pam_acct_mgmt's: %r" % rec)
        sgtest.check(calls.counts() == (1, 3), "the expired login was not a cache hit refused "
                     "by pam_acct_mgmt: PAM calls %r, expected (1, 3)" % (calls.counts(),))

        sgauth.sh("chage", "-E", "-1", USER)
        st, _, rec = sgauth.attempt_record(d, USER, PASSWORD)
        sgtest.check(st == 0, "the account did not recover after chage -E -1: %r" % rec)

        # A locked password is only noticed by pam_authenticate: after a
        # reload, which flushes the cache, it is.
        sgauth.sh("usermod", "-L", USER)
        d.rewrite(CONF + ["pam_service = " + service])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded")
        before = calls.count("auth")
        st, _, rec = sgauth.attempt_record(d, USER, PASSWORD)
        sgtest.check(st == 1, "a locked account got in after the reload: %r" % rec)
        sgtest.check(calls.count("auth") == before + 1, "the reload did not flush the cache")


sgtest.main(test)
